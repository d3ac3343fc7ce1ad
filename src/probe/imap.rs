//! `imap: HOST[:PORT]`: what an IMAP server offers from outside: greeting, capabilities, STARTTLS or TLS, a user's login and mailboxes. Reads nothing else.

use std::time::Duration;

use super::mail::{
    self, CURL_LOGIN_DENIED, CURL_NO_STARTTLS, CURL_TLS_FAILED, Plan, Security, Wire,
};
use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::ExecOutput;

pub struct Imap;

const PROTOCOL: mail::Protocol = mail::Protocol {
    name: "imap",
    plain_port: 143,
    tls_port: 993,
    after_login: &["login", "mailboxes"],
};

const PARAMS: &[Param] = &[
    Param::input(
        "user",
        &[],
        "the user to log in as, for `login` and `mailboxes`",
    ),
    Param::secret(
        "secret",
        "the secret holding `user`'s password. From a role it travels in the script to a private file that curl reads, never on a command line",
    ),
    Param::input(
        "security",
        mail::SECURITY,
        "how the probe connects to log in: none (plain), starttls (STARTTLS first, or no login), tls (TLS from the first byte; default port 993). Not given: STARTTLS when the server offers it, plain otherwise",
    ),
    Param::expect(
        "banner",
        Shape::Text,
        "the server's greeting line: \"* OK [CAPABILITY ...] Dovecot (Debian) ready.\"",
    ),
    Param::expect(
        "capabilities",
        Shape::List,
        "what CAPABILITY lists before login, upper-case: IMAP4REV1, STARTTLS, LOGINDISABLED, AUTH=PLAIN...",
    ),
    Param::expect(
        "starttls",
        Shape::Bool,
        "STARTTLS is offered and the TLS handshake succeeds (any certificate), on the subject's port (default 143)",
    ),
    Param::expect(
        "tls",
        Shape::Bool,
        "the server speaks TLS from the first byte (IMAPS), on the subject's port (default 993); any certificate. Not with `starttls` in one check",
    ),
    Param::expect(
        "login",
        Shape::Bool,
        "`user` logs in with the password of `secret` (LOGIN answered OK). When false, `mailboxes` is skipped",
    ),
    Param::expect(
        "mailboxes",
        Shape::List,
        "the user's mailboxes as LIST \"\" \"*\" names them after login, decoded: INBOX, Sent, Envoyés...",
    ),
];

/// A response this long is not a mailbox list a lab could mean.
const MAX_RESPONSE: usize = 4 << 20;

/// The greeting: `* OK`, or `* PREAUTH`. `* BYE` is a refusal.
fn greeting(line: &str) -> Result<String, String> {
    let word = line
        .strip_prefix("* ")
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_ascii_uppercase);
    match word.as_deref() {
        Some("OK" | "PREAUTH") => Ok(line.to_string()),
        Some("BYE") => Err(format!("the server refuses: {}", mail::truncate(line))),
        _ => Err(format!(
            "not an IMAP server: it said {:?}",
            mail::truncate(line)
        )),
    }
}

/// The keywords of a `* CAPABILITY` response, upper-case.
fn capabilities(line: &str) -> Option<Vec<String>> {
    let (head, rest) = line.split_at(line.len().min(13));
    head.eq_ignore_ascii_case("* CAPABILITY ").then(|| {
        rest.split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect()
    })
}

