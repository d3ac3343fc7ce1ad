//! Compare what a probe found with what the check expects: a verdict per property, then per check. Pure.

use crate::expect::{Expect, Fact};
use crate::probe::Facts;
use crate::results::{PropertyResult, PropertyVerdict, Verdict};

/// A check's verdict, the reason a person reads, and the property-by-property detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub properties: Vec<PropertyResult>,
}

/// Judge facts against expectations. `presence` is the kind's fact saying the subject
/// exists: when it is false, the other properties are skipped rather than failed.
pub fn judge(
    subject: &str,
    presence: Option<&str>,
    expects: &[(&'static str, Expect)],
    facts: &Facts,
) -> Judgement {
    let absent = presence
        .and_then(|p| facts.get(p))
        .is_some_and(|fact| *fact == Fact::Bool(false));
    let mut properties = Vec::new();
    let mut failures = Vec::new();
    let mut errors = Vec::new();
    for (name, expect) in expects {
        let expected = expect.describe();
        let is_presence = Some(*name) == presence;
        if absent && !is_presence {
            properties.push(PropertyResult {
                name: name.to_string(),
                expected,
                found: None,
                verdict: PropertyVerdict::Skipped,
            });
            continue;
        }
        let Some(fact) = facts.get(name) else {
            errors.push(format!("the probe did not report `{name}`"));
            properties.push(PropertyResult {
                name: name.to_string(),
                expected,
                found: None,
                verdict: PropertyVerdict::Fail,
            });
            continue;
        };
        let verdict = match expect.judge(fact) {
            Ok(true) => PropertyVerdict::Pass,
            Ok(false) => {
                failures.push(format!(
                    "{name}: expected {expected}, found {}",
                    found_in_reason(fact)
                ));
                PropertyVerdict::Fail
            }
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                PropertyVerdict::Fail
            }
        };
        properties.push(PropertyResult {
            name: name.to_string(),
            expected,
            found: Some(fact.display()),
            verdict,
        });
    }
    // A subject that is absent fails once, for that reason, unless absence was expected.
    if absent && !expects.iter().any(|(n, _)| Some(*n) == presence) {
        failures.insert(
            0,
            format!("{subject}: {} is false", presence.unwrap_or("exists")),
        );
    }
    let (verdict, reason) = if !errors.is_empty() {
        (Verdict::Error, Some(errors.join("; ")))
    } else if !failures.is_empty() {
        (Verdict::Fail, Some(failures.join("; ")))
    } else {
        (Verdict::Pass, None)
    };
    Judgement {
        verdict,
        reason,
        properties,
    }
}

/// A found value in a reason stays one readable line; the full value is in the properties
/// and the evidence. A file's content or a command's output is summarised, not quoted.
fn found_in_reason(fact: &Fact) -> String {
    match fact {
        Fact::Text(text) if text.trim_end().contains('\n') || text.chars().count() > 120 => {
            format!("a text of {} lines that does not", text.lines().count())
        }
        other => other
            .display()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::TextMatch;

    fn text(v: &str) -> Expect {
        Expect::Text(TextMatch {
            equals: Some(v.into()),
            ..Default::default()
        })
    }

    #[test]
    fn an_absent_subject_skips_its_other_properties() {
        let facts = Facts::from([("exists", Fact::Bool(false))]);
        let j = judge(
            "/etc/x",
            Some("exists"),
            &[("mode", text("0640")), ("owner", text("root"))],
            &facts,
        );
        assert_eq!(j.verdict, Verdict::Fail);
        assert_eq!(j.reason.as_deref(), Some("/etc/x: exists is false"));
        assert!(
            j.properties
                .iter()
                .all(|p| p.verdict == PropertyVerdict::Skipped)
        );
    }

    #[test]
    fn expected_absence_passes() {
        let facts = Facts::from([("exists", Fact::Bool(false))]);
        let j = judge(
            "/etc/x",
            Some("exists"),
            &[("exists", Expect::Bool(false))],
            &facts,
        );
        assert_eq!(j.verdict, Verdict::Pass);
    }

    #[test]
    fn a_wrong_property_fails_with_what_was_found() {
        let facts = Facts::from([
            ("exists", Fact::Bool(true)),
            ("mode", Fact::Text("0644".into())),
        ]);
        let j = judge("/etc/x", Some("exists"), &[("mode", text("0640"))], &facts);
        assert_eq!(j.verdict, Verdict::Fail);
        assert_eq!(
            j.reason.as_deref(),
            Some("mode: expected \"0640\", found \"0644\"")
        );
    }

    #[test]
    fn a_fact_the_probe_did_not_give_is_an_error_not_a_fail() {
        let facts = Facts::from([("exists", Fact::Bool(true))]);
        let j = judge("/etc/x", Some("exists"), &[("mode", text("0640"))], &facts);
        assert_eq!(j.verdict, Verdict::Error);
    }
}

#[cfg(test)]
mod reason_tests {
    use super::*;
    use crate::expect::TextMatch;

    #[test]
    fn content_is_summarised_in_reasons() {
        let facts = Facts::from([
            ("exists", Fact::Bool(true)),
            ("contains", Fact::Text("a\nb\nc\n".into())),
        ]);
        let expect = Expect::Text(TextMatch {
            contains: vec!["Bienvenue".into()],
            ..Default::default()
        });
        let j = judge("/etc/motd", Some("exists"), &[("contains", expect)], &facts);
        assert_eq!(
            j.reason.as_deref(),
            Some(
                "contains: expected contains \"Bienvenue\", found a text of 3 lines that does not"
            )
        );
    }
}
