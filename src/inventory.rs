//! The class roster of `labgrade run --inventory FILE`, YAML or CSV, every mistake located.
//!
//! YAML (any file not ending in `.csv`):
//!
//! ```yaml
//! defaults: { user: grader, identity: ~/.ssh/labgrade_ed25519, port: 22 }
//! candidates:
//!   - id: c01
//!     name: Alice Martin
//!     hosts: { srv: 10.0.1.10, client: { address: 10.0.1.11, port: 2222, user: root } }
//!     vars: { site: alice.lab.example }
//! ```
//!
//! A host written as a string, in YAML or in a CSV cell, is `[user@]address[:port]`, with
//! an IPv6 address in brackets when a port follows (`[2001:db8::1]:22`).
//!
//! CSV: a header `id,name,ROLE...`, one column per role (an empty cell: no host for that
//! role), and `var:NAME` columns for vars (an empty cell: the lab's value). `name` is
//! optional; a header with `;` and no `,` is read as `;`-separated, as a spreadsheet in a
//! French locale writes it; lines starting with `#` are comments.
//!
//! Whether the roles match the lab is the runner's business, not the roster's.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::lab::{Diagnostic, Diagnostics, Key, Node, Pos, Source, Value};
use crate::transport::SshTarget;

pub const INVENTORY_KEYS: &[&str] = &["defaults", "candidates"];
pub const DEFAULTS_KEYS: &[&str] = &["user", "identity", "port"];
pub const CANDIDATE_KEYS: &[&str] = &["id", "name", "hosts", "vars"];
pub const HOST_KEYS: &[&str] = &["address", "port", "user", "identity"];
const DEFAULT_PORT: u16 = 22;
const ID_RULE: &str =
    "an id usable as a folder name: ASCII letters, digits, `-`, `_` and `.`, not starting with `.`";
const PORT_RULE: &str = "a port from 1 to 65535";
const ADDRESS_FORM: &str =
    "`[user@]address[:port]`, such as `10.0.1.10` or `root@[2001:db8::1]:2222`";

#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub path: PathBuf,
    pub candidates: Vec<Entry>,
}

/// One candidate: who, on which machines, with which values for the lab's vars.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub name: String,
    /// By role.
    pub hosts: BTreeMap<String, HostEntry>,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

/// A candidate's machine, the inventory's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub user: String,
    pub address: String,
    pub port: u16,
    /// `~/` expanded; a relative path made relative to the inventory's folder.
    pub identity: Option<PathBuf>,
}

