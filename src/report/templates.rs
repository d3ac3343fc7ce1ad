//! The report templates of reports/ (tera), built into the binary, and a folder of a
//! school's own that replaces any of them by name (`--templates DIR`).
//!
//! Nothing from a candidate's machine reaches a page raw. HTML templates are autoescaped
//! with [`escape_html`], which also breaks template syntax and makes control characters
//! visible; the Markdown templates see a context whose every string went through
//! [`markdown::escape`] first.

use std::error::Error as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::markdown;
use super::terminal::sanitize;
use super::view::{CandidateView, ClassView};

/// The built-in templates, by the name a folder's file replaces them with.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../reports/base.html")),
    ("style.css", include_str!("../../reports/style.css")),
    (
        "candidate.html",
        include_str!("../../reports/candidate.html"),
    ),
    ("class.html", include_str!("../../reports/class.html")),
    ("candidate.md", include_str!("../../reports/candidate.md")),
    ("class.md", include_str!("../../reports/class.md")),
];

/// The files a templates folder may add besides those it replaces: partials a replaced
/// template includes (a logo, a footer).
const EXTRA: &[&str] = &["html", "md", "css", "svg", "txt"];

pub struct Templates {
    tera: tera::Tera,
    /// Where each template came from: a folder's file, or `reports/NAME (built in)`.
    sources: Vec<(String, String)>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("sources", &self.sources)
            .finish()
    }
}

impl Templates {
    /// The built-in templates.
    pub fn built_in() -> Templates {
        Templates::load(None).expect("the built-in report templates are valid")
    }

    /// The built-in templates, with those of `dir` replacing them by name. An override
    /// that does not parse, or does not render the built-in example results, is an error
    /// naming its file (and its line when tera gives one).
    pub fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut templates: Vec<(String, String, String)> = BUILT_IN
            .iter()
            .map(|(name, text)| {
                (
                    name.to_string(),
                    text.to_string(),
                    format!("reports/{name} (built in)"),
                )
            })
            .collect();
        let mut overridden = Vec::new();
        if let Some(dir) = dir {
            for path in override_files(dir)? {
                let name = path
                    .file_name()
                    .expect("a file name")
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: cannot read this template: {e}", path.display()))?;
                let source = path.display().to_string();
                match templates.iter_mut().find(|(n, _, _)| *n == name) {
                    Some(entry) => *entry = (name.clone(), text, source),
                    None => templates.push((name.clone(), text, source)),
                }
                overridden.push(name);
            }
        }
        let sources: Vec<(String, String)> = templates
            .iter()
            .map(|(name, _, source)| (name.clone(), source.clone()))
            .collect();
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.set_escape_fn(escape_html);
        tera.add_raw_templates(
            templates
                .iter()
                .map(|(name, text, _)| (name.as_str(), text.as_str())),
        )
        .map_err(|e| located(&sources, &e))?;
        let templates = Templates { tera, sources };
        if !overridden.is_empty() {
            templates.try_example()?;
        }
        Ok(templates)
    }

    /// Render every page once from the built-in example results, so that an override that
    /// names a value the reports do not have fails before any machine is graded.
    fn try_example(&self) -> Result<(), String> {
        let graded = super::sample::class();
        let summary = super::sample::summary(&graded);
        for results in &graded {
            self.candidate_html(&super::view::candidate(results))?;
            self.candidate_md(&super::view::candidate(results))?;
        }
        let class = super::view::class(&summary, &graded);
        self.class_html(&class)?;
        self.class_md(&class)?;
        Ok(())
    }

    pub fn candidate_html(&self, view: &CandidateView) -> Result<String, String> {
        self.render("candidate.html", view, false)
    }

    pub fn class_html(&self, view: &ClassView) -> Result<String, String> {
        self.render("class.html", view, false)
    }

    pub fn candidate_md(&self, view: &CandidateView) -> Result<String, String> {
        self.render("candidate.md", view, true)
    }

    pub fn class_md(&self, view: &ClassView) -> Result<String, String> {
        self.render("class.md", view, true)
    }

    fn render(&self, name: &str, view: &impl Serialize, markdown: bool) -> Result<String, String> {
        let mut value = serde_json::to_value(view).map_err(|e| e.to_string())?;
        if markdown {
            escape_strings(&mut value, &markdown::escape);
        }
        let context = tera::Context::from_value(value).map_err(|e| e.to_string())?;
        self.tera
            .render(name, &context)
            .map_err(|e| located(&self.sources, &e))
    }
}

