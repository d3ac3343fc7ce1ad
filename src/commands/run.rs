//! `labgrade run`: load, bind roles to machines, grade, print the summary, write results.json.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::error::{EXIT_COULD_NOT_CHECK, EXIT_FAILED, EXIT_PASSED, Error};
use crate::lab::{Lab, suggestion};
use crate::plan::{Candidate, Target};
use crate::report::terminal;
use crate::results::Mode;
use crate::run::{RunOptions, grade};
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
    let candidate = candidate(&labs, &args)?;
    let out = prepare_out(args.out.as_deref())?;
    let options = RunOptions {
        mode: if args.exam {
            Mode::Exam
        } else {
            Mode::Practice
        },
        ssh: SshOptions {
            identity: args.identity.clone(),
            password_env: args.password_env.clone(),
            known_hosts: args.known_hosts.clone().unwrap_or_else(default_known_hosts),
            accept_new_host_keys: args.accept_new_host_keys,
            connect_timeout: args.connect_timeout,
        },
        only: args.only,
        secrets: std::sync::Arc::new(match &args.secrets {
            Some(path) => Secrets::load(path).map_err(Error::Usage)?,
            None => Secrets::default(),
        }),
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Output(format!("cannot start the runtime: {e}")))?;
    let results = runtime.block_on(grade(&labs, &candidate, &options))?;
    let path = out.join("results.json");
    results
        .write(&path)
        .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?;
    print!("{}", terminal::render(&results));
    println!("results: {}", path.display());
    Ok(if results.any_error() {
        EXIT_COULD_NOT_CHECK
    } else if results.all_passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
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
        if self_test {
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
        },
    ))
}

/// The output folder, created up front so that a wrong path stops the run before grading,
/// and checked so that earlier results are never overwritten.
fn prepare_out(out: Option<&Path>) -> Result<PathBuf, Error> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("labgrade-results")
            .join(chrono::Local::now().format("%Y%m%d-%H%M%S").to_string()),
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
