//! `smb: //HOST[:PORT][/SHARE]`: a file server seen by a user: the shares it lists, login, read, write (with a file it deletes again).
//!
//! SMB2/3 with NTLMSSP is too large to write by hand, and no pure-Rust client was solid
//! enough (the `smb` crate is pre-1.0 with a breaking release every few weeks and a large
//! dependency tree; `smb2-client` offers no share listing). Samba's own `smbclient` is the
//! reference client, so the probe is one shell script that drives it: run on the grader
//! (which then needs the Debian package `smbclient`) or `from:` a role, the same way.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Facts, Kind, Observation, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, Local, MISSING_TOOL_MARKER, Transport, shell_quote, wrap};

pub struct Smb;

const PARAMS: &[Param] = &[
    Param::input(
        "user",
        &[],
        "the user to log in as (default: an anonymous session, which a server may map to its guest account)",
    ),
    Param::secret("secret", "the secret holding `user`'s password"),
    Param::input(
        "domain",
        &[],
        "the workgroup or domain `user` belongs to (default: the server's own)",
    ),
    Param::expect(
        "shares",
        Shape::List,
        "the shares the server lists to this user: disk shares and printers, IPC$ left out",
    ),
    Param::expect(
        "login",
        Shape::Bool,
        "the server accepts a session as `user` with the password, as that user (a wrong password, or a user let in only as the guest account: false); when false the other properties are skipped",
    ),
    Param::expect(
        "can_read",
        Shape::Bool,
        "the share's top folder can be listed (a share that does not exist cannot)",
    ),
    Param::expect(
        "can_write",
        Shape::Bool,
        "a file can be created in the share's top folder. The only property of any kind that writes: it creates `.labgrade-probe-…` and deletes it at once; a file it cannot delete ends the check in error, naming it",
    ),
];

const DEFAULT_PORT: u16 = 445;
/// The file a write test creates starts with this, so a teacher can recognise a leftover.
const PROBE_PREFIX: &str = ".labgrade-probe-";
/// Starts each step's output in the script's transcript, and ends it with the exit code.
const STEP: &str = "@@ ";
/// Ends the here-document of the credentials; no line of it can be this alone.
const EOF: &str = "LABGRADE_AUTH";

/// What the subject names: a server, and maybe one of its shares.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    host: String,
    port: u16,
    share: Option<String>,
}

impl Target {
    fn server(&self) -> String {
        if self.host.contains(':') {
            format!("//[{}]", self.host)
        } else {
            format!("//{}", self.host)
        }
    }

    fn unc(&self) -> Option<String> {
        self.share
            .as_ref()
            .map(|share| format!("{}/{share}", self.server()))
    }
}

fn target(subject: &str) -> Result<Target, String> {
    let bad = || format!("`{subject}` is not //HOST, //HOST/SHARE or //HOST:PORT/SHARE");
    let rest = subject.strip_prefix("//").ok_or_else(bad)?;
    let (authority, share) = match rest.split_once('/') {
        Some((a, s)) => (a, Some(s.trim_end_matches('/'))),
        None => (rest, None),
    };
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
        None => DEFAULT_PORT,
    };
    let name_ok =
        |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() || "/\\".contains(c));
    if !name_ok(host) || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    let share = match share {
        Some("") => None,
        Some(s) if name_ok(s) => Some(s.to_string()),
        Some(_) => return Err(bad()),
        None => None,
    };
    Ok(Target {
        host: host.to_string(),
        port,
        share,
    })
}

/// What the script does, in order. Each step is one `smbclient` run, one session.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// `-L`: the shares, through the server's IPC$.
    List,
    /// `ls` in the share: the session, the tree connect, a listing.
    Read,
    /// `put` a small file in the share.
    Write,
    /// `del` that file again.
    Delete,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::List => "list",
            Step::Read => "read",
            Step::Write => "write",
            Step::Delete => "delete",
        }
    }

    fn parse(name: &str) -> Option<Step> {
        [Step::List, Step::Read, Step::Write, Step::Delete]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// The steps a check needs: only what it asks is probed.
fn steps(q: &Query, t: &Target) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let on_share = q.wants("can_read") || q.wants("can_write");
    if q.wants("shares") || (q.wants("login") && t.share.is_none()) {
        steps.push(Step::List);
    }
    if on_share && t.share.is_none() {
        return Err(format!(
            "`can_read` and `can_write` need a share: //{}/SHARE",
            t.host
        ));
    }
    if t.share.is_some() && (on_share || q.wants("login")) {
        steps.push(Step::Read);
    }
    if q.wants("can_write") {
        steps.extend([Step::Write, Step::Delete]);
    }
    Ok(steps)
}

