//! The runner: bind roles to transports, run every check of a candidate, then judge and score.

mod batch;
mod check;

pub use batch::run_batch;
pub(crate) use batch::sections as batch_sections;
pub use check::{GRADER, observe_check, run_check};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::lab::Lab;
use crate::plan::{Candidate, Plan, PlanError, PlannedCheck, PlannedUnique, Target, plan};
use crate::results::{
    CandidateInfo, CheckResult, Evidence, FORMAT_VERSION, Mode, Results, Verdict,
};
use crate::score::score;
use crate::secrets::Secrets;
use crate::transport::{Local, Ssh, SshOptions, Transport, shell_quote};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub mode: Mode,
    /// How many hosts are graded at once, across all candidates.
    pub hosts_at_once: Arc<Semaphore>,
    /// How long one host may take, connection included; its checks not done by then end in error.
    pub host_deadline: Duration,
    /// The hosts being graded now, for progress reports.
    pub watch: Arc<Watch>,
    pub ssh: SshOptions,
    /// Only these task ids, when not empty.
    pub only: Vec<String>,
    pub secrets: Arc<Secrets>,
}

/// The hosts being graded right now, and since when.
#[derive(Debug, Default)]
pub struct Watch {
    running: std::sync::Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    last: u64,
    /// By a number of their own: a host's name since when it is graded.
    hosts: BTreeMap<u64, (String, Instant)>,
}

impl Watch {
    fn start(&self, host: String) -> u64 {
        let mut running = self.running.lock().expect("the watch is never poisoned");
        running.last += 1;
        let id = running.last;
        running.hosts.insert(id, (host, Instant::now()));
        id
    }

    fn end(&self, id: u64) {
        let mut running = self.running.lock().expect("the watch is never poisoned");
        running.hosts.remove(&id);
    }

