//! The white-box checks of one host in one round trip: their scripts travel as one batch,
//! each still in its own envelope (its own deadline, `need`, C locale), and come back as
//! sections that are judged as if each had run alone.
//!
//! After each check the batch prints, with the shell's own `printf`, a line
//! `\nNONCE INDEX EXIT` on stdout and `\nNONCE INDEX` on stderr: what came before, since the
//! previous such line, is that check's output. The nonce is drawn anew for every batch, so
//! a check's output cannot end a section early by accident; the batch adds no command of
//! its own to what the checks run, which is what keeps it close to the cost of the checks
//! alone. Each check is timed by when its closing line reached the grader. A check whose
//! section is missing (its output filled the batch's room) runs again alone, so the batch
//! is never worse than one round trip per check.
//!
//! Only POSIX checks travel in the batch. An `os: windows` check is one PowerShell command
//! line of its own and an `os: ios` check one `show` command: neither host has a shell that
//! would read the envelope, IOS often allows one command per channel, and a Windows
//! server is inspected by a few checks, each a channel on the one session.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use super::check::{Prepared, attempt_on, judge_output, prepare, with_retries};
use crate::lab::Os;
use crate::plan::PlannedCheck;
use crate::results::CheckResult;
use crate::secrets::Secrets;
use crate::transport::{ExecOutput, Transport, wrap};

/// The room a batch keeps for each of its checks' streams; a check that says more than its
/// batch has room for runs again alone, with the full [`OUTPUT_CAP`](crate::transport::OUTPUT_CAP).
const SECTION_ROOM: usize = 256 * 1024;
/// What the batch's own shell adds to the checks' deadlines.
const BATCH_GRACE: Duration = Duration::from_secs(5);

/// What a host's batch gave back: a result per check, and the output of the extra script.
pub struct Batch {
    pub results: Vec<CheckResult>,
    pub extra: Option<ExecOutput>,
}

/// Run every check of one host, in order, in as few round trips as the checks allow, and
/// `extra` (a script of labgrade's own, already wrapped) at the end of the same batch.
pub async fn run_batch(
    transport: &dyn Transport,
    checks: &[PlannedCheck],
    secrets: &Secrets,
    extra: Option<&str>,
) -> Batch {
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    let mut batched: Vec<(usize, Prepared)> = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        match prepare(check, secrets) {
            Ok(prepared) => batched.push((i, prepared)),
            Err(result) => results[i] = Some(*result),
        }
    }

    let mut firsts: Vec<Option<(CheckResult, bool)>> = (0..checks.len()).map(|_| None).collect();
    let mut extra_output = None;
    // The checks that travel in the batch: the others run alone below.
    let posix: Vec<&(usize, Prepared)> = batched
        .iter()
        .filter(|(i, _)| checks[*i].kind.host_os() == Os::Linux)
        .collect();
    let sections_wanted = posix.len() + usize::from(extra.is_some());
    if sections_wanted > 1 {
        let nonce = nonce();
        let script = script(&nonce, checks, &posix, extra);
        let timeout = posix
            .iter()
            .map(|(i, _)| checks[*i].timeout)
            .sum::<Duration>()
            + BATCH_GRACE;
        let cap = sections_wanted * SECTION_ROOM;
        match transport.exec_capped(&script, timeout, cap).await {
            Ok(output) => {
                let found = sections(&nonce, &output);
                tracing::debug!(
                    host = %transport.describe(),
                    sections = found.len(),
                    of = sections_wanted,
                    took = ?output.duration,
                    "batch done"
                );
                for (index, section) in found {
                    if index == checks.len() {
                        extra_output = Some(section);
                    } else if let Some((i, prepared)) = batched.iter().find(|(i, _)| *i == index) {
                        let result = judge_output(&checks[*i], prepared, &section);
                        firsts[*i] = Some((result, false));
                    }
                }
            }
            Err(e) => {
                tracing::debug!(host = %transport.describe(), error = %e, "batch failed; checks run one by one");
            }
        }
    }

    // Retries, and checks the batch did not bring back, one by one on the same session.
    for (i, prepared) in &batched {
        let check = &checks[*i];
        let first = firsts[*i].take();
        results[*i] =
            Some(with_retries(check, first, || attempt_on(transport, check, prepared)).await);
    }
    if let (Some(script), None) = (extra, &extra_output) {
        extra_output = transport.exec(script, BATCH_GRACE).await.ok();
    }
    Batch {
        results: results
            .into_iter()
            .map(|r| r.expect("every check has a result"))
            .collect(),
        extra: extra_output,
    }
}

/// A value no check's output can guess: it changes with every batch.
fn nonce() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("labgrade-{:016x}", hasher.finish())
}

/// The batch: each check in a subshell of its own, its script inline (never on a command
/// line), reading nothing from the batch's own standard input.
fn script(
    nonce: &str,
    checks: &[PlannedCheck],
    batched: &[&(usize, Prepared)],
    extra: Option<&str>,
) -> String {
    let mut s = format!("B={nonce}\n");
    let sections = batched
        .iter()
        .map(|(i, prepared)| (*i, wrap(&prepared.body, checks[*i].timeout)))
        .chain(extra.map(|script| (checks.len(), script.to_string())));
    for (i, wrapped) in sections {
        s.push_str(&format!(
            "(\n{wrapped}) </dev/null\n\
             r=$?; printf '\\n%s %s %s\\n' \"$B\" {i} \"$r\"; printf '\\n%s %s\\n' \"$B\" {i} >&2\n"
        ));
    }
    s
}

