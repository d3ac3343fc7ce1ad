//! Run one planned check on its host: script, retries, then judge what came back.

use std::time::{Duration, Instant};

use crate::judge::judge;
use crate::plan::PlannedCheck;
use crate::probe::Query;
use crate::results::{CheckResult, Evidence, Verdict, cap_evidence};
use crate::transport::{ExecOutput, MISSING_TOOL_MARKER, Transport, TransportError, wrap};

/// coreutils `timeout` exits with 124 when it had to stop the command.
const TIMEOUT_EXIT: i32 = 124;

pub async fn run_check(transport: &dyn Transport, check: &PlannedCheck) -> CheckResult {
    let wants: Vec<&str> = check.expects.iter().map(|(name, _)| *name).collect();
    let query = Query {
        subject: &check.subject,
        inputs: &check.inputs,
        wants: &wants,
    };
    let body = check.kind.script(&query);
    let script = wrap(&body, check.timeout);
    let tries = 1 + check.retry.map_or(0, |r| r.times);
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = transport.exec(&script, check.timeout).await;
        let lost = matches!(outcome, Err(TransportError::Lost { .. }));
        let mut result = evaluate(check, &query, &body, outcome);
        result.evidence.attempts = attempt;
        result.evidence.duration_ms = started.elapsed().as_millis() as u64;
        if result.verdict == Verdict::Pass || attempt >= tries || lost {
            return result;
        }
        if let Some(retry) = check.retry {
            tokio::time::sleep(retry.every).await;
        }
    }
}

fn evaluate(
    check: &PlannedCheck,
    query: &Query,
    body: &str,
    outcome: Result<ExecOutput, TransportError>,
) -> CheckResult {
    let mut result = CheckResult {
        label: check.label.clone(),
        kind: check.kind.name().to_string(),
        role: check.role.clone(),
        verdict: Verdict::Error,
        reason: None,
        weight: check.weight,
        properties: Vec::new(),
        evidence: Evidence {
            ran: body.to_string(),
            ..Evidence::default()
        },
    };
    let output = match outcome {
        Ok(output) => output,
        Err(e) => {
            result.reason = Some(e.to_string());
            return result;
        }
    };
    let (stdout, out_cut) = cap_evidence(&output.stdout);
    let (stderr, err_cut) = cap_evidence(&output.stderr);
    result.evidence.exit_code = output.exit_code;
    result.evidence.stdout = stdout;
    result.evidence.stderr = stderr;
    result.evidence.truncated = out_cut + err_cut + output.dropped;
    if let Some(reason) = could_not_run(&output, check.timeout) {
        result.reason = Some(reason);
        return result;
    }
    match check.kind.parse(query, &output) {
        Err(reason) => result.reason = Some(format!("could not read the host's answer: {reason}")),
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
    result
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
