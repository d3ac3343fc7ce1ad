//! Read a lab file into a validated [`Lab`], reporting every mistake with its position.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::diagnostic::{Diagnostic, Diagnostics, Source};
use super::model::{Check, Lab, Lang, Origin, Os, Retry, Role, Task};
use super::node::{self, Key, Node, Pos, Value};
use crate::expect::{Expect, ListMatch, NumberMatch, Shape, TextMatch, check_regex};
use crate::probe::{self, KINDS};
use crate::template::{self, TemplateError};

pub const LAB_KEYS: &[&str] = &[
    "lab",
    "title",
    "block",
    "competence",
    "pass_mark",
    "lang",
    "exam",
    "timeout",
    "hosts",
    "vars",
    "unique",
    "tasks",
];
pub const ROLE_KEYS: &[&str] = &["os", "optional"];
pub const TASK_KEYS: &[&str] = &[
    "id", "title", "points", "partial", "requires", "hint", "checks",
];
pub const COMMON_OPTIONS: &[&str] = &["on", "from", "label", "timeout", "weight", "retry"];
pub const USE_KEYS: &[&str] = &[
    "use", "with", "on", "from", "label", "timeout", "weight", "retry",
];
pub const LIBRARY_KEYS: &[&str] = &["check", "description", "params", "checks"];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Load and validate a lab without connecting anywhere.
pub fn load(path: &Path) -> Result<Lab, LoadError> {
    load_source(read_source(path)?)
}

/// Load a lab held in memory (the built-in self-test lab); `path` names it in messages.
pub fn load_str(path: &Path, text: &str) -> Result<Lab, LoadError> {
    load_source(Source::new(path, text.to_string()))
}

fn load_source(source: Arc<Source>) -> Result<Lab, LoadError> {
    let path = source.path.clone();
    let mut diags = Diagnostics::default();
    let mut library = Library::new(&path);
    let lab = match node::parse(&source.text) {
        Ok(root) => {
            let mut decoder = Decoder {
                source: &source,
                diags: &mut diags,
                library: &mut library,
                ctx: json!({}),
            };
            decoder.lab(&root, &path)
        }
        Err(e) => {
            diags.push(Diagnostic::new(
                &source,
                e.pos,
                format!("invalid YAML: {}", e.message),
            ));
            None
        }
    };
    match lab {
        Some(lab) if diags.is_empty() => Ok(lab),
        _ => Err(LoadError::Invalid(diags)),
    }
}

