//! The Markdown reports: one per candidate (each lab's mark, its tasks, what did not pass
//! and why, hints in practice mode) and one for the class (a row per candidate). Text from a
//! candidate's machine is stripped of control characters and escaped, so that it reads as
//! text and never as markup.

use std::fmt::Write as _;

use super::labels::{Labels, date, lang_of, number};
use super::terminal::sanitize;
use crate::class::ClassSummary;
use crate::results::{LabResult, Mode, PropertyVerdict, Results, TaskVerdict, Verdict};

/// Text as Markdown shows it literally, on one line: control characters replaced, line
/// breaks made spaces, and every character that would start markup escaped.
pub fn escape(text: &str) -> String {
    let clean = sanitize(text).replace(['\n', '\t', '\r'], " ");
    let mut out = String::with_capacity(clean.len());
    for (i, c) in clean.chars().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
    out
}

/// One candidate's report, a section per lab, each in its lab's language.
pub fn candidate(results: &Results) -> String {
    let labels = Labels::of(lang_of(std::slice::from_ref(results)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} — {} ({})\n",
        labels.report,
        escape(&results.candidate.name),
        escape(&results.candidate.id)
    );
    for lab in &results.labs {
        lab_section(&mut out, results, lab);
    }
    out
}

fn lab_section(out: &mut String, results: &Results, lab: &LabResult) {
    let labels = Labels::of(lab.lang);
    let num = |x: f64| number(lab.lang, x);
    let _ = writeln!(out, "## {} — {}\n", escape(&lab.id), escape(&lab.title));
    let _ = writeln!(out, "| | |\n| --- | --- |");
    let _ = writeln!(
        out,
        "| {} | {} ({}) |",
        labels.candidate,
        escape(&results.candidate.name),
        escape(&results.candidate.id)
    );
    let _ = writeln!(
        out,
        "| {} | {} — {} ({} {}) |",
        labels.lab,
        escape(&lab.id),
        escape(&lab.title),
        labels.block.to_lowercase(),
        lab.block
    );
    let _ = writeln!(
        out,
        "| {} | {} |",
        labels.date,
        escape(&date(lab.lang, &results.finished))
    );
    let mode = match results.mode {
        Mode::Exam => labels.exam,
        Mode::Practice => labels.practice,
    };
    let _ = writeln!(out, "| {} | {mode} |", labels.mode);
    let _ = writeln!(
        out,
        "| {} | **{}{}** ({}/{} {}) |",
        labels.mark,
        num(lab.mark),
        labels.out_of_20,
        num(lab.earned),
        num(lab.possible),
        labels.points.to_lowercase()
    );
    let _ = writeln!(
        out,
        "| {} | {} ({} {}{}) |\n",
        labels.verdict,
        if lab.passed {
            labels.passed
        } else {
            labels.not_passed
        },
        labels.pass_mark.to_lowercase(),
        num(lab.pass_mark),
        labels.out_of_20
    );

    let _ = writeln!(out, "### {}\n", labels.tasks);
    let _ = writeln!(
        out,
        "| {} | | {} | {} |\n| --- | --- | --- | ---: |",
        labels.task, labels.verdict, labels.points
    );
    for task in &lab.tasks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}/{} |",
            escape(&task.id),
            escape(&task.title),
            labels.task_verdict(task.verdict),
            num(task.earned),
            num(task.points)
        );
    }
    out.push('\n');

    let not_passed: Vec<_> = lab
        .tasks
        .iter()
        .filter(|t| t.verdict != TaskVerdict::Pass)
        .collect();
    if !not_passed.is_empty() {
        let _ = writeln!(out, "### {}\n", labels.not_passed_checks);
        for task in &not_passed {
            if task.checks.is_empty() || task.verdict == TaskVerdict::Skipped {
                let _ = writeln!(
                    out,
                    "- **{}** — {}: {}",
                    escape(&task.id),
                    labels.task_verdict(task.verdict),
                    escape(task.reason.as_deref().unwrap_or(""))
                );
                continue;
            }
            for check in task.checks.iter().filter(|c| c.verdict != Verdict::Pass) {
                let verdict = match check.verdict {
                    Verdict::Error => labels.could_not_check,
                    _ => labels.check_verdict(check.verdict),
                };
                let _ = writeln!(
                    out,
                    "- **{}** — {} ({verdict}): {}",
                    escape(&task.id),
                    escape(&check.label),
                    escape(check.reason.as_deref().unwrap_or(""))
                );
                for property in check
                    .properties
                    .iter()
                    .filter(|p| p.verdict == PropertyVerdict::Fail)
                {
                    let _ = writeln!(
                        out,
                        "  - {}: {} → {}",
                        escape(&property.name),
                        escape(&property.expected),
                        escape(property.found.as_deref().unwrap_or("—"))
                    );
                }
            }
        }
        out.push('\n');
    }

    // Hints help a candidate practise; an exam report never carries them.
    if results.mode == Mode::Practice {
        let hints: Vec<_> = not_passed
            .iter()
            .filter_map(|t| t.hint.as_ref().map(|h| (&t.id, h)))
            .collect();
        if !hints.is_empty() {
            let _ = writeln!(out, "### {}\n", labels.hint);
            for (task, hint) in hints {
                let _ = writeln!(out, "- **{}**: {}", escape(task), escape(hint));
            }
            out.push('\n');
        }
    }
}

