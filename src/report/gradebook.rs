//! The gradebook: a CSV row per candidate with the points of every task, the subtotal of
//! every block, the mark over all labs, whether they passed and how many checks could not
//! be evaluated. Numbers as the lab's language writes them, so French files use `;`.

use std::collections::BTreeMap;

use super::labels::{Labels, lang_of, number};
use crate::class::Row;
use crate::lab::Lang;
use crate::results::Results;

/// The CSV delimiter a spreadsheet in this language expects: where the decimal mark is a
/// comma, fields are separated by semicolons.
pub fn delimiter(lang: Lang) -> u8 {
    match lang {
        Lang::Fr => b';',
        Lang::En => b',',
    }
}

pub fn render(graded: &[Results]) -> Result<String, String> {
    let lang = lang_of(graded);
    let labels = Labels::of(lang);

    // Columns: every task and block any candidate was graded on, in the order they come.
    let mut tasks: Vec<(&str, &str)> = Vec::new();
    let mut blocks: BTreeMap<u8, f64> = BTreeMap::new();
    for results in graded {
        let mut possible: BTreeMap<u8, f64> = BTreeMap::new();
        for lab in &results.labs {
            *possible.entry(lab.block).or_default() += lab.possible;
            for task in &lab.tasks {
                if !tasks.contains(&(&lab.id, &task.id)) {
                    tasks.push((&lab.id, &task.id));
                }
            }
        }
        for (block, points) in possible {
            let most = blocks.entry(block).or_default();
            *most = most.max(points);
        }
    }

    let mut header = vec![labels.id.to_string(), labels.candidate.to_string()];
    header.extend(tasks.iter().map(|(lab, task)| format!("{lab}/{task}")));
    header.extend(blocks.iter().map(|(block, possible)| {
        format!(
            "{} {block} (/{})",
            labels.block.to_lowercase(),
            number(lang, *possible)
        )
    }));
    header.push(format!("{} {}", labels.mark, labels.out_of_20));
    header.push(labels.passed.to_string());
    header.push(labels.errors.to_string());

    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter(lang))
        .from_writer(Vec::new());
    let failed = |e: csv::Error| format!("cannot write the gradebook: {e}");
    out.write_record(&header).map_err(failed)?;
    for results in graded {
        let row = Row::of(results);
        let mut record = vec![row.id.clone(), row.name.clone()];
        for (lab_id, task_id) in &tasks {
            let earned = results
                .labs
                .iter()
                .filter(|l| l.id == *lab_id)
                .flat_map(|l| &l.tasks)
                .find(|t| t.id == *task_id)
                .map(|t| number(lang, t.earned));
            record.push(earned.unwrap_or_default());
        }
        for block in blocks.keys() {
            let labs: Vec<_> = results.labs.iter().filter(|l| l.block == *block).collect();
            record.push(if labs.is_empty() {
                String::new()
            } else {
                number(lang, labs.iter().map(|l| l.earned).sum())
            });
        }
        record.push(number(lang, row.mark));
        record.push(if row.passed { labels.yes } else { labels.no }.to_string());
        record.push(row.errors.to_string());
        out.write_record(&record).map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn read(text: &str, delimiter: u8) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn a_french_class_reads_back_with_semicolons_and_decimal_commas() {
        let text = render(&sample::class()).unwrap();
        let rows = read(&text, b';');
        assert_eq!(
            rows[0],
            [
                "Identifiant",
                "Candidat",
                "bloc4-socle-linux/ssh-up",
                "bloc4-socle-linux/users",
                "bloc4-socle-linux/firewall",
                "bloc5-web/vhost",
                "bloc 4 (/10)",
                "bloc 5 (/4)",
                "Note /20",
                "Validé",
                "Erreurs"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "c01",
                "Alice Martin",
                "2",
                "4",
                "4",
                "4",
                "10",
                "4",
                "20",
                "oui",
                "0"
            ]
        );
        assert_eq!(
            rows[2],
            [
                "c02",
                "Bruno Petit",
                "2",
                "3",
                "0",
                "0",
                "5",
                "0",
                "7,14",
                "non",
                "0"
            ]
        );
        assert_eq!(
            rows[3],
            [
                "c03",
                "Chloé Durand",
                "0",
                "4",
                "0",
                "4",
                "4",
                "4",
                "11,43",
                "non",
                "1"
            ]
        );
    }

    #[test]
    fn an_english_lab_uses_commas_and_decimal_points() {
        let mut graded = sample::class();
        for results in &mut graded {
            results.labs.retain(|l| l.lang == Lang::En);
        }
        graded[1].labs[0].tasks[0].earned = 1.5;
        graded[1].labs[0].earned = 1.5;
        let rows = read(&render(&graded).unwrap(), b',');
        assert_eq!(
            rows[0],
            [
                "Id",
                "Candidate",
                "bloc5-web/vhost",
                "block 5 (/4)",
                "Mark /20",
                "Passed",
                "Errors"
            ]
        );
        assert_eq!(
            rows[2],
            ["c02", "Bruno Petit", "1.5", "1.5", "7.5", "no", "0"]
        );
    }

    #[test]
    fn a_name_with_the_delimiter_is_quoted() {
        let mut graded = sample::class();
        graded[0].candidate.name = "Martin; Alice \"Al\"".into();
        let rows = read(&render(&graded).unwrap(), b';');
        assert_eq!(rows[1][1], "Martin; Alice \"Al\"");
    }
}