impl HostEntry {
    pub fn target(&self) -> SshTarget {
        SshTarget {
            user: self.user.clone(),
            address: self.address.clone(),
            port: self.port,
            identity: self.identity.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Read a roster: CSV when the file name ends in `.csv`, YAML otherwise.
pub fn load(path: &Path) -> Result<Inventory, crate::error::Error> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(load_str(path, &text)?)
}

/// A roster held in memory; `path` names it in messages, its extension chooses the format
/// and its folder anchors relative identity paths.
pub fn load_str(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
    load_with(path, text, &Env::from_process())
}

/// What the process environment contributes, passed in so that tests do not touch it.
struct Env {
    user: String,
    home: Option<PathBuf>,
}

impl Env {
    fn from_process() -> Env {
        Env {
            user: std::env::var("USER").unwrap_or_else(|_| "root".to_string()),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

fn load_with(path: &Path, text: &str, env: &Env) -> Result<Inventory, InventoryError> {
    // A spreadsheet's UTF-8 export may open with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source::new(path, text.to_string());
    let mut decoder = Decoder {
        source: &source,
        diags: Diagnostics::default(),
        dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
        env,
        ids: HashMap::new(),
    };
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let candidates = if is_csv {
        decoder.csv()
    } else {
        decoder.yaml()
    };
    match candidates {
        Some(candidates) if decoder.diags.is_empty() => Ok(Inventory {
            path: path.to_path_buf(),
            candidates,
        }),
        _ => {
            // File order: a top-level key is checked before the candidates above it.
            decoder.diags.0.sort_by_key(|d| d.pos.line);
            Err(InventoryError::Invalid(decoder.diags))
        }
    }
}

struct Decoder<'a> {
    source: &'a Arc<Source>,
    diags: Diagnostics,
    dir: PathBuf,
    env: &'a Env,
    /// Where each candidate id was first written, for "duplicate id".
    ids: HashMap<String, Pos>,
}

/// Host settings before a host's own fields override them.
#[derive(Clone)]
struct Defaults {
    user: String,
    port: u16,
    identity: Option<PathBuf>,
}

fn get<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

fn one_of(names: &[&str]) -> String {
    format!("one of: {}", names.join(", "))
}

impl Decoder<'_> {
    fn report(&mut self, pos: Pos, message: impl Into<String>, expected: impl Into<String>) {
        let d = Diagnostic::new(self.source, pos, message).expected(expected);
        self.diags.push(d);
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str, expected: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            _ => {
                let message = format!("{what} must be a mapping, found {}", node.type_name());
                self.report(node.pos, message, expected);
                None
            }
        }
    }

    fn check_keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], what: &str) {
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let d = Diagnostic::new(
                    self.source,
                    key.pos,
                    format!("unknown key `{}` in {what}", key.name),
                )
                .expected(one_of(allowed))
                .suggest(&key.name, allowed.iter().copied());
                self.diags.push(d);
            }
        }
    }

    /// A scalar as text (`id: 7` is the id "7"); nothing, a list or a mapping is a mistake.
    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_scalar_text() {
            Some(text) if !matches!(node.value, Value::Null) => Some(text),
            _ => {
                let message = format!("{what} must be a string, found {}", node.type_name());
                self.report(node.pos, message, "a string");
                None
            }
        }
    }

    fn user(&mut self, node: &Node) -> Option<String> {
        let user = self.string(node, "`user`")?;
        if user.is_empty() {
            self.report(node.pos, "`user` is empty", "a user name such as `root`");
            return None;
        }
        Some(user)
    }

    fn port(&mut self, node: &Node) -> Option<u16> {
        match &node.value {
            Value::Int(_) | Value::Str(_) => {
                let text = node.as_scalar_text().unwrap_or_default();
                self.port_text(&text, node.pos)
            }
            _ => {
                let message = format!("`port` must be a number, found {}", node.type_name());
                self.report(node.pos, message, PORT_RULE);
                None
            }
        }
    }

    fn port_text(&mut self, text: &str, pos: Pos) -> Option<u16> {
        match parse_port(text) {
            Ok(port) => Some(port),
            Err(message) => {
                self.report(pos, message, PORT_RULE);
                None
            }
        }
    }

    /// `~/` is the home folder; a relative path is the inventory's folder's.
    fn identity(&mut self, node: &Node) -> Option<PathBuf> {
        let text = self.string(node, "`identity`")?;
        if let Some(rest) = text.strip_prefix("~/") {
            let Some(home) = &self.env.home else {
                self.report(
                    node.pos,
                    "cannot expand `~`: HOME is not set",
                    "an absolute path, or one relative to the inventory's folder",
                );
                return None;
            };
            return Some(home.join(rest));
        }
        Some(self.dir.join(text))
    }

    /// A candidate id, checked as a folder name and against the ids seen before it.
    fn id(&mut self, id: String, pos: Pos) -> Option<String> {
        let problem = if id.is_empty() {
            Some("a candidate id is empty".to_string())
        } else if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            Some(format!("candidate id `{id}` contains `{c}`"))
        } else if id.starts_with('.') {
            Some(format!("candidate id `{id}` starts with `.`"))
        } else {
            None
        };
        if let Some(message) = problem {
            self.report(pos, message, ID_RULE);
            return None;
        }
        if let Some(first) = self.ids.get(&id) {
            let expected = format!("an id not already used (first used on line {})", first.line);
            self.report(pos, format!("duplicate candidate id `{id}`"), expected);
            return None;
        }
        self.ids.insert(id.clone(), pos);
        Some(id)
    }

    /// An inventory var: `candidate` and `hosts` are labgrade's own template variables.
    fn var_name(&mut self, name: &str, pos: Pos) -> bool {
        if name == "candidate" || name == "hosts" {
            self.report(
                pos,
                format!("`{name}` is a reserved template variable"),
                "another name: `candidate` and `hosts` are set by labgrade",
            );
            return false;
        }
        true
    }

    fn no_candidates(&mut self, pos: Pos) {
        self.report(
            pos,
            "the inventory lists no candidates",
            "at least one candidate",
        );
    }
}