/// The `{N}` or `{N+}` that ends a line announcing N bytes of literal.
fn literal_len(line: &[u8]) -> Option<usize> {
    let open = line.iter().rposition(|&b| b == b'{')?;
    let inner = line[open + 1..].strip_suffix(b"}")?;
    let inner = inner.strip_suffix(b"+").unwrap_or(inner);
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// An IMAP string at the start of `s`: quoted, literal (`{N}` CRLF and N bytes) or atom.
/// Returns its bytes (None for NIL) and the rest.
fn string(s: &[u8]) -> Result<(Option<Vec<u8>>, &[u8]), String> {
    let bad = || {
        format!(
            "unreadable LIST answer: {:?}",
            mail::truncate(&String::from_utf8_lossy(s))
        )
    };
    match s.first() {
        Some(b'"') => {
            let mut out = Vec::new();
            let mut i = 1;
            while let Some(&b) = s.get(i) {
                match b {
                    b'\\' => {
                        out.push(*s.get(i + 1).ok_or_else(bad)?);
                        i += 2;
                    }
                    b'"' => return Ok((Some(out), &s[i + 1..])),
                    _ => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            Err(bad())
        }
        Some(b'{') => {
            let close = s.iter().position(|&b| b == b'}').ok_or_else(bad)?;
            let n = literal_len(&s[..=close]).ok_or_else(bad)?;
            let rest = &s[close + 1..];
            let rest = rest
                .strip_prefix(b"\r\n")
                .or_else(|| rest.strip_prefix(b"\n"))
                .ok_or_else(bad)?;
            let data = rest.get(..n).ok_or_else(bad)?;
            Ok((Some(data.to_vec()), &rest[n..]))
        }
        Some(_) => {
            let end = s
                .iter()
                .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
                .unwrap_or(s.len());
            let atom = &s[..end];
            let value = (!atom.eq_ignore_ascii_case(b"NIL")).then(|| atom.to_vec());
            Ok((value, &s[end..]))
        }
        None => Err(bad()),
    }
}

/// Modified UTF-7 (RFC 3501 5.1.3), in which IMAP names mailboxes: `Envoy&AOk-s` is Envoyés.
fn decode_name(raw: &[u8]) -> String {
    fn decode(raw: &[u8]) -> Option<String> {
        let mut out = String::new();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] != b'&' {
                if !(0x20..0x7f).contains(&raw[i]) {
                    return None;
                }
                out.push(raw[i] as char);
                i += 1;
                continue;
            }
            let end = i + 1 + raw[i + 1..].iter().position(|&b| b == b'-')?;
            let chunk = &raw[i + 1..end];
            if chunk.is_empty() {
                out.push('&');
            } else {
                let (mut bits, mut acc, mut bytes) = (0u32, 0u32, Vec::new());
                for &c in chunk {
                    let v = match c {
                        b'A'..=b'Z' => c - b'A',
                        b'a'..=b'z' => c - b'a' + 26,
                        b'0'..=b'9' => c - b'0' + 52,
                        b'+' => 62,
                        b',' => 63,
                        _ => return None,
                    };
                    acc = (acc << 6) | u32::from(v);
                    bits += 6;
                    if bits >= 8 {
                        bits -= 8;
                        bytes.push((acc >> bits) as u8);
                        acc &= (1 << bits) - 1;
                    }
                }
                let units: Vec<u16> = bytes
                    .chunks(2)
                    .map(|p| (p.len() == 2).then(|| u16::from_be_bytes([p[0], p[1]])))
                    .collect::<Option<_>>()?;
                out.push_str(&String::from_utf16(&units).ok()?);
            }
            i = end + 1;
        }
        Some(out)
    }
    decode(raw).unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned())
}

/// The mailbox names of the `* LIST (FLAGS) DELIMITER NAME` responses in `text` (other
/// responses are passed over).
fn mailboxes(text: &[u8]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    loop {
        rest = trim_start(rest);
        if rest.is_empty() {
            return Ok(names);
        }
        let is_list = rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"* LIST ");
        if is_list {
            let flags = trim_start(&rest[7..]);
            let close = flags
                .strip_prefix(b"(")
                .and_then(|f| f.iter().position(|&b| b == b')'))
                .ok_or("unreadable LIST answer: no flags")?;
            let (_, after) = string(trim_start(&flags[close + 2..]))?;
            let (name, after) = string(trim_start(after))?;
            names.push(decode_name(&name.ok_or("a LIST answer without a name")?));
            rest = after;
        }
        let eol = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |p| p + 1);
        rest = &rest[eol..];
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[start..]
}

/// An IMAP quoted string for `value`, or None when it needs a literal (8-bit, controls).
fn quoted(value: &str) -> Option<String> {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b))
        .then(|| format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// A tagged completion: OK, NO or BAD, and the untagged responses before it.
struct Reply {
    untagged: Vec<Vec<u8>>,
    status: String,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status == "OK"
    }
}

