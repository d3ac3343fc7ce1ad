//! `labgrade run`: load, bind roles to machines, grade one candidate or a class, write results as they come.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use super::progress::Progress;
use crate::class::{self, ClassSummary};
use crate::cli::RunArgs;
use crate::error::{EXIT_COULD_NOT_CHECK, EXIT_FAILED, EXIT_PASSED, Error};
use crate::lab::{Lab, suggestion};
use crate::manifest;
use crate::plan::{Candidate, Target};
use crate::report::{Format, Templates, terminal, write_reports};
use crate::results::{Mode, Results};
use crate::run::{RunOptions, grade_planned, plans};
use crate::secrets::Secrets;
use crate::transport::{SshOptions, SshTarget};

/// The lab a bare `labgrade run` grades this machine against.
pub const SELF_TEST_LAB: &str = include_str!("../../labs/bloc4-socle-linux.yaml");
pub const SELF_TEST_NAME: &str = "labs/bloc4-socle-linux.yaml";

pub fn run(args: RunArgs) -> Result<i32, Error> {
    let labs = if args.labs.is_empty() {
        vec![crate::lab::load_str(
            Path::new(SELF_TEST_NAME),
            SELF_TEST_LAB,
        )?]
    } else {
        super::load_all(&args.labs)?
    };
    for only in &args.only {
        if !labs
            .iter()
            .any(|lab| lab.tasks.iter().any(|t| &t.id == only))
        {
            let ids: Vec<&str> = labs
                .iter()
                .flat_map(|l| l.tasks.iter().map(|t| t.id.as_str()))
                .collect();
            let hint = suggestion(only, ids.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(Error::Usage(format!("--only {only}: no such task{hint}")));
        }
    }
    if args.resume.is_some() && args.inventory.is_none() {
        return Err(Error::Usage(
            "--resume goes on with a class run: give the same --inventory".to_string(),
        ));
    }
    // The report templates before any machine: a broken override stops the run here.
    let templates = Templates::load(args.templates.as_deref()).map_err(Error::Usage)?;
    let options = RunOptions {
        mode: if args.exam {
            Mode::Exam
        } else {
            Mode::Practice
        },
        hosts_at_once: Arc::new(Semaphore::new(args.jobs as usize)),
        host_deadline: args.host_deadline,
        watch: Arc::default(),
        ssh: SshOptions {
            identity: args.identity.clone(),
            password_env: args.password_env.clone(),
            known_hosts: args.known_hosts.clone().unwrap_or_else(default_known_hosts),
            accept_new_host_keys: args.accept_new_host_keys,
            connect_timeout: args.connect_timeout,
        },
        only: args.only.clone(),
        secrets: Arc::new(match &args.secrets {
            Some(path) => Secrets::load(path).map_err(Error::Usage)?,
            None => Secrets::default(),
        }),
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Output(format!("cannot start the runtime: {e}")))?;
    match &args.inventory {
        Some(path) => {
            let candidates = class_candidates(&labs, path)?;
            runtime.block_on(grade_class(labs, candidates, &args, options, &templates))
        }
        None => {
            let candidate = candidate(&labs, &args)?;
            runtime.block_on(grade_one(&labs, &candidate, &args, &options, &templates))
        }
    }
}

/// One candidate: `--host` machines, or this machine in a self-test.
async fn grade_one(
    labs: &[Lab],
    candidate: &Candidate,
    args: &RunArgs,
    options: &RunOptions,
    templates: &Templates,
) -> Result<i32, Error> {
    let plans = plans(labs, candidate, &options.only)?;
    let was_sealed = match &args.retry_errors {
        Some(dir) => check_seal(dir)?,
        None => false,
    };
    let (path, previous) = match &args.retry_errors {
        Some(dir) => {
            let path = dir.join("results.json");
            let previous = Results::read(&path).map_err(Error::Usage)?;
            (path, Some(previous))
        }
        None => (prepare_out(args.out.as_deref())?.join("results.json"), None),
    };
    let results = grade_planned(labs, &plans, candidate, options, previous.as_ref()).await;
    results
        .write(&path)
        .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?;
    let dir = path.parent().expect("the results' folder");
    write_reports(dir, &Format::or_all(&args.format), templates).map_err(Error::Output)?;
    print!("{}", terminal::render(&results));
    println!("results: {}", path.display());
    seal(dir, args.exam || was_sealed)?;
    Ok(exit_code(results.any_error(), results.all_passed()))
}

/// The manifest of every output file, written last: in exam mode, or when the run went on
/// with a folder an exam run had sealed.
fn seal(dir: &Path, sealed: bool) -> Result<(), Error> {
    if sealed {
        let path = manifest::write(dir).map_err(Error::Output)?;
        println!("manifest: {}", path.display());
    }
    Ok(())
}

/// Before `--resume` or `--retry-errors` adds to a folder: whether an exam run sealed it,
/// refusing one that changed since, whose new manifest would cover the change.
fn check_seal(dir: &Path) -> Result<bool, Error> {
    if !dir.join(manifest::MANIFEST).is_file() {
        return Ok(false);
    }
    let changes = manifest::verify(dir).map_err(Error::Usage)?;
    if changes.is_empty() {
        Ok(true)
    } else {
        Err(Error::Usage(format!(
            "{}: this exam folder changed since its {} was written, so nothing is graded into it:\n{}(see `labgrade verify {}`)",
            dir.display(),
            manifest::MANIFEST,
            changes.render(),
            dir.display()
        )))
    }
}

fn exit_code(any_error: bool, all_passed: bool) -> i32 {
    if any_error {
        EXIT_COULD_NOT_CHECK
    } else if all_passed {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}

/// The roster's candidates, each bound to machines for every role the labs need.
fn class_candidates(labs: &[Lab], path: &Path) -> Result<Vec<Candidate>, Error> {
    let inventory = crate::inventory::load(path)?;
    let roles: Vec<&crate::lab::Role> = labs.iter().flat_map(|l| &l.roles).collect();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    let mut problems = Vec::new();
    let mut candidates = Vec::new();
    for entry in inventory.candidates {
        for role in entry.hosts.keys() {
            if !names.contains(&role.as_str()) {
                let hint = suggestion(role, names.iter().copied())
                    .map(|s| format!(", did you mean `{s}`?"))
                    .unwrap_or_default();
                problems.push(format!(
                    "candidate {}: the labs have no role `{role}`{hint} (roles: {})",
                    entry.id,
                    names.join(", ")
                ));
            }
        }
        for role in &roles {
            if !role.optional && !entry.hosts.contains_key(&role.name) {
                problems.push(format!(
                    "candidate {}: no machine for role `{}`",
                    entry.id, role.name
                ));
            }
        }
        candidates.push(Candidate {
            id: entry.id,
            name: entry.name,
            vars: entry.vars,
            hosts: entry
                .hosts
                .into_iter()
                .map(|(role, host)| (role, Target::Ssh(host.target())))
                .collect(),
        });
    }
    if problems.is_empty() {
        Ok(candidates)
    } else {
        Err(Error::Usage(format!(
            "{}: {}",
            path.display(),
            problems.join(&format!("\n{}: ", path.display()))
        )))
    }
}

/// Every candidate of a class at once. Each candidate's results are written the moment they
/// are graded; Ctrl-C or a crash keeps them, and `--resume` grades only the others.
async fn grade_class(
    labs: Vec<Lab>,
    candidates: Vec<Candidate>,
    args: &RunArgs,
    options: RunOptions,
    templates: &Templates,
) -> Result<i32, Error> {
    // Plan everyone first: a template that cannot render for one candidate stops the run
    // before any machine is contacted.
    let mut planned = Vec::new();
    for candidate in &candidates {
        planned.push(plans(&labs, candidate, &options.only)?);
    }
    let (dir, resuming) = match (&args.resume, &args.retry_errors) {
        (Some(dir), _) | (_, Some(dir)) => {
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "{}: no such folder of earlier results",
                    dir.display()
                )));
            }
            (dir.clone(), true)
        }
        (None, None) => (prepare_class_out(args.out.as_deref(), &candidates)?, false),
    };
    let was_sealed = resuming && check_seal(&dir)?;

    // Who is graded now, and with which earlier results.
    let mut graded: BTreeMap<String, Results> = BTreeMap::new();
    let mut todo = Vec::new();
    for (candidate, plans) in candidates.iter().zip(planned) {
        let path = class::results_path(&dir, &candidate.id);
        let earlier = if resuming && path.exists() {
            Some(Results::read(&path).map_err(Error::Usage)?)
        } else {
            None
        };
        match earlier {
            Some(results) if args.resume.is_some() || !results.any_error() => {
                graded.insert(candidate.id.clone(), results);
            }
            previous => todo.push((candidate.clone(), plans, previous)),
        }
    }

    let total = candidates.len();
    let progress = Progress::new(total, graded.len(), Arc::clone(&options.watch));
    let labs = Arc::new(labs);
    let mut running = tokio::task::JoinSet::new();
    for (candidate, plans, previous) in todo {
        let labs = Arc::clone(&labs);
        let options = options.clone();
        running.spawn(async move {
            let started = Instant::now();
            let results =
                grade_planned(&labs, &plans, &candidate, &options, previous.as_ref()).await;
            (results, started.elapsed())
        });
    }
    // Made before the loop, so that a Ctrl-C between two candidates is not lost.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::Output(format!("cannot watch for Ctrl-C: {e}")))?;
    let interrupted = loop {
        tokio::select! {
            next = running.join_next() => {
                let Some(done) = next else { break false };
                let (results, took) = done.expect("a candidate's grading task panicked");
                let path = class::write_candidate(&dir, &results).map_err(|e| {
                    Error::Output(format!("cannot write {}'s results in {}: {e}", results.candidate.id, dir.display()))
                })?;
                progress.graded(&results, took, &path);
                graded.insert(results.candidate.id.clone(), results);
            }
            _ = interrupt.recv() => break true,
        }
    };
    progress.finish();
    if interrupted {
        running.abort_all();
        eprintln!(
            "interrupted: {} of {total} candidates graded and kept in {}; go on with --resume {}",
            graded.len(),
            dir.display(),
            dir.display()
        );
        return Ok(EXIT_INTERRUPTED);
    }

    let in_order: Vec<Results> = candidates
        .iter()
        .filter_map(|c| graded.remove(&c.id))
        .collect();
    let unique: Vec<String> = labs
        .iter()
        .flat_map(|l| l.unique.iter().map(|u| u.name.clone()))
        .collect();
    let summary = ClassSummary::new(&in_order, &unique);
    let path = dir.join("class.json");
    summary
        .write(&path)
        .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?;
    write_reports(&dir, &Format::or_all(&args.format), templates).map_err(Error::Output)?;
    print!("{}", summary.render());
    println!("results: {}", dir.display());
    seal(&dir, args.exam || was_sealed)?;
    Ok(exit_code(
        in_order.iter().any(Results::any_error),
        in_order.iter().all(Results::all_passed),
    ))
}

