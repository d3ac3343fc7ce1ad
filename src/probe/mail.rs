//! What the `imap` and `pop3` kinds share: the endpoint, how the probe secures its connection, a line wire that turns to TLS midway, and the curl script run `from:` a role.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::{Facts, Observation, Query};
use crate::transport::shell_quote;

/// A line longer than this is not a mail server talking.
const MAX_LINE: usize = 8192;

/// The `security` input: how the probe connects before it logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Security {
    /// Not given: STARTTLS before the login when the server offers it, plain otherwise.
    Auto,
    /// `none`: never TLS.
    Plain,
    /// `starttls`: TLS by STARTTLS (STLS) before the login, or no login at all.
    StartTls,
    /// `tls`: TLS from the first byte (IMAPS, POP3S).
    Tls,
}

pub(super) const SECURITY: &[&str] = &["none", "starttls", "tls"];

/// The protocol's names and ports.
pub(super) struct Protocol {
    pub name: &'static str,
    pub plain_port: u16,
    pub tls_port: u16,
    /// The facts that need a login.
    pub after_login: &'static [&'static str],
}

/// A user and the password that `secret` named, resolved by the runner.
pub(super) struct Login {
    pub user: String,
    pub password: String,
}

/// What one check asks of the server, read and checked once for both ways of probing.
pub(super) struct Plan {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// TLS from the first byte: `security: tls`, or the `tls` fact wanted.
    pub implicit: bool,
    pub starttls: bool,
    pub tls: bool,
    pub login: Option<Login>,
}

/// `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`.
fn endpoint(subject: &str, default: u16) -> Result<(String, u16), String> {
    let bad = || format!("`{subject}` is not HOST or HOST:PORT");
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    if let Some(rest) = subject.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => default,
            _ => port(after.strip_prefix(':').ok_or_else(bad)?)?,
        };
        return Ok((host.to_string(), port));
    }
    match subject.rsplit_once(':') {
        _ if subject.is_empty() || subject.contains(char::is_whitespace) => Err(bad()),
        Some((host, p)) if !host.contains(':') && !host.is_empty() => {
            Ok((host.to_string(), port(p)?))
        }
        Some(_) => Err(bad()),
        None => Ok((subject.to_string(), default)),
    }
}

pub(super) fn destination(q: &Query) -> Result<String, String> {
    endpoint(q.subject, 1).map(|(host, _)| host)
}

fn one_line(what: &str, value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(format!("{what} holds a line break: it must be one line"));
    }
    Ok(())
}

