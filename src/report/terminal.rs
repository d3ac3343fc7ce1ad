//! The summary a person reads at a glance: a line per task with its verdict and points, then the mark.

use std::fmt::Write;

use crate::expect::format_number;
use crate::results::{Results, TaskVerdict, Verdict};

/// Text from a candidate's machine may hold terminal escapes: only printable characters,
/// tabs and line breaks reach the screen.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn verdict_word(v: TaskVerdict) -> &'static str {
    match v {
        TaskVerdict::Pass => "PASS",
        TaskVerdict::Partial => "PARTIAL",
        TaskVerdict::Fail => "FAIL",
        TaskVerdict::Skipped => "SKIPPED",
        TaskVerdict::Error => "ERROR",
    }
}

pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let hosts: Vec<String> = results
        .hosts
        .iter()
        .map(|(role, host)| format!("{role}={host}"))
        .collect();
    for lab in &results.labs {
        let _ = writeln!(
            out,
            "{} — {} (block {}) · {} · {}",
            lab.id,
            sanitize(&lab.title),
            lab.block,
            sanitize(&results.candidate.name),
            hosts.join(" ")
        );
        let id_width = lab
            .tasks
            .iter()
            .map(|t| t.id.chars().count())
            .max()
            .unwrap_or(0);
        for task in &lab.tasks {
            let _ = writeln!(
                out,
                "  {:<7}  {:<id_width$}  {}  {}/{}",
                verdict_word(task.verdict),
                task.id,
                sanitize(&task.title),
                format_number(task.earned),
                format_number(task.points),
            );
            if task.verdict == TaskVerdict::Pass {
                continue;
            }
            if let Some(reason) = &task.reason
                && task.verdict == TaskVerdict::Skipped
            {
                let _ = writeln!(out, "           {}", sanitize(reason));
            }
            for check in task.checks.iter().filter(|c| c.verdict != Verdict::Pass) {
                let mark = if check.verdict == Verdict::Error {
                    "could not check"
                } else {
                    "failed"
                };
                let _ = writeln!(
                    out,
                    "           {mark}: {} — {}",
                    sanitize(&check.label),
                    sanitize(check.reason.as_deref().unwrap_or(""))
                );
            }
            if let Some(hint) = &task.hint {
                let _ = writeln!(out, "           hint: {}", sanitize(hint));
            }
        }
        let _ = writeln!(
            out,
            "  mark {}/20 ({}/{} points) — {} (pass mark {})",
            format_number(lab.mark),
            format_number(lab.earned),
            format_number(lab.possible),
            if lab.passed { "passed" } else { "not passed" },
            format_number(lab.pass_mark),
        );
    }
    out
}
