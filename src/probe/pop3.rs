//! `pop3: HOST[:PORT]`: what a POP3 server offers from outside: greeting, capabilities, STLS or TLS, a user's login and message count. Retrieves and deletes nothing.

use std::time::Duration;

use super::mail::{
    self, CURL_LOGIN_DENIED, CURL_NO_STARTTLS, CURL_TLS_FAILED, Plan, Security, Wire,
};
use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::ExecOutput;

pub struct Pop3;

const PROTOCOL: mail::Protocol = mail::Protocol {
    name: "pop3",
    plain_port: 110,
    tls_port: 995,
    after_login: &["login", "messages"],
};

const PARAMS: &[Param] = &[
    Param::input(
        "user",
        &[],
        "the user to log in as, for `login` and `messages`",
    ),
    Param::secret(
        "secret",
        "the secret holding `user`'s password. From a role it travels in the script to a private file that curl reads, never on a command line",
    ),
    Param::input(
        "security",
        mail::SECURITY,
        "how the probe connects to log in: none (plain), starttls (STLS first, or no login), tls (TLS from the first byte; default port 995). Not given: STLS when the server offers it, plain otherwise",
    ),
    Param::expect(
        "banner",
        Shape::Text,
        "the server's greeting line: \"+OK Dovecot (Debian) ready.\"",
    ),
    Param::expect(
        "capabilities",
        Shape::List,
        "the CAPA keywords before login, upper-case: USER, STLS, SASL, TOP, UIDL... (none when CAPA is refused)",
    ),
    Param::expect(
        "starttls",
        Shape::Bool,
        "STLS is offered and the TLS handshake succeeds (any certificate), on the subject's port (default 110)",
    ),
    Param::expect(
        "tls",
        Shape::Bool,
        "the server speaks TLS from the first byte (POP3S), on the subject's port (default 995); any certificate. Not with `starttls` in one check",
    ),
    Param::expect(
        "login",
        Shape::Bool,
        "`user` logs in with the password of `secret` (USER and PASS answered +OK). When false, `messages` is skipped",
    ),
    Param::expect(
        "messages",
        Shape::Number,
        "how many messages the user's maildrop holds after login (STAT)",
    ),
];

/// More CAPA lines than this is not a POP3 server.
const MAX_CAPA: usize = 200;

/// `+OK`, `-ERR`, or not POP3 at all.
fn status(line: &str) -> Result<bool, String> {
    let word = line.split_whitespace().next().unwrap_or_default();
    if word.eq_ignore_ascii_case("+OK") {
        Ok(true)
    } else if word.eq_ignore_ascii_case("-ERR") {
        Ok(false)
    } else {
        Err(format!(
            "not a POP3 server: it said {:?}",
            mail::truncate(line)
        ))
    }
}

fn greeting(line: &str) -> Result<String, String> {
    if status(line)? {
        Ok(line.to_string())
    } else {
        Err(format!("the server refuses: {}", mail::truncate(line)))
    }
}

/// The keyword of a CAPA line, upper-case.
fn capability(line: &str) -> Option<String> {
    line.split_whitespace().next().map(str::to_ascii_uppercase)
}

/// The number of `N SIZE` lines of a LIST answer, as curl prints it.
fn listed(output: &str) -> Result<usize, String> {
    let mut n = 0;
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut words = line.split_whitespace();
        let numbers = words.next().is_some_and(|w| w.parse::<u64>().is_ok())
            && words.next().is_some_and(|w| w.parse::<u64>().is_ok());
        if !numbers {
            return Err(format!(
                "unreadable LIST answer: {:?}",
                mail::truncate(line)
            ));
        }
        n += 1;
    }
    Ok(n)
}

async fn reply(wire: &mut Wire) -> Result<(bool, String), String> {
    let line = String::from_utf8_lossy(&wire.line().await?).into_owned();
    Ok((status(&line)?, line))
}

async fn command(wire: &mut Wire, cmd: &str) -> Result<(bool, String), String> {
    wire.command(cmd).await?;
    reply(wire).await
}

/// STLS and the handshake; false when refused or failed (the connection is then spent).
async fn stls(wire: &mut Wire, host: &str) -> Result<bool, String> {
    if !command(wire, "STLS").await?.0 {
        return Ok(false);
    }
    Ok(wire.upgrade(host).await.is_ok())
}