pub(super) fn plan(q: &Query, p: &Protocol) -> Result<Plan, String> {
    let security = match q.input("security") {
        None => Security::Auto,
        Some("none") => Security::Plain,
        Some("starttls") => Security::StartTls,
        Some("tls") => Security::Tls,
        Some(other) => {
            return Err(format!(
                "`security: {other}` is not one of none, starttls, tls"
            ));
        }
    };
    let (starttls, tls) = (q.wants("starttls"), q.wants("tls"));
    if tls && matches!(security, Security::Plain | Security::StartTls) {
        return Err("`tls` is TLS from the first byte, which the `security` given excludes".into());
    }
    let implicit = tls || security == Security::Tls;
    if starttls && (implicit || security == Security::Plain) {
        return Err(
            "`starttls` is asked on a plain connection: check it apart from `tls` or `security`"
                .into(),
        );
    }
    let (host, port) = endpoint(q.subject, if implicit { p.tls_port } else { p.plain_port })?;
    let login = if p.after_login.iter().any(|f| q.wants(f)) {
        let (Some(user), Some(password)) = (q.input("user"), q.input("secret")) else {
            let wanted: Vec<String> = p
                .after_login
                .iter()
                .filter(|f| q.wants(f))
                .map(|f| format!("`{f}`"))
                .collect();
            return Err(format!(
                "logging in (for {}) needs a `user` and a `secret`",
                wanted.join(", ")
            ));
        };
        one_line("the user", user)?;
        one_line("the secret", password)?;
        if user.is_empty() || password.is_empty() {
            return Err("the user and the secret must not be empty".into());
        }
        Some(Login {
            user: user.to_string(),
            password: password.to_string(),
        })
    } else {
        None
    };
    Ok(Plan {
        host,
        port,
        security,
        implicit,
        starttls,
        tls,
        login,
    })
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A line dialogue that keeps its transcript, and can turn to TLS midway.
pub(super) struct Wire {
    /// None once a TLS handshake has failed: the connection is spent.
    reader: Option<BufReader<Box<dyn Stream>>>,
    pub transcript: String,
    pub secure: bool,
}

pub(super) fn truncate(s: &str) -> String {
    s.chars()
        .take(160)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Wire {
    pub async fn connect(host: &str, port: u16) -> Result<Wire, String> {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connect to {host}:{port}: {e}"))?;
        Ok(Wire {
            reader: Some(BufReader::new(Box::new(tcp))),
            transcript: String::new(),
            secure: false,
        })
    }

    pub fn usable(&self) -> bool {
        self.reader.is_some()
    }

    pub fn note(&mut self, line: &str) {
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    fn reader(&mut self) -> Result<&mut BufReader<Box<dyn Stream>>, String> {
        self.reader
            .as_mut()
            .ok_or_else(|| "the connection is spent".to_string())
    }

    /// One line, without its CRLF.
    pub async fn line(&mut self) -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        let n = self
            .reader()?
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| format!("reading the server's answer: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".to_string());
        }
        if buf.last() != Some(&b'\n') && n >= MAX_LINE {
            return Err(format!("a line of more than {MAX_LINE} bytes"));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let shown = format!("S: {}", truncate(&String::from_utf8_lossy(&buf)));
        self.note(&shown);
        Ok(buf)
    }

    /// Exactly `n` bytes (an IMAP literal), not shown in the transcript.
    pub async fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0; n];
        self.reader()?
            .read_exact(&mut buf)
            .await
            .map_err(|e| format!("reading the server's answer: {e}"))?;
        Ok(buf)
    }

    /// Send `data` as it is; the transcript shows `shown` instead, which never holds a password.
    pub async fn send(&mut self, data: &[u8], shown: &str) -> Result<(), String> {
        self.note(&format!("C: {shown}"));
        let writer = self.reader()?.get_mut();
        writer
            .write_all(data)
            .await
            .map_err(|e| format!("sending {shown:?}: {e}"))?;
        writer
            .flush()
            .await
            .map_err(|e| format!("sending {shown:?}: {e}"))
    }

    /// A command line that holds no secret.
    pub async fn command(&mut self, line: &str) -> Result<(), String> {
        self.send(format!("{line}\r\n").as_bytes(), line).await
    }

    /// Shake hands over the connection, accepting any certificate. On failure the
    /// connection is spent.
    pub async fn upgrade(&mut self, host: &str) -> Result<(), String> {
        let reader = self.reader.take().ok_or("the connection is spent")?;
        if !reader.buffer().is_empty() {
            self.note("TLS: the server spoke before the handshake");
            return Err("the server sent data before the TLS handshake".to_string());
        }
        let name = ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| ServerName::try_from("labgrade.invalid").expect("a valid name"));
        let connector = super::smtp::tls_connector()?;
        match connector.connect(name, reader.into_inner()).await {
            Ok(tls) => {
                self.reader = Some(BufReader::new(Box::new(tls)));
                self.secure = true;
                self.note("TLS handshake: done");
                Ok(())
            }
            Err(e) => {
                self.note(&format!("TLS handshake: {e}"));
                Err(format!("TLS handshake: {e}"))
            }
        }
    }

    pub async fn close(&mut self) {
        if let Some(mut reader) = self.reader.take() {
            let _ = reader.get_mut().shutdown().await;
        }
    }
}