/// A name no one else uses: the write test must never touch a file it did not create.
fn probe_name() -> String {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{PROBE_PREFIX}{:x}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The script: credentials in a 0600 file in a private temp dir (never on a command line),
/// then one `smbclient` per step, each step's output framed by `@@ STEP` and `@@ exit N`.
/// A step whose session or share is refused ends the script: later steps would only
/// repeat the refusal (and add failed logins to the server's count).
fn script(q: &Query) -> Result<String, String> {
    let t = target(q.subject)?;
    let steps = steps(q, &t)?;
    let user = q.input("user");
    if user.is_none() && q.input("secret").is_some() {
        return Err("a `secret` needs a `user` to log in as".to_string());
    }
    for (name, value) in [
        ("user", user),
        ("domain", q.input("domain")),
        ("secret", q.input("secret")),
    ] {
        if value.is_some_and(|v| v.contains(['\n', '\r', '\0'])) {
            return Err(format!("`{name}` must be one line"));
        }
    }
    let mut s = String::from(
        "need smbclient\n\
         need mktemp\n\
         umask 077\n\
         d=$(mktemp -d) || exit 3\n\
         trap 'rm -rf \"$d\"' EXIT\n\
         cd \"$d\" || exit 3\n",
    );
    // A quoted here-document: the password goes from this script to a 0600 file on
    // standard input, never as an argument of a process, and appears in the script
    // verbatim (not shell-quoted), so the runner's redaction finds it in the evidence.
    let auth = match user {
        Some(user) => {
            s.push_str(&format!(
                "cat > auth <<'{EOF}'\nusername = {user}\npassword = {}\n",
                q.input("secret").unwrap_or("")
            ));
            if let Some(domain) = q.input("domain") {
                s.push_str(&format!("domain = {domain}\n"));
            }
            s.push_str(EOF);
            s.push('\n');
            // Signing proves the session holds the user's key: a server that lets an
            // unknown user in as its guest (`map to guest = bad user`) cannot sign, and
            // the login is refused instead of passing for the user's own.
            "-A auth --option='client signing=required'"
        }
        None => "-N -U%",
    };
    // -s /dev/null: the role host's own smb.conf (maybe the candidate's) must not change
    // how the probe talks.
    s.push_str(&format!(
        "step() {{ name=$1; shift; echo \"{STEP}$name\"; smbclient -s /dev/null {auth} -p {port} \"$@\" 2>&1; rc=$?; echo \"{STEP}exit $rc\"; }}\n\
         stop() {{ case $out in *'{STEP}exit 0') return ;; *'session setup failed'*|*'tree connect failed'*|*'Connection to'*|*'protocol negotiation failed'*) exit 0 ;; esac; }}\n",
        port = t.port,
    ));
    let name = probe_name();
    for step in steps {
        let run = |args: String| {
            format!(
                "out=$(step {} {args}); printf '%s\\n' \"$out\"; stop\n",
                step.name()
            )
        };
        let unc = || shell_quote(&t.unc().unwrap_or_default());
        s.push_str(&match step {
            Step::List => run(format!("-g -L {}", shell_quote(&t.server()))),
            Step::Read => run(format!("{} -c ls", unc())),
            Step::Write => format!(
                "echo 'written by labgrade, deleted at once' > probe\n\
                 echo {}\n\
                 {}",
                shell_quote(&format!("{STEP}file {name}")),
                run(format!(
                    "{} -c {}",
                    unc(),
                    shell_quote(&format!("put probe {name}"))
                ))
            ),
            Step::Delete => {
                // Delete whether or not `put` said it worked: a write that failed half-way
                // may have created the file.
                format!(
                    "step delete {} -c {}\n",
                    unc(),
                    shell_quote(&format!("del {name}"))
                )
            }
        });
    }
    Ok(s)
}

/// One step's output and exit code, as the script printed them.
#[derive(Debug, Clone, PartialEq)]
struct Ran {
    step: Step,
    text: String,
    exit: Option<i32>,
}

fn transcript(stdout: &str) -> Result<(Vec<Ran>, Option<String>), String> {
    let mut ran: Vec<Ran> = Vec::new();
    let mut file = None;
    for line in stdout.lines() {
        if let Some(tag) = line.strip_prefix(STEP) {
            if let Some(code) = tag.strip_prefix("exit ") {
                let last = ran.last_mut().ok_or("an exit code before any step")?;
                last.exit = code.trim().parse().ok();
            } else if let Some(name) = tag.strip_prefix("file ") {
                file = Some(name.to_string());
            } else {
                let step = Step::parse(tag).ok_or_else(|| format!("an unknown step {tag:?}"))?;
                ran.push(Ran {
                    step,
                    text: String::new(),
                    exit: None,
                });
            }
        } else if let Some(last) = ran.last_mut() {
            last.text.push_str(line);
            last.text.push('\n');
        }
    }
    Ok((ran, file))
}

/// The first NT status an output names: `NT_STATUS_LOGON_FAILURE`.
fn nt_status(text: &str) -> Option<&str> {
    let at = text.find("NT_STATUS_")?;
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A session refused for its credentials: the user's fault or the server's policy, a
/// fact about the login, not a failure to check.
const REFUSED_LOGIN: &[&str] = &[
    "NT_STATUS_LOGON_FAILURE",
    "NT_STATUS_WRONG_PASSWORD",
    "NT_STATUS_NO_SUCH_USER",
    "NT_STATUS_ACCOUNT_DISABLED",
    "NT_STATUS_ACCOUNT_LOCKED_OUT",
    "NT_STATUS_ACCOUNT_RESTRICTION",
    "NT_STATUS_ACCOUNT_EXPIRED",
    "NT_STATUS_PASSWORD_EXPIRED",
    "NT_STATUS_PASSWORD_MUST_CHANGE",
    "NT_STATUS_INVALID_LOGON_HOURS",
    "NT_STATUS_INVALID_WORKSTATION",
    "NT_STATUS_LOGON_TYPE_NOT_GRANTED",
    "NT_STATUS_ACCESS_DENIED",
];

/// A share or a file refused to this user (or not there): a fact, not a failure to check.
const REFUSED_ACCESS: &[&str] = &[
    "NT_STATUS_ACCESS_DENIED",
    "NT_STATUS_BAD_NETWORK_NAME",
    "NT_STATUS_NETWORK_ACCESS_DENIED",
    "NT_STATUS_MEDIA_WRITE_PROTECTED",
    "NT_STATUS_OBJECT_NAME_NOT_FOUND",
    "NT_STATUS_OBJECT_PATH_NOT_FOUND",
    "NT_STATUS_NOT_A_DIRECTORY",
    "NT_STATUS_DISK_FULL",
    "NT_STATUS_QUOTA_EXCEEDED",
    "NT_STATUS_SHARING_VIOLATION",
];

/// How far one step got.
#[derive(Debug, Clone, PartialEq)]
enum Reached {
    /// The session was refused: login is false.
    NoLogin,
    /// Logged in, but the share, or the operation in it, was refused.
    Refused,
    /// Logged in and done.
    Done,
}

/// Judge one step's output. `Err` when the server could not be asked at all.
fn reached(ran: &Ran) -> Result<Reached, String> {
    let text = ran.text.trim_end();
    let said = || {
        let first = text
            .lines()
            .find(|l| l.contains("NT_STATUS_") || l.contains("failed"))
            .or_else(|| text.lines().last())
            .unwrap_or("nothing");
        format!("smbclient ({}): {}", ran.step.name(), first.trim())
    };
    let status = nt_status(text);
    // Success first: a listing may name a file "Connection to …".
    if ran.exit == Some(0) {
        return Ok(Reached::Done);
    }
    let line = |prefix: &str| text.lines().find(|l| l.contains(prefix)).map(str::trim);
    if let Some(l) = line("Connection to") {
        return Err(format!("cannot reach the server: {l}"));
    }
    if let Some(l) = line("protocol negotiation failed") {
        return Err(format!("not an SMB2/3 server: {l}"));
    }
    if line("session setup failed").is_some() {
        return match status {
            Some(s) if REFUSED_LOGIN.contains(&s) => Ok(Reached::NoLogin),
            _ => Err(said()),
        };
    }
    match status {
        Some(s) if REFUSED_ACCESS.contains(&s) => Ok(Reached::Refused),
        _ => Err(said()),
    }
}

/// The shares of a `-g -L` listing: `Disk|name|comment` lines; IPC$ is left out.
fn shares(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut fields = l.splitn(3, '|');
            let kind = fields.next()?;
            let name = fields.next()?;
            matches!(kind, "Disk" | "Printer").then(|| name.to_string())
        })
        .collect()
}

