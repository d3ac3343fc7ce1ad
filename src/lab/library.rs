//! Reusable checks: files of checks/ that a lab calls with `use:` and `with:`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use serde_json::json;

use super::decode::{Decoder, get, one_of};
use super::diagnostic::{Diagnostic, Source};
use super::load::{COMMON_OPTIONS, LIBRARY_KEYS, USE_KEYS, read_source};
use super::model::{Check, Role};
use super::node::{self, Key, Node, Pos, Value};
use crate::template;

/// A file of checks/ that labs call with `use:`.
pub(super) struct Reusable {
    source: Arc<Source>,
    params: Vec<String>,
    checks: Vec<Node>,
}

/// Finds and caches the reusable checks a lab calls: in `checks/` beside the lab, then in
/// `checks/` beside the lab's folder (the repository layout: labs/ and checks/ side by side).
pub(super) struct Library {
    dirs: Vec<PathBuf>,
    loaded: HashMap<String, Option<Rc<Reusable>>>,
}

impl Library {
    pub(super) fn new(lab_path: &Path) -> Library {
        let dir = lab_path.parent().unwrap_or(Path::new(""));
        Library {
            dirs: vec![dir.join("checks"), dir.join("..").join("checks")],
            loaded: HashMap::new(),
        }
    }

    fn available(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".yaml").map(str::to_string)
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn path_of(&self, name: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join(format!("{name}.yaml")))
            .find(|p| p.is_file())
    }
}

impl Decoder<'_> {
    pub(super) fn use_call(
        &mut self,
        entries: &[(Key, Node)],
        roles: &[Role],
    ) -> Option<Vec<Check>> {
        self.check_keys(entries, USE_KEYS, "a `use:` call");
        let name_node = get(entries, "use")?;
        let name = self.string(name_node, "`use`")?;
        let reusable = self.reusable(&name, name_node.pos)?;
        let mut params = BTreeMap::new();
        let mut ok = true;
        if let Some(with) = get(entries, "with") {
            let with_entries = self.map(with, "`with`")?;
            let names: Vec<&str> = reusable.params.iter().map(String::as_str).collect();
            for (key, value) in with_entries {
                if !names.contains(&key.name.as_str()) {
                    let d = self
                        .error(key.pos, format!("`{name}` has no parameter `{}`", key.name))
                        .expected(if names.is_empty() {
                            "no parameters".to_string()
                        } else {
                            one_of(&names)
                        })
                        .suggest(&key.name, names.iter().copied());
                    self.report(d);
                    ok = false;
                } else if let Some(text) = self.template(value, &format!("`{}`", key.name)) {
                    params.insert(key.name.clone(), text);
                } else {
                    ok = false;
                }
            }
        }
        for param in &reusable.params {
            if !params.contains_key(param) && ok {
                let d = self
                    .error(
                        name_node.pos,
                        format!("`{name}` needs the parameter `{param}`"),
                    )
                    .expected(format!("`with: {{ {param}: ... }}`"));
                self.report(d);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        // The reusable checks see the lab's variables and their parameters.
        let mut ctx = self.ctx.clone();
        for (key, value) in &params {
            let rendered = template::render(value, &self.ctx).unwrap_or_default();
            ctx[key] = serde_json::Value::String(rendered);
        }
        let mut inner = Decoder {
            source: &reusable.source,
            diags: &mut *self.diags,
            library: &mut *self.library,
            ctx,
        };
        let mut checks = Vec::new();
        for item in &reusable.checks {
            let entries = inner.map(item, "a check")?;
            if let Some(key) = entries.iter().map(|(k, _)| k).find(|k| k.name == "use") {
                let d = inner
                    .error(key.pos, "a reusable check cannot call another one")
                    .expected("ordinary checks");
                inner.report(d);
                return None;
            }
            checks.push(inner.check(item, entries, roles, &params)?);
        }
        // Options on the call apply to every check it brings in.
        let mut options = Check {
            ..checks.first()?.clone()
        };
        for (key, value) in entries {
            if COMMON_OPTIONS.contains(&key.name.as_str())
                && !self.common_option(&mut options, key, value, roles)
            {
                return None;
            }
        }
        for check in &mut checks {
            for (key, _) in entries {
                match key.name.as_str() {
                    "on" | "from" => check.on = options.on.clone(),
                    "label" => check.label = options.label.clone(),
                    "timeout" => check.timeout = options.timeout,
                    "weight" => check.weight = options.weight,
                    "retry" => check.retry = options.retry,
                    _ => {}
                }
            }
        }
        Some(checks)
    }

    fn reusable(&mut self, name: &str, pos: Pos) -> Option<Rc<Reusable>> {
        if let Some(cached) = self.library.loaded.get(name) {
            return cached.clone();
        }
        let loaded = self.load_reusable(name, pos);
        self.library.loaded.insert(name.to_string(), loaded.clone());
        loaded
    }

    fn load_reusable(&mut self, name: &str, pos: Pos) -> Option<Rc<Reusable>> {
        // A name, never a path: `use:` reads files of checks/ and nothing else.
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            let d = self
                .error(pos, format!("`{name}` is not the name of a reusable check"))
                .expected("the name of a file of checks/ without `.yaml`, such as `service-actif`");
            self.report(d);
            return None;
        }
        let Some(path) = self.library.path_of(name) else {
            let available = self.library.available();
            let searched: Vec<String> = self
                .library
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            let d = self
                .error(
                    pos,
                    format!("no reusable check `{name}` in {}", searched.join(" or ")),
                )
                .expected(if available.is_empty() {
                    "a file NAME.yaml in checks/".to_string()
                } else {
                    format!("one of: {}", available.join(", "))
                })
                .suggest(name, available.iter().map(String::as_str));
            self.report(d);
            return None;
        };
        let source = match read_source(&path) {
            Ok(source) => source,
            Err(e) => {
                let d = self.error(pos, e.to_string());
                self.report(d);
                return None;
            }
        };
        let root = match node::parse(&source.text) {
            Ok(root) => root,
            Err(e) => {
                self.diags.push(Diagnostic::new(
                    &source,
                    e.pos,
                    format!("invalid YAML: {}", e.message),
                ));
                return None;
            }
        };
        let mut inner = Decoder {
            source: &source,
            diags: &mut *self.diags,
            library: &mut *self.library,
            ctx: json!({}),
        };
        let entries = inner.map(&root, "a reusable check")?;
        inner.check_keys(entries, LIBRARY_KEYS, "a reusable check");
        let params = match get(entries, "params") {
            None => Vec::new(),
            Some(node) => inner
                .map(node, "`params`")?
                .iter()
                .map(|(k, _)| k.name.clone())
                .collect(),
        };
        let checks = match inner
            .required(entries, root.pos, "checks", "a reusable check")?
            .value
            .clone()
        {
            Value::Seq(items) => items,
            _ => {
                let d = inner
                    .error(root.pos, "`checks` must be a list")
                    .expected("a list of checks");
                inner.report(d);
                return None;
            }
        };
        Some(Rc::new(Reusable {
            source: Arc::clone(&source),
            params,
            checks,
        }))
    }
}
