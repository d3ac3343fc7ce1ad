//! The runner: bind roles to transports, run every check of a candidate, then judge and score.

mod check;

pub use check::{GRADER, observe_check, run_check};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::lab::Lab;
use crate::plan::{Candidate, PlanError, PlannedCheck, Target, plan};
use crate::results::{
    CandidateInfo, CheckResult, Evidence, FORMAT_VERSION, Mode, Results, Verdict,
};
use crate::score::score;
use crate::secrets::Secrets;
use crate::transport::{Local, Ssh, SshOptions, Transport};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub mode: Mode,
    pub ssh: SshOptions,
    /// Only these task ids, when not empty.
    pub only: Vec<String>,
    pub secrets: Arc<Secrets>,
}

/// A check's address in the plans: (lab, task, check).
type CheckKey = (usize, usize, usize);

/// The checks one machine runs, in order, on its one transport.
type Queue = (Arc<dyn Transport>, Vec<(CheckKey, PlannedCheck)>);

/// The addresses a probe from the grader may contact: the candidate's machines, and
/// loopback for a machine that is this one.
fn candidate_addresses(candidate: &Candidate) -> Vec<String> {
    let mut allowed = Vec::new();
    for target in candidate.hosts.values() {
        match target {
            Target::Local => allowed.extend(["127.0.0.1", "::1", "localhost"].map(String::from)),
            Target::Ssh(t) => allowed.push(t.address.clone()),
        }
    }
    allowed.sort();
    allowed.dedup();
    allowed
}

/// One transport per distinct machine: two roles played by one machine share its session.
fn transports(candidate: &Candidate, ssh: &SshOptions) -> BTreeMap<String, Arc<dyn Transport>> {
    let mut by_target: Vec<(Target, Arc<dyn Transport>)> = Vec::new();
    let mut out = BTreeMap::new();
    for (role, target) in &candidate.hosts {
        let transport = match by_target.iter().find(|(t, _)| t == target) {
            Some((_, transport)) => Arc::clone(transport),
            None => {
                let transport: Arc<dyn Transport> = match target {
                    Target::Local => Arc::new(Local),
                    Target::Ssh(t) => Arc::new(Ssh::new(t.clone(), ssh.clone())),
                };
                by_target.push((target.clone(), Arc::clone(&transport)));
                transport
            }
        };
        out.insert(role.clone(), transport);
    }
    out
}

/// Grade one candidate on every lab. Plans first, so a template that cannot render for
/// this candidate stops the run before any host is contacted.
pub async fn grade(
    labs: &[Lab],
    candidate: &Candidate,
    options: &RunOptions,
) -> Result<Results, PlanError> {
    let started = now();
    let plans = labs
        .iter()
        .map(|lab| plan(lab, candidate, &options.only))
        .collect::<Result<Vec<_>, _>>()?;
    let transports = transports(candidate, &options.ssh);

    // Every check, addressed by (lab, task, check), grouped by the machine that runs it.
    let mut queues: Vec<Queue> = Vec::new();
    let mut missing: Vec<(CheckKey, PlannedCheck)> = Vec::new();
    let mut from_grader: Vec<(CheckKey, PlannedCheck)> = Vec::new();
    for (l, p) in plans.iter().enumerate() {
        for (t, task) in p.tasks.iter().enumerate() {
            for (c, check) in task.checks.iter().enumerate() {
                let key = (l, t, c);
                let Some(role) = &check.role else {
                    from_grader.push((key, check.clone()));
                    continue;
                };
                match transports.get(role) {
                    Some(transport) => match queues
                        .iter_mut()
                        .find(|(tr, _)| Arc::ptr_eq(tr, transport))
                    {
                        Some((_, queue)) => queue.push((key, check.clone())),
                        None => queues.push((Arc::clone(transport), vec![(key, check.clone())])),
                    },
                    None => missing.push((key, check.clone())),
                }
            }
        }
    }

    // Machines are graded at once; the checks of one machine in turn, on its one session.
    let mut handles = Vec::new();
    for (transport, queue) in queues {
        let secrets = Arc::clone(&options.secrets);
        handles.push(tokio::spawn(async move {
            let mut done = Vec::new();
            if let Err(e) = transport.connect().await {
                let reason = e.to_string();
                for (key, check) in queue {
                    done.push((key, unreachable(&check, &reason)));
                }
                return done;
            }
            for (key, check) in queue {
                let result = run_check(transport.as_ref(), &check, &secrets).await;
                done.push((key, result));
            }
            done
        }));
    }
    // Probes from the grader all at once: each waits on the network, not on a session.
    let allowed = Arc::new(candidate_addresses(candidate));
    let mut probes = Vec::new();
    for (key, check) in from_grader {
        let allowed = Arc::clone(&allowed);
        let secrets = Arc::clone(&options.secrets);
        probes.push(tokio::spawn(async move {
            (key, observe_check(&check, &allowed, &secrets).await)
        }));
    }
    let mut results: BTreeMap<CheckKey, CheckResult> = BTreeMap::new();
    for (key, check) in missing {
        let reason = format!(
            "no host was given for role `{}`",
            check.role.as_deref().unwrap_or(GRADER)
        );
        results.insert(key, unreachable(&check, &reason));
    }
    for probe in probes {
        let (key, result) = probe.await.expect("a probe task panicked");
        results.insert(key, result);
    }
    for handle in handles {
        for (key, result) in handle.await.expect("a host's grading task panicked") {
            results.insert(key, result);
        }
    }

    let mut lab_results = Vec::new();
    for (l, (lab, p)) in labs.iter().zip(&plans).enumerate() {
        let checks: Vec<Vec<CheckResult>> = p
            .tasks
            .iter()
            .enumerate()
            .map(|(t, task)| {
                (0..task.checks.len())
                    .map(|c| results.remove(&(l, t, c)).expect("every check ran"))
                    .collect()
            })
            .collect();
        lab_results.push(score(lab, &p.tasks, checks, options.mode));
    }
    Ok(Results {
        format: FORMAT_VERSION,
        labgrade: env!("CARGO_PKG_VERSION").to_string(),
        mode: options.mode,
        started,
        finished: now(),
        candidate: CandidateInfo {
            id: candidate.id.clone(),
            name: candidate.name.clone(),
        },
        hosts: transports
            .iter()
            .map(|(role, t)| (role.clone(), t.describe()))
            .collect(),
        labs: lab_results,
    })
}

/// The result of a check whose host could not be reached: the grader could not check.
fn unreachable(check: &PlannedCheck, reason: &str) -> CheckResult {
    CheckResult {
        label: check.label.clone(),
        kind: check.kind.name().to_string(),
        role: check.role.clone().unwrap_or_else(|| GRADER.to_string()),
        verdict: Verdict::Error,
        reason: Some(reason.to_string()),
        weight: check.weight,
        properties: Vec::new(),
        evidence: Evidence::default(),
    }
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