/// The dialogue of one kind over a fresh connection, within `wait`; the transcript is kept
/// as evidence, and added to the reason when the dialogue fails midway.
pub(super) async fn observe<F>(p: &Plan, wait: Duration, dialogue: F) -> Result<Observation, String>
where
    F: for<'a> FnOnce(
        &'a Plan,
        &'a mut Wire,
    ) -> Pin<Box<dyn Future<Output = Result<Facts, String>> + Send + 'a>>,
{
    let started = Instant::now();
    let within = |what: &str| format!("{what} {}:{} within {} s", p.host, p.port, wait.as_secs());
    let mut wire = tokio::time::timeout(wait, Wire::connect(&p.host, p.port))
        .await
        .map_err(|_| within("no connection to"))??;
    // A little before the runner's own deadline, so that the transcript is kept.
    let left = wait
        .saturating_sub(started.elapsed())
        .saturating_sub(Duration::from_millis(200));
    let facts = tokio::time::timeout(left, dialogue(p, &mut wire))
        .await
        .unwrap_or_else(|_| Err(within("no complete answer from")));
    wire.close().await;
    let transcript = std::mem::take(&mut wire.transcript);
    match facts {
        Ok(facts) => Ok(Observation { facts, transcript }),
        Err(e) if transcript.is_empty() => Err(e),
        Err(e) => Err(format!("{e}\n{}", transcript.trim_end())),
    }
}

/// Marks between the parts of the role script's output.
const RUN_MARK: &str = "--labgrade-run ";
const RC_MARK: &str = "--labgrade-rc ";
/// Ends the here-document that carries the password to a file; a password is one line.
const SECRET_END: &str = "LABGRADE_SECRET_END";

/// What one curl run printed: its output, its exit code, and the lines kept of its stderr
/// (a verbose run's `<` and `>` lines, and curl's error messages).
#[derive(Debug, Default, PartialEq)]
pub(super) struct Run {
    pub output: String,
    pub rc: i32,
    pub stderr: Vec<String>,
}

impl Run {
    /// Why the run failed, in curl's words.
    pub fn why(&self) -> String {
        match self.stderr.iter().rev().find(|l| l.starts_with("curl: ")) {
            Some(e) => e.clone(),
            None => format!("curl stopped with {}", self.rc),
        }
    }

    /// The lines a verbose run received (`<`, true) and sent (`>`, false), in order.
    pub fn exchanged(&self) -> Vec<(bool, &str)> {
        self.stderr
            .iter()
            .filter_map(|l| {
                l.strip_prefix("< ")
                    .map(|s| (true, s))
                    .or_else(|| l.strip_prefix("> ").map(|c| (false, c)))
            })
            .collect()
    }
}

/// curl's exit codes that say something about the server rather than the probe.
pub(super) const CURL_TLS_FAILED: i32 = 35;
pub(super) const CURL_NO_STARTTLS: i32 = 64;
pub(super) const CURL_LOGIN_DENIED: i32 = 67;

