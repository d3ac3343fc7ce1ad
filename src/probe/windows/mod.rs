//! `os: windows` hosts: each check is a PowerShell script that prints one JSON document
//! (`ConvertTo-Json -Compress`), read here into facts.
//!
//! A verdict never rests on a localized string: the scripts select property values
//! (names the candidate chose, SIDs, addresses) and enums, which Windows PowerShell 5.1
//! serialises as numbers; built-in accounts (`Administrators` is `Administrateurs` on a
//! French install) are matched by SID, which every list of accounts carries beside the name.
//!
//! The script travels as `powershell -NoProfile -NonInteractive -EncodedCommand BASE64`
//! (UTF-16LE, as PowerShell decodes it): one command line, whatever the server's
//! `DefaultShell` (cmd or PowerShell) makes of quotes, and nothing on standard input, which
//! PowerShell reads only as commands when it has no script. Windows caps a command line at
//! 32,767 characters, so a script is at most [`MAX_COMMAND`] once encoded.

mod kinds;

use base64::Engine;
use serde_json::Value;

pub use kinds::*;

use super::{Facts, Kind, Param, Query};
use crate::expect::{Expect, Fact};
use crate::lab::Os;
use crate::transport::ExecOutput;

/// The start of every command line sent to a Windows host.
pub const POWERSHELL: &str = "powershell -NoProfile -NonInteractive -EncodedCommand ";

/// The longest command line labgrade sends, under Windows' 32,767 characters.
const MAX_COMMAND: usize = 32_000;

/// What a script prints when a cmdlet it needs is missing (a role or RSAT not installed).
const MISSING: &str = "labgrade_missing";

/// The command line that runs `script` in Windows PowerShell.
pub fn powershell_command(script: &str) -> Result<String, String> {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let command = format!(
        "{POWERSHELL}{}",
        base64::engine::general_purpose::STANDARD.encode(utf16)
    );
    if command.len() > MAX_COMMAND {
        return Err(format!(
            "the PowerShell script is too long for a Windows command line ({} characters encoded, at most {MAX_COMMAND})",
            command.len()
        ));
    }
    Ok(command)
}

/// A PowerShell single-quoted string: PowerShell reads the typographic quotes as quotes too.
pub fn ps_quote(value: &str) -> String {
    let mut quoted = String::from("'");
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            quoted.push(c);
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// A Windows check kind: its script leaves the object to print in `$r` (`$null`: the
/// subject is not there); `read` turns the JSON of `$r` into facts.
pub struct WinKind {
    pub name: &'static str,
    pub subject: &'static str,
    pub doc: &'static str,
    pub params: &'static [Param],
    pub presence: Option<&'static str>,
    /// The cmdlet the script needs: its absence is "could not check", not a fail.
    pub needs: &'static str,
    pub script: fn(&Query) -> String,
    pub read: fn(&Query, &Value) -> Result<Facts, String>,
}

#[async_trait::async_trait]
impl Kind for WinKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn host_os(&self) -> Os {
        Os::Windows
    }

    fn subject(&self) -> &'static str {
        self.subject
    }

    fn doc(&self) -> &'static str {
        self.doc
    }

    fn params(&self) -> &'static [Param] {
        self.params
    }

    fn presence(&self) -> Option<&'static str> {
        self.presence
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some((self.presence.unwrap_or("succeeded"), Expect::Bool(true)))
    }

    /// Output in UTF-8 whatever the console's code page, errors stop the script, and the
    /// cmdlet needed is looked for first.
    fn script(&self, q: &Query) -> String {
        format!(
            "$ErrorActionPreference = 'Stop'\n\
             $ProgressPreference = 'SilentlyContinue'\n\
             [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false\n\
             if (-not (Get-Command {needs} -ErrorAction SilentlyContinue)) {{ '{{\"{MISSING}\":\"{needs}\"}}'; exit 0 }}\n\
             {body}\
             ConvertTo-Json -InputObject $r -Depth 5 -Compress\n",
            needs = self.needs,
            body = (self.script)(q),
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let text = stdout.trim_start_matches('\u{feff}').trim();
        if output.exit_code != Some(0) || text.is_empty() {
            let stderr = output.stderr_text();
            return Err(match stderr.trim() {
                "" => format!("PowerShell failed (exit {:?})", output.exit_code),
                reason => reason.lines().next().unwrap_or(reason).to_string(),
            });
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("PowerShell did not print JSON ({e})"))?;
        if let Some(cmdlet) = value.get(MISSING).and_then(Value::as_str) {
            return Err(format!(
                "the host has no `{cmdlet}`, which this check needs (its Windows role or feature is not installed)"
            ));
        }
        if value.is_null()
            && let Some(presence) = self.presence
        {
            let mut facts = Facts::new();
            facts.insert(presence, Fact::Bool(false));
            return Ok(facts);
        }
        (self.read)(q, &value)
    }
}

