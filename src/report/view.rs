//! What the report templates see: results turned into words, numbers and dates of the lab's
//! language, ready to print. Every string here may come from a candidate's machine; the
//! templates module escapes it for the format it renders (HTML, Markdown).

use std::collections::BTreeMap;

use serde::Serialize;

use super::labels::{Labels, date, lang_of, number};
use crate::class::{ClassSummary, Row};
use crate::lab::Lang;
use crate::results::{
    CheckResult, LabResult, Mode, PropertyVerdict, Results, TaskResult, TaskVerdict, Verdict,
};

/// A verdict as a report shows it: a key for the colour (`pass`, `partial`, `fail`,
/// `skipped`, `error`), the word in the report's language and a symbol, so that a reader who
/// does not see colours reads it too.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictView {
    pub key: &'static str,
    pub word: &'static str,
    pub symbol: &'static str,
}

impl VerdictView {
    fn task(labels: &Labels, verdict: TaskVerdict) -> VerdictView {
        let (key, symbol) = match verdict {
            TaskVerdict::Pass => ("pass", "✔"),
            TaskVerdict::Partial => ("partial", "◐"),
            TaskVerdict::Fail => ("fail", "✘"),
            TaskVerdict::Skipped => ("skipped", "–"),
            TaskVerdict::Error => ("error", "⚠"),
        };
        VerdictView {
            key,
            word: labels.task_verdict(verdict),
            symbol,
        }
    }

