//! JUnit XML, for CI dashboards: a test suite per candidate and lab, a test case per check.
//! A fail is a `<failure>`, a check that could not be evaluated an `<error>`, so that a
//! dashboard tells "the candidate was wrong" from "the grader could not check".

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::terminal::sanitize;
use crate::results::{CheckResult, PropertyVerdict, Results, TaskVerdict, Verdict};

/// The most of a check's output a test case carries; results.json keeps the rest.
pub const OUTPUT_CAP: usize = 4096;

pub fn render(graded: &[Results]) -> Result<String, String> {
    let mut report = Report::new("labgrade");
    for results in graded {
        let started = chrono::DateTime::parse_from_rfc3339(&results.started).ok();
        for lab in &results.labs {
            let mut suite = TestSuite::new(format!("{}/{}", results.candidate.id, lab.id));
            if let Some(started) = started {
                suite.set_timestamp(started);
            }
            suite.add_properties([
                Property::new("candidate", results.candidate.name.as_str()),
                Property::new("lab", lab.title.as_str()),
                Property::new("block", lab.block.to_string()),
                Property::new("mark", crate::expect::format_number(lab.mark)),
                Property::new("passed", lab.passed.to_string()),
            ]);
            let mut took = 0;
            for task in &lab.tasks {
                if task.checks.is_empty() {
                    // A skipped task ran no check: it still shows, as skipped.
                    let mut status = TestCaseStatus::skipped();
                    if let Some(reason) = &task.reason {
                        status.set_message(reason.as_str());
                    }
                    let mut case = TestCase::new(task.id.as_str(), status);
                    case.set_classname(lab.id.as_str());
                    suite.add_test_case(case);
                    continue;
                }
                for check in &task.checks {
                    took += check.evidence.duration_ms;
                    let mut case = test_case(&task.id, check, task.verdict);
                    case.set_classname(lab.id.as_str());
                    suite.add_test_case(case);
                }
            }
            suite.set_time(Duration::from_millis(took));
            report.add_test_suite(suite);
        }
    }
    report
        .to_string()
        .map_err(|e| format!("cannot write the JUnit report: {e}"))
}

fn test_case(task: &str, check: &CheckResult, task_verdict: TaskVerdict) -> TestCase {
    let status = match check.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail | Verdict::Error => {
            let kind = if check.verdict == Verdict::Error {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_type(check.kind.as_str());
            if let Some(reason) = &check.reason {
                status.set_message(reason.as_str());
            }
            let failed: Vec<String> = check
                .properties
                .iter()
                .filter(|p| p.verdict == PropertyVerdict::Fail)
                .map(|p| {
                    format!(
                        "{}: expected {}, found {}",
                        p.name,
                        p.expected,
                        p.found.as_deref().unwrap_or("nothing")
                    )
                })
                .collect();
            if !failed.is_empty() {
                status.set_description(failed.join("\n"));
            }
            status
        }
    };
    let mut case = TestCase::new(format!("{task}: {}", check.label), status);
    case.set_time(Duration::from_millis(check.evidence.duration_ms));
    case.add_properties([
        Property::new("kind", check.kind.as_str()),
        Property::new("role", check.role.as_str()),
        Property::new("task_verdict", format!("{task_verdict:?}").to_lowercase()),
        Property::new("attempts", check.evidence.attempts.to_string()),
    ]);
    if let Some(code) = check.evidence.exit_code {
        case.add_property(Property::new("exit_code", code.to_string()));
    }
    // Output from the candidate's machine: its controls made visible, as on a terminal, for
    // the CI logs and viewers that show it.
    if !check.evidence.stdout.is_empty() {
        case.set_system_out(cap(&sanitize(&check.evidence.stdout)));
    }
    if !check.evidence.stderr.is_empty() {
        case.set_system_err(cap(&sanitize(&check.evidence.stderr)));
    }
    case
}

/// At most [`OUTPUT_CAP`] bytes, cut on a character boundary, saying how much was left out.
fn cap(text: &str) -> String {
    if text.len() <= OUTPUT_CAP {
        return text.to_string();
    }
    let mut end = OUTPUT_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[{} more bytes in results.json]",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn failures_and_errors_are_told_apart() {
        let xml = render(&sample::class()).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        // 3 candidates × 2 labs.
        assert_eq!(xml.matches("<testsuite ").count(), 6);
        assert!(xml.contains(r#"<testsuite name="c02/bloc4-socle-linux" tests="4" skipped="0" errors="0" failures="2""#), "{xml}");
        assert!(xml.contains(r#"<testsuite name="c03/bloc4-socle-linux" tests="4" skipped="1" errors="1" failures="0""#), "{xml}");
        assert!(xml.contains(r#"<error message="could not connect to 10.0.3.10:22: connection timed out" type="service""#), "{xml}");
        assert!(
            xml.contains("<skipped message=\"requires ssh-up\""),
            "{xml}"
        );
        // Markup from a candidate's machine is escaped, terminal escapes are dropped.
        assert!(!xml.contains("<script>"));
        assert!(xml.contains("&lt;script&gt;"));
        assert!(!xml.contains('\u{1b}'));
        assert!(xml.contains(r#"time="0.120""#), "{xml}");
    }

    #[test]
    fn long_output_is_capped_on_a_character_boundary() {
        let long = "é".repeat(OUTPUT_CAP);
        let capped = cap(&long);
        assert!(capped.len() < OUTPUT_CAP + 64);
        assert!(capped.ends_with(&format!("[{} more bytes in results.json]", OUTPUT_CAP)));
        assert_eq!(cap("short"), "short");
    }
}
