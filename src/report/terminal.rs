//! The summary a person reads at a glance: a line per task with its verdict and points, then the mark.

use std::fmt::Write;

use crate::expect::format_number;
use crate::results::{Results, TaskVerdict, Verdict};

/// Text from a candidate's machine may hold terminal escapes: only printable characters,
/// tabs and line breaks reach the screen. Every other control is made visible instead: a C0
/// control as its Unicode control picture (ESC as `␛`, BEL as `␇`), DEL as `␡`, a C1
/// control (CSI U+009B, OSC U+009D...) and the bidirectional overrides that reorder what a
/// reader sees as `\u009b`, `\u202e`.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\0'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + c as u32).expect("a control picture"));
            }
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_made_visible_and_text_kept() {
        assert_eq!(
            sanitize("a\u{1b}[31mred\u{7}\r\n\tb\u{7f}\u{9b}2J\u{9d}0;t\u{202e}é"),
            "a\u{241b}[31mred\u{2407}\u{240d}\n\tb\u{2421}\\u009b2J\\u009d0;t\\u202eé"
        );
        assert!(
            sanitize("x\u{1b}]0;title\u{7}")
                .chars()
                .all(|c| !c.is_control())
        );
    }
}