async fn dialogue(p: &Plan, wire: &mut Wire) -> Result<Facts, String> {
    let mut facts = Facts::new();
    if p.implicit {
        match wire.upgrade(&p.host).await {
            Ok(()) => {
                facts.insert("tls", Fact::Bool(true));
            }
            Err(_) if p.tls => {
                facts.insert("tls", Fact::Bool(false));
                if p.login.is_some() {
                    facts.insert("login", Fact::Bool(false));
                }
                return Ok(facts);
            }
            Err(e) => return Err(format!("{}:{}: {e}", p.host, p.port)),
        }
    }
    let hello = String::from_utf8_lossy(&wire.line().await?).into_owned();
    facts.insert("banner", Fact::Text(greeting(&hello)?));
    let mut caps = Vec::new();
    if command(wire, "CAPA").await?.0 {
        loop {
            let line = String::from_utf8_lossy(&wire.line().await?).into_owned();
            if line == "." {
                break;
            }
            if caps.len() >= MAX_CAPA {
                return Err("the CAPA list does not end".to_string());
            }
            caps.extend(capability(line.strip_prefix('.').unwrap_or(&line)));
        }
    }
    let offered = caps.iter().any(|c| c == "STLS");
    facts.insert("capabilities", Fact::List(caps));
    if p.starttls {
        let works = offered && stls(wire, &p.host).await?;
        facts.insert("starttls", Fact::Bool(works));
    }
    let Some(credentials) = &p.login else {
        return Ok(facts);
    };
    let wanted_tls = match p.security {
        Security::StartTls => true,
        Security::Auto => offered,
        Security::Plain | Security::Tls => false,
    };
    if wanted_tls && !wire.secure && wire.usable() && !p.starttls {
        if !offered {
            wire.note("STLS is not offered: no login attempted");
        } else {
            stls(wire, &p.host).await?;
        }
    }
    if (wanted_tls && !wire.secure) || !wire.usable() {
        facts.insert("login", Fact::Bool(false));
        return Ok(facts);
    }
    let mut logged_in = command(wire, &format!("USER {}", credentials.user))
        .await?
        .0;
    if logged_in {
        let password = format!("PASS {}\r\n", credentials.password);
        wire.send(password.as_bytes(), "PASS [secret]").await?;
        logged_in = reply(wire).await?.0;
    }
    facts.insert("login", Fact::Bool(logged_in));
    if logged_in {
        let (ok, stat) = command(wire, "STAT").await?;
        let count = stat
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|_| ok)
            .ok_or_else(|| format!("STAT answered {:?}", mail::truncate(&stat)))?;
        facts.insert("messages", Fact::Number(count as f64));
    }
    let _ = command(wire, "QUIT").await;
    Ok(facts)
}

/// Judge the role's curl runs: the verbose one without credentials, and the login.
fn facts_of_runs(p: &Plan, stdout: &str) -> Result<Facts, String> {
    let runs = mail::runs(stdout)?;
    let run = |name: &str| {
        runs.iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r)
            .ok_or_else(|| format!("the probe stopped before its {name} run"))
    };
    let hello = run("hello")?;
    let exchanged = hello.exchanged();
    let mut facts = Facts::new();
    let Some((_, first)) = exchanged.iter().find(|(received, _)| *received) else {
        if p.tls && hello.rc == CURL_TLS_FAILED {
            facts.insert("tls", Fact::Bool(false));
            if p.login.is_some() {
                facts.insert("login", Fact::Bool(false));
            }
            return Ok(facts);
        }
        return Err(hello.why());
    };
    facts.insert("banner", Fact::Text(greeting(first)?));
    if p.implicit {
        facts.insert("tls", Fact::Bool(true));
    }
    facts.insert("capabilities", Fact::List(capa(&exchanged)));
    if p.starttls {
        facts.insert("starttls", Fact::Bool(upgraded(&exchanged)));
    }
    if p.login.is_some() {
        let login = run("login")?;
        match login.rc {
            0 => {
                facts.insert("login", Fact::Bool(true));
                facts.insert("messages", Fact::Number(listed(&login.output)? as f64));
            }
            CURL_LOGIN_DENIED | CURL_NO_STARTTLS | CURL_TLS_FAILED => {
                facts.insert("login", Fact::Bool(false));
            }
            _ => return Err(login.why()),
        }
    }
    Ok(facts)
}

/// The keywords of the first CAPA answer curl received.
fn capa(exchanged: &[(bool, &str)]) -> Vec<String> {
    let Some(at) = exchanged
        .iter()
        .position(|(received, l)| !received && l.eq_ignore_ascii_case("CAPA"))
    else {
        return Vec::new();
    };
    let mut answer = exchanged[at + 1..].iter().filter(|(received, _)| *received);
    match answer.next() {
        Some((_, l)) if status(l) == Ok(true) => answer
            .map(|(_, l)| *l)
            .take_while(|l| *l != ".")
            .filter_map(capability)
            .collect(),
        _ => Vec::new(),
    }
}