/// The files of a templates folder that replace or add templates.
fn override_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: cannot read this templates folder: {e} (expected a folder of files named as in reports/)",
            dir.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let known = BUILT_IN.iter().any(|(n, _)| *n == name);
        let extra = path
            .extension()
            .is_some_and(|ext| EXTRA.contains(&ext.to_string_lossy().as_ref()));
        if path.is_file() && !name.starts_with('.') && (known || extra) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A tera error as one message that names the template's file, and the line and column
/// when tera gives them (parse errors do, render errors name the template only).
fn located(sources: &[(String, String)], error: &tera::Error) -> String {
    let mut chain = vec![error.to_string()];
    let mut source = error.source();
    while let Some(inner) = source {
        chain.push(inner.to_string());
        source = inner.source();
    }
    let text = chain.join("\n");
    // tera names the template in quotes: "Failed to parse 'class.html'".
    let name = sources
        .iter()
        .filter(|(name, _)| text.contains(&format!("'{name}'")))
        .max_by_key(|(name, _)| name.len());
    // pest shows the place as " --> 12:5".
    let place = text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("-->")?.trim();
        let (line, column) = rest.split_once(':')?;
        Some(format!(
            ":{}:{}",
            line.parse::<u32>().ok()?,
            column.parse::<u32>().ok()?
        ))
    });
    let detail: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    match name {
        Some((_, file)) => format!(
            "{file}{}: report template error:\n  {}",
            place.unwrap_or_default(),
            detail.join("\n  ")
        ),
        None => format!("report template error:\n  {}", detail.join("\n  ")),
    }
}

/// HTML as tera's autoescape writes every value: `& < > " '` as entities, `{` and `}`
/// too (no template syntax survives into a page another tool might render again), and
/// control characters made visible as [`sanitize`] does for a terminal.
pub fn escape_html(text: &str) -> String {
    let clean = sanitize(&text.replace("\r\n", "\n"));
    let mut out = String::with_capacity(clean.len() + clean.len() / 8);
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '{' => out.push_str("&#123;"),
            '}' => out.push_str("&#125;"),
            _ => out.push(c),
        }
    }
    out
}

fn escape_strings(value: &mut serde_json::Value, escape: &dyn Fn(&str) -> String) {
    match value {
        serde_json::Value::String(s) => *s = escape(s),
        serde_json::Value::Array(items) => {
            for item in items {
                escape_strings(item, escape);
            }
        }
        serde_json::Value::Object(fields) => {
            for item in fields.values_mut() {
                escape_strings(item, escape);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn hostile_text_is_escaped_for_html() {
        assert_eq!(
            escape_html(sample::HOSTILE),
            "admins:x:1001:bob|eve &lt;script&gt;alert(1)&lt;/script&gt; &#123;&#123; 7*7 &#125;&#125; \u{241b}[31mred"
        );
        assert_eq!(escape_html("a\r\nb\u{7}"), "a\nb\u{2407}");
    }

    #[test]
    fn the_built_in_templates_render_the_example() {
        Templates::built_in().try_example().unwrap();
    }

    #[test]
    fn a_folder_replaces_a_template_by_name_and_a_broken_one_is_located() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("class.md"),
            "# {{ labels.class_report }} — École X\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.bin"), [0xff, 0xfe]).unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        let graded = sample::class();
        let class = super::super::view::class(&sample::summary(&graded), &graded);
        assert_eq!(
            templates.class_md(&class).unwrap(),
            "# Résultats de la session — École X\n"
        );

        let broken = dir.path().join("candidate.html");
        std::fs::write(&broken, "<p>\n{% if name %}\n<b>{{ name }</b>\n").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(
            err.starts_with(&format!("{}:3:", broken.display())),
            "{err}"
        );

        std::fs::write(&broken, "<p>{{ no_such_value }}</p>\n").unwrap();
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(err.starts_with(&broken.display().to_string()), "{err}");
        assert!(err.contains("no_such_value"), "{err}");
    }
}