/// A curl config string: `"` and `\` escaped.
fn curl_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The role's script: curl, which must be on that host. A first run without credentials,
/// verbose, shows the greeting, the capabilities and STARTTLS (only its `<` and `>` lines
/// are kept: what the server said and what curl sent). A second run, only when a fact needs
/// a login, is silent: the password travels in the script to a 0600 file of a private
/// temporary folder, which curl reads with `-K`; it is never on a command line. `-q` keeps
/// the host's own `.curlrc` out of it.
pub(super) fn script(q: &Query, p: &Protocol, tls_scheme: &str, hello: &str) -> String {
    let plan = match plan(q, p) {
        Ok(plan) => plan,
        Err(e) => return format!("echo {} >&2; exit 2\n", shell_quote(&e)),
    };
    let host = if plan.host.contains(':') {
        format!("[{}]", plan.host)
    } else {
        plan.host.clone()
    };
    let scheme = if plan.implicit { tls_scheme } else { p.name };
    let url = shell_quote(&format!("{scheme}://{host}:{}/", plan.port));
    let starttls = if plan.starttls { " --ssl-reqd" } else { "" };
    let mut script = format!(
        "need curl\n\
         umask 077\n\
         d=$(mktemp -d) || exit 3\n\
         trap 'rm -rf \"$d\"' EXIT\n\
         trap 'exit 3' HUP INT TERM\n\
         echo '{RUN_MARK}hello--'\n\
         curl -q -v -sS -k --noproxy '*' --max-time 10{starttls} {url}{hello} >/dev/null 2>\"$d/e\"\n\
         echo \"{RC_MARK}$?--\"\n\
         grep -a '^[<>] \\|^curl: ' \"$d/e\"\n"
    );
    if let Some(login) = &plan.login {
        if let Err(e) = one_line("the user", &login.user).and_then(|()| {
            if login.user.contains(':') {
                Err("from a role, the user cannot hold `:`".to_string())
            } else if login.password == SECRET_END {
                Err("this secret cannot travel in a script".to_string())
            } else {
                Ok(())
            }
        }) {
            return format!("echo {} >&2; exit 2\n", shell_quote(&e));
        }
        let secure = match plan.security {
            Security::Auto => " --ssl",
            Security::StartTls => " --ssl-reqd",
            Security::Plain | Security::Tls => "",
        };
        let start = shell_quote(&format!("user = \"{}:", curl_escape(&login.user)));
        script.push_str(&format!(
            "cat >\"$d/p\" <<'{SECRET_END}'\n\
             {password}\n\
             {SECRET_END}\n\
             {{ printf '%s' {start}; sed 's/[\\\\\"]/\\\\&/g' \"$d/p\" | tr -d '\\n'; printf '\"\\n'; }} >\"$d/k\"\n\
             rm -f \"$d/p\"\n\
             echo '{RUN_MARK}login--'\n\
             curl -q -sS -k --noproxy '*' --max-time 10{secure} -K \"$d/k\" {url} 2>\"$d/e\"\n\
             echo \"{RC_MARK}$?--\"\n\
             grep -a '^curl: ' \"$d/e\"\n",
            password = login.password,
        ));
    }
    script.push_str("exit 0\n");
    script
}