/// curl sent STLS, it was answered +OK, and curl spoke again: over TLS, so the handshake held.
fn upgraded(exchanged: &[(bool, &str)]) -> bool {
    let Some(at) = exchanged
        .iter()
        .position(|(received, l)| !received && l.eq_ignore_ascii_case("STLS"))
    else {
        return false;
    };
    let rest = &exchanged[at + 1..];
    match rest.iter().position(|(received, _)| *received) {
        Some(i) => status(rest[i].1) == Ok(true) && rest[i + 1..].iter().any(|(r, _)| !r),
        None => false,
    }
}

#[async_trait::async_trait]
impl Kind for Pop3 {
    fn name(&self) -> &'static str {
        "pop3"
    }

    fn subject(&self) -> &'static str {
        "host[:port]"
    }

    fn doc(&self) -> &'static str {
        "A POP3 server seen from outside (the grader, or `from:` a role, which needs curl there, Debian package curl): its greeting and capabilities, STLS or TLS (any certificate), whether a user logs in, and how many messages wait. No message is retrieved or deleted."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    /// A user who cannot log in has no messages to count.
    fn presence(&self) -> Option<&'static str> {
        Some("login")
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        mail::destination(q)
    }

    fn script(&self, q: &Query) -> String {
        mail::script(q, &PROTOCOL, "pop3s", "")
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("the probe stopped: {:?}", output.exit_code),
                reason => reason.to_string(),
            });
        }
        facts_of_runs(&mail::plan(q, &PROTOCOL)?, &output.stdout_text())
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let p = mail::plan(q, &PROTOCOL)?;
        mail::observe(&p, wait, |p, wire| Box::pin(dialogue(p, wire))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;

    const HELLO: &str = "--labgrade-run hello--\n--labgrade-rc 8--\n\
        < +OK Dovecot (Debian) ready.\n> CAPA\n< +OK\n< CAPA\n< TOP\n< STLS\n< SASL PLAIN\n< .\n\
        > STLS\n< +OK Begin TLS negotiation now.\n> CAPA\n< +OK\n< USER\n< .\n> LIST\n\
        < -ERR Unknown command.\ncurl: (8) Weird server reply\n";

    fn plan_for(wants: &[&str]) -> Plan {
        let inputs = BTreeMap::from([
            ("user".to_string(), "bob".to_string()),
            ("secret".to_string(), "pw".to_string()),
        ]);
        let q = Query {
            subject: "10.0.0.2",
            inputs: &inputs,
            wants,
        };
        mail::plan(&q, &PROTOCOL).unwrap()
    }

    #[test]
    fn the_role_runs_are_judged() {
        let login = "--labgrade-run login--\n1 33\r\n2 34\r\n--labgrade-rc 0--\n";
        let facts = facts_of_runs(
            &plan_for(&["starttls", "messages"]),
            &format!("{HELLO}{login}"),
        )
        .unwrap();
        assert_eq!(
            facts["banner"],
            Fact::Text("+OK Dovecot (Debian) ready.".into())
        );
        assert_eq!(
            facts["capabilities"],
            Fact::List(vec![
                "CAPA".into(),
                "TOP".into(),
                "STLS".into(),
                "SASL".into()
            ])
        );
        assert_eq!(facts["starttls"], Fact::Bool(true));
        assert_eq!(facts["messages"], Fact::Number(2.0));
        let empty = "--labgrade-run login--\n--labgrade-rc 0--\n";
        let facts = facts_of_runs(&plan_for(&["messages"]), &format!("{HELLO}{empty}")).unwrap();
        assert_eq!(facts["messages"], Fact::Number(0.0));
        let denied = "--labgrade-run login--\n--labgrade-rc 67--\ncurl: (67) Login denied\n";
        let facts = facts_of_runs(&plan_for(&["login"]), &format!("{HELLO}{denied}")).unwrap();
        assert_eq!(facts["login"], Fact::Bool(false));
        let cut = &HELLO[..HELLO.find("> CAPA\n< +OK\n< USER").unwrap()];
        let facts = facts_of_runs(&plan_for(&["starttls"]), cut).unwrap();
        assert_eq!(facts["starttls"], Fact::Bool(false));
    }

    #[test]
    fn what_is_not_pop3_is_an_error() {
        assert_eq!(
            parse_canned(
                &Pop3,
                "10.0.0.2",
                &[],
                0,
                "--labgrade-run hello--\n--labgrade-rc 0--\n< * OK IMAP\n",
                ""
            ),
            Err("not a POP3 server: it said \"* OK IMAP\"".into())
        );
        assert_eq!(
            greeting("-ERR go away"),
            Err("the server refuses: -ERR go away".into())
        );
        assert_eq!(listed("1 200\r\n2 300\r\n"), Ok(2));
        assert!(listed("hello\n").is_err());
    }
}
