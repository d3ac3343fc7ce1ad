//! `tcp: HOST:PORT`: whether a port answers from where the probe stands: open, refused or filtered.

use std::time::{Duration, Instant};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Expect, Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Tcp;

const PARAMS: &[Param] = &[
    Param::expect(
        "open",
        Shape::Bool,
        "a connection is accepted; false when refused or filtered",
    ),
    Param::expect(
        "state",
        Shape::Text,
        "open, refused (a reset: nothing listens, or a reject rule), filtered (no answer: a drop rule) or unreachable",
    ),
];

/// A SYN that gets no answer within this long is taken as dropped. A firewall lab checks
/// many closed ports: waiting the whole check timeout for each would make it crawl.
const FILTERED_AFTER: Duration = Duration::from_secs(3);

/// Split `host:port` or `[v6]:port`.
fn endpoint(subject: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{subject}` is not HOST:PORT");
    let (host, port) = match subject.strip_prefix('[') {
        Some(rest) => {
            let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
            (host, port)
        }
        None => subject.rsplit_once(':').ok_or_else(bad)?,
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(bad)?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn facts(state: &str) -> Facts {
    Facts::from([
        ("open", Fact::Bool(state == "open")),
        ("state", Fact::Text(state.to_string())),
    ])
}

#[async_trait::async_trait]
#[async_trait::async_trait]
impl Kind for Tcp {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn subject(&self) -> &'static str {
        "host:port"
    }

    fn doc(&self) -> &'static str {
        "A TCP port seen from outside (the grader, or `from:` a role): open, refused or filtered."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some(("open", Expect::Bool(true)))
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        endpoint(q.subject).map(|(host, _)| host)
    }

    /// From a role: bash's /dev/tcp, so the host needs nothing beyond bash and coreutils.
    fn script(&self, q: &Query) -> String {
        let Ok((host, port)) = endpoint(q.subject) else {
            return format!(
                "echo {} >&2; exit 2\n",
                shell_quote(&format!("`{}` is not HOST:PORT", q.subject))
            );
        };
        let target = shell_quote(&format!("/dev/tcp/{host}/{port}"));
        format!(
            "need bash\n\
             need timeout\n\
             out=$(timeout {secs} bash -c 'exec 3<>\"$1\"' bash {target} 2>&1); rc=$?\n\
             case $rc in\n\
             0) echo state=open ;;\n\
             124) echo state=filtered ;;\n\
             *) case $out in\n\
                *refused*) echo state=refused ;;\n\
                *'No route'*|*unreachable*) echo state=unreachable ;;\n\
                *) printf '%s\\n' \"$out\" >&2; exit 3 ;;\n\
                esac ;;\n\
             esac\n",
            secs = FILTERED_AFTER.as_secs()
        )
    }

    fn parse(&self, _q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        match stdout.trim().strip_prefix("state=") {
            Some(state @ ("open" | "refused" | "filtered" | "unreachable")) => Ok(facts(state)),
            _ => Err(match output.stderr_text().trim() {
                "" => format!("unexpected answer: {stdout:?}"),
                reason => reason.to_string(),
            }),
        }
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let (host, port) = endpoint(q.subject)?;
        let wait = wait.min(FILTERED_AFTER);
        let started = Instant::now();
        let attempt =
            tokio::time::timeout(wait, tokio::net::TcpStream::connect((host.as_str(), port))).await;
        let state = match attempt {
            Err(_) => "filtered",
            Ok(Ok(_stream)) => "open",
            Ok(Err(e)) => match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused",
                std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                    "unreachable"
                }
                _ => return Err(format!("connect to {}: {e}", q.subject)),
            },
        };
        Ok(Observation {
            facts: facts(state),
            transcript: format!(
                "connect {}: {state} after {} ms",
                q.subject,
                started.elapsed().as_millis()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;

    async fn observe(subject: &str) -> String {
        let inputs = BTreeMap::new();
        let q = Query {
            subject,
            inputs: &inputs,
            wants: &[],
        };
        let facts = Tcp.observe(&q, Duration::from_secs(2)).await.unwrap().facts;
        match &facts["state"] {
            Fact::Text(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn open_and_refused_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(observe(&format!("127.0.0.1:{port}")).await, "open");
        drop(listener);
        assert_eq!(observe(&format!("127.0.0.1:{port}")).await, "refused");
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("10.0.0.2:22"), Ok(("10.0.0.2".to_string(), 22)));
        assert_eq!(endpoint("[::1]:443"), Ok(("::1".to_string(), 443)));
        assert!(endpoint("10.0.0.2").is_err());
        assert!(endpoint("10.0.0.2:0").is_err());
        assert!(endpoint(":22").is_err());
    }

    #[test]
    fn the_script_answer_is_read() {
        assert_eq!(
            parse_canned(&Tcp, "h:1", &[], 0, "state=filtered\n", ""),
            Ok(facts("filtered"))
        );
        assert_eq!(
            parse_canned(
                &Tcp,
                "h:1",
                &[],
                3,
                "",
                "bash: connect: Permission denied\n"
            ),
            Err("bash: connect: Permission denied".to_string())
        );
    }

    #[tokio::test]
    async fn the_script_runs_for_real() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let facts =
            crate::probe::testing::run_locally(&Tcp, &format!("127.0.0.1:{port}"), &[], &[])
                .unwrap();
        assert_eq!(facts, super::facts("open"));
        drop(listener);
        let facts =
            crate::probe::testing::run_locally(&Tcp, &format!("127.0.0.1:{port}"), &[], &[])
                .unwrap();
        assert_eq!(facts, super::facts("refused"));
    }
}
