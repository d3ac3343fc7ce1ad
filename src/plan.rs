//! A lab and a candidate become a plan: every string rendered, every check bound to a host. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::expect::Expect;
use crate::lab::{Lab, Retry};
use crate::probe::Kind;
use crate::template::{self, TemplateError};
use crate::transport::SshTarget;

/// The machine that plays a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This machine, inspected without SSH: a candidate's self-test.
    Local,
    Ssh(SshTarget),
}

impl Target {
    /// The address templates see as `hosts.ROLE.address`.
    fn template_value(&self) -> serde_json::Value {
        match self {
            Target::Local => json!({"address": "127.0.0.1", "user": current_user(), "port": 22}),
            Target::Ssh(t) => json!({"address": t.address, "user": t.user, "port": t.port}),
        }
    }
}

fn current_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".to_string())
}

/// Who is graded, on which machines.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// Overrides of the lab's vars.
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub hosts: BTreeMap<String, Target>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub lab_id: String,
    pub tasks: Vec<PlannedTask>,
    /// The lab's own `unique:` values, their commands rendered for this candidate.
    pub unique: Vec<PlannedUnique>,
}

/// A value of the lab's own that must differ between candidates, and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUnique {
    pub name: String,
    pub role: String,
    pub command: String,
}

#[derive(Debug, Clone)]
pub struct PlannedTask {
    pub id: String,
    pub title: String,
    pub points: f64,
    pub partial: bool,
    pub requires: Vec<String>,
    pub hint: Option<String>,
    pub checks: Vec<PlannedCheck>,
}

/// A check ready to run: nothing left to render.
#[derive(Clone)]
pub struct PlannedCheck {
    pub kind: &'static dyn Kind,
    pub subject: String,
    pub inputs: BTreeMap<String, String>,
    pub expects: Vec<(&'static str, Expect)>,
    /// The role whose host runs it; `None`: the grader.
    pub role: Option<String>,
    pub label: String,
    pub timeout: Duration,
    pub weight: f64,
    pub retry: Option<Retry>,
}

impl std::fmt::Debug for PlannedCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("PlannedCheck")
            .field("label", &self.label)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PlanError {
    pub origin: String,
    pub message: String,
}

/// The variables every string of the lab renders with, for this candidate.
pub fn context(lab: &Lab, candidate: &Candidate) -> serde_json::Value {
    let mut vars = lab.vars.clone();
    vars.extend(candidate.vars.clone());
    let mut ctx = serde_json::Value::Object(vars);
    ctx["candidate"] = json!({"id": candidate.id, "name": candidate.name});
    let hosts: serde_json::Map<String, serde_json::Value> = candidate
        .hosts
        .iter()
        .map(|(role, target)| (role.clone(), target.template_value()))
        .collect();
    ctx["hosts"] = serde_json::Value::Object(hosts);
    ctx
}

pub fn plan(lab: &Lab, candidate: &Candidate, only: &[String]) -> Result<Plan, PlanError> {
    plan_in(lab, &context(lab, candidate), only)
}

/// Plan with a given template context (`explain` shows roles by their names, not addresses).
pub fn plan_in(lab: &Lab, base: &serde_json::Value, only: &[String]) -> Result<Plan, PlanError> {
    let ctx = base.clone();
    let render = |text: &str, origin: &dyn Fn() -> String, ctx: &serde_json::Value| {
        template::render(text, ctx).map_err(|e| PlanError {
            origin: origin(),
            message: match e {
                TemplateError::Undefined(name) => {
                    format!("undefined template variable `{name}`")
                }
                TemplateError::Invalid(m) => format!("invalid template: {m}"),
            },
        })
    };
    let mut tasks = Vec::new();
    for task in lab
        .tasks
        .iter()
        .filter(|t| only.is_empty() || only.contains(&t.id))
    {
        let origin = || {
            task.checks
                .first()
                .map(|c| c.origin.to_string())
                .unwrap_or_else(|| lab.path.display().to_string())
        };
        let mut checks = Vec::new();
        for check in &task.checks {
            let check_origin = || check.origin.to_string();
            let mut ctx = ctx.clone();
            for (name, value) in &check.params {
                ctx[name] = serde_json::Value::String(render(value, &check_origin, base)?);
            }
            let subject = render(&check.subject, &check_origin, &ctx)?;
            let mut inputs = BTreeMap::new();
            for (name, value) in &check.inputs {
                inputs.insert(name.clone(), render(value, &check_origin, &ctx)?);
            }
            let mut expects = check.expects.clone();
            for (_, expect) in &mut expects {
                for text in expect.strings_mut() {
                    *text = render(text, &check_origin, &ctx)?;
                }
            }
            let label = match &check.label {
                Some(label) => render(label, &check_origin, &ctx)?,
                None => generated_label(check.kind.name(), &subject, &inputs, &expects),
            };
            checks.push(PlannedCheck {
                kind: check.kind,
                subject,
                inputs,
                expects,
                role: check.on.clone(),
                label,
                timeout: check.timeout.unwrap_or(lab.timeout),
                weight: check.weight,
                retry: check.retry,
            });
        }
        tasks.push(PlannedTask {
            id: task.id.clone(),
            title: render(&task.title, &origin, &ctx)?,
            points: task.points,
            partial: task.partial,
            requires: task.requires.clone(),
            hint: task
                .hint
                .as_deref()
                .map(|h| render(h, &origin, &ctx))
                .transpose()?,
            checks,
        });
    }
    let lab_origin = || lab.path.display().to_string();
    let mut unique = Vec::new();
    for value in &lab.unique {
        if let Some(read) = &value.read {
            unique.push(PlannedUnique {
                name: value.name.clone(),
                role: read.role.clone(),
                command: render(&read.command, &lab_origin, base)?,
            });
        }
    }
    Ok(Plan {
        lab_id: lab.id.clone(),
        tasks,
        unique,
    })
}

/// "file /etc/motd: mode "0640"" when the author wrote no label.
pub fn generated_label(
    kind: &str,
    subject: &str,
    inputs: &BTreeMap<String, String>,
    expects: &[(&'static str, Expect)],
) -> String {
    let mut label = format!("{kind} {subject}");
    for (name, value) in inputs {
        label.push_str(&format!(" ({name} {value})"));
    }
    let expectations: Vec<String> = expects
        .iter()
        // `contains: x` reads `contains "x"`, not `contains contains "x"`.
        .map(|(name, e)| match *name {
            "contains" | "not_contains" | "matches" => e.describe(),
            _ => format!("{name} {}", e.describe()),
        })
        .collect();
    if !expectations.is_empty() {
        label.push_str(": ");
        label.push_str(&expectations.join(", "));
    }
    label
}
