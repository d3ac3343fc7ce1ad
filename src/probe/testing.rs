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
fn record_seed(kind: &dyn Kind, query: &Query, output: &ExecOutput) {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let Some(dir) = std::env::var_os("LABGRADE_FUZZ_SEEDS") else {
        return;
    };
    let inputs: Vec<String> = query
        .inputs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut seed = Vec::new();
    let target = if kind.black_box() {
        let remote: Vec<&str> = super::KINDS
            .iter()
            .filter(|k| k.black_box())
            .map(|k| k.name())
            .collect();
        let pick = remote
            .iter()
            .position(|&n| n == kind.name())
            .expect("a black-box kind");
        seed.push(u8::try_from(pick).expect("fewer than 256 kinds"));
        "remote_probe".to_string()
    } else {
        format!("probe_{}", kind.name())
    };
    seed.extend(
        format!(
            "{}\n{}\n{}\n{}\n",
            query.subject,
            inputs.join(";"),
            output.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            stderr.lines().collect::<Vec<_>>().join(" ")
        )
        .as_bytes(),
    );
    seed.extend(&output.stdout);
    let mut hasher = DefaultHasher::new();
    seed.hash(&mut hasher);
    let dir = std::path::Path::new(&dir).join(target);
    std::fs::create_dir_all(&dir).expect("the seed folder can be made");
    std::fs::write(dir.join(format!("unit-{:016x}", hasher.finish())), seed)
        .expect("a seed can be written");
}
