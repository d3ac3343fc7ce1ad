//! `labgrade explain`: what a lab will check, written for candidates.

use std::path::Path;

use crate::error::{EXIT_PASSED, Error};
use crate::expect::format_number;
use crate::lab::load;
use crate::plan::generated_label;
use crate::template;

pub fn explain(path: &Path) -> Result<i32, Error> {
    let lab = load(path)?;
    print!("{}", render(&lab));
    Ok(EXIT_PASSED)
}

/// In an exam lab the candidate learns what is looked at, never the value expected.
pub fn render(lab: &crate::lab::Lab) -> String {
    let ctx = serde_json::Value::Object(lab.vars.clone());
    let show = |text: &str| template::render(text, &ctx).unwrap_or_else(|_| text.to_string());
    let mut out = format!("{} — {} (block {})\n", lab.id, lab.title, lab.block);
    if let Some(competence) = &lab.competence {
        out.push_str(&format!("competence: {competence}\n"));
    }
    let roles: Vec<String> = lab
        .roles
        .iter()
        .map(|r| {
            format!(
                "{} ({}{})",
                r.name,
                r.os,
                if r.optional { ", optional" } else { "" }
            )
        })
        .collect();
    out.push_str(&format!("machines: {}\n", roles.join(", ")));
    out.push_str(&format!(
        "{} points; pass mark {}/20{}\n",
        format_number(lab.possible_points()),
        format_number(lab.pass_mark),
        if lab.exam {
            "; exam lab: expected values are not shown"
        } else {
            ""
        }
    ));
    for task in &lab.tasks {
        out.push_str(&format!(
            "\n{} — {} ({} points{}{})\n",
            task.id,
            show(&task.title),
            format_number(task.points),
            if task.partial { ", partial credit" } else { "" },
            if task.requires.is_empty() {
                String::new()
            } else {
                format!(", requires {}", task.requires.join(", "))
            }
        ));
        for check in &task.checks {
            let line = if lab.exam {
                let names: Vec<&str> = check.expects.iter().map(|(n, _)| *n).collect();
                format!(
                    "{} {} on {}: {}",
                    check.kind.name(),
                    show(&check.subject),
                    check.on,
                    names.join(", ")
                )
            } else {
                match &check.label {
                    Some(label) => show(label),
                    None => generated_label(
                        check.kind.name(),
                        &show(&check.subject),
                        &check.inputs,
                        &check.expects,
                    ),
                }
            };
            out.push_str(&format!("  - {line}\n"));
        }
    }
    out
}
