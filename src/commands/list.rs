//! `labgrade list`: the labs of a folder, grouped by block, as text or as a Markdown table.

use std::path::{Path, PathBuf};

use crate::error::{EXIT_BAD_INPUT, EXIT_PASSED, Error};
use crate::expect::format_number;
use crate::lab::{Lab, load};

/// The certification's blocks (RNCP 14392), as the library groups its labs.
const BLOCKS: [&str; 6] = [
    "client fleet and helpdesk",
    "enterprise network",
    "Windows servers",
    "Linux servers",
    "client/server applications",
    "security and high availability",
];

fn block_name(block: u8) -> &'static str {
    BLOCKS
        .get(usize::from(block).wrapping_sub(1))
        .copied()
        .unwrap_or("")
}

pub fn list(dir: &Path, markdown: bool) -> Result<i32, Error> {
    let (labs, invalid) = library(dir)?;
    if markdown {
        print!("{}", markdown_table(&labs));
    } else {
        print!("{}", text(&labs));
    }
    for path in &invalid {
        println!(
            "invalid: {} (labgrade validate {} says why)",
            path.display(),
            path.display()
        );
    }
    Ok(if invalid.is_empty() {
        EXIT_PASSED
    } else {
        EXIT_BAD_INPUT
    })
}

/// The labs of a folder sorted by block then id, and the files that do not load.
fn library(dir: &Path) -> Result<(Vec<Lab>, Vec<PathBuf>), Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", dir.display())))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut labs = Vec::new();
    let mut invalid = Vec::new();
    for path in paths {
        match load(&path) {
            Ok(lab) => labs.push(lab),
            Err(_) => invalid.push(path),
        }
    }
    labs.sort_by(|a, b| (a.block, &a.id).cmp(&(b.block, &b.id)));
    Ok((labs, invalid))
}

/// A heading per block, then a line per lab.
fn text(labs: &[Lab]) -> String {
    let width = labs
        .iter()
        .map(|l| l.id.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = String::new();
    let mut block = None;
    for lab in labs {
        if block != Some(lab.block) {
            if block.is_some() {
                out.push('\n');
            }
            block = Some(lab.block);
            out.push_str(&format!("block {}: {}\n", lab.block, block_name(lab.block)));
            out.push_str(&format!(
                "  {:<width$}  tasks  points  lang  title\n",
                "lab"
            ));
        }
        out.push_str(&format!(
            "  {:<width$}  {:>5}  {:>6}  {:<4}  {}\n",
            lab.id,
            lab.tasks.len(),
            format_number(lab.possible_points()),
            lab.lang.code(),
            lab.title
        ));
    }
    out
}

/// One row per lab, the block's name on its first row only.
fn markdown_table(labs: &[Lab]) -> String {
    let mut out = String::from(
        "| block | lab | title | tasks | points | lang |\n| --- | --- | --- | ---: | ---: | --- |\n",
    );
    let mut block = None;
    for lab in labs {
        let heading = if block == Some(lab.block) {
            String::new()
        } else {
            block = Some(lab.block);
            format!("{} {}", lab.block, block_name(lab.block))
        };
        out.push_str(&format!(
            "| {heading} | `{}` | {} | {} | {} | {} |\n",
            lab.id,
            lab.title.replace('|', "\\|"),
            lab.tasks.len(),
            format_number(lab.possible_points()),
            lab.lang.code()
        ));
    }
    out
}
