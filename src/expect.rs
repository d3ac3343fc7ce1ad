//! The matcher vocabulary shared by every kind: what a lab expects, compared with what a probe found.

use regex::Regex;
use serde::Serialize;

/// What a probe found for one property of its subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fact {
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<String>),
}

impl Fact {
    pub fn display(&self) -> String {
        match self {
            Fact::Bool(b) => b.to_string(),
            Fact::Number(n) => format_number(*n),
            Fact::Text(t) => format!("{t:?}"),
            Fact::List(items) if items.is_empty() => "none".to_string(),
            Fact::List(items) => items.join(", "),
        }
    }
}

/// The shape of a property, which decides the matchers it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// `true` or `false`.
    Bool,
    /// A number: a plain value means `eq`; or `{eq, ge, le}`.
    Number,
    /// A text: a plain value means `equals`; or `{equals, contains, not_contains, matches}`.
    Text,
    /// A list of names: a plain value or a list means "contains all of these"; or
    /// `{equals, contains, not_contains, matches}` over the elements.
    List,
}

/// A text test; every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TextMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contains: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_contains: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// A number test; every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NumberMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eq: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ge: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub le: Option<f64>,
}

/// A list test: `equals` compares as sets, `contains` and `not_contains` name elements,
/// `matches` needs one element to match.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ListMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contains: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_contains: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// One expectation on one property.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Expect {
    Bool(bool),
    Number(NumberMatch),
    Text(TextMatch),
    List(ListMatch),
}

impl Expect {
    /// Every string the expectation holds, for templating and validation.
    pub fn strings_mut(&mut self) -> Vec<&mut String> {
        match self {
            Expect::Bool(_) | Expect::Number(_) => Vec::new(),
            Expect::Text(t) => t
                .equals
                .iter_mut()
                .chain(t.contains.iter_mut())
                .chain(t.not_contains.iter_mut())
                .chain(t.matches.iter_mut())
                .collect(),
            Expect::List(l) => l
                .equals
                .iter_mut()
                .flatten()
                .chain(l.contains.iter_mut())
                .chain(l.not_contains.iter_mut())
                .chain(l.matches.iter_mut())
                .collect(),
        }
    }

    /// The regex the expectation holds, if any, so that a lab can be checked before grading.
    pub fn regex(&self) -> Option<&str> {
        match self {
            Expect::Text(t) => t.matches.as_deref(),
            Expect::List(l) => l.matches.as_deref(),
            _ => None,
        }
    }

    /// How the expectation reads in a report: `"0640"`, `≥ 1000`, `contains "x"`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self {
            Expect::Bool(b) => parts.push(b.to_string()),
            Expect::Number(n) => {
                if let Some(v) = n.eq {
                    parts.push(format_number(v));
                }
                if let Some(v) = n.ge {
                    parts.push(format!(">= {}", format_number(v)));
                }
                if let Some(v) = n.le {
                    parts.push(format!("<= {}", format_number(v)));
                }
            }
            Expect::Text(t) => {
                if let Some(v) = &t.equals {
                    parts.push(format!("{v:?}"));
                }
                parts.extend(t.contains.iter().map(|v| format!("contains {v:?}")));
                parts.extend(
                    t.not_contains
                        .iter()
                        .map(|v| format!("does not contain {v:?}")),
                );
                if let Some(v) = &t.matches {
                    parts.push(format!("matches /{v}/"));
                }
            }
            Expect::List(l) => {
                if let Some(v) = &l.equals {
                    parts.push(format!("exactly [{}]", v.join(", ")));
                }
                parts.extend(l.contains.iter().map(|v| format!("includes {v}")));
                parts.extend(l.not_contains.iter().map(|v| format!("excludes {v}")));
                if let Some(v) = &l.matches {
                    parts.push(format!("one matches /{v}/"));
                }
            }
        }
        parts.join(" and ")
    }

    /// Judge a fact. `Err` carries why a regex could not be used (it was validated at load
    /// time, so this only guards templated patterns).
    pub fn judge(&self, fact: &Fact) -> Result<bool, String> {
        Ok(match (self, fact) {
            (Expect::Bool(want), Fact::Bool(found)) => want == found,
            (Expect::Number(m), Fact::Number(found)) => {
                m.eq.is_none_or(|v| (found - v).abs() < 1e-9)
                    && m.ge.is_none_or(|v| *found >= v)
                    && m.le.is_none_or(|v| *found <= v)
            }
            (Expect::Text(m), Fact::Text(found)) => judge_text(m, found)?,
            (Expect::Text(m), Fact::Number(n)) => judge_text(m, &format_number(*n))?,
            (Expect::List(m), Fact::List(found)) => judge_list(m, found)?,
            (expect, fact) => {
                return Err(format!(
                    "cannot compare {} with {}",
                    expect.describe(),
                    fact.display()
                ));
            }
        })
    }
}

