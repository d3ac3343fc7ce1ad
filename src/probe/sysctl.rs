//! `sysctl: KEY`: a kernel parameter's current value, read from /proc/sys.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Sysctl;

const PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the kernel has this parameter"),
    Param::expect(
        "value",
        Shape::Text,
        "its current value, blanks between fields made single spaces: \"4 4 1 7\"",
    ),
];

#[async_trait::async_trait]
impl Kind for Sysctl {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn subject(&self) -> &'static str {
        "a kernel parameter: net.ipv4.ip_forward"
    }

    fn doc(&self) -> &'static str {
        "A kernel parameter as it is now (not as a file under /etc/sysctl.d says it will be)."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("exists")
    }

    /// The file under /proc/sys is read directly: it is what `sysctl -n` reads, and it is
    /// there on hosts without procps.
    fn script(&self, q: &Query) -> String {
        match proc_path(q.subject) {
            Some(path) => format!(
                "f={}\n\
                 [ -f \"$f\" ] || {{ echo exists=no; exit 0; }}\n\
                 echo exists=yes\n\
                 exec cat -- \"$f\"\n",
                shell_quote(&path)
            ),
            None => "echo 'not a sysctl key' >&2; exit 2\n".to_string(),
        }
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if proc_path(q.subject).is_none() {
            return Err(format!("{:?} is not a sysctl key", q.subject));
        }
        let stdout = output.stdout_text();
        if output.exit_code != Some(0) {
            // Some keys cannot be read (stable_secret before it is set, write-only ones).
            return Err(match output.stderr_text().trim() {
                "" => format!("cannot read {} (exit {:?})", q.subject, output.exit_code),
                reason => reason.to_string(),
            });
        }
        let mut facts = Facts::new();
        match stdout.split_once('\n') {
            Some(("exists=no", _)) => {
                facts.insert("exists", Fact::Bool(false));
            }
            Some(("exists=yes", value)) => {
                facts.insert("exists", Fact::Bool(true));
                facts.insert("value", Fact::Text(normalise(value)));
            }
            _ => return Err(format!("unexpected answer: {stdout:?}")),
        }
        Ok(facts)
    }
}

/// `net.ipv4.conf.eth0/100.rp_filter` is `/proc/sys/net/ipv4/conf/eth0.100/rp_filter`: dots
/// and slashes swap unless the key is written with slashes, as sysctl(8) reads it. A key
/// that would leave /proc/sys is refused.
fn proc_path(key: &str) -> Option<String> {
    let slashed = key.chars().find(|c| matches!(c, '.' | '/')) == Some('/');
    let relative: String = if slashed {
        key.to_string()
    } else {
        key.chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect()
    };
    let valid = relative
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..");
    valid.then(|| format!("/proc/sys/{relative}"))
}

/// `4\t4\t1\t7\n` is `4 4 1 7`: tabs and runs of spaces become one space, ends are trimmed.
fn normalise(value: &str) -> String {
    value
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    #[test]
    fn reads_a_real_key() {
        let facts = run_locally(&Sysctl, "kernel.ostype", &[], &["value"]).unwrap();
        assert_eq!(facts["exists"], Fact::Bool(true));
        assert_eq!(facts["value"], Fact::Text("Linux".into()));
    }

    #[test]
    fn tabs_become_spaces() {
        let facts = run_locally(&Sysctl, "net.ipv4.ip_local_port_range", &[], &[]).unwrap();
        assert!(matches!(&facts["value"], Fact::Text(v) if v.split(' ').count() == 2));
        let facts = parse_canned(
            &Sysctl,
            "kernel.printk",
            &[],
            0,
            "exists=yes\n4\t4\t1\t7\n",
            "",
        )
        .unwrap();
        assert_eq!(facts["value"], Fact::Text("4 4 1 7".into()));
    }

    #[test]
    fn an_unknown_key_only_says_so() {
        for key in ["net.ipv4.labgrade", "net.ipv4", "kernel.ostype'; echo 'x"] {
            let facts = run_locally(&Sysctl, key, &[], &["value"]).unwrap();
            assert_eq!(facts.len(), 1, "{key}");
            assert_eq!(facts["exists"], Fact::Bool(false), "{key}");
        }
    }

    #[test]
    fn keys_map_to_proc_sys_and_stay_inside() {
        assert_eq!(
            proc_path("net.ipv4.conf.eth0/100.rp_filter").as_deref(),
            Some("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
        assert_eq!(
            proc_path("net/ipv4/ip_forward").as_deref(),
            Some("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(proc_path("net/../../etc/shadow"), None);
        assert_eq!(proc_path("x.//.y"), None);
        assert_eq!(proc_path(""), None);
        assert!(run_locally(&Sysctl, "kernel..ostype", &[], &[]).is_err());
    }

    #[test]
    fn an_unreadable_key_is_an_error() {
        let err = "cat: /proc/sys/net/ipv6/conf/all/stable_secret: Input/output error\n";
        assert!(
            parse_canned(
                &Sysctl,
                "net.ipv6.conf.all.stable_secret",
                &[],
                1,
                "exists=yes\n",
                err
            )
            .is_err()
        );
    }
}