// ---- YAML ----

impl Decoder<'_> {
    fn yaml(&mut self) -> Option<Vec<Entry>> {
        let root = match crate::lab::parse(&self.source.text) {
            Ok(root) => root,
            Err(e) => {
                let d = Diagnostic::new(self.source, e.pos, format!("invalid YAML: {}", e.message));
                self.diags.push(d);
                return None;
            }
        };
        let entries = self.map(&root, "an inventory", "`defaults:` and `candidates:` keys")?;
        self.check_keys(entries, INVENTORY_KEYS, "an inventory");
        let defaults = match get(entries, "defaults") {
            Some(node) => self.defaults(node),
            None => Some(self.builtin_defaults()),
        };
        let Some(list) = get(entries, "candidates") else {
            let d = Diagnostic::new(self.source, root.pos, "an inventory has no `candidates`")
                .expected("a `candidates:` key");
            self.diags.push(d);
            return None;
        };
        // Without usable defaults, hosts are still checked, against the built-in ones.
        let defaults_ok = defaults.is_some();
        let defaults = defaults.unwrap_or_else(|| self.builtin_defaults());
        let Value::Seq(items) = &list.value else {
            let message = format!("`candidates` must be a list, found {}", list.type_name());
            self.report(
                list.pos,
                message,
                "a list of candidates, each starting with `- id:`",
            );
            return None;
        };
        if items.is_empty() {
            self.no_candidates(list.pos);
        }
        let mut candidates = Vec::new();
        for item in items {
            if let Some(entry) = self.candidate(item, &defaults) {
                candidates.push(entry);
            }
        }
        defaults_ok.then_some(candidates)
    }

    fn builtin_defaults(&self) -> Defaults {
        Defaults {
            user: self.env.user.clone(),
            port: DEFAULT_PORT,
            identity: None,
        }
    }

    fn defaults(&mut self, node: &Node) -> Option<Defaults> {
        let entries = self.map(
            node,
            "`defaults`",
            "a mapping such as `{ user: grader, port: 22 }`",
        )?;
        self.check_keys(entries, DEFAULTS_KEYS, "`defaults`");
        let mut defaults = self.builtin_defaults();
        let mut ok = true;
        if let Some(n) = get(entries, "user") {
            ok &= self.user(n).map(|u| defaults.user = u).is_some();
        }
        if let Some(n) = get(entries, "port") {
            ok &= self.port(n).map(|p| defaults.port = p).is_some();
        }
        if let Some(n) = get(entries, "identity") {
            ok &= self
                .identity(n)
                .map(|i| defaults.identity = Some(i))
                .is_some();
        }
        ok.then_some(defaults)
    }

    fn candidate(&mut self, node: &Node, defaults: &Defaults) -> Option<Entry> {
        let entries = self.map(
            node,
            "a candidate",
            "a mapping with `id:`, `name:`, `hosts:` and `vars:`",
        )?;
        self.check_keys(entries, CANDIDATE_KEYS, "a candidate");
        let id = match get(entries, "id") {
            Some(n) => self.string(n, "`id`").and_then(|id| self.id(id, n.pos)),
            None => {
                self.report(node.pos, "a candidate has no `id`", "an `id:` key");
                None
            }
        };
        let name = get(entries, "name").map(|n| self.string(n, "`name`"));
        let hosts = match get(entries, "hosts") {
            Some(n) => self.hosts(n, defaults),
            None => Some(BTreeMap::new()),
        };
        let vars = match get(entries, "vars") {
            Some(n) => self.vars(n),
            None => Some(serde_json::Map::new()),
        };
        let id = id?;
        let name = match name {
            Some(name) => name?,
            None => id.clone(),
        };
        Some(Entry {
            id,
            name,
            hosts: hosts?,
            vars: vars?,
        })
    }

    fn hosts(&mut self, node: &Node, defaults: &Defaults) -> Option<BTreeMap<String, HostEntry>> {
        let Value::Map(entries) = &node.value else {
            let message = format!(
                "`hosts` must be a mapping of roles to addresses, found {}",
                node.type_name()
            );
            self.report(
                node.pos,
                message,
                "`ROLE: ADDRESS` lines, such as `srv: 10.0.1.10`",
            );
            return None;
        };
        let mut hosts = BTreeMap::new();
        let mut ok = true;
        for (role, value) in entries {
            match self.host(&role.name, value, defaults) {
                Some(host) => {
                    hosts.insert(role.name.clone(), host);
                }
                None => ok = false,
            }
        }
        ok.then_some(hosts)
    }

    fn host(&mut self, role: &str, node: &Node, defaults: &Defaults) -> Option<HostEntry> {
        match &node.value {
            Value::Str(text) => self.host_string(role, text, node.pos, defaults),
            Value::Map(entries) => self.host_map(role, node, entries, defaults),
            _ => {
                let message = format!(
                    "host `{role}` must be an address or a mapping, found {}",
                    node.type_name()
                );
                self.report(
                    node.pos,
                    message,
                    "an address such as `10.0.1.10`, or a mapping with `address:`",
                );
                None
            }
        }
    }

    fn host_map(
        &mut self,
        role: &str,
        node: &Node,
        entries: &[(Key, Node)],
        defaults: &Defaults,
    ) -> Option<HostEntry> {
        self.check_keys(entries, HOST_KEYS, &format!("host `{role}`"));
        let address = match get(entries, "address") {
            Some(n) => self.string(n, "`address`").and_then(|a| {
                if a.is_empty() {
                    self.report(
                        n.pos,
                        format!("empty address for role `{role}`"),
                        "an address such as `10.0.1.10`",
                    );
                    None
                } else {
                    Some(a)
                }
            }),
            None => {
                self.report(
                    node.pos,
                    format!("host `{role}` has no `address`"),
                    "an `address:` key",
                );
                None
            }
        };
        let user = match get(entries, "user") {
            Some(n) => self.user(n),
            None => Some(defaults.user.clone()),
        };
        let port = match get(entries, "port") {
            Some(n) => self.port(n),
            None => Some(defaults.port),
        };
        let identity = match get(entries, "identity") {
            Some(n) => self.identity(n).map(Some),
            None => Some(defaults.identity.clone()),
        };
        Some(HostEntry {
            user: user?,
            address: address?,
            port: port?,
            identity: identity?,
        })
    }

    /// A host cell or YAML string: `[user@]address[:port]`.
    fn host_string(
        &mut self,
        role: &str,
        text: &str,
        pos: Pos,
        defaults: &Defaults,
    ) -> Option<HostEntry> {
        match parse_host(text) {
            Ok(spec) => Some(HostEntry {
                user: spec.user.unwrap_or_else(|| defaults.user.clone()),
                address: spec.address,
                port: spec.port.unwrap_or(defaults.port),
                identity: defaults.identity.clone(),
            }),
            Err(HostError::Port(message, at)) => {
                let pos = self.narrow(pos, text, at);
                self.report(pos, message, PORT_RULE);
                None
            }
            Err(HostError::Form(message)) => {
                let message = format!("{message} for role `{role}`");
                self.report(pos, message, ADDRESS_FORM);
                None
            }
        }
    }

    /// The part of `text` from char `at` on, when `text` is written as is at `pos` (not
    /// quoted, not escaped); else all of `pos`.
    fn narrow(&self, pos: Pos, text: &str, at: usize) -> Pos {
        let line = self.source.text.lines().nth(pos.line.max(1) as usize - 1);
        let written: Option<String> = line.map(|l| {
            l.chars()
                .skip(pos.column.max(1) as usize - 1)
                .take(text.chars().count())
                .collect()
        });
        if written.as_deref() != Some(text) {
            return pos;
        }
        let width = text.chars().count() - at;
        Pos {
            line: pos.line,
            column: pos.column + at as u32,
            width: width.max(1) as u32,
        }
    }

    fn vars(&mut self, node: &Node) -> Option<serde_json::Map<String, serde_json::Value>> {
        let entries = self.map(
            node,
            "`vars`",
            "a mapping such as `{ site: alice.lab.example }`",
        )?;
        let mut vars = serde_json::Map::new();
        let mut ok = true;
        for (key, value) in entries {
            if self.var_name(&key.name, key.pos) {
                vars.insert(key.name.clone(), value.to_json());
            } else {
                ok = false;
            }
        }
        ok.then_some(vars)
    }
}