/// Facts from the steps the script ran.
fn facts(q: &Query, stdout: &str) -> Result<Facts, String> {
    let (ran, file) = transcript(stdout)?;
    let file = file.as_deref().unwrap_or(PROBE_PREFIX);
    let left = |why: &str| format!("wrote {file} in {} but {why}: remove it by hand", q.subject);
    let mut facts = Facts::new();
    let mut written = false;
    for step in &ran {
        if step.step == Step::Delete {
            // Nothing written, nothing left, whatever `del` said (no such file).
            if written && reached(step)? != Reached::Done {
                let status = nt_status(&step.text).unwrap_or("no answer");
                return Err(left(&format!("could not delete it ({status})")));
            }
            written = false;
            continue;
        }
        let reached = reached(step)?;
        if reached == Reached::NoLogin {
            facts.insert("login", Fact::Bool(false));
            return Ok(facts);
        }
        facts.insert("login", Fact::Bool(true));
        let done = reached == Reached::Done;
        match step.step {
            Step::List if done => {
                facts.insert("shares", Fact::List(shares(&step.text)));
            }
            Step::List => {
                return Err(format!(
                    "the server lists no shares: {}",
                    step.text.trim_end()
                ));
            }
            Step::Read => {
                facts.insert("can_read", Fact::Bool(done));
                // No share, no write: the script stopped here.
                if step.text.contains("tree connect failed") {
                    facts.insert("can_write", Fact::Bool(false));
                }
            }
            Step::Write => {
                written = done;
                facts.insert("can_write", Fact::Bool(done));
            }
            Step::Delete => {}
        }
    }
    if written {
        return Err(left("stopped before deleting it"));
    }
    Ok(facts)
}

