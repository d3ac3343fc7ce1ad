//! Run one planned check: a script on its host, or a probe from the grader; retries; then judge.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::judge::judge;
use crate::plan::PlannedCheck;
use crate::probe::{Facts, Query};
use crate::results::{CheckResult, Evidence, Verdict, cap_evidence};
use crate::secrets::{Resolved, Secrets, redact};
use crate::transport::{ExecOutput, MISSING_TOOL_MARKER, Transport, TransportError, wrap};

/// coreutils `timeout` exits with 124 when it had to stop the command.
const TIMEOUT_EXIT: i32 = 124;

/// How `results.json` names the grader as the place a probe started from.
pub const GRADER: &str = "grader";

fn query<'a>(
    check: &'a PlannedCheck,
    inputs: &'a BTreeMap<String, String>,
    wants: &'a [&'a str],
) -> Query<'a> {
    Query {
        subject: &check.subject,
        inputs,
        wants,
    }
}

/// The result of a check whose secret is not set.
fn unresolved(check: &PlannedCheck, reason: String) -> CheckResult {
    let mut result = blank(check, String::new());
    result.reason = Some(reason);
    result
}

fn wants(check: &PlannedCheck) -> Vec<&'static str> {
    check.expects.iter().map(|(name, _)| *name).collect()
}

/// An unjudged result: the check's identity, verdict error until facts say otherwise.
fn blank(check: &PlannedCheck, ran: String) -> CheckResult {
    CheckResult {
        label: check.label.clone(),
        kind: check.kind.name().to_string(),
        role: check.role.clone().unwrap_or_else(|| GRADER.to_string()),
        verdict: Verdict::Error,
        reason: None,
        weight: check.weight,
        properties: Vec::new(),
        evidence: Evidence {
            ran,
            ..Evidence::default()
        },
    }
}

fn apply(result: &mut CheckResult, check: &PlannedCheck, facts: Result<Facts, String>) {
    match facts {
        Err(reason) => result.reason = Some(reason),
        Ok(facts) => {
            let judgement = judge(
                &check.subject,
                check.kind.presence(),
                &check.expects,
                &facts,
            );
            result.verdict = judgement.verdict;
            result.reason = judgement.reason;
            result.properties = judgement.properties;
        }
    }
}

/// Attempt, and attempt again while the check does not pass, as its `retry` allows.
/// `attempt` returns the result and whether trying again is pointless (a lost connection).
async fn with_retries<F, Fut>(check: &PlannedCheck, mut attempt: F) -> CheckResult
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (CheckResult, bool)>,
{
    let tries = 1 + check.retry.map_or(0, |r| r.times);
    let started = Instant::now();
    let mut done = 0;
    loop {
        done += 1;
        let (mut result, hopeless) = attempt().await;
        result.evidence.attempts = done;
        result.evidence.duration_ms = started.elapsed().as_millis() as u64;
        if result.verdict == Verdict::Pass || done >= tries || hopeless {
            return result;
        }
        if let Some(retry) = check.retry {
            tokio::time::sleep(retry.every).await;
        }
    }
}

/// A script on the host that plays the check's role: every white-box check, and a
/// black-box probe `from:` a role.
pub async fn run_check(
    transport: &dyn Transport,
    check: &PlannedCheck,
    secrets: &Secrets,
) -> CheckResult {
    let Resolved { inputs, used } = match secrets.resolve(check.kind, &check.inputs) {
        Ok(resolved) => resolved,
        Err(reason) => return unresolved(check, reason),
    };
    let wants = wants(check);
    let query = query(check, &inputs, &wants);
    let body = check.kind.script(&query);
    let script = wrap(&body, check.timeout);
    with_retries(check, || async {
        let outcome = transport.exec(&script, check.timeout).await;
        let lost = matches!(outcome, Err(TransportError::Lost { .. }));
        let mut result = blank(check, body.clone());
        match outcome {
            Err(e) => result.reason = Some(e.to_string()),
            Ok(output) => {
                let (stdout, out_cut) = cap_evidence(&output.stdout);
                let (stderr, err_cut) = cap_evidence(&output.stderr);
                result.evidence.exit_code = output.exit_code;
                result.evidence.stdout = stdout;
                result.evidence.stderr = stderr;
                result.evidence.truncated = out_cut + err_cut + output.dropped;
                let facts = match could_not_run(&output, check.timeout) {
                    Some(reason) => Err(reason),
                    None => check
                        .kind
                        .parse(&query, &output)
                        .map_err(|reason| format!("could not read the host's answer: {reason}")),
                };
                apply(&mut result, check, facts);
            }
        }
        redact(&mut result, &used);
        (result, lost)
    })
    .await
}

/// A black-box probe from the grader itself, to one of the candidate's machines only.
pub async fn observe_check(
    check: &PlannedCheck,
    allowed: &[String],
    secrets: &Secrets,
) -> CheckResult {
    let Resolved { inputs, used } = match secrets.resolve(check.kind, &check.inputs) {
        Ok(resolved) => resolved,
        Err(reason) => return unresolved(check, reason),
    };
    let wants = wants(check);
    let query = query(check, &inputs, &wants);
    let ran = format!("{} {} from the {GRADER}", check.kind.name(), check.subject);
    with_retries(check, || async {
        let mut result = blank(check, ran.clone());
        let destination = check.kind.destination(&query);
        let facts = match destination {
            Err(reason) => Err(reason),
            Ok(host) if !allowed.contains(&host) => Err(format!(
                "refusing to contact {host}: not one of this candidate's machines ({})",
                allowed.join(", ")
            )),
            Ok(_) => {
                match tokio::time::timeout(check.timeout, check.kind.observe(&query, check.timeout))
                    .await
                {
                    Err(_) => Err(TransportError::Timeout(check.timeout).to_string()),
                    Ok(Err(reason)) => Err(reason),
                    Ok(Ok(observation)) => {
                        result.evidence.stdout = observation.transcript;
                        Ok(observation.facts)
                    }
                }
            }
        };
        apply(&mut result, check, facts);
        redact(&mut result, &used);
        (result, false)
    })
    .await
}

/// The envelope's own ways of saying the script could not do its job.
fn could_not_run(output: &ExecOutput, timeout: Duration) -> Option<String> {
    if output.exit_code == Some(TIMEOUT_EXIT)
        && output.duration + Duration::from_millis(200) >= timeout
    {
        return Some(TransportError::Timeout(timeout).to_string());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.exit_code == Some(127)
        && let Some(line) = stderr.lines().find(|l| l.starts_with(MISSING_TOOL_MARKER))
    {
        let tool = line[MISSING_TOOL_MARKER.len()..].trim();
        return Some(format!("the host has no `{tool}`, which this check needs"));
    }
    None
}