// ---- Host strings ----

struct HostSpec {
    user: Option<String>,
    address: String,
    port: Option<u16>,
}

enum HostError {
    /// The port, from the char offset given, is wrong: the message says how.
    Port(String, usize),
    /// The string is not `[user@]address[:port]`.
    Form(String),
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(_) => Err(format!("port `{text}` is out of range")),
        Err(_) => Err(format!("port `{text}` is not a number")),
    }
}

fn parse_host(text: &str) -> Result<HostSpec, HostError> {
    let (user, rest) = match text.split_once('@') {
        Some((user, rest)) => {
            if user.is_empty() {
                return Err(HostError::Form("empty user before `@`".into()));
            }
            (Some(user.to_string()), rest)
        }
        None => (None, text),
    };
    let (address, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some((address, after)) = bracketed.split_once(']') else {
            return Err(HostError::Form("unclosed `[` in address".into()));
        };
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => {
                    return Err(HostError::Form(format!("unexpected `{after}` after `]`")));
                }
            },
        }
    } else {
        match rest.split_once(':') {
            // More than one `:` is a bare IPv6 address, without a port.
            Some((address, port)) if !port.contains(':') => (address, Some(port)),
            _ => (rest, None),
        }
    };
    if address.is_empty() {
        return Err(HostError::Form("empty address".into()));
    }
    let port = match port {
        // The port ends the string.
        Some(port) => Some(parse_port(port).map_err(|message| {
            HostError::Port(message, text.chars().count() - port.chars().count())
        })?),
        None => None,
    };
    Ok(HostSpec {
        user,
        address: address.to_string(),
        port,
    })
}