fn could_not_run(output: &ExecOutput) -> Option<String> {
    let stderr = output.stderr_text();
    match output.exit_code {
        Some(0) => None,
        Some(127) if stderr.contains(MISSING_TOOL_MARKER) => {
            Some("the grader has no `smbclient`: install the Debian package smbclient".to_string())
        }
        code => Some(match stderr.trim() {
            "" => format!("the probe stopped: {code:?}"),
            reason => reason.to_string(),
        }),
    }
}

#[async_trait::async_trait]
impl Kind for Smb {
    fn name(&self) -> &'static str {
        "smb"
    }

    fn subject(&self) -> &'static str {
        "//host[:port][/share]"
    }

    fn doc(&self) -> &'static str {
        "A Windows/Samba file server seen by a user: the shares it lists, whether the user logs in, can read a share, can write in it. Runs Samba's smbclient (Debian package smbclient) on the grader or `from:` a role; the password travels in a 0600 file, never on a command line. `can_write` is the one property that writes: a `.labgrade-probe-…` file, deleted at once."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("login")
    }

    fn black_box(&self) -> bool {
        true
    }

    fn destination(&self, q: &Query) -> Result<String, String> {
        target(q.subject).map(|t| t.host)
    }

    fn script(&self, q: &Query) -> String {
        script(q).unwrap_or_else(|e| format!("echo {} >&2; exit 2\n", shell_quote(&e)))
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!("the probe stopped: {:?}", output.exit_code),
                reason => reason.to_string(),
            });
        }
        facts(q, &output.stdout_text())
    }

    /// The role's script, run on the grader: one code path. The envelope's `timeout` stops
    /// smbclient on time; the local transport kills the whole process group if not.
    async fn observe(&self, q: &Query<'_>, wait: Duration) -> Result<Observation, String> {
        let body = script(q)?;
        // Stop a little before the runner gives up, so the reason is ours.
        let deadline = wait
            .saturating_sub(Duration::from_millis(500))
            .max(Duration::from_millis(500));
        let output = Local
            .exec(&wrap(&body, deadline), deadline)
            .await
            .map_err(|e| e.to_string())?;
        if output.exit_code == Some(124) {
            return Err(format!(
                "no complete answer from {} within {} s",
                q.subject,
                wait.as_secs()
            ));
        }
        if let Some(reason) = could_not_run(&output) {
            return Err(reason);
        }
        let transcript = output.stdout_text();
        let facts = facts(q, &transcript)?;
        Ok(Observation { facts, transcript })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::parse_canned;
    use std::collections::BTreeMap;

    fn query<'a>(
        subject: &'a str,
        inputs: &'a BTreeMap<String, String>,
        wants: &'a [&'a str],
    ) -> Query<'a> {
        Query {
            subject,
            inputs,
            wants,
        }
    }

    #[test]
    fn subjects() {
        let t = |host: &str, port, share: Option<&str>| {
            Ok(Target {
                host: host.into(),
                port,
                share: share.map(String::from),
            })
        };
        assert_eq!(target("//srv/compta"), t("srv", 445, Some("compta")));
        assert_eq!(target("//srv"), t("srv", 445, None));
        assert_eq!(target("//srv/"), t("srv", 445, None));
        assert_eq!(
            target("//10.0.0.2:4450/Mes Documents"),
            t("10.0.0.2", 4450, Some("Mes Documents"))
        );
        assert_eq!(target("//[fd00::2]/x"), t("fd00::2", 445, Some("x")));
        assert_eq!(target("//[fd00::2]:446"), t("fd00::2", 446, None));
        for bad in [
            "srv/compta",
            "\\\\srv\\compta",
            "//",
            "//srv:0/x",
            "//srv/a/b",
            "//a b/x",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
        assert_eq!(
            target("//[fd00::2]/x").unwrap().unc().unwrap(),
            "//[fd00::2]/x"
        );
    }

    #[test]
    fn only_what_is_asked_is_probed() {
        let inputs = BTreeMap::new();
        let share = target("//srv/s").unwrap();
        let server = target("//srv").unwrap();
        let steps_of = |t: &Target, wants: &[&str]| steps(&query("", &inputs, wants), t);
        assert_eq!(steps_of(&server, &["shares"]), Ok(vec![Step::List]));
        assert_eq!(steps_of(&server, &["login"]), Ok(vec![Step::List]));
        assert_eq!(steps_of(&share, &["login"]), Ok(vec![Step::Read]));
        assert_eq!(steps_of(&share, &["can_read"]), Ok(vec![Step::Read]));
        assert_eq!(
            steps_of(&share, &["shares", "can_write"]),
            Ok(vec![Step::List, Step::Read, Step::Write, Step::Delete])
        );
        assert!(steps_of(&server, &["can_write"]).is_err());
    }

    #[test]
    fn the_password_goes_verbatim_to_a_private_file_on_standard_input() {
        let inputs = BTreeMap::from([
            ("user".to_string(), "alice".to_string()),
            ("secret".to_string(), "it's $(secret)".to_string()),
        ]);
        let body = script(&query("//srv/compta", &inputs, &["can_write"])).unwrap();
        assert!(
            body.contains("cat > auth <<'LABGRADE_AUTH'\nusername = alice\npassword = it's $(secret)\nLABGRADE_AUTH\n"),
            "{body}"
        );
        assert_eq!(body.matches("secret)").count(), 1, "{body}");
        assert!(body.contains("umask 077\n"));
        assert!(body.contains("-A auth --option='client signing=required'"));
        let check = std::process::Command::new("/bin/sh")
            .args(["-n", "-c", &body])
            .status()
            .unwrap();
        assert!(check.success(), "{body}");
        let anonymous = script(&query("//srv/public", &BTreeMap::new(), &["can_read"])).unwrap();
        assert!(anonymous.contains("-N -U%") && !anonymous.contains("auth"));
        let secret_alone = BTreeMap::from([("secret".to_string(), "x".to_string())]);
        assert!(script(&query("//srv/s", &secret_alone, &["login"])).is_err());
    }

    const LISTED: &str = "@@ list\nDisk|compta|\nDisk|public|Documents publics\nIPC|IPC$|IPC Service (Samba 4.17.12-Debian)\nPrinter|laser|\nSMB1 disabled -- no workgroup available\n@@ exit 0\n";

    #[test]
    fn everything_allowed() {
        let out = format!(
            "{LISTED}@@ read\n  .   D   0  Sun Nov 29 02:38:06 2026\n\n\t\t4194304 blocks of size 1024. 4192104 blocks available\n@@ exit 0\n\
             @@ file .labgrade-probe-1\n@@ write\nputting file probe as \\.labgrade-probe-1 (2.0 kb/s) (average 2.0 kb/s)\n@@ exit 0\n@@ delete\n@@ exit 0\n"
        );
        let facts = parse_canned(&Smb, "//srv/compta", &[], 0, &out, "").unwrap();
        assert_eq!(
            facts,
            Facts::from([
                ("login", Fact::Bool(true)),
                (
                    "shares",
                    Fact::List(vec!["compta".into(), "public".into(), "laser".into()])
                ),
                ("can_read", Fact::Bool(true)),
                ("can_write", Fact::Bool(true)),
            ])
        );
    }

    #[test]
    fn refusals_are_facts() {
        let parsed = |out: &str| parse_canned(&Smb, "//srv/compta", &[], 0, out, "");
        assert_eq!(
            parsed("@@ read\nsession setup failed: NT_STATUS_LOGON_FAILURE\n@@ exit 1\n"),
            Ok(Facts::from([("login", Fact::Bool(false))]))
        );
        assert_eq!(
            parsed("@@ read\ntree connect failed: NT_STATUS_ACCESS_DENIED\n@@ exit 1\n"),
            Ok(Facts::from([
                ("login", Fact::Bool(true)),
                ("can_read", Fact::Bool(false)),
                ("can_write", Fact::Bool(false)),
            ]))
        );
        let read_only = "@@ read\n  .  D  0  Sun Nov 29 02:38:06 2026\n@@ exit 0\n\
             @@ file .labgrade-probe-2\n@@ write\nNT_STATUS_ACCESS_DENIED opening remote file \\.labgrade-probe-2\n@@ exit 1\n\
             @@ delete\nNT_STATUS_NO_SUCH_FILE listing \\.labgrade-probe-2\n@@ exit 1\n";
        assert_eq!(
            parsed(read_only),
            Ok(Facts::from([
                ("login", Fact::Bool(true)),
                ("can_read", Fact::Bool(true)),
                ("can_write", Fact::Bool(false)),
            ]))
        );
        // Listing refused, writing allowed: a drop box.
        let drop_box = "@@ read\nNT_STATUS_ACCESS_DENIED listing \\*\n@@ exit 1\n\
             @@ file .labgrade-probe-3\n@@ write\nputting file probe as \\.labgrade-probe-3\n@@ exit 0\n@@ delete\n@@ exit 0\n";
        assert_eq!(parsed(drop_box).unwrap()["can_write"], Fact::Bool(true));
    }

    #[test]
    fn what_cannot_be_checked_is_an_error() {
        let parsed = |out: &str| parse_canned(&Smb, "//srv/compta", &[], 0, out, "");
        assert_eq!(
            parsed("@@ read\ndo_connect: Connection to 10.0.0.2 failed (Error NT_STATUS_CONNECTION_REFUSED)\n@@ exit 1\n"),
            Err("cannot reach the server: do_connect: Connection to 10.0.0.2 failed (Error NT_STATUS_CONNECTION_REFUSED)".into())
        );
        assert_eq!(
            parsed("@@ list\nprotocol negotiation failed: NT_STATUS_CONNECTION_RESET\n@@ exit 1\n"),
            Err(
                "not an SMB2/3 server: protocol negotiation failed: NT_STATUS_CONNECTION_RESET"
                    .into()
            )
        );
        assert_eq!(
            parsed("@@ read\nsession setup failed: NT_STATUS_IO_TIMEOUT\n@@ exit 1\n"),
            Err("smbclient (read): session setup failed: NT_STATUS_IO_TIMEOUT".into())
        );
        assert_eq!(
            parse_canned(
                &Smb,
                "//srv/s",
                &[],
                2,
                "",
                "`can_read` and `can_write` need a share\n"
            ),
            Err("`can_read` and `can_write` need a share".into())
        );
    }

    #[test]
    fn a_file_left_behind_is_an_error_naming_it() {
        let out = "@@ read\n@@ exit 0\n@@ file .labgrade-probe-4\n@@ write\nputting file probe as \\.labgrade-probe-4\n@@ exit 0\n\
                   @@ delete\nNT_STATUS_ACCESS_DENIED deleting remote file \\.labgrade-probe-4\n@@ exit 1\n";
        assert_eq!(
            parse_canned(&Smb, "//srv/compta", &[], 0, out, ""),
            Err("wrote .labgrade-probe-4 in //srv/compta but could not delete it (NT_STATUS_ACCESS_DENIED): remove it by hand".into())
        );
        let cut = "@@ read\n@@ exit 0\n@@ file .labgrade-probe-5\n@@ write\nputting file probe as \\.labgrade-probe-5\n@@ exit 0\n";
        assert_eq!(
            parse_canned(&Smb, "//srv/compta", &[], 0, cut, ""),
            Err("wrote .labgrade-probe-5 in //srv/compta but stopped before deleting it: remove it by hand".into())
        );
    }

    #[test]
    fn probe_names_differ() {
        let (a, b) = (probe_name(), probe_name());
        assert_ne!(a, b);
        assert!(
            a.starts_with(PROBE_PREFIX)
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        );
    }
}
