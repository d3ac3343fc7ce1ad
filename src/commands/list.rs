//! `labgrade list`: the labs of a folder, by block.

use std::path::Path;

use crate::error::{EXIT_BAD_INPUT, EXIT_PASSED, Error};
use crate::expect::format_number;
use crate::lab::load;

pub fn list(dir: &Path) -> Result<i32, Error> {
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
    let width = labs
        .iter()
        .map(|l| l.id.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    println!("block  {:<width$}  tasks  points  title", "lab");
    for lab in &labs {
        println!(
            "{:>5}  {:<width$}  {:>5}  {:>6}  {}",
            lab.block,
            lab.id,
            lab.tasks.len(),
            format_number(lab.possible_points()),
            lab.title
        );
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