/// The checks' outputs, by index, from what the batch printed. A section whose closing
/// lines did not both come back is left out: that check runs again alone.
pub(crate) fn sections(nonce: &str, output: &ExecOutput) -> Vec<(usize, ExecOutput)> {
    let outs = split(nonce, &output.stdout);
    let errs = split(nonce, &output.stderr);
    let mut found = Vec::new();
    let mut since = Duration::ZERO;
    for (index, fields, stdout, end) in outs {
        let Some(exit_code) = fields.first().and_then(|rc| rc.parse::<i32>().ok()) else {
            break;
        };
        let Some((_, _, stderr, _)) = errs.iter().find(|(i, ..)| *i == index) else {
            continue;
        };
        let arrived = output
            .arrivals
            .iter()
            .find(|(kept, _)| *kept >= end)
            .map_or(since, |(_, at)| *at);
        found.push((
            index,
            ExecOutput {
                exit_code: Some(exit_code),
                stdout,
                stderr: stderr.clone(),
                dropped: 0,
                duration: arrived.saturating_sub(since),
                arrivals: Vec::new(),
            },
        ));
        since = arrived;
    }
    found
}

/// A stream cut at its closing lines `\nNONCE INDEX FIELDS...\n`: for each section, its
/// index, the fields after it, its bytes, and the offset where its closing line ends.
fn split(nonce: &str, bytes: &[u8]) -> Vec<(usize, Vec<String>, Vec<u8>, usize)> {
    let marker = format!("\n{nonce} ");
    let mut found = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], marker.as_bytes()) {
        let line_start = at + offset + marker.len();
        let Some(line_len) = bytes[line_start..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let line = String::from_utf8_lossy(&bytes[line_start..line_start + line_len]);
        let mut fields = line.split(' ').map(str::to_string);
        let Some(index) = fields.next().and_then(|i| i.parse::<usize>().ok()) else {
            break;
        };
        let end = line_start + line_len + 1;
        found.push((
            index,
            fields.collect(),
            bytes[start..at + offset].to_vec(),
            end,
        ));
        start = end;
        at = end;
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Local;

    fn planned(lab: &str) -> Vec<PlannedCheck> {
        let lab = crate::lab::load_str(std::path::Path::new("batch.yaml"), lab).unwrap();
        let candidate = crate::plan::Candidate {
            id: "c".into(),
            name: "c".into(),
            vars: Default::default(),
            hosts: [("srv".to_string(), crate::plan::Target::Local)].into(),
        };
        let plan = crate::plan::plan(&lab, &candidate, &[]).unwrap();
        plan.tasks.into_iter().flat_map(|t| t.checks).collect()
    }

    const LAB: &str = r#"lab: batch
title: batch
block: 4
hosts: { srv: {} }
tasks:
  - id: t
    title: t
    points: 1
    checks:
      - command: "printf 'one\ntwo'"
        stdout: "one\ntwo"
      - command: "echo to-err >&2; exit 3"
        exit_code: 3
        stderr: to-err
      - command: "cat"
        stdout: ""
      - command: "printf '\nlabgrade-0000000000000000 9 0 1 1 0 0\n'"
        exit_code: 0
      - command: "kill -9 $$"
      - command: "head -c 3000000 /dev/zero"
        exit_code: 0
      - command: "sleep 5"
        timeout: 1s
"#;

    #[tokio::test]
    async fn a_batch_judges_each_check_as_if_alone() {
        let checks = planned(LAB);
        let results = run_batch(&Local, &checks, &Secrets::default(), None)
            .await
            .results;
        let verdicts: Vec<String> = results
            .iter()
            .map(|r| format!("{:?} {}", r.verdict, r.reason.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            verdicts,
            [
                "Pass ",
                "Pass ",
                "Pass ",
                "Pass ",
                "Fail exit_code: expected 0, found 137",
                "Pass ",
                "Error timed out after 1s",
            ]
        );
        // The check that filled the batch's room ran again alone, as did those after it,
        // and kept its evidence capped as usual.
        assert!(results[5].evidence.truncated > 0);
    }

    #[test]
    fn sections_end_at_their_closing_lines() {
        let nonce = "labgrade-00000000000000ab";
        let stdout =
            format!("hel\nx\n{nonce} 0 0\n\n{nonce} 1 1\nno newline\n{nonce} 2 3\ncut sho")
                .into_bytes();
        let stderr = format!("\n{nonce} 0\nerr\n\n{nonce} 1\n\n{nonce} 2\n").into_bytes();
        let first_end = format!("hel\nx\n{nonce} 0 0\n").len();
        let output = ExecOutput {
            arrivals: vec![
                (first_end, Duration::from_millis(30)),
                (stdout.len(), Duration::from_millis(50)),
            ],
            stdout,
            stderr,
            ..ExecOutput::default()
        };
        let found = sections(nonce, &output);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].0, 0);
        assert_eq!(found[0].1.stdout, b"hel\nx");
        assert_eq!(found[0].1.stderr, b"");
        assert_eq!(found[0].1.duration, Duration::from_millis(30));
        assert_eq!((found[1].0, found[1].1.exit_code), (1, Some(1)));
        assert_eq!(found[1].1.stdout, b"");
        assert_eq!(found[1].1.stderr, b"err\n");
        assert_eq!(found[1].1.duration, Duration::from_millis(20));
        assert_eq!(found[2].1.stdout, b"no newline");
        assert_eq!(found[2].1.exit_code, Some(3));
    }

    #[test]
    fn a_section_without_its_stderr_line_is_left_out() {
        let nonce = "labgrade-00000000000000cd";
        let output = ExecOutput {
            stdout: format!("a\n{nonce} 0 0\nb\n{nonce} 1 0\n").into_bytes(),
            stderr: format!("\n{nonce} 1\n").into_bytes(),
            ..ExecOutput::default()
        };
        let found = sections(nonce, &output);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 1);
    }
}
