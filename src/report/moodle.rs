//! Moodle's grade import CSV: an `ID number` column that the import maps to the user field
//! `idnumber` (Map from "ID number", Map to "useridnumber"), and one grade item named after
//! the labs, holding the mark out of 20. Moodle reads `.` decimals and `,` delimiters in
//! every language.

use crate::class::Row;
use crate::expect::format_number;
use crate::results::Results;

/// The column Moodle maps to the user's `idnumber`: the candidate's id in the roster.
pub const ID_COLUMN: &str = "ID number";

/// The grade item: the ids of the labs graded, in order (`bloc4-socle-linux + bloc5-web`).
pub fn item_name(graded: &[Results]) -> String {
    let mut ids: Vec<&str> = Vec::new();
    for lab in graded.iter().flat_map(|r| &r.labs) {
        if !ids.contains(&lab.id.as_str()) {
            ids.push(&lab.id);
        }
    }
    ids.join(" + ")
}

pub fn render(graded: &[Results]) -> Result<String, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| format!("cannot write the Moodle file: {e}");
    out.write_record([ID_COLUMN, &item_name(graded)])
        .map_err(failed)?;
    for results in graded {
        let row = Row::of(results);
        out.write_record([row.id.as_str(), &format_number(row.mark)])
            .map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn one_grade_item_with_decimal_points_even_for_a_french_lab() {
        let text = render(&sample::class()).unwrap();
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert!(
            text.starts_with("ID number,bloc4-socle-linux + bloc5-web\n"),
            "{text}"
        );
        assert_eq!(rows, [["c01", "20"], ["c02", "7.14"], ["c03", "11.43"]]);
    }
}
