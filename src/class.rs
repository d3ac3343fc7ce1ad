//! A class graded at once: each candidate's results in a folder of its own, and the class
//! summary (`class.json`): a row per candidate and the machines that candidates share.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::expect::format_number;
use crate::report::terminal::sanitize;
use crate::results::{FORMAT_VERSION, Results, Verdict};

/// The file of one candidate's results in a class folder.
pub fn results_path(dir: &Path, candidate: &str) -> PathBuf {
    dir.join(candidate).join("results.json")
}

/// Write one candidate's results as soon as they are graded: write, then rename, so a
/// stopped run leaves whole files only.
pub fn write_candidate(dir: &Path, results: &Results) -> std::io::Result<PathBuf> {
    let path = results_path(dir, &results.candidate.id);
    std::fs::create_dir_all(path.parent().expect("a candidate's folder"))?;
    results.write(&path)?;
    Ok(path)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub format: u32,
    pub labgrade: String,
    pub finished: String,
    pub candidates: Vec<Row>,
    /// Values that should differ between candidates (the labs' `unique:`) and do not.
    pub shared: Vec<Shared>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub earned: f64,
    pub possible: f64,
    /// Out of 20 over all labs.
    pub mark: f64,
    pub passed: bool,
    /// Checks that could not be evaluated: this candidate's grade is not final.
    pub errors: usize,
    pub results: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    /// `machine_id`, `ssh_host_key`.
    pub what: String,
    pub value: String,
    /// `candidate/role` for each machine that has it.
    pub machines: Vec<String>,
}

impl Row {
    /// One candidate's line: points and mark over all labs, and how many checks could not
    /// be evaluated.
    pub fn of(r: &Results) -> Row {
        let earned: f64 = r.labs.iter().map(|l| l.earned).sum();
        let possible: f64 = r.labs.iter().map(|l| l.possible).sum();
        let errors = r
            .labs
            .iter()
            .flat_map(|l| &l.tasks)
            .flat_map(|t| &t.checks)
            .filter(|c| c.verdict == Verdict::Error)
            .count();
        Row {
            id: r.candidate.id.clone(),
            name: r.candidate.name.clone(),
            earned: round2(earned),
            possible: round2(possible),
            mark: if possible > 0.0 {
                round2(earned / possible * 20.0)
            } else {
                0.0
            },
            passed: r.labs.iter().all(|l| l.passed),
            errors,
            results: results_path(Path::new(""), &r.candidate.id)
                .display()
                .to_string(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl ClassSummary {
    /// The summary of candidates' results, in the roster's order; `unique` names the values
    /// the labs want different on every candidate's machines.
    pub fn new(graded: &[Results], unique: &[String]) -> ClassSummary {
        let candidates = graded.iter().map(Row::of).collect();
        ClassSummary {
            format: FORMAT_VERSION,
            labgrade: env!("CARGO_PKG_VERSION").to_string(),
            finished: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            candidates,
            shared: shared(graded, unique),
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    /// The class at a glance: a line per candidate, then what candidates share.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let width = self
            .candidates
            .iter()
            .map(|r| r.id.chars().count() + r.name.chars().count() + 1)
            .max()
            .unwrap_or(0);
        for row in &self.candidates {
            let who = sanitize(&format!("{} {}", row.id, row.name));
            let errors = match row.errors {
                0 => String::new(),
                1 => "  1 check could not be evaluated".to_string(),
                n => format!("  {n} checks could not be evaluated"),
            };
            let _ = writeln!(
                out,
                "{who:<width$}  {:>5}/20  {}{errors}",
                format_number(row.mark),
                if row.passed { "passed" } else { "not passed" },
            );
        }
        for shared in &self.shared {
            let _ = writeln!(
                out,
                "shared {} {}: {}",
                shared.what,
                sanitize(&shared.value),
                shared.machines.join(", ")
            );
        }
        out
    }
}

/// Values that two candidates' machines have in common, though the labs want them unique.
fn shared(graded: &[Results], unique: &[String]) -> Vec<Shared> {
    let mut found = Vec::new();
    for what in unique {
        let mut by_value: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for results in graded {
            for (role, machine) in &results.machines {
                if let Some(value) = machine.get(what) {
                    by_value
                        .entry(value)
                        .or_default()
                        .push((&results.candidate.id, role));
                }
            }
        }
        for (value, machines) in by_value {
            let mut candidates: Vec<&str> = machines.iter().map(|(c, _)| *c).collect();
            candidates.sort_unstable();
            candidates.dedup();
            if candidates.len() > 1 {
                found.push(Shared {
                    what: what.clone(),
                    value: value.to_string(),
                    machines: machines.iter().map(|(c, r)| format!("{c}/{r}")).collect(),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CandidateInfo, Mode};

    fn results(id: &str, machine_id: &str) -> Results {
        Results {
            format: FORMAT_VERSION,
            labgrade: String::new(),
            mode: Mode::Exam,
            started: String::new(),
            finished: String::new(),
            candidate: CandidateInfo {
                id: id.into(),
                name: id.into(),
            },
            hosts: BTreeMap::new(),
            machines: [
                (
                    "srv".to_string(),
                    [("machine_id".to_string(), machine_id.to_string())].into(),
                ),
                (
                    "client".to_string(),
                    [("machine_id".to_string(), format!("{id}-client"))].into(),
                ),
            ]
            .into(),
            labs: Vec::new(),
        }
    }

    #[test]
    fn shared_machine_ids_are_flagged_once_per_value() {
        let graded = [
            results("c01", "aaaa"),
            results("c02", "bbbb"),
            results("c03", "aaaa"),
        ];
        let summary = ClassSummary::new(&graded, &["machine_id".into()]);
        assert_eq!(
            summary.shared,
            [Shared {
                what: "machine_id".into(),
                value: "aaaa".into(),
                machines: vec!["c01/srv".into(), "c03/srv".into()],
            }]
        );
        // Nothing is flagged when the lab does not ask.
        assert!(ClassSummary::new(&graded, &[]).shared.is_empty());
    }
}