/// The exit code of a run stopped by Ctrl-C, as shells report SIGINT.
const EXIT_INTERRUPTED: i32 = 130;

/// A class output folder, refused when it already holds a candidate's results.
fn prepare_class_out(out: Option<&Path>, candidates: &[Candidate]) -> Result<PathBuf, Error> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => default_out(),
    };
    if let Some(c) = candidates
        .iter()
        .find(|c| class::results_path(&dir, &c.id).exists())
    {
        return Err(Error::Usage(format!(
            "{} already holds results ({} is graded): go on with --resume {}, or choose another --out",
            dir.display(),
            c.id,
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

fn default_out() -> PathBuf {
    PathBuf::from("labgrade-results").join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string())
}

fn default_known_hosts() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".ssh").join("known_hosts")
}

/// Every role bound to a machine: all of them to this one in a self-test, else as --host says.
fn candidate(labs: &[Lab], args: &RunArgs) -> Result<Candidate, Error> {
    let roles: Vec<&crate::lab::Role> = labs.iter().flat_map(|l| &l.roles).collect();
    let mut hosts = BTreeMap::new();
    for spec in &args.hosts {
        let (role, target) = parse_host(spec)?;
        if !roles.iter().any(|r| r.name == role) {
            let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
            let hint = suggestion(&role, names.iter().copied())
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(Error::Usage(format!(
                "--host {spec}: the labs have no role `{role}`{hint} (roles: {})",
                names.join(", ")
            )));
        }
        hosts.insert(role, Target::Ssh(target));
    }
    let self_test = hosts.is_empty();
    for role in &roles {
        if hosts.contains_key(&role.name) {
            continue;
        }
        if self_test && role.os != crate::lab::Os::Linux {
            // This machine answers POSIX scripts: it cannot stand in for another system.
            return Err(Error::Usage(format!(
                "role `{}` is an `os: {}` host, which this machine cannot stand in for: add --host {}=[user@]address[:port]",
                role.name, role.os, role.name
            )));
        } else if self_test {
            hosts.insert(role.name.clone(), Target::Local);
        } else if !role.optional {
            return Err(Error::Usage(format!(
                "role `{}` has no machine: add --host {}=[user@]address[:port]",
                role.name, role.name
            )));
        }
    }
    let name = args
        .candidate
        .clone()
        .unwrap_or_else(|| match hosts.values().next() {
            Some(Target::Ssh(t)) => t.address.clone(),
            _ => hostname(),
        });
    Ok(Candidate {
        id: name.clone(),
        name,
        vars: Default::default(),
        hosts,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// `ROLE=[user@]address[:port]`, with `[v6]:port` for IPv6.
pub fn parse_host(spec: &str) -> Result<(String, SshTarget), Error> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "--host {spec}: {why}; expected ROLE=[user@]address[:port]"
        ))
    };
    let (role, rest) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
    if role.is_empty() {
        return Err(bad("no role"));
    }
    let (user, rest) = match rest.split_once('@') {
        Some((user, rest)) => (user.to_string(), rest),
        None => (
            std::env::var("USER").unwrap_or_else(|_| "root".to_string()),
            rest,
        ),
    };
    let (address, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (address, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        (address.to_string(), after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((address, port)) => (address.to_string(), Some(port)),
            None => (rest.to_string(), None),
        }
    };
    if address.is_empty() {
        return Err(bad("no address"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        None => 22,
    };
    Ok((
        role.to_string(),
        SshTarget {
            user,
            address,
            port,
            identity: None,
        },
    ))
}

/// The output folder, created up front so that a wrong path stops the run before grading,
/// and checked so that earlier results are never overwritten.
fn prepare_out(out: Option<&Path>) -> Result<PathBuf, Error> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => default_out(),
    };
    let results = dir.join("results.json");
    if results.exists() {
        return Err(Error::Usage(format!(
            "{} already exists: choose another --out, or move the earlier results away",
            results.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_specs() {
        let (role, t) = parse_host("srv=grader@10.0.0.2:2222").unwrap();
        assert_eq!(
            (role.as_str(), t.user.as_str(), t.address.as_str(), t.port),
            ("srv", "grader", "10.0.0.2", 2222)
        );
        let (_, t) = parse_host("srv=root@[::1]:22").unwrap();
        assert_eq!(t.address, "::1");
        let (_, t) = parse_host("srv=host.lab").unwrap();
        assert_eq!(t.port, 22);
        assert!(parse_host("srv").is_err());
        assert!(parse_host("srv=a:0").is_err());
    }
}
