//! The white-box checks of one host in one round trip: their scripts travel as one batch,
//! each still in its own envelope (its own deadline, `need`, C locale), and come back as
//! delimited sections that are judged as if each had run alone.
//!
//! A section starts with a header line `NONCE INDEX EXIT OUT_BYTES ERR_BYTES START END`
//! followed by the kept bytes of the check's stdout then stderr. The byte counts, not the
//! content, delimit the sections, so nothing a candidate's machine prints can shift them;
//! the nonce only tells a header from a stray line. A check whose section is missing or cut
//! short runs again alone, so the batch is never worse than one round trip per check.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use super::check::{Prepared, attempt_on, judge_output, prepare, with_retries};
use crate::plan::PlannedCheck;
use crate::results::CheckResult;
use crate::secrets::Secrets;
use crate::transport::{ExecOutput, Transport, wrap};

/// The most of each stream of one check that a batch carries back; a check that says more
/// runs again alone, with the full [`OUTPUT_CAP`](crate::transport::OUTPUT_CAP).
const SECTION_CAP: usize = 256 * 1024;
/// Room for a section's header line.
const HEADER_ROOM: usize = 128;
/// What the batch's own shell adds to the checks' deadlines.
const BATCH_GRACE: Duration = Duration::from_secs(5);

/// Run every check of one host, in order, in as few round trips as the checks allow.
pub async fn run_batch(
    transport: &dyn Transport,
    checks: &[PlannedCheck],
    secrets: &Secrets,
) -> Vec<CheckResult> {
    let mut results: Vec<Option<CheckResult>> = vec![None; checks.len()];
    let mut batched: Vec<(usize, Prepared)> = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        match prepare(check, secrets) {
            Ok(prepared) => batched.push((i, prepared)),
            Err(result) => results[i] = Some(*result),
        }
    }

    let mut firsts: Vec<Option<(CheckResult, bool)>> = (0..checks.len()).map(|_| None).collect();
    if batched.len() > 1 {
        let nonce = nonce();
        let script = script(&nonce, checks, &batched);
        let timeout = batched
            .iter()
            .map(|(i, _)| checks[*i].timeout)
            .sum::<Duration>()
            + BATCH_GRACE;
        let cap = batched.len() * (2 * SECTION_CAP + HEADER_ROOM);
        match transport.exec_capped(&script, timeout, cap).await {
            Ok(output) => {
                for (index, section) in sections(&nonce, &output) {
                    if let Some((i, prepared)) = batched.iter().find(|(i, _)| *i == index) {
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
    results
        .into_iter()
        .map(|r| r.expect("every check has a result"))
        .collect()
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

/// The batch: a temporary folder for each check's streams, removed on exit; each check in
/// a subshell of its own, its script inline (never on a command line), reading nothing
/// from the batch's own standard input.
fn script(nonce: &str, checks: &[PlannedCheck], batched: &[(usize, Prepared)]) -> String {
    let mut s = format!(
        "B={nonce}\n\
         d=$(mktemp -d 2>/dev/null) || {{ echo \"cannot make a temporary folder\" >&2; exit 3; }}\n\
         trap 'rm -rf \"$d\"' EXIT\n\
         now() {{ date +%s%N 2>/dev/null || echo 0; }}\n\
         report() {{\n\
           printf '\\n%s %s %s %s %s %s %s\\n' \"$B\" \"$1\" \"$2\" $(wc -c <\"$d/o\") $(wc -c <\"$d/e\") \"$3\" \"$(now)\"\n\
           head -c {SECTION_CAP} \"$d/o\"\n\
           head -c {SECTION_CAP} \"$d/e\"\n\
         }}\n"
    );
    for (i, prepared) in batched {
        let wrapped = wrap(&prepared.body, checks[*i].timeout);
        s.push_str(&format!(
            "s=$(now)\n(\n{wrapped}) >\"$d/o\" 2>\"$d/e\" </dev/null\nreport {i} $? \"$s\"\n"
        ));
    }
    s
}

/// The checks' outputs, by index, from what the batch printed. A section whose streams did
/// not fit, or that is cut short, is left out: that check runs again alone.
fn sections(nonce: &str, output: &ExecOutput) -> Vec<(usize, ExecOutput)> {
    let mut found = Vec::new();
    let bytes = &output.stdout;
    let marker = format!("\n{nonce} ");
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], marker.as_bytes()) {
        let header_start = at + offset + 1;
        let Some(header_len) = bytes[header_start..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let header = String::from_utf8_lossy(&bytes[header_start..header_start + header_len]);
        let Some(header) = Header::parse(&header) else {
            break;
        };
        let body = header_start + header_len + 1;
        let out_kept = header.out_bytes.min(SECTION_CAP);
        let err_kept = header.err_bytes.min(SECTION_CAP);
        if body + out_kept + err_kept > bytes.len() {
            break;
        }
        at = body + out_kept + err_kept;
        if header.out_bytes > SECTION_CAP || header.err_bytes > SECTION_CAP {
            continue;
        }
        found.push((
            header.index,
            ExecOutput {
                exit_code: header.exit_code,
                stdout: bytes[body..body + out_kept].to_vec(),
                stderr: bytes[body + out_kept..at].to_vec(),
                dropped: 0,
                duration: header.duration,
            },
        ));
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Header {
    index: usize,
    exit_code: Option<i32>,
    out_bytes: usize,
    err_bytes: usize,
    duration: Duration,
}

impl Header {
    fn parse(line: &str) -> Option<Header> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [_, index, rc, out, err, start, end] = fields[..] else {
            return None;
        };
        let rc: i32 = rc.parse().ok()?;
        let nanos = |s: &str| s.parse::<u128>().ok();
        let duration = match (nanos(start), nanos(end)) {
            (Some(s), Some(e)) if e >= s => Duration::from_nanos((e - s) as u64),
            _ => Duration::ZERO,
        };
        Some(Header {
            index: index.parse().ok()?,
            exit_code: Some(rc),
            out_bytes: out.parse().ok()?,
            err_bytes: err.parse().ok()?,
            duration,
        })
    }
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
      - command: "head -c 300000 /dev/zero"
        exit_code: 0
      - command: "sleep 5"
        timeout: 1s
      - command: "kill -9 $$"
"#;

    #[tokio::test]
    async fn a_batch_judges_each_check_as_if_alone() {
        let checks = planned(LAB);
        let results = run_batch(&Local, &checks, &Secrets::default()).await;
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
                "Pass ",
                "Error timed out after 1s",
                "Fail exit_code: expected 0, found 137",
            ]
        );
        // The oversized check ran again alone and kept its evidence capped as usual.
        assert!(results[4].evidence.truncated > 0);
    }

    #[test]
    fn sections_are_read_by_their_byte_counts() {
        let nonce = "labgrade-00000000000000ab";
        let mut stdout = Vec::new();
        stdout.extend_from_slice(format!("\n{nonce} 0 0 5 0 10 30\nhel\nx").as_bytes());
        stdout.extend_from_slice(format!("\n{nonce} 2 1 0 3 0 0\nerr").as_bytes());
        // Cut short: claims 10 bytes, has 2.
        stdout.extend_from_slice(format!("\n{nonce} 3 0 10 0 0 0\nab").as_bytes());
        let output = ExecOutput {
            stdout,
            ..ExecOutput::default()
        };
        let found = sections(nonce, &output);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, 0);
        assert_eq!(found[0].1.stdout, b"hel\nx");
        assert_eq!(found[0].1.duration, Duration::from_nanos(20));
        assert_eq!((found[1].0, found[1].1.exit_code), (2, Some(1)));
        assert_eq!(found[1].1.stderr, b"err");
    }
}
