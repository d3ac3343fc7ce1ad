//! `process: NAME`: whether a program runs on the host, how many times and as whom.

use std::collections::BTreeSet;

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::ExecOutput;

pub struct Process;

const PARAMS: &[Param] = &[
    Param::expect("running", Shape::Bool, "at least one process has this name"),
    Param::expect("count", Shape::Number, "how many processes have it"),
    Param::expect("user", Shape::List, "the users they run as"),
];

/// The kernel keeps 15 bytes of a process name (`comm`): `systemd-resolved` runs as `systemd-resolve`.
const COMM_LEN: usize = 15;

#[async_trait::async_trait]
impl Kind for Process {
    fn name(&self) -> &'static str {
        "process"
    }

    fn subject(&self) -> &'static str {
        "a process name, as ps -o comm shows it"
    }

    fn doc(&self) -> &'static str {
        "Running processes of one name: whether there are any, how many, and their users."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("running")
    }

    /// The name is matched here, so it never reaches the host. The script's own shell, its
    /// children (ps) and the `timeout` above it are named first, so that `process: sh` does
    /// not find the grader itself.
    fn script(&self, _q: &Query) -> String {
        "need ps\n\
         printf 'self %s %s\\n' \"$$\" \"$PPID\"\n\
         ps -e -o pid= -o ppid= -o user:64= -o comm=\n"
            .to_string()
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("ps failed (exit {:?})", output.exit_code),
                reason => reason.to_string(),
            });
        }
        let stdout = output.stdout_text();
        let mut lines = stdout.lines();
        let (shell, parent) = lines
            .next()
            .and_then(|l| l.strip_prefix("self "))
            .and_then(|l| l.split_once(' '))
            .ok_or("the process probe did not start")?;
        let mut count = 0;
        let mut users = BTreeSet::new();
        for line in lines {
            let (pid, rest) = next_field(line);
            let (ppid, rest) = next_field(rest);
            let (user, rest) = next_field(rest);
            // A name may hold spaces: it is the rest of the line.
            let comm = rest.trim();
            if comm.is_empty() {
                return Err(format!("unexpected line from ps: {line:?}"));
            }
            let ours = pid == shell || ppid == shell || (pid == parent && comm == "timeout");
            if !ours && same_name(comm, q.subject) {
                count += 1;
                users.insert(user.to_string());
            }
        }
        let mut facts = Facts::new();
        facts.insert("running", Fact::Bool(count > 0));
        if count > 0 {
            facts.insert("count", Fact::Number(f64::from(count)));
            facts.insert("user", Fact::List(users.into_iter().collect()));
        }
        Ok(facts)
    }
}

/// The first blank-separated field of `text`, and what follows it.
fn next_field(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    text.split_at(text.find(char::is_whitespace).unwrap_or(text.len()))
}

/// Exact, except that a name longer than the kernel keeps matches its first 15 bytes.
fn same_name(comm: &str, wanted: &str) -> bool {
    if comm == wanted {
        return true;
    }
    comm.len() == COMM_LEN
        && wanted.len() > COMM_LEN
        && wanted.as_bytes().starts_with(comm.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    /// From `ps -e -o pid= -o ppid= -o user:64= -o comm=`, the user column cut to fit.
    const PS: &str = "\
self 700 699
    1     0 root                                                             systemd
  410     1 systemd-resolve                                                  systemd-resolve
  901     1 root                                                             nginx
  902   901 www-data                                                         nginx
  903   901 www-data                                                         nginx
  950     1 1                                                                Web Content
  699   600 root                                                             timeout
  700   699 root                                                             sh
  701   700 root                                                             ps
  800     1 alice                                                            sh
";

    fn ps(name: &str) -> Facts {
        parse_canned(&Process, name, &[], 0, PS, "").unwrap()
    }

    #[test]
    fn counts_and_users() {
        let facts = ps("nginx");
        assert_eq!(facts["running"], Fact::Bool(true));
        assert_eq!(facts["count"], Fact::Number(3.0));
        assert_eq!(
            facts["user"],
            Fact::List(vec!["root".into(), "www-data".into()])
        );
    }

    #[test]
    fn long_names_are_cut_like_the_kernel_cuts_them() {
        assert_eq!(ps("systemd-resolved")["count"], Fact::Number(1.0));
        assert_eq!(ps("systemd-resolve")["count"], Fact::Number(1.0));
        assert_eq!(ps("systemd-resolvedX")["count"], Fact::Number(1.0));
        assert_eq!(ps("system")["running"], Fact::Bool(false));
    }

    #[test]
    fn names_with_spaces_and_numeric_users() {
        let facts = ps("Web Content");
        assert_eq!(facts["user"], Fact::List(vec!["1".into()]));
    }

    #[test]
    fn the_graders_own_processes_do_not_count() {
        let facts = ps("sh");
        assert_eq!(facts["count"], Fact::Number(1.0));
        assert_eq!(facts["user"], Fact::List(vec!["alice".into()]));
        assert_eq!(ps("timeout")["running"], Fact::Bool(false));
        assert_eq!(ps("ps")["running"], Fact::Bool(false));
    }

    #[test]
    fn a_missing_process_only_says_so() {
        let facts = ps("apache2");
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["running"], Fact::Bool(false));
    }

    #[test]
    fn on_this_machine() {
        let facts = run_locally(&Process, "labgrade-nothing", &[], &[]).unwrap();
        assert_eq!(facts["running"], Fact::Bool(false));
        // This test's own process runs as the current user.
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        let facts = run_locally(&Process, me.trim_end(), &[], &["user"]).unwrap();
        assert_eq!(facts["running"], Fact::Bool(true));
    }

    #[test]
    fn output_without_the_header_is_an_error() {
        assert!(parse_canned(&Process, "sh", &[], 0, "1 0 root init\n", "").is_err());
    }
}