/// The class at a glance: a row per candidate, linked to their report, and the machines
/// candidates share though the labs want them unique.
pub fn class(summary: &ClassSummary, graded: &[Results]) -> String {
    let lang = lang_of(graded);
    let labels = Labels::of(lang);
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", labels.class_report);
    let labs: Vec<String> = {
        let mut seen: Vec<&LabResult> = Vec::new();
        for lab in graded.iter().flat_map(|r| &r.labs) {
            if !seen.iter().any(|l| l.id == lab.id) {
                seen.push(lab);
            }
        }
        seen.iter()
            .map(|l| format!("{} — {}", escape(&l.id), escape(&l.title)))
            .collect()
    };
    for lab in &labs {
        let _ = writeln!(out, "- {}: {lab}", labels.lab);
    }
    let _ = writeln!(
        out,
        "- {}: {}\n",
        labels.date,
        escape(&date(lang, &summary.finished))
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} {} | {} | {} |\n| --- | --- | ---: | --- | ---: |",
        labels.id, labels.candidate, labels.mark, labels.out_of_20, labels.passed, labels.errors
    );
    for row in &summary.candidates {
        let linkable = row
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        let id = if linkable {
            format!("[{}]({}/report.md)", escape(&row.id), row.id)
        } else {
            escape(&row.id)
        };
        let _ = writeln!(
            out,
            "| {id} | {} | {} | {} | {} |",
            escape(&row.name),
            number(lang, row.mark),
            if row.passed { labels.yes } else { labels.no },
            row.errors
        );
    }
    if !summary.shared.is_empty() {
        let _ = writeln!(out, "\n## {}\n", labels.shared);
        for shared in &summary.shared {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                escape(&shared.what),
                escape(&shared.value),
                escape(&shared.machines.join(", "))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn hostile_text_reads_as_text() {
        let escaped = escape(sample::HOSTILE);
        assert_eq!(
            escaped,
            "admins:x:1001:bob\\|eve &lt;script&gt;alert(1)&lt;/script&gt; {{ 7\\*7 }} \u{fffd}\\[31mred"
        );
        assert_eq!(escape("# title\nline"), "\\# title line");
        assert_eq!(escape("a_b `c` [d]"), "a\\_b \\`c\\` \\[d\\]");
    }

    #[test]
    fn a_report_shows_what_failed_and_hints_in_practice_only() {
        let mut graded = sample::class();
        let text = candidate(&graded[1]);
        assert!(text.contains("| **10/20** (5/10 points) |"), "{text}");
        assert!(
            text.contains("| users | Les comptes de l'équipe existent | partiel | 3/4 |"),
            "{text}"
        );
        assert!(
            text.contains(
                "- **firewall** — nftables filtre l'entrée (échoué): policy accept, expected drop"
            ),
            "{text}"
        );
        assert!(text.contains("usermod -aG admins alice"), "{text}");
        assert!(!text.contains("<script>") && !text.contains('\u{1b}'));
        // The English lab's section is in English.
        assert!(text.contains("| **0/20** (0/4 points) |"), "{text}");
        assert!(text.contains("### Checks not passed"), "{text}");

        graded[1].mode = Mode::Exam;
        let exam = candidate(&graded[1]);
        assert!(!exam.contains("usermod"), "{exam}");
        assert!(!exam.contains("### Indice"), "{exam}");
    }

    #[test]
    fn the_class_table_has_a_row_per_candidate() {
        let graded = sample::class();
        let text = class(&sample::summary(&graded), &graded);
        assert!(
            text.contains("| [c02](c02/report.md) | Bruno Petit | 7,14 | non | 0 |"),
            "{text}"
        );
        assert!(
            text.contains("| [c03](c03/report.md) | Chloé Durand | 11,43 | non | 1 |"),
            "{text}"
        );
        assert!(
            text.contains("- machine\\_id 0f3a: c01/srv, c03/srv"),
            "{text}"
        );
    }
}