// ---- CSV ----

/// What a CSV header column holds.
enum Column {
    Id,
    Name,
    Role(String),
    Var(String),
    /// A column already reported as a mistake.
    Skip,
}

impl Decoder<'_> {
    fn csv(&mut self) -> Option<Vec<Entry>> {
        let text = &self.source.text;
        let header_line = text
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let delimiter = if header_line.contains(';') && !header_line.contains(',') {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let mut records = Vec::new();
        for record in reader.records() {
            match record {
                Ok(record) => records.push(record),
                Err(e) => {
                    let line = e.position().map_or(1, |p| p.line() as u32);
                    let pos = Pos {
                        line,
                        column: 1,
                        width: 1,
                    };
                    self.report(pos, format!("invalid CSV: {e}"), "comma-separated fields");
                    return None;
                }
            }
        }
        let mut records = records.into_iter();
        let Some(header) = records.next() else {
            self.report(
                Pos {
                    line: 1,
                    column: 1,
                    width: 1,
                },
                "the inventory is empty",
                "a header such as `id,name,srv,client`, then one line per candidate",
            );
            return None;
        };
        let header_spans = self.field_spans(&header, delimiter);
        let columns = self.columns(&header, &header_spans)?;
        let mut candidates = Vec::new();
        let mut any = false;
        let defaults = self.builtin_defaults();
        for record in records {
            any = true;
            let spans = self.field_spans(&record, delimiter);
            if let Some(entry) = self.row(&record, &spans, &columns, &header, &defaults) {
                candidates.push(entry);
            }
        }
        if !any {
            let pos = line_pos(&self.source.text, header_spans[0].line);
            self.no_candidates(pos);
        }
        Some(candidates)
    }

    /// The header's columns, or `None` when it lacks `id`.
    fn columns(&mut self, header: &csv::StringRecord, spans: &[Pos]) -> Option<Vec<Column>> {
        let mut columns = Vec::new();
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for (name, &pos) in header.iter().zip(spans) {
            if let Some(first) = seen.get(name) {
                let message = format!("duplicate column `{name}`");
                let expected = format!(
                    "a column name not already used (first used at column {})",
                    first.column
                );
                self.report(pos, message, expected);
                columns.push(Column::Skip);
                continue;
            }
            seen.insert(name, pos);
            let column = match name {
                "" => {
                    self.report(
                        pos,
                        "empty column name",
                        "`id`, `name`, a role, or `var:NAME`",
                    );
                    Column::Skip
                }
                "id" => Column::Id,
                "name" => Column::Name,
                _ => match name.strip_prefix("var:") {
                    Some("") => {
                        self.report(pos, "empty var name", "`var:NAME`, such as `var:site`");
                        Column::Skip
                    }
                    Some(var) => {
                        if self.var_name(var, pos) {
                            Column::Var(var.to_string())
                        } else {
                            Column::Skip
                        }
                    }
                    None if name.contains(':') => {
                        let var = name.rsplit(':').next().unwrap_or_default();
                        let d =
                            Diagnostic::new(self.source, pos, format!("unknown column `{name}`"))
                                .expected("`id`, `name`, a role, or `var:NAME`")
                                .help(format!("did you mean `var:{var}`?"));
                        self.diags.push(d);
                        Column::Skip
                    }
                    None => Column::Role(name.to_string()),
                },
            };
            columns.push(column);
        }
        if !columns.iter().any(|c| matches!(c, Column::Id)) {
            let pos = line_pos(&self.source.text, spans[0].line);
            self.report(
                pos,
                "the header has no `id` column",
                "a header such as `id,name,srv,client`",
            );
            return None;
        }
        Some(columns)
    }

    fn row(
        &mut self,
        record: &csv::StringRecord,
        spans: &[Pos],
        columns: &[Column],
        header: &csv::StringRecord,
        defaults: &Defaults,
    ) -> Option<Entry> {
        if record.len() != columns.len() {
            let line = spans[0].line;
            let pos = if record.len() > columns.len() {
                spans[columns.len()]
            } else {
                line_pos(&self.source.text, line)
            };
            let names: Vec<&str> = header.iter().collect();
            self.report(
                pos,
                format!(
                    "this row has {} fields, the header has {}",
                    record.len(),
                    columns.len()
                ),
                format!(
                    "{} fields: {} (an empty field where a candidate has no host)",
                    columns.len(),
                    names.join(", ")
                ),
            );
            return None;
        }
        let mut id = None;
        let mut name = None;
        let mut hosts = BTreeMap::new();
        let mut vars = serde_json::Map::new();
        let mut ok = true;
        for ((column, cell), &pos) in columns.iter().zip(record.iter()).zip(spans) {
            match column {
                Column::Id if cell.is_empty() => {
                    self.report(pos, "a candidate has no `id`", "an id in the `id` column");
                    ok = false;
                }
                Column::Id => id = self.id(cell.to_string(), pos),
                Column::Name if cell.is_empty() => {}
                Column::Name => name = Some(cell.to_string()),
                Column::Role(_) if cell.is_empty() => {}
                Column::Role(role) => match self.host_string(role, cell, pos, defaults) {
                    Some(host) => {
                        hosts.insert(role.clone(), host);
                    }
                    None => ok = false,
                },
                Column::Var(_) if cell.is_empty() => {}
                Column::Var(var) => {
                    vars.insert(var.clone(), cell.into());
                }
                Column::Skip => {}
            }
        }
        let id = id?;
        ok.then(|| Entry {
            name: name.unwrap_or_else(|| id.clone()),
            id,
            hosts,
            vars,
        })
    }

    /// Where each field of `record` was written: the csv crate gives the record's start,
    /// the fields are found by walking its raw text, quotes and all.
    fn field_spans(&self, record: &csv::StringRecord, delimiter: u8) -> Vec<Pos> {
        let text = &self.source.text;
        let (start, line) = record
            .position()
            .map_or((0, 1), |p| (p.byte() as usize, p.line() as u32));
        let delimiter = char::from(delimiter);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let mut column = text[line_start..start].chars().count() as u32 + 1;
        let mut line = line;
        let mut spans = Vec::new();
        let mut field = Field::new(line, column);
        let mut in_quotes = false;
        for c in text[start..].chars() {
            if !in_quotes && (c == '\n' || c == '\r') {
                break;
            }
            if !in_quotes && c == delimiter {
                spans.push(field.pos());
                column += 1;
                field = Field::new(line, column);
                continue;
            }
            if c == '"' {
                in_quotes = !in_quotes;
            }
            if c == '\n' {
                // A quoted field running over lines: underline its first line only.
                line += 1;
                column = 1;
                field.closed = true;
                continue;
            }
            field.push(c, column);
            column += 1;
        }
        spans.push(field.pos());
        // Never fewer spans than fields, whatever the walk found.
        while spans.len() < record.len() {
            spans.push(*spans.last().unwrap_or(&Pos::default()));
        }
        spans
    }
}

