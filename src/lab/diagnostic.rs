//! A lab author's mistake, shown as `file:line:column`, the source line, a caret, what was expected.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::node::Pos;

/// A file that was read, kept so that a message can quote its lines.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Arc<Source> {
        Arc::new(Source {
            path: path.to_path_buf(),
            text,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub source: Arc<Source>,
    pub pos: Pos,
    pub message: String,
    pub expected: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(source: &Arc<Source>, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            source: Arc::clone(source),
            pos,
            message: message.into(),
            expected: None,
            help: None,
        }
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Diagnostic {
        self.expected = Some(expected.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean" when one of `candidates` is a near miss for `found`.
    pub fn suggest<'a>(
        self,
        found: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match suggestion(found, candidates) {
            Some(near) => self.help(format!("did you mean `{near}`?")),
            None => self,
        }
    }
}

/// The closest candidate, when it is close enough to be what the author meant.
pub fn suggestion<'a>(
    found: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(found, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let line_no = self.pos.line.max(1);
        let gutter = line_no.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "error: {}", self.message)?;
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.source.path.display(),
            line_no,
            self.pos.column.max(1)
        )?;
        let line = self
            .source
            .text
            .lines()
            .nth(line_no as usize - 1)
            .unwrap_or("");
        writeln!(f, "{pad} |")?;
        writeln!(f, "{line_no} | {line}")?;
        let indent: String = line
            .chars()
            .take(self.pos.column.max(1) as usize - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = self.pos.width.max(1) as usize;
        write!(f, "{pad} | {indent}{}", "^".repeat(width))?;
        if let Some(expected) = &self.expected {
            write!(f, "\n{pad} = expected {expected}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// Every mistake found in a run of `validate` or before a `run`, in file order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let source = Source::new(
            Path::new("labs/x.yaml"),
            "tasks:\n  - servce: nginx\n".into(),
        );
        let d = Diagnostic::new(
            &source,
            Pos {
                line: 2,
                column: 5,
                width: 6,
            },
            "unknown check kind `servce`",
        )
        .expected("a check kind")
        .suggest("servce", ["service", "file"]);
        assert_eq!(
            d.to_string(),
            "error: unknown check kind `servce`\n --> labs/x.yaml:2:5\n  |\n2 |   - servce: nginx\n  |     ^^^^^^\n  = expected a check kind\n  = help: did you mean `service`?"
        );
    }

    #[test]
    fn suggests_only_near_misses() {
        assert_eq!(suggestion("pionts", ["points", "partial"]), Some("points"));
        assert_eq!(suggestion("zzz", ["points", "partial"]), None);
    }
}
