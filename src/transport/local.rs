//! This machine as the graded host: a candidate's self-test, with no SSH at all.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{ExecOutput, Transport, TransportError};

pub struct Local;

#[async_trait::async_trait]
impl Transport for Local {
    async fn connect(&self) -> Result<(), TransportError> {
        Ok(())
    }

    async fn exec_capped(
        &self,
        script: &str,
        timeout: Duration,
        cap: usize,
    ) -> Result<ExecOutput, TransportError> {
        let started = Instant::now();
        let mut child = Command::new("/bin/sh")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A group of its own, so that a timeout can stop everything the script started.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Spawn(format!("/bin/sh: {e}")))?;
        let pid = child.id();
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let script = script.to_owned();
        let run = async {
            // A script that never reads its input must not block the writer: write concurrently.
            let feed = async move {
                let _ = stdin.write_all(script.as_bytes()).await;
            };
            let (_, out, err, status) = tokio::join!(
                feed,
                read_capped(&mut stdout, cap, started),
                read_capped(&mut stderr, cap, started),
                child.wait()
            );
            (out, err, status)
        };
        // The envelope stops the script on time by itself; this grace only covers a host
        // without coreutils `timeout`.
        match tokio::time::timeout(timeout + Duration::from_secs(2), run).await {
            Ok(((stdout, out_dropped, arrivals), (stderr, err_dropped, _), status)) => {
                let status = status.map_err(|e| TransportError::Spawn(e.to_string()))?;
                Ok(ExecOutput {
                    exit_code: status.code(),
                    stdout,
                    stderr,
                    dropped: out_dropped + err_dropped,
                    duration: started.elapsed(),
                    arrivals,
                })
            }
            Err(_) => {
                if let Some(pid) = pid {
                    // SAFETY: signalling the process group we created above, by its id.
                    unsafe {
                        libc::kill(-(pid as i32), libc::SIGKILL);
                    }
                }
                Err(TransportError::Timeout(timeout))
            }
        }
    }

    fn describe(&self) -> String {
        "local".to_string()
    }
}

/// Read a whole stream, keeping the first `cap` bytes and counting the rest.
async fn read_capped(
    stream: &mut (impl AsyncRead + Unpin),
    cap: usize,
    started: Instant,
) -> (Vec<u8>, u64, Vec<(usize, Duration)>) {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut arrivals = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..room]);
        dropped += (n - room) as u64;
        if room > 0 {
            arrivals.push((kept.len(), started.elapsed()));
        }
    }
    (kept, dropped, arrivals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{OUTPUT_CAP, wrap};

    #[tokio::test]
    async fn runs_a_script_and_keeps_streams_apart() {
        let out = Local
            .exec(
                &wrap("echo out; echo err >&2; exit 3", Duration::from_secs(5)),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[tokio::test]
    async fn caps_what_it_keeps() {
        let out = Local
            .exec(
                &wrap("head -c 3000000 /dev/zero", Duration::from_secs(10)),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), OUTPUT_CAP);
        assert_eq!(out.dropped, 3_000_000 - OUTPUT_CAP as u64);
    }

    #[tokio::test]
    async fn a_hanging_script_is_stopped_on_time() {
        let started = Instant::now();
        let out = Local
            .exec(
                &wrap("sleep 30", Duration::from_secs(1)),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
        // coreutils timeout reports 124 when it had to stop the command.
        assert_eq!(out.exit_code, Some(124));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