fn read_source(path: &Path) -> Result<Arc<Source>, LoadError> {
    std::fs::read_to_string(path)
        .map(|text| Source::new(path, text))
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// A file of checks/ that labs call with `use:`.
struct Reusable {
    source: Arc<Source>,
    params: Vec<String>,
    checks: Vec<Node>,
}

/// Finds and caches the reusable checks a lab calls: in `checks/` beside the lab, then in
/// `checks/` beside the lab's folder (the repository layout: labs/ and checks/ side by side).
struct Library {
    dirs: Vec<PathBuf>,
    loaded: HashMap<String, Option<Rc<Reusable>>>,
}

impl Library {
    fn new(lab_path: &Path) -> Library {
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

struct Decoder<'a> {
    source: &'a Arc<Source>,
    diags: &'a mut Diagnostics,
    library: &'a mut Library,
    /// The template context strings are checked against: the lab's vars with placeholder
    /// candidate and host values.
    ctx: serde_json::Value,
}

fn get<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

fn one_of(names: &[&str]) -> String {
    format!("one of: {}", names.join(", "))
}

impl Decoder<'_> {
    fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn error(&mut self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.source, pos, message)
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
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

    fn check_keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], what: &str) {
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

    fn required<'n>(
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

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
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
    fn template(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.string(node, what)?;
        self.check_template(&text, node.pos).then_some(text)
    }

    fn check_template(&mut self, text: &str, pos: Pos) -> bool {
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

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
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

    fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
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

    fn number_in(&mut self, node: &Node, what: &str, min: f64, max: f64) -> Option<f64> {
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

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
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

    fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<(String, Pos)>> {
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

    fn lab(&mut self, root: &Node, path: &Path) -> Option<Lab> {
        let entries = self.map(root, "a lab")?;
        self.check_keys(entries, LAB_KEYS, "a lab");
        let start = root.pos;
        let id = match get(entries, "lab") {
            Some(node) => self.string(node, "`lab`"),
            None => path.file_stem().map(|s| s.to_string_lossy().into_owned()),
        };
        let title = self
            .required(entries, start, "title", "a lab")
            .and_then(|n| self.string(n, "`title`"));
        let block = self
            .required(entries, start, "block", "a lab")
            .and_then(|n| self.number_in(n, "`block`", 1.0, 6.0))
            .map(|b| b as u8);
        let competence = get(entries, "competence").and_then(|n| self.string(n, "`competence`"));
        let pass_mark = match get(entries, "pass_mark") {
            Some(n) => self.number_in(n, "`pass_mark`", 0.0, 20.0),
            None => Some(10.0),
        };
        let lang = match get(entries, "lang") {
            None => Some(Lang::Fr),
            Some(n) => match n.as_scalar_text().as_deref() {
                Some("fr") => Some(Lang::Fr),
                Some("en") => Some(Lang::En),
                _ => {
                    let d = self.error(n.pos, "unknown language").expected("fr or en");
                    self.report(d);
                    None
                }
            },
        };
        let exam = match get(entries, "exam") {
            Some(n) => self.bool(n, "`exam`"),
            None => Some(false),
        };
        let timeout = match get(entries, "timeout") {
            Some(n) => self.duration(n, "`timeout`"),
            None => Some(DEFAULT_TIMEOUT),
        };
        let vars = self.vars(get(entries, "vars"));
        let roles = self
            .required(entries, start, "hosts", "a lab")
            .and_then(|n| self.roles(n));
        let unique = match get(entries, "unique") {
            Some(n) => self
                .string_list(n, "`unique`")
                .map(|v| v.into_iter().map(|(s, _)| s).collect()),
            None => Some(Vec::new()),
        };
        let roles = roles?;
        let vars = vars?;
        self.ctx = validation_context(&vars, &roles);
        let tasks = self
            .required(entries, start, "tasks", "a lab")
            .and_then(|n| self.tasks(n, &roles))?;
        Some(Lab {
            id: id?,
            path: path.to_path_buf(),
            title: title?,
            block: block?,
            competence,
            pass_mark: pass_mark?,
            lang: lang?,
            exam: exam?,
            roles,
            vars,
            tasks,
            unique: unique?,
            timeout: timeout?,
        })
    }

    fn vars(&mut self, node: Option<&Node>) -> Option<serde_json::Map<String, serde_json::Value>> {
        let Some(node) = node else {
            return Some(serde_json::Map::new());
        };
        let entries = self.map(node, "`vars`")?;
        let mut vars = serde_json::Map::new();
        for (key, value) in entries {
            if key.name == "candidate" || key.name == "hosts" {
                let d = self
                    .error(
                        key.pos,
                        format!("`{}` is a reserved template variable", key.name),
                    )
                    .expected("another name: `candidate` and `hosts` are set by labgrade");
                self.report(d);
                continue;
            }
            vars.insert(key.name.clone(), value.to_json());
        }
        Some(vars)
    }

    fn roles(&mut self, node: &Node) -> Option<Vec<Role>> {
        let entries = self.map(node, "`hosts`")?;
        if entries.is_empty() {
            let d = self
                .error(node.pos, "a lab needs at least one host role")
                .expected("a role such as `srv: { os: linux }`");
            self.report(d);
            return None;
        }
        let mut roles = Vec::new();
        for (key, value) in entries {
            let mut role = Role {
                name: key.name.clone(),
                os: Os::Linux,
                optional: false,
            };
            if !matches!(value.value, Value::Null) {
                let Some(fields) = self.map(value, &format!("role `{}`", key.name)) else {
                    continue;
                };
                self.check_keys(fields, ROLE_KEYS, &format!("role `{}`", key.name));
                if let Some(os) = get(fields, "os") {
                    match os.as_scalar_text().as_deref() {
                        Some("linux") => role.os = Os::Linux,
                        Some("windows") => role.os = Os::Windows,
                        Some("ios") => role.os = Os::Ios,
                        _ => {
                            let d = self
                                .error(os.pos, "unknown operating system")
                                .expected("linux, windows or ios");
                            self.report(d);
                        }
                    }
                }
                if let Some(optional) = get(fields, "optional") {
                    role.optional = self.bool(optional, "`optional`").unwrap_or(false);
                }
            }
            roles.push(role);
        }
        Some(roles)
    }

    fn tasks(&mut self, node: &Node, roles: &[Role]) -> Option<Vec<Task>> {
        let Value::Seq(items) = &node.value else {
            let d = self
                .error(
                    node.pos,
                    format!("`tasks` must be a list, found {}", node.type_name()),
                )
                .expected("a list of tasks, each starting with `- id:`");
            self.report(d);
            return None;
        };
        let mut tasks = Vec::new();
        let mut requires_at: Vec<Vec<Pos>> = Vec::new();
        let mut id_at: HashMap<String, Pos> = HashMap::new();
        // Ids of every task written, even one with mistakes, so that a `requires` naming it
        // is not reported as a second, false mistake.
        let declared: Vec<String> = items
            .iter()
            .filter_map(|item| match &item.value {
                Value::Map(entries) => get(entries, "id").and_then(Node::as_scalar_text),
                _ => None,
            })
            .collect();
        for item in items {
            if let Some((task, id_pos, req_pos)) = self.task(item, roles) {
                if let Some(first) = id_at.get(&task.id) {
                    let d = self
                        .error(id_pos, format!("duplicate task id `{}`", task.id))
                        .expected(format!(
                            "an id not already used (first used on line {})",
                            first.line
                        ));
                    self.report(d);
                    continue;
                }
                id_at.insert(task.id.clone(), id_pos);
                requires_at.push(req_pos);
                tasks.push(task);
            }
        }
        self.check_requires(&tasks, &requires_at, &declared);
        Some(tasks)
    }

    fn task(&mut self, node: &Node, roles: &[Role]) -> Option<(Task, Pos, Vec<Pos>)> {
        let entries = self.map(node, "a task")?;
        self.check_keys(entries, TASK_KEYS, "a task");
        let id_node = self.required(entries, node.pos, "id", "a task");
        let id = id_node.and_then(|n| self.string(n, "`id`"));
        let title = self
            .required(entries, node.pos, "title", "a task")
            .and_then(|n| self.template(n, "`title`"));
        let points = self
            .required(entries, node.pos, "points", "a task")
            .and_then(|n| self.number_in(n, "`points`", 0.0, 1000.0));
        let partial = match get(entries, "partial") {
            Some(n) => self.bool(n, "`partial`"),
            None => Some(false),
        };
        let requires = match get(entries, "requires") {
            Some(n) => self.string_list(n, "`requires`"),
            None => Some(Vec::new()),
        };
        let hint = get(entries, "hint").and_then(|n| self.template(n, "`hint`"));
        let checks = self
            .required(entries, node.pos, "checks", "a task")
            .and_then(|n| self.checks(n, roles));
        let requires = requires?;
        let task = Task {
            id: id?,
            title: title?,
            points: points?,
            partial: partial?,
            requires: requires.iter().map(|(s, _)| s.clone()).collect(),
            hint,
            checks: checks?,
        };
        Some((
            task,
            id_node?.pos,
            requires.into_iter().map(|(_, p)| p).collect(),
        ))
    }

    fn check_requires(&mut self, tasks: &[Task], requires_at: &[Vec<Pos>], declared: &[String]) {
        let ids: Vec<&str> = declared.iter().map(String::as_str).collect();
        let mut reported: Vec<Vec<String>> = Vec::new();
        for (task, positions) in tasks.iter().zip(requires_at) {
            for (required, pos) in task.requires.iter().zip(positions) {
                if !ids.contains(&required.as_str()) {
                    let d = self
                        .error(
                            *pos,
                            format!(
                                "task `{}` requires `{required}`, which is not a task of this lab",
                                task.id
                            ),
                        )
                        .expected(format!("a task id: {}", ids.join(", ")))
                        .suggest(required, ids.iter().copied());
                    self.report(d);
                } else if let Some(cycle) = cycle_through(tasks, &task.id, required) {
                    // A cycle is one mistake, however many of its tasks point along it.
                    let mut members = cycle.clone();
                    members.sort();
                    members.dedup();
                    if reported.contains(&members) {
                        continue;
                    }
                    reported.push(members);
                    let d = self
                        .error(*pos, format!("requirement cycle: {}", cycle.join(" -> ")))
                        .expected("requirements that do not loop back to the task");
                    self.report(d);
                }
            }
        }
    }

    fn checks(&mut self, node: &Node, roles: &[Role]) -> Option<Vec<Check>> {
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

    fn check(
        &mut self,
        node: &Node,
        entries: &[(Key, Node)],
        roles: &[Role],
        params: &BTreeMap<String, String>,
    ) -> Option<Check> {
        // The kind is the first key naming one; a later key may name a kind too when it is
        // an expectation of that kind (`group` of a file, `process` of a port).
        let kind_names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        let first = entries
            .iter()
            .map(|(k, _)| k)
            .find_map(|k| probe::find(&k.name).map(|kind| (kind, k)));
        let Some((kind, kind_key)) = first else {
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
            on: roles[0].name.clone(),
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

    fn common_option(
        &mut self,
        check: &mut Check,
        key: &Key,
        value: &Node,
        roles: &[Role],
    ) -> bool {
        match key.name.as_str() {
            "on" => match self.role_ref(value, roles) {
                Some(role) => {
                    check.on = role;
                    true
                }
                None => false,
            },
            "from" => {
                let d = self
                    .error(key.pos, format!("`from` is for black-box probes; `{}` checks inspect the host named by `on`", check.kind.name()))
                    .expected(format!("`on: ROLE` ({})", roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")));
                self.report(d);
                false
            }
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

    fn role_ref(&mut self, node: &Node, roles: &[Role]) -> Option<String> {
        let name = self.string(node, "`on`")?;
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        match roles.iter().find(|r| r.name == name) {
            Some(role) if role.os == Os::Linux => Some(name),
            Some(role) => {
                let d = self
                    .error(node.pos, format!("role `{name}` is an `os: {}` host, which white-box checks cannot inspect yet", role.os))
                    .expected("a role with `os: linux`");
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
                let matcher = if ["contains", "not_contains", "matches"].contains(&name) {
                    name
                } else {
                    "equals"
                };
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
                let mut values = Vec::new();
                for (text, pos) in self.string_list(node, &what)? {
                    if !self.check_template(&text, pos) {
                        return None;
                    }
                    values.push(text);
                }
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

    fn use_call(&mut self, entries: &[(Key, Node)], roles: &[Role]) -> Option<Vec<Check>> {
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
                    "on" => check.on = options.on.clone(),
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

/// The context strings are validated against. Hosts get placeholder values from the
/// documentation range: they are rendered, never contacted.
fn validation_context(
    vars: &serde_json::Map<String, serde_json::Value>,
    roles: &[Role],
) -> serde_json::Value {
    let mut ctx = serde_json::Value::Object(vars.clone());
    ctx["candidate"] = json!({"id": "c00", "name": "Candidate"});
    let hosts: serde_json::Map<String, serde_json::Value> = roles
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                json!({"address": "192.0.2.1", "user": "root", "port": 22}),
            )
        })
        .collect();
    ctx["hosts"] = serde_json::Value::Object(hosts);
    ctx
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

/// A path from `required` back to `task` through requirements, if there is one.
fn cycle_through(tasks: &[Task], task: &str, required: &str) -> Option<Vec<String>> {
    let mut path = vec![task.to_string(), required.to_string()];
    let mut seen = vec![required.to_string()];
    fn walk(
        tasks: &[Task],
        target: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut Vec<String>,
    ) -> bool {
        let Some(t) = tasks.iter().find(|t| t.id == at) else {
            return false;
        };
        for next in &t.requires {
            if next == target {
                path.push(next.clone());
                return true;
            }
            if seen.contains(next) {
                continue;
            }
            seen.push(next.clone());
            path.push(next.clone());
            if walk(tasks, target, next, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }
    if required == task {
        return Some(path);
    }
    walk(tasks, task, required, &mut path, &mut seen).then_some(path)
}
