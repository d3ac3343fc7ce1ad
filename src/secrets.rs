//! Secrets a probe logs in with: named in the lab, valued from the environment or a secrets
//! file at run time, and redacted from everything labgrade writes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::probe::{Kind, Role};
use crate::results::CheckResult;

/// The environment variable that holds a secret: `alice-mail` is `LABGRADE_SECRET_ALICE_MAIL`.
pub fn env_name(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("LABGRADE_SECRET_{upper}")
}

/// A check's inputs with its secrets' values, and the (name, value) pairs to redact afterwards.
pub struct Resolved {
    pub inputs: BTreeMap<String, String>,
    pub used: Vec<(String, String)>,
}

#[derive(Clone, Default)]
pub struct Secrets {
    file: BTreeMap<String, String>,
}

/// Names only: a value must not reach a log through `{:?}`.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_set().entries(self.file.keys()).finish()
    }
}

impl Secrets {
    /// Read a secrets file: a YAML mapping of names to values. Keep it readable by its owner only.
    pub fn load(path: &Path) -> Result<Secrets, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: BTreeMap<String, String> =
            serde_saphyr::from_str(&text).map_err(|e| match e.location() {
                Some(at) => format!(
                    "{}:{}:{}: expected a mapping of secret names to strings",
                    path.display(),
                    at.line(),
                    at.column()
                ),
                None => format!(
                    "{}: expected a mapping of secret names to strings",
                    path.display()
                ),
            })?;
        Ok(Secrets { file })
    }

    /// The environment wins over the file, so a run can override one value.
    pub fn get(&self, name: &str) -> Result<String, String> {
        let var = env_name(name);
        match std::env::var(&var) {
            Ok(value) if !value.is_empty() => Ok(value),
            _ => self.file.get(name).cloned().ok_or_else(|| {
                format!(
                    "the secret `{name}` is not set: export {var}, or give it in a --secrets file"
                )
            }),
        }
    }

    /// The check's inputs with each secret's name replaced by its value.
    pub fn resolve(
        &self,
        kind: &dyn Kind,
        inputs: &BTreeMap<String, String>,
    ) -> Result<Resolved, String> {
        let mut resolved = Resolved {
            inputs: inputs.clone(),
            used: Vec::new(),
        };
        for param in kind.params().iter().filter(|p| p.role == Role::Secret) {
            if let Some(name) = inputs.get(param.name) {
                let value = self.get(name)?;
                resolved
                    .inputs
                    .insert(param.name.to_string(), value.clone());
                resolved.used.push((name.clone(), value));
            }
        }
        Ok(resolved)
    }
}

/// Replace every secret value in what a check wrote by `[secret NAME]`.
pub fn redact(result: &mut CheckResult, used: &[(String, String)]) {
    let scrub = |text: &mut String| {
        for (name, value) in used {
            if !value.is_empty() && text.contains(value.as_str()) {
                *text = text.replace(value.as_str(), &format!("[secret {name}]"));
            }
        }
    };
    scrub(&mut result.label);
    if let Some(reason) = &mut result.reason {
        scrub(reason);
    }
    scrub(&mut result.evidence.ran);
    scrub(&mut result.evidence.stdout);
    scrub(&mut result.evidence.stderr);
    for property in &mut result.properties {
        scrub(&mut property.expected);
        if let Some(found) = &mut property.found {
            scrub(found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_environment_variables() {
        assert_eq!(env_name("alice-mail"), "LABGRADE_SECRET_ALICE_MAIL");
        assert_eq!(env_name("db_app"), "LABGRADE_SECRET_DB_APP");
    }

    #[test]
    fn a_file_gives_values_and_a_missing_one_says_where_to_put_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.yaml");
        std::fs::write(&path, "labgrade_unit_test_only: s3cret\n").unwrap();
        let secrets = Secrets::load(&path).unwrap();
        assert_eq!(
            secrets.get("labgrade_unit_test_only"),
            Ok("s3cret".to_string())
        );
        assert_eq!(
            secrets.get("labgrade_unit_test_missing"),
            Err("the secret `labgrade_unit_test_missing` is not set: export LABGRADE_SECRET_LABGRADE_UNIT_TEST_MISSING, or give it in a --secrets file".to_string())
        );
        std::fs::write(&path, "- not a mapping\n").unwrap();
        assert!(
            Secrets::load(&path)
                .unwrap_err()
                .contains("secrets.yaml:1:1: expected a mapping")
        );
    }

    #[test]
    fn redaction_reaches_every_text_a_check_writes() {
        use crate::results::{Evidence, PropertyResult, PropertyVerdict, Verdict};
        let mut result = CheckResult {
            label: "login with s3cret".into(),
            kind: "ssh".into(),
            role: "grader".into(),
            verdict: Verdict::Fail,
            reason: Some("server said: bad password s3cret".into()),
            weight: 1.0,
            properties: vec![PropertyResult {
                name: "login".into(),
                expected: "s3cret".into(),
                found: Some("xs3cretx".into()),
                verdict: PropertyVerdict::Fail,
            }],
            evidence: Evidence {
                ran: "echo s3cret".into(),
                stdout: "s3cret\n".into(),
                stderr: "s3cret".into(),
                ..Evidence::default()
            },
        };
        redact(&mut result, &[("db".into(), "s3cret".into())]);
        let json = serde_json::to_string(&result).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
        assert_eq!(result.evidence.stdout, "[secret db]\n");
    }
}
