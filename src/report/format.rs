//! The report formats a run or `labgrade report` can write, as the command line names them.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `results.json` itself: always written by a run, the source of every other format.
    Json,
    Markdown,
    /// The gradebook: a row per candidate.
    Csv,
    /// Moodle's grade import file.
    Moodle,
    Junit,
    Html,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Json,
        Format::Markdown,
        Format::Csv,
        Format::Moodle,
        Format::Junit,
        Format::Html,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Moodle => "moodle",
            Format::Junit => "junit",
            Format::Html => "html",
        }
    }

    /// One word of a `--format` list.
    pub fn parse(word: &str) -> Result<Format, String> {
        word.trim().parse()
    }

    /// The formats asked for, without repeats; every format when none is named.
    pub fn or_all(formats: &[Format]) -> Vec<Format> {
        let mut chosen: Vec<Format> = Vec::new();
        for format in formats {
            if !chosen.contains(format) {
                chosen.push(*format);
            }
        }
        if chosen.is_empty() {
            return Format::ALL.to_vec();
        }
        chosen
    }

    /// A `--format` list (`md,csv`), every format when it is empty.
    pub fn list(text: &str) -> Result<Vec<Format>, String> {
        let formats = text
            .split(',')
            .filter(|w| !w.trim().is_empty())
            .map(Format::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Format::or_all(&formats))
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(word: &str) -> Result<Format, String> {
        match word.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            "moodle" => Ok(Format::Moodle),
            "junit" | "xml" => Ok(Format::Junit),
            "html" => Ok(Format::Html),
            _ => Err(format!(
                "unknown report format `{word}` (formats: html, md, json, csv, moodle, junit)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_an_empty_one_means_all() {
        assert_eq!(
            Format::list("md, csv,md").unwrap(),
            [Format::Markdown, Format::Csv]
        );
        assert_eq!(Format::list("").unwrap(), Format::ALL);
        assert_eq!(
            Format::list("html,markdown,json,csv,moodle,junit")
                .unwrap()
                .len(),
            6
        );
        let err = Format::list("md,pdf").unwrap_err();
        assert!(err.contains("`pdf`"), "{err}");
    }
}
