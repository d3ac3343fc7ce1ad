//! The decoder's primitives: typed values out of located YAML nodes, each mistake reported where it was written.

use std::sync::Arc;
use std::time::Duration;

use super::diagnostic::{Diagnostic, Diagnostics, Source};
use super::library::Library;
use super::node::{Key, Node, Pos, Value};
use crate::template::{self, TemplateError};

pub(super) struct Decoder<'a> {
    pub(super) source: &'a Arc<Source>,
    pub(super) diags: &'a mut Diagnostics,
    pub(super) library: &'a mut Library,
    /// The template context strings are checked against: the lab's vars with placeholder
    /// candidate and host values.
    pub(super) ctx: serde_json::Value,
}

pub(super) fn get<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

pub(super) fn one_of(names: &[&str]) -> String {
    format!("one of: {}", names.join(", "))
}

impl Decoder<'_> {
    pub(super) fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.source, pos, message)
    }

    pub(super) fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            _ => {
                let d = self
                    .error(
                        node.pos,
                        format!("{what} must be a mapping, found {}", node.type_name()),
                    )
                    .expected("a mapping of `key: value` lines");
                self.report(d);
                None
            }
        }
    }

    pub(super) fn check_keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], what: &str) {
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let d = self
                    .error(key.pos, format!("unknown key `{}` in {what}", key.name))
                    .expected(one_of(allowed))
                    .suggest(&key.name, allowed.iter().copied());
                self.report(d);
            }
        }
    }

    pub(super) fn required<'n>(
        &mut self,
        entries: &'n [(Key, Node)],
        at: Pos,
        name: &str,
        what: &str,
    ) -> Option<&'n Node> {
        let found = get(entries, name);
        if found.is_none() {
            let d = self
                .error(at, format!("{what} has no `{name}`"))
                .expected(format!("a `{name}:` key"));
            self.report(d);
        }
        found
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_scalar_text() {
            Some(text) if !matches!(node.value, Value::Null) => Some(text),
            _ => {
                let d = self
                    .error(
                        node.pos,
                        format!("{what} must be a string, found {}", node.type_name()),
                    )
                    .expected("a string");
                self.report(d);
                None
            }
        }
    }

    /// A string that is a template: it must render against the lab's context.
    pub(super) fn template(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.string(node, what)?;
        self.check_template(&text, node.pos).then_some(text)
    }

    pub(super) fn check_template(&mut self, text: &str, pos: Pos) -> bool {
        match template::render(text, &self.ctx) {
            Ok(_) => true,
            Err(TemplateError::Undefined(name)) => {
                let known = known_variables(&self.ctx);
                let d = self
                    .error(pos, format!("undefined template variable `{name}`"))
                    .expected(format!("a variable the lab defines: {}", known.join(", ")))
                    .suggest(&name, known.iter().map(String::as_str));
                self.report(d);
                false
            }
            Err(TemplateError::Invalid(message)) => {
                let d = self
                    .error(pos, format!("invalid template: {message}"))
                    .expected("a tera template such as `{{ site }}`");
                self.report(d);
                false
            }
        }
    }

    pub(super) fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                let d = self
                    .error(
                        node.pos,
                        format!("{what} must be true or false, found {}", node.type_name()),
                    )
                    .expected("true or false");
                self.report(d);
                None
            }
        }
    }

    pub(super) fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match node.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => {
                let d = self
                    .error(
                        node.pos,
                        format!("{what} must be a number, found {}", node.type_name()),
                    )
                    .expected("a number");
                self.report(d);
                None
            }
        }
    }

    pub(super) fn number_in(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
        let n = self.number(node, what)?;
        if n < min || n > max {
            let d = self
                .error(
                    node.pos,
                    format!(
                        "{what} is {}, out of range",
                        crate::expect::format_number(n)
                    ),
                )
                .expected(format!(
                    "a number from {} to {}",
                    crate::expect::format_number(min),
                    crate::expect::format_number(max)
                ));
            self.report(d);
            return None;
        }
        Some(n)
    }

    pub(super) fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let parsed = match &node.value {
            Value::Int(i) if *i > 0 => Some(Duration::from_secs(*i as u64)),
            Value::Float(f) if *f > 0.0 => Some(Duration::from_secs_f64(*f)),
            Value::Str(s) => humantime::parse_duration(s).ok().filter(|d| !d.is_zero()),
            _ => None,
        };
        if parsed.is_none() {
            let d = self
                .error(node.pos, format!("{what} is not a duration"))
                .expected("a duration such as `5s`, `500ms` or `2m`");
            self.report(d);
        }
        parsed
    }

    pub(super) fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<(String, Pos)>> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.push((self.string(item, what)?, item.pos));
                }
                Some(out)
            }
            _ => self.string(node, what).map(|s| vec![(s, node.pos)]),
        }
    }
}

/// The dotted names a template may use, for "expected" and "did you mean".
fn known_variables(ctx: &serde_json::Value) -> Vec<String> {
    let Some(map) = ctx.as_object() else {
        return Vec::new();
    };
    let mut names: Vec<String> = map
        .keys()
        .filter(|k| *k != "candidate" && *k != "hosts")
        .cloned()
        .collect();
    names.extend(["candidate.id".to_string(), "candidate.name".to_string()]);
    if let Some(hosts) = map.get("hosts").and_then(|h| h.as_object()) {
        for role in hosts.keys() {
            for field in ["address", "user", "port"] {
                names.push(format!("hosts.{role}.{field}"));
            }
        }
    }
    names
}