    fn check(labels: &Labels, verdict: Verdict) -> VerdictView {
        match verdict {
            Verdict::Pass => VerdictView::task(labels, TaskVerdict::Pass),
            Verdict::Fail => VerdictView::task(labels, TaskVerdict::Fail),
            Verdict::Error => VerdictView {
                key: "error",
                word: labels.could_not_check,
                symbol: "⚠",
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateView {
    pub labels: &'static Labels,
    pub labgrade: String,
    pub id: String,
    pub name: String,
    pub date: String,
    pub exam: bool,
    pub mode: &'static str,
    pub hosts: Vec<HostView>,
    /// Over all labs, out of 20.
    pub mark: String,
    pub earned: String,
    pub possible: String,
    pub passed: bool,
    pub blocks: Vec<BlockView>,
    pub labs: Vec<LabView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    pub role: String,
    pub host: String,
}

/// A block's subtotal: the points of its labs.
#[derive(Debug, Clone, Serialize)]
pub struct BlockView {
    pub block: u8,
    pub earned: String,
    pub possible: String,
    pub mark: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabView {
    /// The lab's own language: a report over labs of two languages prints each lab's
    /// section in its own.
    pub labels: &'static Labels,
    pub id: String,
    pub title: String,
    pub block: u8,
    /// When the candidate was graded, as the lab's language writes a date.
    pub date: String,
    pub mode: &'static str,
    pub mark: String,
    pub earned: String,
    pub possible: String,
    pub pass_mark: String,
    pub passed: bool,
    pub tasks: Vec<TaskView>,
    /// Tasks not passed, with the checks that did not pass and why.
    pub not_passed: Vec<TaskView>,
    /// `(task, hint)` of the tasks not passed; always empty in exam mode.
    pub hints: Vec<HintView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HintView {
    pub task: String,
    pub hint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub verdict: VerdictView,
    pub earned: String,
    pub points: String,
    pub reason: Option<String>,
    /// Only in practice mode, and only for a task not passed.
    pub hint: Option<String>,
    /// A skipped task, or one with no check to show: its reason stands for its checks.
    pub no_checks: bool,
    pub checks: Vec<CheckView>,
    pub failed_checks: Vec<CheckView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub label: String,
    pub kind: String,
    pub role: String,
    pub verdict: VerdictView,
    pub reason: Option<String>,
    pub weight: String,
    pub properties: Vec<PropertyView>,
    pub failed_properties: Vec<PropertyView>,
    pub ran: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: u64,
    pub duration: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PropertyView {
    pub name: String,
    pub expected: String,
    pub found: Option<String>,
    pub verdict: &'static str,
}

pub fn candidate(results: &Results) -> CandidateView {
    let lang = lang_of(std::slice::from_ref(results));
    let labels = Labels::of(lang);
    let row = Row::of(results);
    CandidateView {
        labels,
        labgrade: results.labgrade.clone(),
        id: results.candidate.id.clone(),
        name: results.candidate.name.clone(),
        date: date(lang, &results.finished),
        exam: results.mode == Mode::Exam,
        mode: match results.mode {
            Mode::Exam => labels.exam,
            Mode::Practice => labels.practice,
        },
        hosts: results
            .hosts
            .iter()
            .map(|(role, host)| HostView {
                role: role.clone(),
                host: host.clone(),
            })
            .collect(),
        mark: number(lang, row.mark),
        earned: number(lang, row.earned),
        possible: number(lang, row.possible),
        passed: row.passed,
        blocks: blocks(lang, results),
        labs: results
            .labs
            .iter()
            .map(|lab| lab_view(results, lab))
            .collect(),
    }
}

fn blocks(lang: Lang, results: &Results) -> Vec<BlockView> {
    let mut sums: BTreeMap<u8, (f64, f64)> = BTreeMap::new();
    for lab in &results.labs {
        let sum = sums.entry(lab.block).or_default();
        sum.0 += lab.earned;
        sum.1 += lab.possible;
    }
    sums.into_iter()
        .map(|(block, (earned, possible))| BlockView {
            block,
            earned: number(lang, earned),
            possible: number(lang, possible),
            mark: number(lang, out_of_20(earned, possible)),
        })
        .collect()
}

fn out_of_20(earned: f64, possible: f64) -> f64 {
    if possible > 0.0 {
        earned / possible * 20.0
    } else {
        0.0
    }
}

fn lab_view(results: &Results, lab: &LabResult) -> LabView {
    let mode = results.mode;
    let labels = Labels::of(lab.lang);
    let tasks: Vec<TaskView> = lab
        .tasks
        .iter()
        .map(|t| task_view(labels, lab.lang, mode, t))
        .collect();
    let not_passed: Vec<TaskView> = tasks
        .iter()
        .filter(|t| t.verdict.key != "pass")
        .cloned()
        .collect();
    // Hints help a candidate practise; an exam report never carries them.
    let hints = if mode == Mode::Practice {
        not_passed
            .iter()
            .filter_map(|t| {
                t.hint.as_ref().map(|h| HintView {
                    task: t.id.clone(),
                    hint: h.clone(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let num = |x: f64| number(lab.lang, x);
    LabView {
        labels,
        id: lab.id.clone(),
        title: lab.title.clone(),
        block: lab.block,
        date: date(lab.lang, &results.finished),
        mode: match mode {
            Mode::Exam => labels.exam,
            Mode::Practice => labels.practice,
        },
        mark: num(lab.mark),
        earned: num(lab.earned),
        possible: num(lab.possible),
        pass_mark: num(lab.pass_mark),
        passed: lab.passed,
        tasks,
        not_passed,
        hints,
    }
}

fn task_view(labels: &Labels, lang: Lang, mode: Mode, task: &TaskResult) -> TaskView {
    let checks: Vec<CheckView> = task
        .checks
        .iter()
        .map(|c| check_view(labels, lang, c))
        .collect();
    let failed_checks = task
        .checks
        .iter()
        .zip(&checks)
        .filter(|(c, _)| c.verdict != Verdict::Pass)
        .map(|(_, v)| v.clone())
        .collect();
    TaskView {
        id: task.id.clone(),
        title: task.title.clone(),
        verdict: VerdictView::task(labels, task.verdict),
        earned: number(lang, task.earned),
        points: number(lang, task.points),
        reason: task.reason.clone(),
        hint: match mode {
            Mode::Practice if task.verdict != TaskVerdict::Pass => task.hint.clone(),
            _ => None,
        },
        no_checks: task.checks.is_empty() || task.verdict == TaskVerdict::Skipped,
        checks,
        failed_checks,
    }
}

fn check_view(labels: &Labels, lang: Lang, check: &CheckResult) -> CheckView {
    let properties: Vec<PropertyView> = check
        .properties
        .iter()
        .map(|p| PropertyView {
            name: p.name.clone(),
            expected: p.expected.clone(),
            found: p.found.clone(),
            verdict: match p.verdict {
                PropertyVerdict::Pass => "pass",
                PropertyVerdict::Fail => "fail",
                PropertyVerdict::Skipped => "skipped",
            },
        })
        .collect();
    CheckView {
        label: check.label.clone(),
        kind: check.kind.clone(),
        role: check.role.clone(),
        verdict: VerdictView::check(labels, check.verdict),
        reason: check.reason.clone(),
        weight: number(lang, check.weight),
        failed_properties: properties
            .iter()
            .filter(|p| p.verdict == "fail")
            .cloned()
            .collect(),
        properties,
        ran: check.evidence.ran.clone(),
        exit_code: check.evidence.exit_code,
        stdout: check.evidence.stdout.clone(),
        stderr: check.evidence.stderr.clone(),
        truncated: check.evidence.truncated,
        duration: format!("{} ms", check.evidence.duration_ms),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassView {
    pub labels: &'static Labels,
    pub labgrade: String,
    pub date: String,
    pub labs: Vec<ClassLab>,
    /// The grid's columns: every task any candidate was graded on, lab by lab.
    pub tasks: Vec<Column>,
    pub blocks: Vec<BlockColumn>,
    pub rows: Vec<ClassRow>,
    pub distribution: Vec<Band>,
    pub count: usize,
    pub passed: usize,
    pub mean: String,
    pub lowest: String,
    pub highest: String,
    pub shared: Vec<SharedView>,
    pub errors: Vec<ErrorView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassLab {
    pub id: String,
    pub title: String,
    pub block: u8,
    /// How many of the grid's columns are this lab's tasks.
    pub span: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub lab: String,
    pub id: String,
    pub title: String,
    pub points: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockColumn {
    pub block: u8,
    pub possible: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    pub id: String,
    pub name: String,
    /// The candidate's own report, relative to the class folder; `None` when the id is not
    /// a plain file name.
    pub link: Option<String>,
    /// One per column of the grid; `None` where this candidate was not graded on the task.
    pub cells: Vec<Option<Cell>>,
    /// One per block column; `None` where this candidate had no lab of that block.
    pub blocks: Vec<Option<String>>,
    pub mark: String,
    pub passed: bool,
    pub errors: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub verdict: VerdictView,
    pub earned: String,
    pub points: String,
}

/// A band of the distribution of marks: `[from, to)`, the last one holding 20.
#[derive(Debug, Clone, Serialize)]
pub struct Band {
    pub from: String,
    pub to: String,
    pub count: usize,
    /// Of the fullest band, 0 to 100: the bar's height.
    pub percent: usize,
    /// At or above the pass mark of 10.
    pub passing: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedView {
    pub what: String,
    pub value: String,
    pub machines: Vec<String>,
}

/// A check the grader could not evaluate: that candidate's mark is not final.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub candidate: String,
    pub task: String,
    pub check: String,
    pub reason: String,
}

/// The width of a band of the distribution, in marks out of 20.
const BAND: f64 = 2.0;

pub fn class(summary: &ClassSummary, graded: &[Results]) -> ClassView {
    let lang = lang_of(graded);
    let labels = Labels::of(lang);

    let mut labs: Vec<ClassLab> = Vec::new();
    let mut tasks: Vec<Column> = Vec::new();
    let mut block_possible: BTreeMap<u8, f64> = BTreeMap::new();
    for results in graded {
        let mut possible: BTreeMap<u8, f64> = BTreeMap::new();
        for lab in &results.labs {
            *possible.entry(lab.block).or_default() += lab.possible;
            if !labs.iter().any(|l| l.id == lab.id) {
                labs.push(ClassLab {
                    id: lab.id.clone(),
                    title: lab.title.clone(),
                    block: lab.block,
                    span: 0,
                });
            }
            for task in &lab.tasks {
                if !tasks.iter().any(|c| c.lab == lab.id && c.id == task.id) {
                    tasks.push(Column {
                        lab: lab.id.clone(),
                        id: task.id.clone(),
                        title: task.title.clone(),
                        points: number(lang, task.points),
                    });
                }
            }
        }
        for (block, points) in possible {
            let most = block_possible.entry(block).or_default();
            *most = most.max(points);
        }
    }
    // Columns lab by lab, in the order labs first came.
    tasks.sort_by_key(|c| labs.iter().position(|l| l.id == c.lab));
    for lab in &mut labs {
        lab.span = tasks.iter().filter(|c| c.lab == lab.id).count();
    }

    let rows: Vec<ClassRow> = graded
        .iter()
        .map(|results| {
            let row = summary
                .candidates
                .iter()
                .find(|r| r.id == results.candidate.id)
                .cloned()
                .unwrap_or_else(|| Row::of(results));
            let cells = tasks
                .iter()
                .map(|column| {
                    results
                        .labs
                        .iter()
                        .filter(|l| l.id == column.lab)
                        .flat_map(|l| &l.tasks)
                        .find(|t| t.id == column.id)
                        .map(|t| Cell {
                            verdict: VerdictView::task(labels, t.verdict),
                            earned: number(lang, t.earned),
                            points: number(lang, t.points),
                        })
                })
                .collect();
            let blocks = block_possible
                .keys()
                .map(|block| {
                    let labs: Vec<_> = results.labs.iter().filter(|l| l.block == *block).collect();
                    (!labs.is_empty()).then(|| number(lang, labs.iter().map(|l| l.earned).sum()))
                })
                .collect();
            let linkable = row
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && !row.id.starts_with('.');
            ClassRow {
                link: linkable.then(|| row.id.clone()),
                id: row.id.clone(),
                name: row.name.clone(),
                cells,
                blocks,
                mark: number(lang, row.mark),
                passed: row.passed,
                errors: row.errors,
            }
        })
        .collect();

    let marks: Vec<f64> = summary.candidates.iter().map(|r| r.mark).collect();
    let bands = (20.0 / BAND) as usize;
    let mut counts = vec![0usize; bands];
    for mark in &marks {
        let band = ((mark / BAND).floor() as usize).min(bands - 1);
        counts[band] += 1;
    }
    let fullest = counts.iter().copied().max().unwrap_or(0).max(1);
    let distribution = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| Band {
            from: number(lang, i as f64 * BAND),
            to: number(lang, (i + 1) as f64 * BAND),
            count,
            percent: count * 100 / fullest,
            passing: i as f64 * BAND >= 10.0,
        })
        .collect();
    let mean = if marks.is_empty() {
        0.0
    } else {
        marks.iter().sum::<f64>() / marks.len() as f64
    };
    let lowest = marks.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = marks.iter().copied().fold(f64::NEG_INFINITY, f64::max);

    let errors = graded
        .iter()
        .flat_map(|r| {
            r.labs.iter().flat_map(move |l| {
                l.tasks.iter().flat_map(move |t| {
                    t.checks
                        .iter()
                        .filter(|c| c.verdict == Verdict::Error)
                        .map(move |c| ErrorView {
                            candidate: r.candidate.id.clone(),
                            task: t.id.clone(),
                            check: c.label.clone(),
                            reason: c.reason.clone().unwrap_or_default(),
                        })
                })
            })
        })
        .collect();

    ClassView {
        labels,
        labgrade: summary.labgrade.clone(),
        date: date(lang, &summary.finished),
        labs,
        tasks,
        blocks: block_possible
            .iter()
            .map(|(block, possible)| BlockColumn {
                block: *block,
                possible: number(lang, *possible),
            })
            .collect(),
        rows,
        distribution,
        count: marks.len(),
        passed: summary.candidates.iter().filter(|r| r.passed).count(),
        mean: number(lang, mean),
        lowest: if marks.is_empty() {
            String::new()
        } else {
            number(lang, lowest)
        },
        highest: if marks.is_empty() {
            String::new()
        } else {
            number(lang, highest)
        },
        shared: summary
            .shared
            .iter()
            .map(|s| SharedView {
                what: s.what.clone(),
                value: s.value.clone(),
                machines: s.machines.clone(),
            })
            .collect(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn the_class_view_has_a_cell_per_task_and_a_band_per_two_marks() {
        let graded = sample::class();
        let view = class(&sample::summary(&graded), &graded);
        assert_eq!(view.tasks.len(), 4);
        assert_eq!(view.labs.iter().map(|l| l.span).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(view.rows.len(), 3);
        let c02: Vec<&str> = view.rows[1]
            .cells
            .iter()
            .map(|c| c.as_ref().unwrap().verdict.key)
            .collect();
        assert_eq!(c02, ["pass", "partial", "fail", "fail"]);
        // 20, 7.14 and 11.43: bands 18–20, 6–8 and 10–12.
        let counts: Vec<usize> = view.distribution.iter().map(|b| b.count).collect();
        assert_eq!(counts, [0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
        assert_eq!((view.count, view.passed), (3, 1));
        assert_eq!(view.mean, "12,86");
        assert_eq!(view.errors.len(), 1);
        assert_eq!(view.errors[0].candidate, "c03");
    }

    #[test]
    fn an_exam_view_has_no_hint() {
        let mut graded = sample::class();
        let practice = candidate(&graded[1]);
        assert_eq!(practice.labs[0].hints.len(), 2);
        assert_eq!(practice.blocks.len(), 2);
        graded[1].mode = Mode::Exam;
        let exam = candidate(&graded[1]);
        assert!(exam.labs.iter().all(|l| l.hints.is_empty()));
        assert!(
            exam.labs
                .iter()
                .flat_map(|l| &l.tasks)
                .all(|t| t.hint.is_none())
        );
    }
}
