//! Run a probe's script on this machine, through the same envelope as a real check, for unit tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Facts, Kind, Query};
use crate::transport::{ExecOutput, wrap};

pub fn run_locally(
    kind: &dyn Kind,
    subject: &str,
    inputs: &[(&str, &str)],
    wants: &[&str],
) -> Result<Facts, String> {
    let inputs: BTreeMap<String, String> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let query = Query {
        subject,
        inputs: &inputs,
        wants,
    };
    let script = wrap(&kind.script(&query), Duration::from_secs(10));
    let started = Instant::now();
    let mut child = Command::new("/bin/sh")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn /bin/sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let output = ExecOutput {
        exit_code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
        duration: started.elapsed(),
        ..ExecOutput::default()
    };
    record_seed(kind, &query, &output);
    kind.parse(&query, &output)
}

/// Parse output captured from a real tool, as if a script had printed it and exited with `exit_code`.
pub fn parse_canned(
    kind: &dyn Kind,
    subject: &str,
    inputs: &[(&str, &str)],
    exit_code: i32,
    stdout: &str,
    stderr: &str,
) -> Result<Facts, String> {
    let inputs: BTreeMap<String, String> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let query = Query {
        subject,
        inputs: &inputs,
        wants: &[],
    };
    let output = ExecOutput {
        exit_code: Some(exit_code),
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
        ..ExecOutput::default()
    };
    record_seed(kind, &query, &output);
    kind.parse(&query, &output)
}

/// With `LABGRADE_FUZZ_SEEDS=DIR`, keep what a test's probe was given as a seed of the fuzz
/// corpus (`fuzz/src/lib.rs` describes the format): real outputs and canned edge cases.
pub(crate) fn record_seed(kind: &dyn Kind, query: &Query, output: &ExecOutput) {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let Some(dir) = std::env::var_os("LABGRADE_FUZZ_SEEDS") else {
        return;
    };
    let seed = crate::fuzzing::encode_case(kind, query, output);
    let mut hasher = DefaultHasher::new();
    seed.hash(&mut hasher);
    let dir = std::path::Path::new(&dir).join(crate::fuzzing::target_of(kind));
    std::fs::create_dir_all(&dir).expect("the seed folder can be made");
    std::fs::write(dir.join(format!("unit-{:016x}", hasher.finish())), seed)
        .expect("a seed can be written");
}