/// Property `key` of a JSON object as text: a string, or a number or boolean as written.
pub fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key)?.as_f64()
}

pub fn boolean(v: &Value, key: &str) -> Option<bool> {
    v.get(key)?.as_bool()
}

/// A property that ConvertTo-Json wrote as one value or an array (PowerShell unrolls a
/// one-element array): always a list.
pub fn items<'v>(v: &'v Value, key: &str) -> Vec<&'v Value> {
    match v.get(key) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

/// Strings of a property that is one string or an array of them.
pub fn strings(v: &Value, key: &str) -> Vec<String> {
    items(v, key)
        .into_iter()
        .filter_map(|i| match i {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// A required property, or an error naming it.
pub fn required<T>(found: Option<T>, key: &str) -> Result<T, String> {
    found.ok_or_else(|| format!("PowerShell's answer has no `{key}`"))
}

/// Accounts by name and by SID, so a lab names a built-in group by its SID
/// (`S-1-5-32-544`) on a server of any language, and the groups it made by name.
pub fn accounts(entries: &[&Value], suffix: impl Fn(&Value) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    for entry in entries {
        let Some(end) = suffix(entry) else { continue };
        for key in ["Name", "SID"] {
            if let Some(id) = text(entry, key) {
                // `DOMAIN\name` and `name` both name it: keep the name, as the lab writes it.
                let id = id.rsplit('\\').next().unwrap_or(&id).to_string();
                out.push(format!("{id}{end}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn recorded(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/recorded/windows")
            .join(path)
    }

    /// The facts a kind reads from the English and the French recordings of `stem`, which
    /// must be equal; the script it sends must be `scripts/STEM.ps1` byte for byte
    /// (`UPDATE_RECORDED=1` writes it).
    fn both(kind: &WinKind, subject: &str, stem: &str) -> Facts {
        let inputs = BTreeMap::new();
        let q = Query {
            subject,
            inputs: &inputs,
            wants: &[],
        };
        let script = kind.script(&q);
        let expected = recorded(&format!("scripts/{stem}.ps1"));
        if std::env::var_os("UPDATE_RECORDED").is_some() {
            std::fs::write(&expected, &script).unwrap();
        }
        assert_eq!(
            script,
            std::fs::read_to_string(&expected).unwrap(),
            "{stem}"
        );
        let read = |lang: &str| {
            let output = ExecOutput {
                exit_code: Some(0),
                stdout: std::fs::read(recorded(&format!("units/{stem}.{lang}.json"))).unwrap(),
                ..ExecOutput::default()
            };
            kind.parse(&q, &output).unwrap()
        };
        // What a lab can rely on: every fact but the localized names of accounts, which
        // lists carry beside their SIDs.
        let portable = |facts: Facts, other: &Facts| -> Facts {
            facts
                .into_iter()
                .map(|(k, v)| match (v, other.get(k)) {
                    (Fact::List(items), Some(Fact::List(theirs))) => (
                        k,
                        Fact::List(items.into_iter().filter(|i| theirs.contains(i)).collect()),
                    ),
                    (v, _) => (k, v),
                })
                .collect()
        };
        let (en, fr) = (read("en"), read("fr"));
        assert_eq!(
            portable(en.clone(), &fr),
            portable(fr.clone(), &en),
            "{stem}: the French install reads differently"
        );
        en
    }

    fn list(items: &[&str]) -> Fact {
        Fact::List(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn english_and_french_servers_give_the_same_facts() {
        let f = both(&SERVICE, "W32Time", "service-W32Time");
        assert_eq!(f["running"], Fact::Bool(true));
        assert_eq!(f["enabled"], Fact::Bool(false));
        assert_eq!(f["start"], Fact::Text("manual".into()));

        let f = both(&USER, "localadmin", "user-localadmin");
        assert_eq!(f["enabled"], Fact::Bool(true));
        let Fact::List(groups) = &f["groups"] else {
            panic!()
        };
        assert!(groups.contains(&"S-1-5-32-544".to_string()), "{groups:?}");

        let f = both(&GROUP, "S-1-5-32-544", "group-S-1-5-32-544");
        let Fact::List(members) = &f["members"] else {
            panic!()
        };
        assert!(members.contains(&"localadmin".to_string()), "{members:?}");
        assert!(members.contains(&"S-1-5-21-1004336348-1177238915-682003330-500".to_string()));

        let f = both(&PORT, "3389", "port-3389");
        assert_eq!(f["listening"], Fact::Bool(true));
        assert_eq!(f["addresses"], list(&["::", "0.0.0.0"]));
        assert_eq!(f["process"], list(&["svchost"]));

        let f = both(&PACKAGE, "DHCP", "package-DHCP");
        assert_eq!(f["installed"], Fact::Bool(true));

        let f = both(
            &FIREWALL,
            "RemoteDesktop-UserMode-In-TCP",
            "firewall-RemoteDesktop-UserMode-In-TCP",
        );
        assert_eq!(f["enabled"], Fact::Bool(true));
        assert_eq!(f["direction"], Fact::Text("in".into()));
        assert_eq!(f["action"], Fact::Text("allow".into()));
        assert_eq!(f["ports"], list(&["3389"]));

        let f = both(
            &COMMAND,
            "(Get-CimInstance Win32_ComputerSystem).Domain",
            "command-domain",
        );
        assert_eq!(f["succeeded"], Fact::Bool(true));
        assert_eq!(f["output"], Fact::Text("lab.local".into()));
    }

    #[test]
    fn an_absent_subject_a_missing_cmdlet_and_an_error_read_apart() {
        let inputs = BTreeMap::new();
        let q = Query {
            subject: "nope",
            inputs: &inputs,
            wants: &[],
        };
        let out = |code: i32, stdout: &str, stderr: &str| ExecOutput {
            exit_code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            ..ExecOutput::default()
        };
        let absent = SERVICE.parse(&q, &out(0, "null\r\n", "")).unwrap();
        assert_eq!(
            absent,
            [("exists", Fact::Bool(false))].into_iter().collect()
        );
        let missing = QUOTA
            .parse(&q, &out(0, "{\"labgrade_missing\":\"Get-FsrmQuota\"}", ""))
            .unwrap_err();
        assert!(
            missing.starts_with("the host has no `Get-FsrmQuota`"),
            "{missing}"
        );
        let failed = SHARE
            .parse(&q, &out(1, "", "Get-SmbShare : Accès refusé.\r\n"))
            .unwrap_err();
        assert_eq!(failed, "Get-SmbShare : Accès refusé.");
    }

    #[test]
    fn scripts_travel_as_utf16_base64_and_quotes_are_doubled() {
        let command = powershell_command("'é'").unwrap();
        assert_eq!(command, format!("{POWERSHELL}JwDpACcA"));
        assert_eq!(ps_quote("it's ‘x’"), "'it''s ‘‘x’’'");
        let long = "x".repeat(20_000);
        assert!(powershell_command(&long).unwrap_err().contains("too long"));
    }
}
