//! `smtp: HOST[:PORT]`: what a mail server says to a stranger: banner, EHLO extensions, STARTTLS, relaying, a recipient. Never sends mail.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Smtp;

const PARAMS: &[Param] = &[
    Param::input(
        "helo",
        &[],
        "the name the probe greets with (default labgrade.invalid)",
    ),
    Param::input(
        "mail_from",
        &[],
        "the envelope sender of the relay and recipient tests (default probe@outside.invalid)",
    ),
    Param::input("to", &[], "a local recipient, for `accepts`"),
    Param::input(
        "relay_to",
        &[],
        "an outside recipient, for `relay_denied` (default probe@outside.invalid)",
    ),
    Param::expect("banner", Shape::Text, "the server's 220 greeting line"),
    Param::expect(
        "extensions",
        Shape::List,
        "the EHLO keywords, upper-case: STARTTLS, SIZE, PIPELINING, AUTH...",
    ),
    Param::expect(
        "starttls",
        Shape::Bool,
        "STARTTLS is offered and the TLS handshake succeeds (any certificate; from the grader only)",
    ),
    Param::expect(
        "relay_denied",
        Shape::Bool,
        "mail from an outside sender to an outside recipient is refused (not an open relay)",
    ),
    Param::expect(
        "accepts",
        Shape::Bool,
        "the recipient `to` is accepted (RCPT TO answered 250)",
    ),
];

const DEFAULT_HELO: &str = "labgrade.invalid";
const OUTSIDE: &str = "probe@outside.invalid";
/// A reply longer than this is not an SMTP server talking.
const MAX_LINE: usize = 4096;