/// One whole response: a line, and the literals it announces with the lines that follow them.
async fn response(wire: &mut Wire) -> Result<Vec<u8>, String> {
    let mut full = wire.line().await?;
    while let Some(n) = literal_len(&full) {
        if full.len() + n > MAX_RESPONSE {
            return Err(format!("an answer of more than {MAX_RESPONSE} bytes"));
        }
        let data = wire.bytes(n).await?;
        full.extend_from_slice(b"\r\n");
        full.extend_from_slice(&data);
        full.extend_from_slice(&wire.line().await?);
    }
    Ok(full)
}

/// Read up to the completion of `tag`, or a continuation request (`+`) when `until_plus`.
async fn complete(wire: &mut Wire, tag: &str, until_plus: bool) -> Result<Reply, String> {
    let mut untagged = Vec::new();
    let mut size = 0;
    loop {
        let r = response(wire).await?;
        size += r.len();
        if size > MAX_RESPONSE {
            return Err(format!("an answer of more than {MAX_RESPONSE} bytes"));
        }
        if r.starts_with(b"* ") {
            untagged.push(r);
        } else if until_plus && r.starts_with(b"+") {
            return Ok(Reply {
                untagged,
                status: "+".to_string(),
            });
        } else if let Some(rest) = r
            .strip_prefix(tag.as_bytes())
            .and_then(|r| r.strip_prefix(b" "))
        {
            let status = String::from_utf8_lossy(rest)
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            return Ok(Reply { untagged, status });
        } else {
            return Err(format!(
                "not an IMAP server: it said {:?}",
                mail::truncate(&String::from_utf8_lossy(&r))
            ));
        }
    }
}

/// Tags `a1`, `a2`...
struct Tags(u32);

impl Tags {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("a{}", self.0)
    }
}

async fn command(wire: &mut Wire, tags: &mut Tags, cmd: &str) -> Result<Reply, String> {
    let tag = tags.next();
    wire.command(&format!("{tag} {cmd}")).await?;
    complete(wire, &tag, false).await
}

/// STARTTLS and the handshake; false when refused or failed (the connection is then spent).
async fn starttls(wire: &mut Wire, tags: &mut Tags, host: &str) -> Result<bool, String> {
    if !command(wire, tags, "STARTTLS").await?.ok() {
        return Ok(false);
    }
    Ok(wire.upgrade(host).await.is_ok())
}

/// LOGIN with each argument quoted, or sent as a literal when it must be. The password is
/// shown as `[secret]`.
async fn login(
    wire: &mut Wire,
    tags: &mut Tags,
    user: &str,
    password: &str,
) -> Result<bool, String> {
    let tag = tags.next();
    let mut line = format!("{tag} LOGIN").into_bytes();
    let mut shown = format!("{tag} LOGIN");
    for (value, secret) in [(user, false), (password, true)] {
        line.push(b' ');
        shown.push(' ');
        match quoted(value) {
            Some(q) => {
                line.extend_from_slice(q.as_bytes());
                shown.push_str(if secret { "[secret]" } else { &q });
            }
            None => {
                let head = format!("{{{}}}", value.len());
                line.extend_from_slice(format!("{head}\r\n").as_bytes());
                shown.push_str(&head);
                wire.send(&line, &shown).await?;
                let reply = complete(wire, &tag, true).await?;
                if reply.status != "+" {
                    return Ok(reply.ok());
                }
                line = value.as_bytes().to_vec();
                shown = if secret { "[secret]" } else { value }.to_string();
            }
        }
    }
    line.extend_from_slice(b"\r\n");
    wire.send(&line, &shown).await?;
    Ok(complete(wire, &tag, false).await?.ok())
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
    let hello = String::from_utf8_lossy(&response(wire).await?).into_owned();
    facts.insert("banner", Fact::Text(greeting(&hello)?));
    let mut tags = Tags(0);
    let caps = command(wire, &mut tags, "CAPABILITY").await?;
    let caps: Vec<String> = caps
        .untagged
        .iter()
        .find_map(|r| capabilities(&String::from_utf8_lossy(r)))
        .unwrap_or_default();
    let offered = caps.iter().any(|c| c == "STARTTLS");
    facts.insert("capabilities", Fact::List(caps));
    if p.starttls {
        let works = offered && starttls(wire, &mut tags, &p.host).await?;
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
            wire.note("STARTTLS is not offered: no login attempted");
        } else {
            starttls(wire, &mut tags, &p.host).await?;
        }
    }
    if (wanted_tls && !wire.secure) || !wire.usable() {
        facts.insert("login", Fact::Bool(false));
        return Ok(facts);
    }
    let logged_in = login(wire, &mut tags, &credentials.user, &credentials.password).await?;
    facts.insert("login", Fact::Bool(logged_in));
    if logged_in {
        let list = command(wire, &mut tags, "LIST \"\" \"*\"").await?;
        if !list.ok() {
            return Err(format!("LIST refused: {}", list.status));
        }
        facts.insert(
            "mailboxes",
            Fact::List(mailboxes(&list.untagged.join(&b"\r\n"[..]))?),
        );
    }
    let _ = wire.command(&format!("{} LOGOUT", tags.next())).await;
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
    let caps = exchanged
        .iter()
        .filter(|(received, _)| *received)
        .find_map(|(_, l)| capabilities(l))
        .unwrap_or_default();
    facts.insert("capabilities", Fact::List(caps));
    if p.starttls {
        facts.insert("starttls", Fact::Bool(upgraded(&exchanged)));
    }
    if p.login.is_some() {
        let login = run("login")?;
        match login.rc {
            0 => {
                facts.insert("login", Fact::Bool(true));
                facts.insert("mailboxes", Fact::List(mailboxes(login.output.as_bytes())?));
            }
            CURL_LOGIN_DENIED | CURL_NO_STARTTLS | CURL_TLS_FAILED => {
                facts.insert("login", Fact::Bool(false));
            }
            _ => return Err(login.why()),
        }
    }
    Ok(facts)
}

