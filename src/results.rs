//! The results of a run, as written to `results.json`: the one model every report is rendered from.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

/// The most of a stream kept as evidence.
pub const EVIDENCE_CAP: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Self-test or training: hints shown for tasks not passed.
    Practice,
    /// No hints; full evidence.
    Exam,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub format: u32,
    pub labgrade: String,
    pub mode: Mode,
    pub started: String,
    pub finished: String,
    pub candidate: CandidateInfo,
    /// Role to the machine that played it (`local`, `root@10.0.0.2:22`).
    pub hosts: BTreeMap<String, String>,
    /// Role to what identifies its machine, read when a lab lists `unique:` values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub machines: BTreeMap<String, BTreeMap<String, String>>,
    pub labs: Vec<LabResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabResult {
    pub id: String,
    pub title: String,
    /// The language reports of this lab are written in.
    #[serde(default)]
    pub lang: crate::lab::Lang,
    pub block: u8,
    pub pass_mark: f64,
    pub earned: f64,
    pub possible: f64,
    /// Out of 20, rounded to hundredths.
    pub mark: f64,
    pub passed: bool,
    pub tasks: Vec<TaskResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskVerdict {
    Pass,
    Partial,
    Fail,
    Skipped,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub id: String,
    pub title: String,
    pub verdict: TaskVerdict,
    pub earned: f64,
    pub points: f64,
    /// Why the task was skipped or could not be graded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// Only in practice mode, and only for a task not passed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hint: Option<String>,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// No evidence could be had: the grader could not check.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub label: String,
    pub kind: String,
    pub role: String,
    pub verdict: Verdict,
    /// For a fail or an error, one sentence a person reads.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    pub weight: f64,
    pub properties: Vec<PropertyResult>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyVerdict {
    Pass,
    Fail,
    /// Not judged, because the subject itself is not there.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyResult {
    pub name: String,
    pub expected: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub found: Option<String>,
    pub verdict: PropertyVerdict,
}

/// What ran, what came back, how long it took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The probe script (without the envelope every script shares).
    pub ran: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Bytes of output not kept.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub truncated: u64,
    pub duration_ms: u64,
    pub attempts: u32,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Keep at most [`EVIDENCE_CAP`] bytes of an output, on a character boundary.
pub fn cap_evidence(bytes: &[u8]) -> (String, u64) {
    let kept = bytes.len().min(EVIDENCE_CAP);
    let text = String::from_utf8_lossy(&bytes[..kept]).into_owned();
    (text, (bytes.len() - kept) as u64)
}

impl Results {
    /// Write atomically: a stopped run never leaves half a file.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    pub fn read(path: &Path) -> Result<Results, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
    }

    pub fn any_error(&self) -> bool {
        self.labs
            .iter()
            .flat_map(|l| &l.tasks)
            .flat_map(|t| &t.checks)
            .any(|c| c.verdict == Verdict::Error)
    }

    pub fn all_passed(&self) -> bool {
        self.labs
            .iter()
            .flat_map(|l| &l.tasks)
            .all(|t| t.verdict == TaskVerdict::Pass)
    }
}
