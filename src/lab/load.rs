//! Read a lab file into a validated [`Lab`], reporting every mistake with its position.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::decode::{Decoder, get};
use super::diagnostic::{Diagnostic, Diagnostics, Source};
use super::library::Library;
use super::model::{Lab, Lang, Os, Role, Task, Unique, UniqueCommand};
use super::node::{self, Node, Pos, Value};

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
/// The values `unique:` can name: what tells one machine from a clone of it.
pub const UNIQUE_VALUES: &[&str] = &["machine_id", "ssh_host_key"];
pub const UNIQUE_KEYS: &[&str] = &["name", "command", "on"];

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

pub(super) fn read_source(path: &Path) -> Result<Arc<Source>, LoadError> {
    std::fs::read_to_string(path)
        .map(|text| Source::new(path, text))
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
}

impl Decoder<'_> {
    pub(super) fn lab(&mut self, root: &Node, path: &Path) -> Option<Lab> {
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
        let roles = roles?;
        let vars = vars?;
        self.ctx = validation_context(&vars, &roles);
        let unique = match get(entries, "unique") {
            Some(n) => self.unique(n, &roles),
            None => Some(Vec::new()),
        };
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

    /// What must differ between candidates' machines: values labgrade reads itself
    /// (`machine_id`), or the lab's own, each the output of a read-only command on a role.
    fn unique(&mut self, node: &Node, roles: &[Role]) -> Option<Vec<Unique>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut ok = true;
        let mut unique: Vec<Unique> = Vec::new();
        for item in items {
            let (entry, pos) = match &item.value {
                Value::Map(_) => match self.unique_command(item, roles) {
                    Some(entry) => (entry, item.pos),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                _ => {
                    let Some(name) = self.string(item, "an entry of `unique`") else {
                        ok = false;
                        continue;
                    };
                    if !UNIQUE_VALUES.contains(&name.as_str()) {
                        let d = self
                            .error(
                                item.pos,
                                format!("`{name}` is not a value labgrade can compare"),
                            )
                            .expected(format!(
                                "one of: {}, or a value of the lab's own: \
                                 `{{ name: NAME, command: COMMAND, on: ROLE }}`",
                                UNIQUE_VALUES.join(", ")
                            ))
                            .suggest(&name, UNIQUE_VALUES.iter().copied());
                        self.report(d);
                        ok = false;
                        continue;
                    }
                    (Unique { name, read: None }, item.pos)
                }
            };
            if unique.iter().any(|u| u.name == entry.name) {
                let d = self
                    .error(pos, format!("`{}` is listed twice in `unique`", entry.name))
                    .expected("each value once");
                self.report(d);
                ok = false;
                continue;
            }
            unique.push(entry);
        }
        ok.then_some(unique)
    }

    /// `{ name: tls_cert, command: "openssl x509 ...", on: srv }`: a value of the lab's own.
    fn unique_command(&mut self, node: &Node, roles: &[Role]) -> Option<Unique> {
        let entries = self.map(node, "an entry of `unique`")?;
        self.check_keys(entries, UNIQUE_KEYS, "an entry of `unique`");
        let name = self
            .required(entries, node.pos, "name", "an entry of `unique`")
            .and_then(|n| {
                let name = self.string(n, "`name`")?;
                let word = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if !word {
                    let d = self
                        .error(n.pos, format!("`{name}` cannot name a value"))
                        .expected(
                            "a name of lowercase letters, digits and `_`, such as `tls_cert`",
                        );
                    self.report(d);
                    return None;
                }
                if UNIQUE_VALUES.contains(&name.as_str()) {
                    let d = self
                        .error(n.pos, format!("`{name}` is a value labgrade reads itself"))
                        .expected(format!("`- {name}` alone, or another name"));
                    self.report(d);
                    return None;
                }
                Some(name)
            });
        let command = self
            .required(entries, node.pos, "command", "an entry of `unique`")
            .and_then(|n| self.template(n, "`command`"));
        let role = match get(entries, "on") {
            Some(n) => self.string(n, "`on`").and_then(|role| {
                if roles.iter().any(|r| r.name == role) {
                    return Some(role);
                }
                let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
                let d = self
                    .error(n.pos, format!("no role `{role}` in this lab's `hosts`"))
                    .expected(format!("one of: {}", names.join(", ")))
                    .suggest(&role, names.iter().copied());
                self.report(d);
                None
            }),
            None => roles.first().map(|r| r.name.clone()),
        };
        Some(Unique {
            name: name?,
            read: Some(UniqueCommand {
                role: role?,
                command: command?,
            }),
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
                // A role whose settings are wrong is reported, and still declared: checks
                // run on it, and a lab always has a role for its checks to default to.
                let Some(fields) = self.map(value, &format!("role `{}`", key.name)) else {
                    roles.push(role);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 8, found by fuzzing (lab_load): a lab whose only role was not a map had no
    /// role left, and its first white-box check indexed an empty list of roles.
    #[test]
    fn a_role_that_is_not_a_map_is_reported_not_a_panic() {
        let lab = "lab: t\ntitle: T\nblock: 4\nhosts:\n  srv: [linux]\ntasks:\n  - id: a\n    title: A\n    points: 2\n    checks:\n      - file: /etc/hostname\n";
        let Err(LoadError::Invalid(diags)) = load_str(Path::new("lab.yaml"), lab) else {
            panic!("a role that is a list was accepted");
        };
        assert_eq!(
            diags.to_string(),
            "error: role `srv` must be a mapping, found a list
 --> lab.yaml:5:8
  |
5 |   srv: [linux]
  |        ^
  = expected a mapping of `key: value` lines"
        );
    }
}