    /// The host graded for the longest time, still going.
    pub fn slowest(&self) -> Option<(String, Duration)> {
        let running = self.running.lock().expect("the watch is never poisoned");
        running
            .hosts
            .values()
            .min_by_key(|(_, since)| *since)
            .map(|(host, since)| (host.clone(), since.elapsed()))
    }
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

/// Every lab planned for one candidate: a template that cannot render for this candidate
/// is found before any host is contacted.
pub fn plans(labs: &[Lab], candidate: &Candidate, only: &[String]) -> Result<Vec<Plan>, PlanError> {
    labs.iter().map(|lab| plan(lab, candidate, only)).collect()
}

/// Grade one candidate on every lab.
pub async fn grade(
    labs: &[Lab],
    candidate: &Candidate,
    options: &RunOptions,
) -> Result<Results, PlanError> {
    let plans = plans(labs, candidate, &options.only)?;
    Ok(grade_planned(labs, &plans, candidate, options, None).await)
}

/// Grade one candidate's plans. With `previous` results, a check that did not end in error
/// there keeps its result, and only the others run again.
pub async fn grade_planned(
    labs: &[Lab],
    plans: &[Plan],
    candidate: &Candidate,
    options: &RunOptions,
    previous: Option<&Results>,
) -> Results {
    let transports = transports(candidate, &options.ssh);
    grade_on(labs, plans, candidate, options, previous, transports).await
}

/// Grade one candidate's plans on the given transports, one per role (a role's host that
/// has none is reported missing): how tests replay recorded Windows and IOS answers
/// through the whole runner.
pub async fn grade_on(
    labs: &[Lab],
    plans: &[Plan],
    candidate: &Candidate,
    options: &RunOptions,
    previous: Option<&Results>,
    transports: BTreeMap<String, Arc<dyn Transport>>,
) -> Results {
    let started = now();
    let lab_wants_identity = labs.iter().any(|l| !l.unique.is_empty());

    // Every check, addressed by (lab, task, check), grouped by the machine that runs it.
    let mut results: BTreeMap<CheckKey, CheckResult> = BTreeMap::new();
    let mut queues: Vec<Queue> = transports
        .values()
        .fold(Vec::<Arc<dyn Transport>>::new(), |mut seen, t| {
            if !seen.iter().any(|s| Arc::ptr_eq(s, t)) {
                seen.push(Arc::clone(t));
            }
            seen
        })
        .into_iter()
        .map(|t| (t, Vec::new()))
        .collect();
    let mut missing: Vec<(CheckKey, PlannedCheck)> = Vec::new();
    let mut from_grader: Vec<(CheckKey, PlannedCheck)> = Vec::new();
    for (l, p) in plans.iter().enumerate() {
        for (t, task) in p.tasks.iter().enumerate() {
            for (c, check) in task.checks.iter().enumerate() {
                let key = (l, t, c);
                if let Some(kept) = previous.and_then(|r| kept_result(r, key, check)) {
                    results.insert(key, kept);
                    continue;
                }
                let Some(role) = &check.role else {
                    from_grader.push((key, check.clone()));
                    continue;
                };
                match transports.get(role) {
                    Some(transport) => {
                        let (_, queue) = queues
                            .iter_mut()
                            .find(|(tr, _)| Arc::ptr_eq(tr, transport))
                            .expect("every transport has a queue");
                        queue.push((key, check.clone()));
                    }
                    None => missing.push((key, check.clone())),
                }
            }
        }
    }

    // Machines are graded at once, as many as the run allows; the checks of one machine in
    // one batch on its one session, within the host's deadline.
    let mut handles = Vec::new();
    for (transport, queue) in queues {
        // The identity script is POSIX: a Windows server or an IOS device is not fingerprinted,
        // nor even logged in to when it has no check of its own.
        let wants_identity = lab_wants_identity
            && transports
                .iter()
                .filter(|(_, t)| Arc::ptr_eq(t, &transport))
                .flat_map(|(role, _)| labs.iter().filter_map(|l| l.role(role)))
                .all(|r| r.os == crate::lab::Os::Linux);
        if queue.is_empty() && !wants_identity {
            continue;
        }
        let secrets = Arc::clone(&options.secrets);
        let limit = Arc::clone(&options.hosts_at_once);
        let deadline = options.host_deadline;
        let watch = Arc::clone(&options.watch);
        let name = format!("{} {}", candidate.id, transport.describe());
        // The lab's own values read on this machine, beside what identifies it.
        let own: Vec<&PlannedUnique> = plans
            .iter()
            .flat_map(|p| &p.unique)
            .filter(|u| {
                transports
                    .get(&u.role)
                    .is_some_and(|t| Arc::ptr_eq(t, &transport))
            })
            .collect();
        let identity_script = identity_script(&own);
        handles.push(tokio::spawn(async move {
            let _permit = limit
                .acquire_owned()
                .await
                .expect("the host limit is never closed");
            let watched = watch.start(name);
            let (keys, checks): (Vec<CheckKey>, Vec<PlannedCheck>) = queue.into_iter().unzip();
            let graded = tokio::time::timeout(deadline, async {
                match transport.connect().await {
                    Err(e) => {
                        let reason = e.to_string();
                        let failed = checks.iter().map(|c| unreachable(c, &reason)).collect();
                        (failed, BTreeMap::new())
                    }
                    Ok(()) => {
                        // What identifies the machine travels in the checks' batch.
                        let extra = wants_identity
                            .then(|| crate::transport::wrap(&identity_script, IDENTITY_TIMEOUT));
                        let batch =
                            run_batch(transport.as_ref(), &checks, &secrets, extra.as_deref())
                                .await;
                        let identity = batch.extra.map(|o| identity(&o)).unwrap_or_default();
                        (batch.results, identity)
                    }
                }
            })
            .await;
            let (results, identity) = graded.unwrap_or_else(|_| {
                let reason = format!(
                    "{} did not finish within the host deadline of {}",
                    transport.describe(),
                    humantime::format_duration(deadline)
                );
                let failed = checks.iter().map(|c| unreachable(c, &reason)).collect();
                (failed, BTreeMap::new())
            });
            watch.end(watched);
            let results: Vec<_> = keys.into_iter().zip(results).collect();
            (transport, results, identity)
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
    let mut machines = BTreeMap::new();
    for handle in handles {
        let (transport, graded, identity) = handle.await.expect("a host's grading task panicked");
        results.extend(graded);
        if identity.is_empty() {
            continue;
        }
        for (role, t) in &transports {
            if Arc::ptr_eq(t, &transport) {
                machines.insert(role.clone(), identity.clone());
            }
        }
    }

    let mut lab_results = Vec::new();
    for (l, (lab, p)) in labs.iter().zip(plans).enumerate() {
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
    Results {
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
        machines,
        labs: lab_results,
    }
}

/// A check's earlier result, kept when it did not end in error and is the same check.
fn kept_result(
    previous: &Results,
    (l, t, c): CheckKey,
    check: &PlannedCheck,
) -> Option<CheckResult> {
    let kept = previous.labs.get(l)?.tasks.get(t)?.checks.get(c)?;
    (kept.verdict != Verdict::Error && kept.label == check.label && kept.kind == check.kind.name())
        .then(|| kept.clone())
}

/// What tells one machine from a copy of it: its machine-id and its SSH host key. Shell
/// built-ins only, so that it costs the host nothing; the key's fingerprint is computed here.
const IDENTITY_SCRIPT: &str = r#"if read -r id </etc/machine-id; then printf 'machine_id=%s\n' "$id"; fi 2>/dev/null
for f in /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_rsa_key.pub; do
  if read -r type key rest <"$f"; then printf 'ssh_host_key=%s\n' "$key"; break; fi 2>/dev/null
done
"#;

/// The identity script, then a line `NAME=VALUE` for each value of the labs' own read on
/// this machine: its command's output on one line, nothing when the command fails.
fn identity_script(own: &[&PlannedUnique]) -> String {
    let mut script = IDENTITY_SCRIPT.to_string();
    for value in own {
        script.push_str(&format!(
            "if v=$( {{ {}\n}} 2>/dev/null </dev/null ); then printf '%s=%s\\n' {} \"$(printf '%s' \"$v\" | tr '\\n\\r\\t' '   ')\"; fi\n",
            value.command,
            shell_quote(&value.name),
        ));
    }
    script
}

const IDENTITY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `name=value` lines of [`IDENTITY_SCRIPT`]; the host key as OpenSSH prints its
/// fingerprint (`SHA256:...`).
fn identity(output: &crate::transport::ExecOutput) -> BTreeMap<String, String> {
    output
        .stdout_text()
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| {
            let value = value.trim();
            let value = match name {
                "ssh_host_key" => fingerprint(value).unwrap_or_else(|| value.to_string()),
                _ => value.to_string(),
            };
            (name.to_string(), value)
        })
        .collect()
}

/// `SHA256:` and the unpadded base64 of the SHA-256 of the key's blob, as `ssh-keygen -l`.
fn fingerprint(key_base64: &str) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(key_base64)
        .ok()?;
    let digest = sha2::Sha256::digest(&blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_fingerprints_read_as_ssh_keygen_prints_them() {
        let output = crate::transport::ExecOutput {
            stdout: b"machine_id=0123abcd\nssh_host_key=AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n".to_vec(),
            ..Default::default()
        };
        let found = identity(&output);
        assert_eq!(found["machine_id"], "0123abcd");
        let expected = std::process::Command::new("ssh-keygen")
            .args(["-lf", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(
                    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x\n",
                )?;
                child.wait_with_output()
            })
            .expect("ssh-keygen runs");
        let printed = String::from_utf8_lossy(&expected.stdout);
        assert_eq!(
            printed.split(' ').nth(1),
            Some(found["ssh_host_key"].as_str())
        );
    }

    #[test]
    fn a_labs_own_value_is_read_on_one_line_and_a_failing_command_gives_none() {
        let value = |name: &str, command: &str| PlannedUnique {
            name: name.into(),
            role: "srv".into(),
            command: command.into(),
        };
        let own = [
            value("two_lines", "printf 'a=b\\n\\tc\\n'"),
            value("missing", "cat /nonexistent/labgrade"),
            value("quoted", "echo \"it's\" # a comment"),
        ];
        let script = identity_script(&own.iter().collect::<Vec<_>>());
        let run = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh runs");
        let found = identity(&crate::transport::ExecOutput {
            stdout: run.stdout,
            ..Default::default()
        });
        assert_eq!(found.get("two_lines").map(String::as_str), Some("a=b  c"));
        assert_eq!(found.get("missing"), None);
        assert_eq!(found.get("quoted").map(String::as_str), Some("it's"));
    }
}
