//! The Markdown reports: one per candidate (each lab's mark, its tasks, what did not pass
//! and why, hints in practice mode) and one for the class (a row per candidate), rendered
//! from reports/candidate.md and reports/class.md. Every string those templates see went
//! through [`escape`] first: control characters made visible, markup and template syntax
//! escaped, so that text from a candidate's machine reads as text.

use super::terminal::sanitize;
use super::{Templates, view};
use crate::class::ClassSummary;
use crate::results::Results;

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
            // Braces as entities, which Markdown shows as braces: no `{{ }}` or `{% %}`
            // survives in the file for a site generator or a template engine to run.
            '{' => out.push_str("&#123;"),
            '}' => out.push_str("&#125;"),
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

/// One candidate's report, a section per lab, each in its lab's language, from the
/// `candidate.md` template.
pub fn candidate(templates: &Templates, results: &Results) -> Result<String, String> {
    templates.candidate_md(&view::candidate(results))
}

/// The class at a glance, from the `class.md` template: a row per candidate, linked to
/// their report, and the machines candidates share though the labs want them unique.
pub fn class(
    templates: &Templates,
    summary: &ClassSummary,
    graded: &[Results],
) -> Result<String, String> {
    templates.class_md(&view::class(summary, graded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;
    use crate::results::Mode;

    #[test]
    fn hostile_text_reads_as_text() {
        let escaped = escape(sample::HOSTILE);
        assert_eq!(
            escaped,
            "admins:x:1001:bob\\|eve &lt;script&gt;alert(1)&lt;/script&gt; &#123;&#123; 7\\*7 &#125;&#125; \u{241b}\\[31mred"
        );
        assert_eq!(escape("# title\nline"), "\\# title line");
        assert_eq!(escape("a_b `c` [d]"), "a\\_b \\`c\\` \\[d\\]");
    }

    #[test]
    fn a_report_shows_what_failed_and_hints_in_practice_only() {
        let mut graded = sample::class();
        let templates = Templates::built_in();
        let text = candidate(&templates, &graded[1]).unwrap();
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
        assert!(!text.contains("<script>") && !text.contains('\u{1b}') && !text.contains("{{"));
        // The English lab's section is in English.
        assert!(text.contains("| **0/20** (0/4 points) |"), "{text}");
        assert!(text.contains("### Checks not passed"), "{text}");

        graded[1].mode = Mode::Exam;
        let exam = candidate(&templates, &graded[1]).unwrap();
        assert!(!exam.contains("usermod"), "{exam}");
        assert!(!exam.contains("### Indice"), "{exam}");
    }

    #[test]
    fn the_class_table_has_a_row_per_candidate() {
        let graded = sample::class();
        let text = class(&Templates::built_in(), &sample::summary(&graded), &graded).unwrap();
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
