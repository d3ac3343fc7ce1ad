//! A lab as labgrade understands it once loaded and validated: roles, tasks and checks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::diagnostic::Source;
use super::node::Pos;
use crate::expect::Expect;
use crate::probe::Kind;

#[derive(Debug, Clone)]
pub struct Lab {
    pub id: String,
    pub path: PathBuf,
    pub title: String,
    /// The certification block, 1 to 6.
    pub block: u8,
    pub competence: Option<String>,
    /// Out of 20.
    pub pass_mark: f64,
    pub lang: Lang,
    /// An exam lab: `explain` withholds the expected values.
    pub exam: bool,
    pub roles: Vec<Role>,
    /// Defaults for template variables; an inventory may override them per candidate.
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub tasks: Vec<Task>,
    /// Values that must differ between candidates (a cloned VM, a copied answer).
    pub unique: Vec<Unique>,
    /// The timeout of a check that sets none.
    pub timeout: Duration,
}

impl Lab {
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    pub fn possible_points(&self) -> f64 {
        self.tasks.iter().map(|t| t.points).sum()
    }

    pub fn check_count(&self) -> usize {
        self.tasks.iter().map(|t| t.checks.len()).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// As a lab writes it: `fr`, `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    Windows,
    Ios,
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
            Os::Ios => "ios",
        })
    }
}

/// A machine the lab expects, such as `srv` or `client`.
/// A value that must differ between candidates' machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unique {
    /// How results and the class summary name it: `machine_id`, or the lab's own name.
    pub name: String,
    /// For a value of the lab's own, where and how it is read: the output of a read-only
    /// command on a role's host. `None` for what labgrade reads itself.
    pub read: Option<UniqueCommand>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueCommand {
    pub role: String,
    pub command: String,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub os: Os,
    pub optional: bool,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    /// A template.
    pub title: String,
    pub points: f64,
    /// Points pro rata of the checks passed, instead of all or nothing.
    pub partial: bool,
    pub requires: Vec<String>,
    /// A template, shown to candidates practising when the task is not passed.
    pub hint: Option<String>,
    pub checks: Vec<Check>,
}

/// One check, its strings still templates until a candidate is planned.
#[derive(Clone)]
pub struct Check {
    pub kind: &'static dyn Kind,
    pub subject: String,
    pub inputs: BTreeMap<String, String>,
    pub expects: Vec<(&'static str, Expect)>,
    /// The role whose host runs the check: the inspected host of a white-box kind (`on:`),
    /// the vantage point of a black-box probe (`from:`). `None` is the grader itself.
    pub on: Option<String>,
    pub label: Option<String>,
    pub timeout: Option<Duration>,
    pub weight: f64,
    pub retry: Option<Retry>,
    /// The values of a reusable check's parameters (`use:` / `with:`), templates in the
    /// lab's context, which the check's own strings can then use.
    pub params: BTreeMap<String, String>,
    /// Where the check was written, for messages.
    pub origin: Origin,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Check")
            .field("kind", &self.kind.name())
            .field("subject", &self.subject)
            .field("inputs", &self.inputs)
            .field("expects", &self.expects)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub times: u32,
    pub every: Duration,
}

#[derive(Debug, Clone)]
pub struct Origin {
    pub source: Arc<Source>,
    pub pos: Pos,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.source.path.display(), self.pos.line)
    }
}
