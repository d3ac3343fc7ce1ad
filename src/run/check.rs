//! Run one planned check: a script on its host, or a probe from the grader; retries; then judge.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::judge::judge;
use crate::lab::Os;
use crate::plan::PlannedCheck;
use crate::probe::{Facts, Query, powershell_command};
use crate::results::{CheckResult, Evidence, Verdict, cap_evidence};
use crate::secrets::{Resolved, Secrets, redact};
use crate::transport::{ExecOutput, MISSING_TOOL_MARKER, Transport, TransportError, wrap};

/// coreutils `timeout` exits with 124 when it had to stop the command, and with 137 (128 +
/// SIGKILL) when the command ignored SIGTERM and `-k` killed it and `timeout` with it.
const TIMEOUT_EXITS: [i32; 2] = [124, 137];

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
/// `first` is an attempt already made elsewhere (in a batch), counted as the first.
pub(super) async fn with_retries<F, Fut>(
    check: &PlannedCheck,
    first: Option<(CheckResult, bool)>,
    mut attempt: F,
) -> CheckResult
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (CheckResult, bool)>,
{
    let tries = 1 + check.retry.map_or(0, |r| r.times);
    let started = Instant::now();
    let mut first = first;
    let mut done = 0;
    loop {
        done += 1;
        let (mut result, hopeless) = match first.take() {
            Some(made) => made,
            None => attempt().await,
        };
        result.evidence.attempts = done;
        if done > 1 || result.evidence.duration_ms == 0 {
            result.evidence.duration_ms = started.elapsed().as_millis() as u64;
        }
        if result.verdict == Verdict::Pass || done >= tries || hopeless {
            return result;
        }
        if let Some(retry) = check.retry {
            tokio::time::sleep(retry.every).await;
        }
    }
}

/// A check ready to go to its host: secrets resolved, its script written.
pub(super) struct Prepared {
    pub inputs: BTreeMap<String, String>,
    pub used: Vec<(String, String)>,
    pub wants: Vec<&'static str>,
    pub body: String,
}

/// Resolve a check's secrets and write its script; a secret that is not set is the result.
pub(super) fn prepare(
    check: &PlannedCheck,
    secrets: &Secrets,
) -> Result<Prepared, Box<CheckResult>> {
    let Resolved { inputs, used } = secrets
        .resolve(check.kind, &check.inputs)
        .map_err(|reason| Box::new(unresolved(check, reason)))?;
    let wants = wants(check);
    let body = check.kind.script(&query(check, &inputs, &wants));
    Ok(Prepared {
        inputs,
        used,
        wants,
        body,
    })
}

/// Judge what a check's script gave back on its host.
pub(super) fn judge_output(
    check: &PlannedCheck,
    prepared: &Prepared,
    output: &ExecOutput,
) -> CheckResult {
    let mut result = blank(check, prepared.body.clone());
    let (stdout, out_cut) = cap_evidence(&output.stdout);
    let (stderr, err_cut) = cap_evidence(&output.stderr);
    result.evidence.exit_code = output.exit_code;
    result.evidence.stdout = stdout;
    result.evidence.stderr = stderr;
    result.evidence.truncated = out_cut + err_cut + output.dropped;
    result.evidence.duration_ms = output.duration.as_millis() as u64;
    let query = query(check, &prepared.inputs, &prepared.wants);
    let facts = match could_not_run(output, check.timeout) {
        Some(reason) => Err(reason),
        None => check
            .kind
            .parse(&query, output)
            .map_err(|reason| format!("could not read the host's answer: {reason}")),
    };
    apply(&mut result, check, facts);
    redact(&mut result, &prepared.used);
    result
}

/// One attempt of a check on its host; `true` when the connection is lost.
pub(super) async fn attempt_on(
    transport: &dyn Transport,
    check: &PlannedCheck,
    prepared: &Prepared,
) -> (CheckResult, bool) {
    let sent = match check.kind.host_os() {
        Os::Linux => {
            transport
                .exec(&wrap(&prepared.body, check.timeout), check.timeout)
                .await
        }
        Os::Windows => match powershell_command(&prepared.body) {
            Ok(command) => transport.exec_command(&command, check.timeout).await,
            Err(reason) => Err(TransportError::Spawn(reason)),
        },
        Os::Ios => transport.exec_command(&prepared.body, check.timeout).await,
    };
    match sent {
        Ok(output) => (judge_output(check, prepared, &output), false),
        Err(e) => {
            let lost = matches!(e, TransportError::Lost { .. });
            let mut result = blank(check, prepared.body.clone());
            result.reason = Some(e.to_string());
            redact(&mut result, &prepared.used);
            (result, lost)
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
    let prepared = match prepare(check, secrets) {
        Ok(prepared) => prepared,
        Err(result) => return *result,
    };
    with_retries(check, None, || attempt_on(transport, check, &prepared)).await
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
    with_retries(check, None, || async {
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
    // Alone on a channel, `timeout` killed by its own SIGKILL ends the channel by a signal.
    let stopped = output
        .exit_code
        .is_none_or(|code| TIMEOUT_EXITS.contains(&code));
    if stopped && output.duration + Duration::from_millis(200) >= timeout {
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
