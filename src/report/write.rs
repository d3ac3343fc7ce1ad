//! Read a results folder and write the reports asked for beside the results, each file
//! atomically.

use std::path::{Path, PathBuf};

use super::{Format, Templates, gradebook, junit, markdown, moodle, view};
use crate::class::{self, ClassSummary};
use crate::results::Results;

/// What a results folder holds: one candidate (`DIR/results.json`), or a class
/// (`DIR/ID/results.json` and `DIR/class.json`).
#[derive(Debug)]
pub struct Graded {
    /// Each candidate's results, with the folder its own reports go in, in the roster's order.
    pub candidates: Vec<(PathBuf, Results)>,
    /// The class summary; `None` for a single candidate.
    pub class: Option<ClassSummary>,
}

impl Graded {
    pub fn results(&self) -> Vec<Results> {
        self.candidates.iter().map(|(_, r)| r.clone()).collect()
    }
}

/// The results saved in `dir`, a single candidate's or a class's.
pub fn read_results(dir: &Path) -> Result<Graded, String> {
    let single = dir.join("results.json");
    if single.is_file() {
        return Ok(Graded {
            candidates: vec![(dir.to_path_buf(), Results::read(&single)?)],
            class: None,
        });
    }
    let summary_path = dir.join("class.json");
    let summary: Option<ClassSummary> = if summary_path.is_file() {
        let text = std::fs::read_to_string(&summary_path)
            .map_err(|e| format!("cannot read {}: {e}", summary_path.display()))?;
        Some(serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: {e}",
                summary_path.display(),
                e.line(),
                e.column()
            )
        })?)
    } else {
        None
    };
    // The roster's order from class.json first, then any candidate it does not list (a run
    // stopped before writing it), by id.
    let mut ids: Vec<String> = summary
        .iter()
        .flat_map(|s| s.candidates.iter().map(|row| row.id.clone()))
        .collect();
    let mut others = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if entry.path().join("results.json").is_file() && !ids.contains(&id) {
                others.push(id);
            }
        }
    }
    others.sort();
    ids.extend(others);
    if ids.is_empty() {
        return Err(format!(
            "{}: no results here (neither results.json nor class.json with candidates' folders)",
            dir.display()
        ));
    }
    let mut candidates = Vec::new();
    for id in ids {
        let path = class::results_path(dir, &id);
        let results = Results::read(&path)?;
        candidates.push((path.parent().expect("a candidate's folder").into(), results));
    }
    let class = match summary {
        Some(summary) => summary,
        None => {
            let graded: Vec<Results> = candidates.iter().map(|(_, r)| r.clone()).collect();
            ClassSummary::new(&graded, &[])
        }
    };
    Ok(Graded {
        candidates,
        class: Some(class),
    })
}

/// Render the reports in `formats` from the results saved in `dir`, and say which files
/// were written. A single candidate is a class of one for the gradebook, Moodle and JUnit.
pub fn write_reports(
    dir: &Path,
    formats: &[Format],
    templates: &Templates,
) -> Result<Vec<PathBuf>, String> {
    write_graded(dir, &read_results(dir)?, formats, templates)
}

/// Every report in `formats`, rendered in memory: what goes in which file.
pub fn render_graded(
    dir: &Path,
    graded: &Graded,
    formats: &[Format],
    templates: &Templates,
) -> Result<Vec<(PathBuf, String)>, String> {
    let results = graded.results();
    let mut files = Vec::new();
    for format in formats {
        match format {
            // results.json is what every format is rendered from: a run has written it.
            Format::Json => {}
            Format::Markdown => {
                for (folder, results) in &graded.candidates {
                    files.push((
                        folder.join("report.md"),
                        markdown::candidate(templates, results)?,
                    ));
                }
                if let Some(summary) = &graded.class {
                    files.push((
                        dir.join("class.md"),
                        markdown::class(templates, summary, &results)?,
                    ));
                }
            }
            Format::Csv => files.push((dir.join("gradebook.csv"), gradebook::render(&results)?)),
            Format::Moodle => files.push((dir.join("moodle.csv"), moodle::render(&results)?)),
            Format::Junit => files.push((dir.join("junit.xml"), junit::render(&results)?)),
            Format::Html => {
                for (folder, results) in &graded.candidates {
                    files.push((
                        folder.join("report.html"),
                        templates.candidate_html(&view::candidate(results))?,
                    ));
                }
                if let Some(summary) = &graded.class {
                    files.push((
                        dir.join("class.html"),
                        templates.class_html(&view::class(summary, &results))?,
                    ));
                }
            }
        }
    }
    Ok(files)
}

/// Render the reports in `formats` from results already read from `dir`. Every report is
/// rendered before the first is written: a template that fails leaves the folder as it was.
pub fn write_graded(
    dir: &Path,
    graded: &Graded,
    formats: &[Format],
    templates: &Templates,
) -> Result<Vec<PathBuf>, String> {
    let files = render_graded(dir, graded, formats, templates)?;
    let mut written = Vec::new();
    for (path, text) in files {
        put(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// Write, then rename: a reader never sees half a report.
fn put(path: &Path, contents: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .expect("a report file name")
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn a_class_folder_gets_every_report_and_a_single_one_no_class_md() {
        let dir = tempfile::tempdir().unwrap();
        let graded = sample::class();
        for results in &graded {
            class::write_candidate(dir.path(), results).unwrap();
        }
        sample::summary(&graded)
            .write(&dir.path().join("class.json"))
            .unwrap();
        let written = write_reports(dir.path(), &Format::ALL, &Templates::built_in()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "c01/report.md",
                "c02/report.md",
                "c03/report.md",
                "class.md",
                "gradebook.csv",
                "moodle.csv",
                "junit.xml",
                "c01/report.html",
                "c02/report.html",
                "c03/report.html",
                "class.html"
            ]
        );
        // No temporary file is left behind.
        assert!(
            std::fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp"))
        );

        let one = tempfile::tempdir().unwrap();
        graded[0].write(&one.path().join("results.json")).unwrap();
        let written = write_reports(
            one.path(),
            &[Format::Markdown, Format::Csv, Format::Html],
            &Templates::built_in(),
        )
        .unwrap();
        assert_eq!(
            written,
            [
                one.path().join("report.md"),
                one.path().join("gradebook.csv"),
                one.path().join("report.html")
            ]
        );
    }

    #[test]
    fn a_folder_without_results_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_reports(dir.path(), &Format::ALL, &Templates::built_in()).unwrap_err();
        assert!(err.contains("no results here"), "{err}");
    }
}
