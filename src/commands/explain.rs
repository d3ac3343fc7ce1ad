//! `labgrade explain`: what a lab will check, written for candidates.

use std::path::Path;

use crate::error::{EXIT_PASSED, Error};
use crate::expect::format_number;
use serde_json::json;

use crate::lab::{Lab, load};
use crate::plan::plan_in;

pub fn explain(path: &Path) -> Result<i32, Error> {
    let lab = load(path)?;
    print!("{}", render(&lab)?);
    Ok(EXIT_PASSED)
}

/// In an exam lab the candidate learns what is looked at, never the value expected.
pub fn render(lab: &Lab) -> Result<String, Error> {
    // Hosts are shown by their role: `http://srv/`, not an address.
    let mut ctx = serde_json::Value::Object(lab.vars.clone());
    ctx["candidate"] = json!({"id": "candidate", "name": "candidate"});
    ctx["hosts"] = lab
        .roles
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                json!({"address": r.name, "user": "user", "port": 22}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let plan = plan_in(lab, &ctx, &[])?;
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
    for task in &plan.tasks {
        let requires = if task.requires.is_empty() {
            String::new()
        } else {
            format!(", requires {}", task.requires.join(", "))
        };
        out.push_str(&format!(
            "\n{} — {} ({} points{}{requires})\n",
            task.id,
            task.title,
            format_number(task.points),
            if task.partial { ", partial credit" } else { "" },
        ));
        for check in &task.checks {
            let line = if lab.exam {
                let names: Vec<&str> = check.expects.iter().map(|(n, _)| *n).collect();
                format!(
                    "{} {} on {}: {}",
                    check.kind.name(),
                    check.subject,
                    check
                        .role
                        .as_deref()
                        .map_or_else(|| "the grader".to_string(), |r| r.to_string()),
                    names.join(", ")
                )
            } else {
                check.label.clone()
            };
            out.push_str(&format!("  - {line}\n"));
        }
    }
    Ok(out)
}