fn endpoint(subject: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{subject}` is not HOST or HOST:PORT");
    if let Some(rest) = subject.strip_prefix('[') {
        let (host, port) = rest.split_once(']').ok_or_else(bad)?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
            None => 25,
        };
        return Ok((host.to_string(), port));
    }
    match subject.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && !host.is_empty() => Ok((
            host.to_string(),
            port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
        )),
        _ if subject.is_empty() => Err(bad()),
        _ => Ok((subject.to_string(), 25)),
    }
}

/// One SMTP reply: its code and its lines' texts.
#[derive(Debug, Clone, PartialEq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

/// Read one line of a reply: `250-TEXT` (more follow) or `250 TEXT` (the last).
fn reply_line(line: &str) -> Result<(u16, bool, String), String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || format!("not an SMTP server: it said {:?}", truncate(line));
    let code = line
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (200..600).contains(c))
        .ok_or_else(bad)?;
    let (more, text) = match line.as_bytes().get(3) {
        None => (false, ""),
        Some(b' ') => (false, &line[4..]),
        Some(b'-') => (true, &line[4..]),
        Some(_) => return Err(bad()),
    };
    Ok((code, more, text.to_string()))
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Fold reply lines into replies, in order.
fn replies(lines: &[String]) -> Result<Vec<Reply>, String> {
    let mut out = Vec::new();
    let mut current: Option<Reply> = None;
    for line in lines {
        let (code, more, text) = reply_line(line)?;
        let reply = current.get_or_insert(Reply {
            code,
            lines: Vec::new(),
        });
        if reply.code != code {
            return Err(format!(
                "not an SMTP server: reply {code} inside reply {}",
                reply.code
            ));
        }
        reply.lines.push(text);
        if !more {
            out.extend(current.take());
        }
    }
    if current.is_some() {
        return Err("the server stopped in the middle of a reply".to_string());
    }
    Ok(out)
}

/// The EHLO keywords: the first word of each line after the greeting, upper-case.
fn extensions(ehlo: &Reply) -> Vec<String> {
    ehlo.lines
        .iter()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// The commands of a dialogue, in order, given what the check wants. The same list drives
/// the native probe and the role's script, so both judge the same exchanges.
fn commands(q: &Query) -> Result<Vec<String>, String> {
    let helo = q.input("helo").unwrap_or(DEFAULT_HELO);
    let from = q.input("mail_from").unwrap_or(OUTSIDE);
    let mut cmds = vec![format!("EHLO {helo}")];
    if q.wants("relay_denied") {
        let to = q.input("relay_to").unwrap_or(OUTSIDE);
        cmds.extend([
            format!("MAIL FROM:<{from}>"),
            format!("RCPT TO:<{to}>"),
            "RSET".to_string(),
        ]);
    }
    if q.wants("accepts") {
        let to = q
            .input("to")
            .ok_or("`accepts` needs a recipient: `to: user@domain`")?;
        cmds.extend([
            format!("MAIL FROM:<{from}>"),
            format!("RCPT TO:<{to}>"),
            "RSET".to_string(),
        ]);
    }
    for cmd in &cmds {
        if cmd.contains(['\r', '\n']) {
            return Err(format!("{cmd:?}: an SMTP command is one line"));
        }
    }
    Ok(cmds)
}

/// Judge the exchanges: the banner, then each command of `commands` with its reply.
fn facts(q: &Query, banner: &Reply, answered: &[(String, Reply)]) -> Result<Facts, String> {
    if banner.code != 220 {
        return Err(format!("the server greets with {}", banner.text()));
    }
    let mut facts = Facts::from([("banner", Fact::Text(banner.text()))]);
    let mut steps = answered.iter();
    let (_, ehlo) = steps.next().ok_or("no answer to EHLO")?;
    if ehlo.code != 250 {
        return Err(format!("EHLO refused: {}", ehlo.text()));
    }
    facts.insert("extensions", Fact::List(extensions(ehlo)));
    let mut recipient = |name: &'static str| -> Result<bool, String> {
        let (_, mail) = steps.next().ok_or("no answer to MAIL FROM")?;
        if !mail.positive() {
            return Err(format!("MAIL FROM refused: {}", mail.text()));
        }
        let (_, rcpt) = steps.next().ok_or("no answer to RCPT TO")?;
        steps.next();
        match rcpt.code {
            200..=299 => Ok(true),
            400..=599 => Ok(false),
            _ => Err(format!(
                "{name}: unexpected answer to RCPT TO: {}",
                rcpt.text()
            )),
        }
    };
    if q.wants("relay_denied") {
        let relayed = recipient("relay_denied")?;
        facts.insert("relay_denied", Fact::Bool(!relayed));
    }
    if q.wants("accepts") {
        let accepted = recipient("accepts")?;
        facts.insert("accepts", Fact::Bool(accepted));
    }
    Ok(facts)
}

/// Accepts any certificate: `starttls` asks whether TLS works, not whom it proves.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client that takes any certificate, for STARTTLS.
pub(super) fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The line side of a dialogue: read replies, send commands, keep a transcript.
struct Wire {
    reader: BufReader<tokio::net::TcpStream>,
    transcript: String,
}

impl Wire {
    async fn reply(&mut self) -> Result<Reply, String> {
        let mut lines = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = (&mut self.reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| format!("reading the server's reply: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_string());
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            self.transcript
                .push_str(&format!("S: {}\n", truncate(&line)));
            let (_, more, _) = reply_line(&line)?;
            lines.push(line);
            if !more {
                return replies(&lines)?.pop().ok_or("an empty reply".to_string());
            }
        }
    }

    async fn send(&mut self, cmd: &str) -> Result<Reply, String> {
        self.transcript.push_str(&format!("C: {cmd}\n"));
        self.reader
            .get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .map_err(|e| format!("sending {cmd:?}: {e}"))?;
        self.reply().await
    }
}

async fn dialogue(
    q: &Query<'_>,
    host: &str,
    port: u16,
    transcript: &mut String,
) -> Result<Facts, String> {
    let cmds = commands(q)?;
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connect to {host}:{port}: {e}"))?;
    let mut wire = Wire {
        reader: BufReader::new(tcp),
        transcript: String::new(),
    };
    let result = converse(q, &cmds, &mut wire).await;
    match result {
        Ok(mut facts) if q.wants("starttls") => {
            let offered = matches!(facts.get("extensions"),
                Some(Fact::List(l)) if l.iter().any(|e| e == "STARTTLS"));
            let works = if offered {
                starttls(wire, host, transcript).await
            } else {
                let _ = wire.send("QUIT").await;
                transcript.push_str(&wire.transcript);
                false
            };
            facts.insert("starttls", Fact::Bool(works));
            Ok(facts)
        }
        other => {
            let _ = wire.send("QUIT").await;
            transcript.push_str(&wire.transcript);
            other
        }
    }
}

/// The banner, then every command with its reply; stops before DATA by construction.
async fn converse(q: &Query<'_>, cmds: &[String], wire: &mut Wire) -> Result<Facts, String> {
    let banner = wire.reply().await?;
    let mut answered = Vec::new();
    if banner.code == 220 {
        for cmd in cmds {
            let reply = wire.send(cmd).await?;
            let stop = cmd.starts_with("EHLO") && reply.code != 250;
            answered.push((cmd.clone(), reply));
            if stop {
                break;
            }
        }
    }
    facts(q, &banner, &answered)
}

/// Ask for TLS and shake hands. This ends the dialogue: the connection is dropped after.
async fn starttls(mut wire: Wire, host: &str, transcript: &mut String) -> bool {
    let works = handshake(&mut wire, host).await;
    transcript.push_str(&wire.transcript);
    works
}

async fn handshake(wire: &mut Wire, host: &str) -> bool {
    match wire.send("STARTTLS").await {
        Ok(reply) if reply.code == 220 => {}
        _ => return false,
    }
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("labgrade.invalid").expect("a valid name"));
    let connector = match tls_connector() {
        Ok(c) => c,
        Err(e) => {
            wire.transcript.push_str(&format!("TLS: {e}\n"));
            return false;
        }
    };
    match connector.connect(name, wire.reader.get_mut()).await {
        Ok(mut tls) => {
            wire.transcript.push_str("TLS handshake: done\n");
            let _ = tls.write_all(b"QUIT\r\n").await;
            let _ = tls.shutdown().await;
            true
        }
        Err(e) => {
            wire.transcript.push_str(&format!("TLS handshake: {e}\n"));
            false
        }
    }
}

/// Read a role script's transcript (`S: ` reply lines, `C: ` commands) into exchanges.
fn exchanges(text: &str) -> Result<(Reply, Vec<(String, Reply)>), String> {
    let mut banner = Vec::new();
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("C: ") {
            steps.push((cmd.to_string(), Vec::new()));
        } else if let Some(said) = line.strip_prefix("S: ") {
            match steps.last_mut() {
                Some((_, lines)) => lines.push(said.to_string()),
                None => banner.push(said.to_string()),
            }
        }
    }
    let one = |lines: &[String]| -> Result<Reply, String> {
        let mut all = replies(lines)?;
        match (all.pop(), all.is_empty()) {
            (Some(reply), true) => Ok(reply),
            (None, _) => Err("no answer from the server".to_string()),
            (Some(_), false) => Err("the server answered twice".to_string()),
        }
    };
    let banner = one(&banner)?;
    let mut answered = Vec::new();
    for (cmd, lines) in steps {
        answered.push((cmd, one(&lines)?));
    }
    Ok((banner, answered))
}

#[async_trait::async_trait]
impl Kind for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn subject(&self) -> &'static str {
        "host[:port]"
    }

    fn doc(&self) -> &'static str {
        "A mail server seen from outside: its banner, EHLO extensions, STARTTLS, whether it relays for strangers, a local recipient. The dialogue stops before DATA: no mail is ever sent."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn default_expect(&self) -> Option<(&'static str, crate::expect::Expect)> {
        Some(("relay_denied", crate::expect::Expect::Bool(true)))
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        endpoint(q.subject).map(|(host, _)| host)
    }

    /// From a role: bash's /dev/tcp, so the host needs nothing beyond bash and coreutils.
    /// It prints the dialogue (`C: ` sent, `S: ` received) for `parse` to judge. STARTTLS
    /// would need a TLS client on the role's host: it is checked from the grader only.
    fn script(&self, q: &Query) -> String {
        let fail = |why: &str| format!("echo {} >&2; exit 2\n", shell_quote(why));
        if q.wants("starttls") {
            return fail("starttls is checked from the grader only");
        }
        let (host, port) = match endpoint(q.subject) {
            Ok(e) => e,
            Err(e) => return fail(&e),
        };
        let cmds = match commands(q) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let args: Vec<String> = cmds.iter().map(|c| shell_quote(c)).collect();
        format!(
            "need bash\n\
             need timeout\n\
             timeout 20 bash -c '\n\
             exec 3<>\"$1\" || exit 3\n\
             shift\n\
             cr=$(printf \"\\r\")\n\
             reply() {{\n\
               while IFS= read -r -t 5 line <&3; do\n\
                 line=${{line%\"$cr\"}}\n\
                 printf \"S: %s\\n\" \"$line\"\n\
                 case $line in [0-9][0-9][0-9]-*) ;; *) return 0 ;; esac\n\
               done\n\
               echo \"no answer from the server\" >&2; exit 3\n\
             }}\n\
             reply\n\
             case $line in 220*) ;; *) exit 0 ;; esac\n\
             for cmd in \"$@\"; do\n\
               printf \"%s\\r\\n\" \"$cmd\" >&3; printf \"C: %s\\n\" \"$cmd\"; reply\n\
             done\n\
             printf \"QUIT\\r\\n\" >&3\n\
             ' bash {target} {args}\n",
            target = shell_quote(&format!("/dev/tcp/{host}/{port}")),
            args = args.join(" "),
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("the probe stopped: {:?}", output.exit_code),
                reason => reason.to_string(),
            });
        }
        let (banner, answered) = exchanges(&stdout)?;
        facts(q, &banner, &answered)
    }

    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let (host, port) = endpoint(q.subject)?;
        let mut transcript = String::new();
        let facts = tokio::time::timeout(wait, dialogue(q, &host, port, &mut transcript))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no complete answer from {host}:{port} within {} s",
                    wait.as_secs()
                ))
            });
        match facts {
            Ok(facts) => Ok(Observation { facts, transcript }),
            Err(e) if transcript.is_empty() => Err(e),
            Err(e) => Err(format!("{e}\n{}", transcript.trim_end())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};
    use std::collections::BTreeMap;
    use tokio::io::AsyncBufReadExt;

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("mx.lab"), Ok(("mx.lab".to_string(), 25)));
        assert_eq!(
            endpoint("10.0.0.2:2525"),
            Ok(("10.0.0.2".to_string(), 2525))
        );
        assert_eq!(endpoint("[::1]"), Ok(("::1".to_string(), 25)));
        assert!(endpoint("").is_err());
        assert!(endpoint("h:0").is_err());
    }

    #[test]
    fn a_transcript_is_judged() {
        let out = "S: 220 srv ESMTP Postfix\nC: EHLO labgrade.invalid\nS: 250-srv\nS: 250-starttls\nS: 250 SIZE 1000\n\
                   C: MAIL FROM:<probe@outside.invalid>\nS: 250 2.1.0 Ok\nC: RCPT TO:<probe@outside.invalid>\n\
                   S: 554 5.7.1 Relay access denied\nC: RSET\nS: 250 Ok\n";
        let inputs = BTreeMap::new();
        let q = Query {
            subject: "srv",
            inputs: &inputs,
            wants: &["relay_denied"],
        };
        let (banner, answered) = exchanges(out).unwrap();
        let facts = facts(&q, &banner, &answered).unwrap();
        assert_eq!(facts["banner"], Fact::Text("220 srv ESMTP Postfix".into()));
        assert_eq!(
            facts["extensions"],
            Fact::List(vec!["STARTTLS".into(), "SIZE".into()])
        );
        assert_eq!(facts["relay_denied"], Fact::Bool(true));
        assert_eq!(
            parse_canned(&Smtp, "srv", &[], 0, "S: hello\n", ""),
            Err("not an SMTP server: it said \"hello\"".to_string())
        );
    }

    /// A fake server on loopback that answers like a closed relay with one local user.
    async fn fake_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut s = BufReader::new(stream);
                    s.get_mut().write_all(b"220 fake ESMTP\r\n").await.unwrap();
                    let mut line = String::new();
                    while s.read_line(&mut line).await.unwrap_or(0) > 0 {
                        let answer: &[u8] = match line.trim_end() {
                            l if l.starts_with("EHLO") => {
                                b"250-fake\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                            }
                            l if l.starts_with("RCPT TO:<alice@") => b"250 ok\r\n",
                            l if l.starts_with("RCPT") => b"554 relay access denied\r\n",
                            "QUIT" => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        };
                        s.get_mut().write_all(answer).await.unwrap();
                        line.clear();
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn natively_and_from_a_script_against_a_fake_server() {
        let port = fake_server().await;
        let subject = format!("127.0.0.1:{port}");
        let inputs = BTreeMap::from([("to".to_string(), "alice@lab".to_string())]);
        let wants = ["relay_denied", "accepts", "starttls"];
        let q = Query {
            subject: &subject,
            inputs: &inputs,
            wants: &wants,
        };
        let seen = Smtp.observe(&q, Duration::from_secs(5)).await.unwrap();
        assert_eq!(seen.facts["relay_denied"], Fact::Bool(true));
        assert_eq!(seen.facts["accepts"], Fact::Bool(true));
        assert_eq!(seen.facts["starttls"], Fact::Bool(false));
        assert!(!seen.transcript.contains("DATA"), "{}", seen.transcript);
        let subject2 = subject.clone();
        let facts = tokio::task::spawn_blocking(move || {
            run_locally(
                &Smtp,
                &subject2,
                &[("to", "alice@lab")],
                &["relay_denied", "accepts"],
            )
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(facts["relay_denied"], Fact::Bool(true));
        assert_eq!(facts["accepts"], Fact::Bool(true));
        assert_eq!(facts["banner"], Fact::Text("220 fake ESMTP".into()));
    }
}