/// curl sent STARTTLS, it was answered OK, and curl spoke again: over TLS, so the handshake held.
fn upgraded(exchanged: &[(bool, &str)]) -> bool {
    let Some(at) = exchanged.iter().position(|(received, l)| {
        !received
            && l.split_whitespace()
                .nth(1)
                .is_some_and(|c| c.eq_ignore_ascii_case("STARTTLS"))
    }) else {
        return false;
    };
    let tag = exchanged[at]
        .1
        .split_whitespace()
        .next()
        .unwrap_or_default();
    let answered = exchanged[at + 1..]
        .iter()
        .position(|(received, l)| *received && l.split_whitespace().next() == Some(tag));
    match answered {
        Some(i) => {
            let reply = exchanged[at + 1 + i].1;
            reply
                .split_whitespace()
                .nth(1)
                .is_some_and(|s| s.eq_ignore_ascii_case("OK"))
                && exchanged[at + 2 + i..]
                    .iter()
                    .any(|(received, _)| !received)
        }
        None => false,
    }
}

#[async_trait::async_trait]
impl Kind for Imap {
    fn name(&self) -> &'static str {
        "imap"
    }

    fn subject(&self) -> &'static str {
        "host[:port]"
    }

    fn doc(&self) -> &'static str {
        "An IMAP server seen from outside (the grader, or `from:` a role, which needs curl there, Debian package curl): its greeting and capabilities, STARTTLS or TLS (any certificate), whether a user logs in, and that user's mailboxes. Nothing is read or changed in a mailbox."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    /// A user who cannot log in has no mailboxes to judge.
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
        mail::script(q, &PROTOCOL, "imaps", " -X NOOP")
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

    #[test]
    fn mailbox_names_are_read_in_every_form() {
        let text = b"* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n\
                     * LIST (\\HasNoChildren) \".\" Envoy&AOk-s\r\n\
                     * LIST (\\HasNoChildren) \"/\" \"Old \\\"mail\\\"\"\r\n\
                     * LIST () NIL {5}\r\nA&-B \r\n\
                     * STATUS x\r\n\
                     * list (\\Noselect) \".\" INBOX\n";
        assert_eq!(
            mailboxes(text).unwrap(),
            ["Sent", "Envoyés", "Old \"mail\"", "A&B ", "INBOX"]
        );
        assert!(mailboxes(b"* LIST (\\X) \".\" \"unterminated\r\n").is_err());
        assert_eq!(decode_name(b"&ZeVnLIqe-"), "日本語");
        assert_eq!(decode_name(b"bad&***-"), "bad&***-");
    }

    #[test]
    fn greetings_capabilities_and_quoting() {
        assert!(greeting("* OK Dovecot ready.").is_ok());
        assert!(greeting("* PREAUTH hi").is_ok());
        assert_eq!(
            greeting("* BYE too many"),
            Err("the server refuses: * BYE too many".into())
        );
        assert_eq!(
            greeting("SSH-2.0-OpenSSH"),
            Err("not an IMAP server: it said \"SSH-2.0-OpenSSH\"".into())
        );
        assert_eq!(
            capabilities("* CAPABILITY IMAP4rev1 STARTTLS auth=PLAIN"),
            Some(vec![
                "IMAP4REV1".into(),
                "STARTTLS".into(),
                "AUTH=PLAIN".into()
            ])
        );
        assert_eq!(capabilities("* OK x"), None);
        assert_eq!(quoted(r#"a"b\c"#), Some(r#""a\"b\\c""#.into()));
        assert_eq!(quoted("é"), None);
        assert_eq!(literal_len(b"* LIST () NIL {12}"), Some(12));
        assert_eq!(literal_len(b"a1 LOGIN {3+}"), Some(3));
        assert_eq!(literal_len(b"* OK {x}"), None);
    }

    const HELLO: &str = "--labgrade-run hello--\n--labgrade-rc 0--\n\
        < * OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.\n\
        > A001 CAPABILITY\n\
        < * CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN\n\
        < A001 OK Pre-login capabilities listed.\n\
        > A002 STARTTLS\n\
        < A002 OK Begin TLS negotiation now.\n\
        > A003 CAPABILITY\n\
        < * CAPABILITY IMAP4rev1 AUTH=PLAIN\n";

    #[test]
    fn the_role_runs_are_judged() {
        let ins = [("user", "bob"), ("secret", "pw")];
        let q = |wants: &'static [&'static str]| {
            let inputs = ins
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let subject = "10.0.0.2";
            mail::plan(
                &Query {
                    subject,
                    inputs: &inputs,
                    wants,
                },
                &PROTOCOL,
            )
            .unwrap()
        };
        let login =
            "--labgrade-run login--\n* LIST (\\HasNoChildren) \".\" INBOX\r\n--labgrade-rc 0--\n";
        let facts =
            facts_of_runs(&q(&["starttls", "mailboxes"]), &format!("{HELLO}{login}")).unwrap();
        assert_eq!(facts["starttls"], Fact::Bool(true));
        assert_eq!(facts["login"], Fact::Bool(true));
        assert_eq!(facts["mailboxes"], Fact::List(vec!["INBOX".into()]));
        assert_eq!(
            facts["capabilities"],
            Fact::List(vec![
                "IMAP4REV1".into(),
                "SASL-IR".into(),
                "STARTTLS".into(),
                "AUTH=PLAIN".into()
            ])
        );
        let denied = "--labgrade-run login--\n--labgrade-rc 67--\ncurl: (67) Login denied\n";
        let facts = facts_of_runs(&q(&["login"]), &format!("{HELLO}{denied}")).unwrap();
        assert_eq!(facts["login"], Fact::Bool(false));
        // The handshake failed: curl never spoke again after the OK.
        let cut = &HELLO[..HELLO.find("> A003").unwrap()];
        let facts = facts_of_runs(&q(&["starttls"]), cut).unwrap();
        assert_eq!(facts["starttls"], Fact::Bool(false));
        let refused = "--labgrade-run hello--\n--labgrade-rc 7--\ncurl: (7) Failed to connect\n";
        assert_eq!(
            facts_of_runs(&q(&["starttls"]), refused),
            Err("curl: (7) Failed to connect".into())
        );
        assert_eq!(
            parse_canned(
                &Imap,
                "10.0.0.2",
                &[],
                0,
                "--labgrade-run hello--\n--labgrade-rc 0--\n< SSH-2.0-x\n",
                ""
            ),
            Err("not an IMAP server: it said \"SSH-2.0-x\"".into())
        );
    }
}