fn judge_text(m: &TextMatch, found: &str) -> Result<bool, String> {
    Ok(m.equals.as_ref().is_none_or(|v| v == found)
        && m.contains.iter().all(|v| found.contains(v.as_str()))
        && !m.not_contains.iter().any(|v| found.contains(v.as_str()))
        && match &m.matches {
            Some(re) => compile(re)?.is_match(found),
            None => true,
        })
}

fn judge_list(m: &ListMatch, found: &[String]) -> Result<bool, String> {
    let has = |v: &String| found.iter().any(|f| f == v);
    let equals = match &m.equals {
        Some(want) => want.iter().all(has) && found.iter().all(|f| want.contains(f)),
        None => true,
    };
    Ok(equals
        && m.contains.iter().all(has)
        && !m.not_contains.iter().any(has)
        && match &m.matches {
            Some(re) => {
                let re = compile(re)?;
                found.iter().any(|f| re.is_match(f))
            }
            None => true,
        })
}

/// Regexes match across lines: `(?m)` lets `^` and `$` anchor each line of a file or an output.
fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("(?m){pattern}")).map_err(|e| format!("bad regex /{pattern}/: {e}"))
}

/// Check that a pattern compiles, as [`Expect::judge`] will compile it.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    compile(pattern).map(|_| ())
}

pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut TextMatch)) -> Expect {
        let mut m = TextMatch::default();
        f(&mut m);
        Expect::Text(m)
    }

    #[test]
    fn text_matchers_all_hold() {
        let found = Fact::Text("server_name intranet;\nlisten 80;".into());
        assert_eq!(
            text(|m| m.contains = vec!["listen 80".into()]).judge(&found),
            Ok(true)
        );
        assert_eq!(
            text(|m| m.not_contains = vec!["443".into()]).judge(&found),
            Ok(true)
        );
        assert_eq!(
            text(|m| m.matches = Some("^listen \\d+;$".into())).judge(&found),
            Ok(true)
        );
        assert_eq!(
            text(|m| m.equals = Some("listen 80;".into())).judge(&found),
            Ok(false)
        );
        assert_eq!(
            text(|m| {
                m.contains = vec!["listen".into()];
                m.not_contains = vec!["server_name".into()];
            })
            .judge(&found),
            Ok(false)
        );
    }

    #[test]
    fn number_bounds() {
        let ge = Expect::Number(NumberMatch {
            ge: Some(1000.0),
            ..Default::default()
        });
        assert_eq!(ge.judge(&Fact::Number(1000.0)), Ok(true));
        assert_eq!(ge.judge(&Fact::Number(999.0)), Ok(false));
        assert_eq!(ge.describe(), ">= 1000");
    }

    #[test]
    fn lists_compare_as_sets() {
        let found = Fact::List(vec!["compta".into(), "users".into()]);
        let equals = |v: &[&str]| {
            Expect::List(ListMatch {
                equals: Some(v.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            })
        };
        assert_eq!(equals(&["users", "compta"]).judge(&found), Ok(true));
        assert_eq!(equals(&["users"]).judge(&found), Ok(false));
        let excludes = Expect::List(ListMatch {
            not_contains: vec!["sudo".into()],
            ..Default::default()
        });
        assert_eq!(excludes.judge(&found), Ok(true));
    }

    #[test]
    fn a_bad_templated_regex_is_an_error_not_a_fail() {
        let bad = text(|m| m.matches = Some("(".into()));
        assert!(
            bad.judge(&Fact::Text(String::new()))
                .unwrap_err()
                .starts_with("bad regex /(/")
        );
    }
}
