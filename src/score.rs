//! Check verdicts to task verdicts and points, then the lab's total and mark out of 20. Pure.

use std::collections::HashMap;

use crate::plan::PlannedTask;
use crate::results::{CheckResult, LabResult, Mode, TaskResult, TaskVerdict, Verdict};

/// Score one task from its checks, before requirements are applied.
fn score_checks(task: &PlannedTask, checks: &[CheckResult]) -> (TaskVerdict, f64, Option<String>) {
    let errors: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Error)
        .collect();
    let any_fail = checks.iter().any(|c| c.verdict == Verdict::Fail);
    let total: f64 = checks.iter().map(|c| c.weight).sum();
    let passed: f64 = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Pass)
        .map(|c| c.weight)
        .sum();
    let error_reason = || {
        Some(format!(
            "could not check: {}",
            errors
                .iter()
                .filter_map(|c| c.reason.as_deref())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    if task.partial {
        let earned = if total > 0.0 {
            task.points * passed / total
        } else {
            0.0
        };
        let earned = round2(earned);
        if !errors.is_empty() {
            (TaskVerdict::Error, earned, error_reason())
        } else if passed >= total {
            (TaskVerdict::Pass, task.points, None)
        } else if earned > 0.0 {
            (TaskVerdict::Partial, earned, None)
        } else {
            (TaskVerdict::Fail, 0.0, None)
        }
    } else if any_fail {
        // One check that definitely failed settles an all-or-nothing task, whatever else could not be checked.
        (TaskVerdict::Fail, 0.0, None)
    } else if !errors.is_empty() {
        (TaskVerdict::Error, 0.0, error_reason())
    } else {
        (TaskVerdict::Pass, task.points, None)
    }
}

/// Score a lab: tasks in order, each skipped when a task it requires did not fully pass.
pub fn score(
    lab: &crate::lab::Lab,
    tasks: &[PlannedTask],
    checks: Vec<Vec<CheckResult>>,
    mode: Mode,
) -> LabResult {
    let mut own: HashMap<&str, (TaskVerdict, f64, Option<String>)> = HashMap::new();
    for (task, results) in tasks.iter().zip(&checks) {
        own.insert(task.id.as_str(), score_checks(task, results));
    }
    let mut results = Vec::new();
    for (task, task_checks) in tasks.iter().zip(checks) {
        let (mut verdict, mut earned, mut reason) = own[task.id.as_str()].clone();
        let unmet: Vec<&str> = task
            .requires
            .iter()
            .filter(|r| !passes(r, tasks, &own, &mut Vec::new()))
            .map(String::as_str)
            .collect();
        if !unmet.is_empty() {
            verdict = TaskVerdict::Skipped;
            earned = 0.0;
            reason = Some(format!(
                "requires {}, not passed",
                unmet
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let hint = match (mode, verdict) {
            (Mode::Practice, v) if v != TaskVerdict::Pass => task.hint.clone(),
            _ => None,
        };
        results.push(TaskResult {
            id: task.id.clone(),
            title: task.title.clone(),
            verdict,
            earned,
            points: task.points,
            reason,
            hint,
            checks: task_checks,
        });
    }
    let earned = round2(results.iter().map(|t| t.earned).sum());
    let possible: f64 = results.iter().map(|t| t.points).sum();
    let mark = if possible > 0.0 {
        round2(earned / possible * 20.0)
    } else {
        0.0
    };
    LabResult {
        id: lab.id.clone(),
        title: lab.title.clone(),
        lang: lab.lang,
        block: lab.block,
        pass_mark: lab.pass_mark,
        earned,
        possible,
        mark,
        passed: mark >= lab.pass_mark,
        tasks: results,
    }
}

/// A task passes when its checks pass and everything it requires passes, transitively.
fn passes<'a>(
    id: &'a str,
    tasks: &'a [PlannedTask],
    own: &HashMap<&str, (TaskVerdict, f64, Option<String>)>,
    seen: &mut Vec<&'a str>,
) -> bool {
    if seen.contains(&id) {
        return false;
    }
    seen.push(id);
    let Some((verdict, _, _)) = own.get(id) else {
        // A requirement filtered out by --only is not held against the task.
        return true;
    };
    let task = tasks
        .iter()
        .find(|t| t.id == id)
        .expect("scored tasks come from the plan");
    *verdict == TaskVerdict::Pass && task.requires.iter().all(|r| passes(r, tasks, own, seen))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Evidence;

    fn task(id: &str, points: f64, partial: bool, requires: &[&str]) -> PlannedTask {
        PlannedTask {
            id: id.into(),
            title: id.into(),
            points,
            partial,
            requires: requires.iter().map(|s| s.to_string()).collect(),
            hint: Some(format!("hint for {id}")),
            checks: Vec::new(),
        }
    }

    fn check(verdict: Verdict, weight: f64) -> CheckResult {
        CheckResult {
            label: "c".into(),
            kind: "file".into(),
            role: "srv".into(),
            verdict,
            reason: (verdict != Verdict::Pass).then(|| "why".to_string()),
            weight,
            properties: Vec::new(),
            evidence: Evidence::default(),
        }
    }

    fn lab() -> crate::lab::Lab {
        crate::lab::Lab {
            id: "t".into(),
            path: "t.yaml".into(),
            title: "T".into(),
            block: 4,
            competence: None,
            pass_mark: 10.0,
            lang: crate::lab::Lang::Fr,
            exam: false,
            roles: Vec::new(),
            vars: Default::default(),
            tasks: Vec::new(),
            unique: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn partial_tasks_earn_pro_rata_of_weights() {
        let tasks = [task("a", 4.0, true, &[])];
        let r = score(
            &lab(),
            &tasks,
            vec![vec![check(Verdict::Pass, 3.0), check(Verdict::Fail, 1.0)]],
            Mode::Practice,
        );
        assert_eq!(r.tasks[0].verdict, TaskVerdict::Partial);
        assert_eq!(r.tasks[0].earned, 3.0);
        assert_eq!(r.mark, 15.0);
    }

    #[test]
    fn all_or_nothing_and_requirements() {
        let tasks = [
            task("a", 2.0, false, &[]),
            task("b", 2.0, false, &["a"]),
            task("c", 4.0, false, &[]),
        ];
        let r = score(
            &lab(),
            &tasks,
            vec![
                vec![check(Verdict::Pass, 1.0), check(Verdict::Fail, 1.0)],
                vec![check(Verdict::Pass, 1.0)],
                vec![check(Verdict::Pass, 1.0)],
            ],
            Mode::Exam,
        );
        let verdicts: Vec<_> = r.tasks.iter().map(|t| (t.verdict, t.earned)).collect();
        assert_eq!(
            verdicts,
            [
                (TaskVerdict::Fail, 0.0),
                (TaskVerdict::Skipped, 0.0),
                (TaskVerdict::Pass, 4.0)
            ]
        );
        assert_eq!(
            r.tasks[1].reason.as_deref(),
            Some("requires `a`, not passed")
        );
        assert!(
            r.tasks.iter().all(|t| t.hint.is_none()),
            "no hints in exam mode"
        );
        assert_eq!(r.mark, 10.0);
        assert!(r.passed);
    }

    #[test]
    fn an_error_is_never_a_fail() {
        let tasks = [task("a", 2.0, false, &[])];
        let r = score(
            &lab(),
            &tasks,
            vec![vec![check(Verdict::Pass, 1.0), check(Verdict::Error, 1.0)]],
            Mode::Practice,
        );
        assert_eq!(r.tasks[0].verdict, TaskVerdict::Error);
        assert_eq!(r.tasks[0].reason.as_deref(), Some("could not check: why"));
        assert_eq!(r.tasks[0].hint.as_deref(), Some("hint for a"));
    }
}