/// A field's visible extent on its first line, spaces around it left out.
struct Field {
    line: u32,
    start: u32,
    first: Option<u32>,
    last: u32,
    closed: bool,
}

impl Field {
    fn new(line: u32, column: u32) -> Field {
        Field {
            line,
            start: column,
            first: None,
            last: column,
            closed: false,
        }
    }

    fn push(&mut self, c: char, column: u32) {
        if self.closed || c.is_whitespace() {
            return;
        }
        self.first.get_or_insert(column);
        self.last = column;
    }

    fn pos(&self) -> Pos {
        match self.first {
            Some(first) => Pos {
                line: self.line,
                column: first,
                width: self.last - first + 1,
            },
            None => Pos {
                line: self.line,
                column: self.start,
                width: 1,
            },
        }
    }
}

/// A whole line, to underline.
fn line_pos(text: &str, line: u32) -> Pos {
    let width = text
        .lines()
        .nth(line.max(1) as usize - 1)
        .map_or(1, |l| l.chars().count().max(1)) as u32;
    Pos {
        line,
        column: 1,
        width,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            user: "teacher".into(),
            home: Some(PathBuf::from("/home/teacher")),
        }
    }

    fn load(path: &str, text: &str) -> Inventory {
        match load_with(Path::new(path), text, &env()) {
            Ok(inventory) => inventory,
            Err(e) => panic!("{e}"),
        }
    }

    fn errors(path: &str, text: &str) -> String {
        load_with(Path::new(path), text, &env())
            .unwrap_err()
            .to_string()
    }

    fn host(user: &str, address: &str, port: u16, identity: Option<&str>) -> HostEntry {
        HostEntry {
            user: user.into(),
            address: address.into(),
            port,
            identity: identity.map(PathBuf::from),
        }
    }

    #[test]
    fn yaml_roster_with_defaults_and_overrides() {
        let inventory = load(
            "class/inv.yaml",
            "defaults: { user: grader, identity: ~/.ssh/labgrade_ed25519, port: 22 }
candidates:
  - id: c01
    name: Alice Martin
    hosts: { srv: 10.0.1.10, client: { address: 10.0.1.11, port: 2222, user: root, identity: keys/c01 } }
    vars: { site: alice.lab.example, ports: [80, 443], tls: { on: true } }
  - id: c02
    hosts:
      srv: admin@[2001:db8::2]:2200
      client: 2001:db8::3
",
        );
        assert_eq!(inventory.path, Path::new("class/inv.yaml"));
        let [alice, bob] = &inventory.candidates[..] else {
            panic!("two candidates")
        };
        assert_eq!(
            (alice.id.as_str(), alice.name.as_str()),
            ("c01", "Alice Martin")
        );
        let key = Some("/home/teacher/.ssh/labgrade_ed25519");
        assert_eq!(alice.hosts["srv"], host("grader", "10.0.1.10", 22, key));
        assert_eq!(
            alice.hosts["client"],
            host("root", "10.0.1.11", 2222, Some("class/keys/c01"))
        );
        assert_eq!(
            serde_json::Value::Object(alice.vars.clone()),
            serde_json::json!({"site": "alice.lab.example", "ports": [80, 443], "tls": {"on": true}})
        );
        assert_eq!(bob.name, "c02", "the name defaults to the id");
        assert_eq!(bob.hosts["srv"], host("admin", "2001:db8::2", 2200, key));
        assert_eq!(bob.hosts["client"], host("grader", "2001:db8::3", 22, key));
        assert!(bob.vars.is_empty());
    }

    #[test]
    fn without_defaults_the_user_is_the_grader_and_the_port_22() {
        let inventory = load(
            "inv.yml",
            "candidates:\n  - id: c01\n    hosts: { srv: pc01 }\n",
        );
        let entry = &inventory.candidates[0];
        assert_eq!(entry.hosts["srv"], host("teacher", "pc01", 22, None));
        assert_eq!(
            entry.hosts["srv"].target(),
            SshTarget {
                user: "teacher".into(),
                address: "pc01".into(),
                port: 22,
                identity: None,
            }
        );
    }

    #[test]
    fn csv_roster() {
        let inventory = load(
            "/srv/class/roster.csv",
            "# B3 group\nid,name,srv,client,var:site\nc01,Alice Martin,10.0.1.10,root@10.0.1.11:2222,alice.lab.example\nc02,,[2001:db8::2]:2200,,\n\"c03\",\"Martin, Bob\",fe80::1,,\n",
        );
        let [alice, c02, bob] = &inventory.candidates[..] else {
            panic!("three candidates")
        };
        assert_eq!(alice.name, "Alice Martin");
        assert_eq!(alice.hosts["srv"], host("teacher", "10.0.1.10", 22, None));
        assert_eq!(alice.hosts["client"], host("root", "10.0.1.11", 2222, None));
        assert_eq!(alice.vars["site"], "alice.lab.example");
        assert_eq!(c02.name, "c02");
        assert_eq!(c02.hosts.len(), 1, "an empty cell: no host for that role");
        assert_eq!(c02.hosts["srv"], host("teacher", "2001:db8::2", 2200, None));
        assert!(
            c02.vars.is_empty(),
            "an empty var cell leaves the lab's value"
        );
        assert_eq!((bob.id.as_str(), bob.name.as_str()), ("c03", "Martin, Bob"));
        assert_eq!(bob.hosts["srv"], host("teacher", "fe80::1", 22, None));
    }

    #[test]
    fn csv_from_a_french_spreadsheet() {
        let inventory = load(
            "roster.CSV",
            "\u{feff}id;name;srv\r\nc01;Alice Martin, B3;10.0.1.10\r\n",
        );
        let entry = &inventory.candidates[0];
        assert_eq!(entry.name, "Alice Martin, B3");
        assert_eq!(entry.hosts["srv"].address, "10.0.1.10");
    }

    #[test]
    fn csv_errors_point_at_the_field() {
        assert_eq!(
            errors("r.csv", "id,srv\nc01,\"root@pc1:0\"\nc02,  pc2:x\n"),
            "error: port `0` is out of range
 --> r.csv:2:5
  |
2 | c01,\"root@pc1:0\"
  |     ^^^^^^^^^^^^
  = expected a port from 1 to 65535

error: port `x` is not a number
 --> r.csv:3:11
  |
3 | c02,  pc2:x
  |           ^
  = expected a port from 1 to 65535"
        );
    }

    #[test]
    fn host_strings() {
        let ok = |s: &str| {
            let spec = parse_host(s).ok().unwrap();
            (spec.user, spec.address, spec.port)
        };
        assert_eq!(ok("h"), (None, "h".into(), None));
        assert_eq!(ok("u@h:2"), (Some("u".into()), "h".into(), Some(2)));
        assert_eq!(ok("[::1]"), (None, "::1".into(), None));
        assert_eq!(ok("u@[::1]:22"), (Some("u".into()), "::1".into(), Some(22)));
        let err = |s: &str| match parse_host(s) {
            Err(HostError::Form(m) | HostError::Port(m, _)) => m,
            Ok(_) => panic!("{s} parsed"),
        };
        assert_eq!(err(""), "empty address");
        assert_eq!(err("u@:22"), "empty address");
        assert_eq!(err("@h"), "empty user before `@`");
        assert_eq!(err("[::1"), "unclosed `[` in address");
        assert_eq!(err("[::1]22"), "unexpected `22` after `]`");
        assert_eq!(err("h:ssh"), "port `ssh` is not a number");
        assert_eq!(err("h:65536"), "port `65536` is out of range");
    }

    #[test]
    fn tilde_without_home_is_a_mistake() {
        let env = Env {
            user: "root".into(),
            home: None,
        };
        let text = "defaults: { identity: ~/k }\ncandidates: [{ id: c01 }]\n";
        let err = load_with(Path::new("i.yaml"), text, &env).unwrap_err();
        assert!(err.to_string().contains("cannot expand `~`"), "{err}");
    }
}
