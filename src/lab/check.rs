//! Checks: the kind key and its subject, the kind's expectations and inputs, the common options.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::decode::{Decoder, get, one_of};
use super::load::COMMON_OPTIONS;
use super::model::{Check, Origin, Os, Retry, Role};
use super::node::{Key, Node, Value};
use crate::expect::{Expect, ListMatch, NumberMatch, Shape, TextMatch, check_regex};
use crate::probe::{self, KINDS};
use crate::template;

impl Decoder<'_> {
    pub(super) fn checks(&mut self, node: &Node, roles: &[Role]) -> Option<Vec<Check>> {
        let Value::Seq(items) = &node.value else {
            let d = self
                .error(
                    node.pos,
                    format!("`checks` must be a list, found {}", node.type_name()),
                )
                .expected("a list of checks, each starting with `- KIND: subject`");
            self.report(d);
            return None;
        };
        if items.is_empty() {
            let d = self
                .error(node.pos, "a task needs at least one check")
                .expected("a check such as `- file: /etc/hostname`");
            self.report(d);
            return None;
        }
        let mut checks = Vec::new();
        let mut ok = true;
        for item in items {
            match self.check_or_use(item, roles) {
                Some(mut expanded) => checks.append(&mut expanded),
                None => ok = false,
            }
        }
        ok.then_some(checks)
    }

    fn check_or_use(&mut self, node: &Node, roles: &[Role]) -> Option<Vec<Check>> {
        let entries = self.map(node, "a check")?;
        if get(entries, "use").is_some() {
            return self.use_call(entries, roles);
        }
        self.check(node, entries, roles, &BTreeMap::new())
            .map(|c| vec![c])
    }

    pub(super) fn check(
        &mut self,
        node: &Node,
        entries: &[(Key, Node)],
        roles: &[Role],
        params: &BTreeMap<String, String>,
    ) -> Option<Check> {
        let role = target_role(entries, roles);
        // The kind is the first key naming one; a later key may name a kind too when it is
        // an expectation of that kind (`group` of a file, `process` of a port).
        let first = entries
            .iter()
            .map(|(k, _)| k)
            .find_map(|k| probe::find(&k.name).map(|kind| (kind, k)));
        let Some((kind, kind_key)) = first else {
            // The kinds that could inspect the host this check targets, or probe it.
            let kind_names: Vec<&str> = KINDS
                .iter()
                .filter(|k| k.black_box() || k.host_os() == role.os)
                .map(|k| k.name())
                .collect();
            let guess = entries
                .iter()
                .map(|(k, _)| k)
                .find(|k| !COMMON_OPTIONS.contains(&k.name.as_str()));
            let d = match guess {
                Some(key) => self
                    .error(key.pos, format!("unknown check kind `{}`", key.name))
                    .expected(format!("a check kind, {}", one_of(&kind_names)))
                    .suggest(&key.name, kind_names.iter().copied()),
                None => self
                    .error(node.pos, "a check needs a kind")
                    .expected(format!("a check kind, {}", one_of(&kind_names))),
            };
            self.report(d);
            return None;
        };
        // A white-box kind takes the form for the system of the host it inspects.
        let kind = if kind.black_box() {
            kind
        } else {
            match probe::find_for(kind.name(), role.os) {
                Some(form) => form,
                None => {
                    let systems: Vec<String> = KINDS
                        .iter()
                        .filter(|k| k.name() == kind.name())
                        .map(|k| format!("`os: {}`", k.host_os()))
                        .collect();
                    let d = self
                        .error(
                            kind_key.pos,
                            format!(
                                "`{}` checks inspect {} hosts, and role `{}` is an `os: {}` host",
                                kind.name(),
                                systems.join(" or "),
                                role.name,
                                role.os
                            ),
                        )
                        .expected(format!(
                            "`on:` a role with {}, or a kind for `os: {}`",
                            systems.join(" or "),
                            role.os
                        ));
                    self.report(d);
                    return None;
                }
            }
        };
        let second = entries.iter().map(|(k, _)| k).find(|k| {
            k.name != kind_key.name
                && probe::find(&k.name).is_some()
                && !kind.params().iter().any(|p| p.name == k.name)
        });
        if let Some(second) = second {
            let d = self
                .error(
                    second.pos,
                    format!(
                        "a check has one kind, found `{}` and `{}`",
                        kind_key.name, second.name
                    ),
                )
                .expected("one kind per check: start another check with `- `");
            self.report(d);
            return None;
        }
        let subject_node = get(entries, &kind_key.name)?;
        let subject = self.template(subject_node, &format!("the subject of `{}`", kind.name()));
        let mut check = Check {
            kind,
            subject: String::new(),
            inputs: BTreeMap::new(),
            expects: Vec::new(),
            on: (!kind.black_box()).then(|| roles[0].name.clone()),
            label: None,
            timeout: None,
            weight: 1.0,
            retry: None,
            params: params.clone(),
            origin: Origin {
                source: Arc::clone(self.source),
                pos: kind_key.pos,
            },
        };
        let mut ok = subject.is_some();
        for (key, value) in entries {
            if key.name == kind_key.name {
                continue;
            }
            if COMMON_OPTIONS.contains(&key.name.as_str()) {
                ok &= self.common_option(&mut check, key, value, roles);
                continue;
            }
            match kind.params().iter().find(|p| p.name == key.name) {
                Some(param) => match param.role {
                    probe::Role::Expect(shape) => match self.expect(shape, param.name, value) {
                        Some(expect) => check.expects.push((param.name, expect)),
                        None => ok = false,
                    },
                    // A secret's name: a plain identifier, never a template (its value is
                    // looked up at run time and must not be built from candidate data).
                    probe::Role::Secret => match self.string(value, &format!("`{}`", key.name)) {
                        Some(name)
                            if !name.is_empty()
                                && name
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                        {
                            check.inputs.insert(key.name.clone(), name);
                        }
                        Some(name) => {
                            let d = self
                                .error(value.pos, format!("`{name}` is not a secret's name"))
                                .expected("a name of letters, digits, `_` and `-`, such as `alice_password`");
                            self.report(d);
                            ok = false;
                        }
                        None => ok = false,
                    },
                    probe::Role::Input { choices } => match self
                        .template(value, &format!("`{}`", key.name))
                    {
                        Some(text) if choices.is_empty() || choices.contains(&text.as_str()) => {
                            check.inputs.insert(key.name.clone(), text);
                        }
                        Some(text) => {
                            let d = self
                                .error(value.pos, format!("`{text}` is not a valid `{}`", key.name))
                                .expected(one_of(choices))
                                .suggest(&text, choices.iter().copied());
                            self.report(d);
                            ok = false;
                        }
                        None => ok = false,
                    },
                },
                None => {
                    let names: Vec<&str> = kind
                        .params()
                        .iter()
                        .map(|p| p.name)
                        .chain(COMMON_OPTIONS.iter().copied())
                        .collect();
                    let d = self
                        .error(
                            key.pos,
                            format!("`{}` checks have no `{}`", kind.name(), key.name),
                        )
                        .expected(one_of(&names))
                        .suggest(&key.name, names.iter().copied());
                    self.report(d);
                    ok = false;
                }
            }
        }
        // A required input given but wrong was reported above.
        for param in kind.params().iter().filter(|p| p.required) {
            if !entries.iter().any(|(k, _)| k.name == param.name) {
                let d = self
                    .error(
                        kind_key.pos,
                        format!("a `{}` check needs `{}`", kind.name(), param.name),
                    )
                    .expected(format!("`{}:` {}", param.name, param.doc));
                self.report(d);
                ok = false;
            }
        }
        if check.expects.is_empty() {
            match kind.default_expect() {
                Some(default) => check.expects.push(default),
                None => {
                    let names: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
                    let d = self
                        .error(
                            kind_key.pos,
                            format!("a `{}` check needs an expectation", kind.name()),
                        )
                        .expected(one_of(&names));
                    self.report(d);
                    ok = false;
                }
            }
        }
        check.subject = subject?;
        ok.then_some(check)
    }

    pub(super) fn common_option(
        &mut self,
        check: &mut Check,
        key: &Key,
        value: &Node,
        roles: &[Role],
    ) -> bool {
        match key.name.as_str() {
            "on" if check.kind.black_box() => {
                let d = self
                    .error(key.pos, format!("`on` is for white-box kinds; a `{}` probe starts `from:` a role or the grader", check.kind.name()))
                    .expected(format!("`from: ROLE` or `from: grader` ({})", role_names(roles)));
                self.report(d);
                false
            }
            "from" if !check.kind.black_box() => {
                let d = self
                    .error(key.pos, format!("`from` is for black-box probes; `{}` checks inspect the host named by `on`", check.kind.name()))
                    .expected(format!("`on: ROLE` ({})", role_names(roles)));
                self.report(d);
                false
            }
            "from" if value.as_scalar_text().as_deref() == Some("grader") => {
                check.on = None;
                true
            }
            "on" | "from" => match self.role_ref(value, roles, check.kind.black_box()) {
                Some(role) => {
                    check.on = Some(role);
                    true
                }
                None => false,
            },
            "label" => self
                .template(value, "`label`")
                .map(|l| check.label = Some(l))
                .is_some(),
            "timeout" => self
                .duration(value, "`timeout`")
                .map(|t| check.timeout = Some(t))
                .is_some(),
            "weight" => self
                .number_in(value, "`weight`", 0.0, 1000.0)
                .map(|w| check.weight = w)
                .is_some(),
            "retry" => self.retry(value).map(|r| check.retry = Some(r)).is_some(),
            _ => unreachable!("every common option is handled"),
        }
    }

    /// A role named by `on` (the host a white-box check inspects: its kind's form was chosen
    /// for that host's system) or `from` (a probe's script runs there: it must be POSIX).
    fn role_ref(&mut self, node: &Node, roles: &[Role], probe_from: bool) -> Option<String> {
        let name = self.string(node, "`on`")?;
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        match roles.iter().find(|r| r.name == name) {
            Some(role) if role.os == Os::Linux || !probe_from => Some(name),
            Some(role) => {
                let d = self
                    .error(node.pos, format!("role `{name}` is an `os: {}` host, which cannot run a probe's POSIX script", role.os))
                    .expected("a role with `os: linux`, or `from: grader`");
                self.report(d);
                None
            }
            None => {
                let d = self
                    .error(
                        node.pos,
                        format!("role `{name}` is not declared in `hosts`"),
                    )
                    .expected(format!("a role of this lab, {}", one_of(&names)))
                    .suggest(&name, names.iter().copied());
                self.report(d);
                None
            }
        }
    }

    fn retry(&mut self, node: &Node) -> Option<Retry> {
        let entries = self.map(node, "`retry`")?;
        self.check_keys(entries, &["times", "every"], "`retry`");
        let times = self
            .required(entries, node.pos, "times", "`retry`")
            .and_then(|n| self.number_in(n, "`times`", 1.0, 100.0))?;
        let every = match get(entries, "every") {
            Some(n) => self.duration(n, "`every`")?,
            None => Duration::from_secs(1),
        };
        Some(Retry {
            times: times as u32,
            every,
        })
    }

    fn expect(&mut self, shape: Shape, name: &str, node: &Node) -> Option<Expect> {
        match shape {
            Shape::Bool => self.bool(node, &format!("`{name}`")).map(Expect::Bool),
            Shape::Number => self.number_match(name, node).map(Expect::Number),
            Shape::Text => self.text_match(name, node).map(Expect::Text),
            Shape::List => self.list_match(name, node).map(Expect::List),
        }
    }

    fn number_match(&mut self, name: &str, node: &Node) -> Option<NumberMatch> {
        if let Value::Map(entries) = &node.value {
            self.check_keys(
                entries,
                &["eq", "ge", "le"],
                &format!("the matchers of `{name}`"),
            );
            let mut m = NumberMatch::default();
            for (key, value) in entries {
                let n = self.number(value, &format!("`{}`", key.name));
                match key.name.as_str() {
                    "eq" => m.eq = n,
                    "ge" => m.ge = n,
                    "le" => m.le = n,
                    _ => {}
                }
            }
            return Some(m);
        }
        self.number(node, &format!("`{name}`"))
            .map(|n| NumberMatch {
                eq: Some(n),
                ..Default::default()
            })
    }

    fn text_match(&mut self, name: &str, node: &Node) -> Option<TextMatch> {
        let mut m = TextMatch::default();
        match &node.value {
            Value::Map(entries) => {
                self.check_keys(
                    entries,
                    &["equals", "contains", "not_contains", "matches"],
                    &format!("the matchers of `{name}`"),
                );
                for (key, value) in entries {
                    self.text_matcher(&mut m, &key.name, value)?;
                }
            }
            // `contains: X` and `matches: X` read as what they say; any other name means `equals`.
            _ => {
                // ... and so do names ending in them: `body_contains: X`.
                let matcher = ["not_contains", "contains", "matches"]
                    .into_iter()
                    .find(|m| name.ends_with(m))
                    .unwrap_or("equals");
                self.text_matcher(&mut m, matcher, node)?;
            }
        }
        Some(m)
    }

    fn text_matcher(&mut self, m: &mut TextMatch, matcher: &str, node: &Node) -> Option<()> {
        let what = format!("`{matcher}`");
        match matcher {
            "equals" => m.equals = Some(self.template(node, &what)?),
            "matches" => m.matches = Some(self.regex(node)?),
            "contains" | "not_contains" => {
                let values = self.templates(node, &what)?;
                if matcher == "contains" {
                    m.contains = values;
                } else {
                    m.not_contains = values;
                }
            }
            _ => return None,
        }
        Some(())
    }

    fn list_match(&mut self, name: &str, node: &Node) -> Option<ListMatch> {
        let mut m = ListMatch::default();
        match &node.value {
            Value::Map(entries) => {
                self.check_keys(
                    entries,
                    &["equals", "contains", "not_contains", "matches"],
                    &format!("the matchers of `{name}`"),
                );
                for (key, value) in entries {
                    let what = format!("`{}`", key.name);
                    match key.name.as_str() {
                        "matches" => m.matches = Some(self.regex(value)?),
                        "equals" => m.equals = Some(self.templates(value, &what)?),
                        "contains" => m.contains = self.templates(value, &what)?,
                        "not_contains" => m.not_contains = self.templates(value, &what)?,
                        _ => {}
                    }
                }
            }
            _ => m.contains = self.templates(node, &format!("`{name}`"))?,
        }
        Some(m)
    }

    fn templates(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for (text, pos) in self.string_list(node, what)? {
            if !self.check_template(&text, pos) {
                return None;
            }
            out.push(text);
        }
        Some(out)
    }

    fn regex(&mut self, node: &Node) -> Option<String> {
        let pattern = self.template(node, "`matches`")?;
        let rendered = template::render(&pattern, &self.ctx).unwrap_or_else(|_| pattern.clone());
        if let Err(e) = check_regex(&rendered) {
            let detail = e
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            let d = self
                .error(node.pos, format!("invalid regex `{rendered}`: {detail}"))
                .expected("a regular expression (Rust regex syntax)");
            self.report(d);
            return None;
        }
        Some(pattern)
    }
}

fn role_names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The role a white-box check inspects: the one its `on` names, else the lab's first.
fn target_role<'r>(entries: &[(Key, Node)], roles: &'r [Role]) -> &'r Role {
    get(entries, "on")
        .and_then(|node| node.as_scalar_text())
        .and_then(|name| roles.iter().find(|r| r.name == name.as_str()))
        .unwrap_or(&roles[0])
}
