//! `ssh: HOST:PORT`: what an SSH server offers a user (password or key only) and whether a key logs in.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Ssh;

const PARAMS: &[Param] = &[
    Param::input("user", &[], "the login asked about (default root)"),
    Param::input(
        "identity",
        &[],
        "a private key on the grader to log in with, for `login` (from the grader only)",
    ),
    Param::secret(
        "secret",
        "the secret holding a password to log in with, for `login` (from the grader only)",
    ),
    Param::expect(
        "methods",
        Shape::List,
        "the authentication methods the server offers this user: publickey, password, keyboard-interactive...",
    ),
    Param::expect(
        "password",
        Shape::Bool,
        "a password is accepted as a method (password or keyboard-interactive offered)",
    ),
    Param::expect("publickey", Shape::Bool, "key authentication is offered"),
    Param::expect(
        "login",
        Shape::Bool,
        "the `identity` key logs in as `user` (root login with a key refused: false)",
    ),
    Param::expect(
        "version",
        Shape::Text,
        "the server's software version, as it announces it: \"OpenSSH_9.2p1 Debian-2+deb12u3\"",
    ),
];

fn endpoint(subject: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{subject}` is not HOST or HOST:PORT");
    if let Some(rest) = subject.strip_prefix('[') {
        let (host, port) = rest.split_once(']').ok_or_else(bad)?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => 22,
        };
        return Ok((host.to_string(), port));
    }
    match subject.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((
            host.to_string(),
            port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
        )),
        _ if subject.is_empty() => Err(bad()),
        _ => Ok((subject.to_string(), 22)),
    }
}

fn user<'a>(q: &'a Query) -> &'a str {
    q.input("user").unwrap_or("root")
}

/// Facts from the methods a server offers and the version it announces.
fn facts(methods: &[String], version: Option<String>) -> Facts {
    let has = |m: &str| methods.iter().any(|x| x == m);
    let mut facts = Facts::from([
        ("methods", Fact::List(methods.to_vec())),
        (
            "password",
            Fact::Bool(has("password") || has("keyboard-interactive")),
        ),
        ("publickey", Fact::Bool(has("publickey"))),
    ]);
    if let Some(version) = version {
        facts.insert("version", Fact::Text(version));
    }
    facts
}

/// The blocking SSH dialogue: handshake, ask for the methods, try the key if there is one.
/// No host key is trusted or recorded: nothing secret is sent (a key proves itself
/// without leaving the grader), and the probe only asks what is offered.
/// A credential to try for `login`.
enum Credential {
    Key(String),
    Password(String),
}

fn probe(
    host: &str,
    port: u16,
    user: &str,
    credential: Option<Credential>,
    wait: Duration,
) -> Result<Observation, String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let stream =
        TcpStream::connect_timeout(&addr, wait).map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut session = ssh2::Session::new().map_err(|e| e.to_string())?;
    session.set_tcp_stream(stream);
    session.set_timeout(wait.as_millis().try_into().unwrap_or(u32::MAX));
    session
        .handshake()
        .map_err(|e| format!("ssh handshake with {addr}: {e}"))?;
    let version = session
        .banner()
        .map(|b| b.trim_start_matches("SSH-2.0-").to_string());
    let offered = session
        .auth_methods(user)
        .map_err(|e| format!("asking {addr} for methods: {e}"))?;
    let methods: Vec<String> = offered
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    let mut facts = facts(&methods, version.clone());
    let mut transcript = format!(
        "{addr}: {}\nmethods for {user}: {offered}",
        version.unwrap_or_default()
    );
    if let Some(credential) = credential {
        let (tried, attempt) = match &credential {
            Credential::Key(path) => (
                format!("the key {path}"),
                session.userauth_pubkey_file(user, None, std::path::Path::new(path), None),
            ),
            Credential::Password(password) => (
                "a password".to_string(),
                session.userauth_password(user, password),
            ),
        };
        let login = attempt.is_ok() && session.authenticated();
        facts.insert("login", Fact::Bool(login));
        transcript.push_str(&format!(
            "\nlogin as {user} with {tried}: {}",
            if login { "accepted" } else { "refused" }
        ));
    }
    let _ = session.disconnect(None, "labgrade probe done", None);
    Ok(Observation { facts, transcript })
}

#[async_trait::async_trait]
impl Kind for Ssh {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn subject(&self) -> &'static str {
        "host:port"
    }

    fn doc(&self) -> &'static str {
        "An SSH server seen from outside: the methods it offers a user (password login off?) and whether a key logs in."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        endpoint(q.subject).map(|(host, _)| host)
    }

    /// From a role: the OpenSSH client asks for the `none` method and reads the refusal,
    /// which lists what the server offers. Nothing is written on the role's host.
    fn script(&self, q: &Query) -> String {
        // A password must not travel to a candidate's machine, nor a key path mean anything there.
        if q.input("identity").is_some() || q.input("secret").is_some() || q.wants("login") {
            return "echo 'login is checked from the grader only' >&2; exit 2\n".to_string();
        }
        let Ok((host, port)) = endpoint(q.subject) else {
            return format!(
                "echo {} >&2; exit 2\n",
                shell_quote(&format!("`{}` is not HOST:PORT", q.subject))
            );
        };
        format!(
            "need ssh\n\
             ssh -v -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o GlobalKnownHostsFile=/dev/null -o PreferredAuthentications=none -o ConnectTimeout=5 \
             -p {port} -l {user} {host} true 2>&1 </dev/null\n\
             exit 0\n",
            user = shell_quote(user(q)),
            host = shell_quote(&host),
        )
    }

    fn parse(&self, _q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let text = output.stdout_text();
        let version = text.lines().find_map(|l| {
            l.split_once("remote software version ")
                .map(|(_, v)| v.trim().to_string())
        });
        let offered = text.lines().find_map(|l| {
            l.split_once("Permission denied (")
                .and_then(|(_, rest)| rest.split_once(')'))
                .map(|(m, _)| m.to_string())
        });
        match offered {
            Some(offered) => {
                let methods: Vec<String> = offered.split(',').map(str::to_string).collect();
                Ok(facts(&methods, version))
            }
            None => Err(text
                .lines()
                .rev()
                .find(|l| !l.starts_with("debug"))
                .unwrap_or("no answer from ssh")
                .to_string()),
        }
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let (host, port) = endpoint(q.subject)?;
        let user = user(q).to_string();
        let credential = match (q.input("identity"), q.input("secret")) {
            (Some(path), _) => Some(Credential::Key(path.to_string())),
            (None, Some(password)) => Some(Credential::Password(password.to_string())),
            (None, None) if q.wants("login") => {
                return Err("`login` needs an `identity` or a `secret` to log in with".to_string());
            }
            (None, None) => None,
        };
        tokio::task::spawn_blocking(move || probe(&host, port, &user, credential, wait))
            .await
            .map_err(|e| format!("the ssh probe stopped: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("10.0.0.2:2222"),
            Ok(("10.0.0.2".to_string(), 2222))
        );
        assert_eq!(endpoint("10.0.0.2"), Ok(("10.0.0.2".to_string(), 22)));
        assert_eq!(endpoint("[::1]:22"), Ok(("::1".to_string(), 22)));
        assert!(endpoint("").is_err());
    }

    #[test]
    fn the_clients_refusal_lists_the_methods() {
        let out = "debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2+deb12u3\n\
                   debug1: Authentications that can continue: publickey,password\n\
                   root@10.0.0.2: Permission denied (publickey,password).\n";
        let facts = parse_canned(&Ssh, "10.0.0.2", &[], 0, out, "").unwrap();
        assert_eq!(
            facts["methods"],
            Fact::List(vec!["publickey".into(), "password".into()])
        );
        assert_eq!(facts["password"], Fact::Bool(true));
        assert_eq!(
            facts["version"],
            Fact::Text("OpenSSH_9.2p1 Debian-2+deb12u3".into())
        );
        let refused = parse_canned(
            &Ssh,
            "10.0.0.2",
            &[],
            0,
            "ssh: connect to host 10.0.0.2 port 22: Connection refused\n",
            "",
        );
        assert_eq!(
            refused,
            Err("ssh: connect to host 10.0.0.2 port 22: Connection refused".to_string())
        );
    }
}