/// Split the script's output into its runs, by name.
pub(super) fn runs(stdout: &str) -> Result<Vec<(String, Run)>, String> {
    let mut out: Vec<(String, Run)> = Vec::new();
    let mut after_rc = false;
    for line in stdout.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        if let Some(name) = bare
            .strip_prefix(RUN_MARK)
            .and_then(|r| r.strip_suffix("--"))
        {
            out.push((name.to_string(), Run::default()));
            after_rc = false;
            continue;
        }
        let Some((_, run)) = out.last_mut() else {
            return Err(format!("unexpected output: {:?}", truncate(bare)));
        };
        if let Some(rc) = bare
            .strip_prefix(RC_MARK)
            .and_then(|r| r.strip_suffix("--"))
        {
            run.rc = rc
                .parse()
                .map_err(|_| format!("unexpected output: {bare:?}"))?;
            after_rc = true;
        } else if after_rc {
            run.stderr.push(bare.to_string());
        } else {
            run.output.push_str(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const IMAP: Protocol = Protocol {
        name: "imap",
        plain_port: 143,
        tls_port: 993,
        after_login: &["login", "mailboxes"],
    };

    fn plan_of(
        subject: &str,
        inputs: &[(&str, &str)],
        wants: &[&str],
    ) -> Result<(String, u16, bool, bool), String> {
        let inputs: BTreeMap<String, String> = inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = Query {
            subject,
            inputs: &inputs,
            wants,
        };
        plan(&q, &IMAP).map(|p| (p.host, p.port, p.implicit, p.login.is_some()))
    }

    #[test]
    fn ports_follow_the_security() {
        assert_eq!(
            plan_of("10.0.0.2", &[], &["banner"]),
            Ok(("10.0.0.2".into(), 143, false, false))
        );
        assert_eq!(
            plan_of("10.0.0.2", &[], &["tls"]),
            Ok(("10.0.0.2".into(), 993, true, false))
        );
        assert_eq!(
            plan_of("[::1]:1993", &[("security", "tls")], &["banner"]),
            Ok(("::1".into(), 1993, true, false))
        );
        assert_eq!(
            plan_of("mx:1143", &[("user", "a"), ("secret", "b")], &["login"]),
            Ok(("mx".into(), 1143, false, true))
        );
        assert!(plan_of("", &[], &[]).is_err());
        assert!(plan_of("h:0", &[], &[]).is_err());
        assert!(plan_of("a b", &[], &[]).is_err());
    }

    #[test]
    fn contradictions_and_missing_credentials_are_refused() {
        assert_eq!(
            plan_of("h", &[("user", "a")], &["login", "mailboxes"]),
            Err("logging in (for `login`, `mailboxes`) needs a `user` and a `secret`".into())
        );
        assert!(plan_of("h", &[], &["starttls", "tls"]).is_err());
        assert!(plan_of("h", &[("security", "none")], &["starttls"]).is_err());
        assert!(plan_of("h", &[("security", "starttls")], &["tls"]).is_err());
        assert!(plan_of("h", &[("security", "ssl")], &[]).is_err());
        let broken = plan_of("h", &[("user", "a"), ("secret", "x\ny")], &["login"]);
        assert_eq!(
            broken,
            Err("the secret holds a line break: it must be one line".into())
        );
    }

    #[test]
    fn the_password_reaches_the_script_once_and_as_it_is() {
        let password = r#"it's a "pass\word" $(id) é"#;
        let inputs = BTreeMap::from([
            ("user".to_string(), "alice".to_string()),
            ("secret".to_string(), password.to_string()),
        ]);
        let q = Query {
            subject: "10.0.0.2",
            inputs: &inputs,
            wants: &["login"],
        };
        let script = script(&q, &IMAP, "imaps", " -X NOOP");
        assert_eq!(script.matches(password).count(), 1, "{script}");
        assert!(script.contains(&format!("<<'{SECRET_END}'\n{password}\n{SECRET_END}\n")));
        assert!(!script.contains("-u "), "{script}");
    }

    /// The here-document and the escaping give curl the password byte for byte.
    #[test]
    fn the_config_file_holds_the_password_in_curls_quoting() {
        let password = r#"it's a "pass\word" $(id) é`x`"#;
        let inputs = BTreeMap::from([
            ("user".to_string(), "al\"ice".to_string()),
            ("secret".to_string(), password.to_string()),
        ]);
        let q = Query {
            subject: "10.0.0.2",
            inputs: &inputs,
            wants: &["login"],
        };
        let script = script(&q, &IMAP, "imaps", "");
        let start = script.find("cat >").unwrap();
        let end = script.find("rm -f").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "d={}\n{}cat \"$d/k\"\n",
            shell_quote(dir.path().to_str().unwrap()),
            &script[start..end]
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(body)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "user = \"al\\\"ice:it's a \\\"pass\\\\word\\\" $(id) é`x`\"\n"
        );
    }

    #[test]
    fn runs_are_split() {
        let out = "--labgrade-run hello--\n--labgrade-rc 7--\ncurl: (7) Failed\n\
                   --labgrade-run login--\n* LIST () \".\" INBOX\r\n--labgrade-rc 0--\n";
        let runs = runs(out).unwrap();
        assert_eq!(runs[0].0, "hello");
        assert_eq!(runs[0].1.rc, 7);
        assert_eq!(runs[0].1.why(), "curl: (7) Failed");
        assert_eq!(runs[1].1.output, "* LIST () \".\" INBOX\r\n");
        assert!(super::runs("junk\n").is_err());
    }
}
