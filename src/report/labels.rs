//! The words of reports, in the lab's language, and numbers and dates as that language
//! writes them. Every report format reads its words from here.

use serde::Serialize;

use crate::lab::Lang;
use crate::results::{TaskVerdict, Verdict};

/// Every word a report prints that is not the lab's own text. Serializable, so that a tera
/// template reads them as `labels.mark`.
#[derive(Debug, Clone, Serialize)]
pub struct Labels {
    pub lang: &'static str,
    pub report: &'static str,
    pub class_report: &'static str,
    pub candidate: &'static str,
    pub candidates: &'static str,
    pub lab: &'static str,
    pub block: &'static str,
    pub blocks: &'static str,
    pub task: &'static str,
    pub tasks: &'static str,
    pub check: &'static str,
    pub points: &'static str,
    pub mark: &'static str,
    pub out_of_20: &'static str,
    pub pass_mark: &'static str,
    pub passed: &'static str,
    pub not_passed: &'static str,
    pub date: &'static str,
    pub mode: &'static str,
    pub exam: &'static str,
    pub practice: &'static str,
    pub hint: &'static str,
    pub reason: &'static str,
    pub evidence: &'static str,
    pub ran: &'static str,
    pub exit_code: &'static str,
    pub output: &'static str,
    pub errors: &'static str,
    pub duration: &'static str,
    pub hosts: &'static str,
    pub distribution: &'static str,
    pub shared: &'static str,
    pub could_not_check: &'static str,
    pub total: &'static str,
    pub verdict_pass: &'static str,
    pub verdict_partial: &'static str,
    pub verdict_fail: &'static str,
    pub verdict_skipped: &'static str,
    pub verdict_error: &'static str,
    pub id: &'static str,
    pub verdict: &'static str,
    pub not_passed_checks: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub mean: &'static str,
    pub lowest: &'static str,
    pub highest: &'static str,
    pub legend: &'static str,
    pub not_graded: &'static str,
    pub error_output: &'static str,
}

const FR: Labels = Labels {
    lang: "fr",
    report: "Rapport d'évaluation",
    class_report: "Résultats de la session",
    candidate: "Candidat",
    candidates: "Candidats",
    lab: "Épreuve",
    block: "Bloc",
    blocks: "Blocs",
    task: "Tâche",
    tasks: "Tâches",
    check: "Vérification",
    points: "Points",
    mark: "Note",
    out_of_20: "/20",
    pass_mark: "Seuil",
    passed: "Validé",
    not_passed: "Non validé",
    date: "Date",
    mode: "Mode",
    exam: "examen",
    practice: "entraînement",
    hint: "Indice",
    reason: "Motif",
    evidence: "Preuves",
    ran: "Exécuté",
    exit_code: "Code de sortie",
    output: "Sortie",
    errors: "Erreurs",
    duration: "Durée",
    hosts: "Machines",
    distribution: "Répartition des notes",
    shared: "Machines partagées entre candidats",
    could_not_check: "non vérifiable",
    total: "Total",
    verdict_pass: "réussi",
    verdict_partial: "partiel",
    verdict_fail: "échoué",
    verdict_skipped: "non évalué",
    verdict_error: "erreur",
    id: "Identifiant",
    verdict: "Résultat",
    not_passed_checks: "Vérifications non réussies",
    yes: "oui",
    no: "non",
    mean: "Moyenne",
    lowest: "Note la plus basse",
    highest: "Note la plus haute",
    legend: "Légende",
    not_graded: "non noté",
    error_output: "Sortie d'erreur",
};

const EN: Labels = Labels {
    lang: "en",
    report: "Grading report",
    class_report: "Class results",
    candidate: "Candidate",
    candidates: "Candidates",
    lab: "Lab",
    block: "Block",
    blocks: "Blocks",
    task: "Task",
    tasks: "Tasks",
    check: "Check",
    points: "Points",
    mark: "Mark",
    out_of_20: "/20",
    pass_mark: "Pass mark",
    passed: "Passed",
    not_passed: "Not passed",
    date: "Date",
    mode: "Mode",
    exam: "exam",
    practice: "practice",
    hint: "Hint",
    reason: "Reason",
    evidence: "Evidence",
    ran: "Ran",
    exit_code: "Exit code",
    output: "Output",
    errors: "Errors",
    duration: "Duration",
    hosts: "Machines",
    distribution: "Distribution of marks",
    shared: "Machines shared between candidates",
    could_not_check: "could not be checked",
    total: "Total",
    verdict_pass: "pass",
    verdict_partial: "partial",
    verdict_fail: "fail",
    verdict_skipped: "skipped",
    verdict_error: "error",
    id: "Id",
    verdict: "Verdict",
    not_passed_checks: "Checks not passed",
    yes: "yes",
    no: "no",
    mean: "Mean",
    lowest: "Lowest",
    highest: "Highest",
    legend: "Legend",
    not_graded: "not graded",
    error_output: "Error output",
};

impl Labels {
    pub fn of(lang: Lang) -> &'static Labels {
        match lang {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }

    pub fn task_verdict(&self, verdict: TaskVerdict) -> &'static str {
        match verdict {
            TaskVerdict::Pass => self.verdict_pass,
            TaskVerdict::Partial => self.verdict_partial,
            TaskVerdict::Fail => self.verdict_fail,
            TaskVerdict::Skipped => self.verdict_skipped,
            TaskVerdict::Error => self.verdict_error,
        }
    }

    pub fn check_verdict(&self, verdict: Verdict) -> &'static str {
        match verdict {
            Verdict::Pass => self.verdict_pass,
            Verdict::Fail => self.verdict_fail,
            Verdict::Error => self.verdict_error,
        }
    }
}

/// The language of a report over several candidates or labs: the first lab's.
pub fn lang_of(graded: &[crate::results::Results]) -> Lang {
    graded
        .iter()
        .flat_map(|r| &r.labs)
        .map(|l| l.lang)
        .next()
        .unwrap_or_default()
}

/// A number as the language writes it: `12,5` in French, `12.5` in English; at most two
/// decimals, none when whole.
pub fn number(lang: Lang, value: f64) -> String {
    let text = crate::expect::format_number((value * 100.0).round() / 100.0);
    match lang {
        Lang::Fr => text.replace('.', ","),
        Lang::En => text,
    }
}

/// An RFC 3339 timestamp from results as the language writes a date and time:
/// `28/11/2026 14:05` in French, `2026-11-28 14:05` in English. Unreadable input is
/// returned as it is.
pub fn date(lang: Lang, rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => match lang {
            Lang::Fr => t.format("%d/%m/%Y %H:%M").to_string(),
            Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
        },
        Err(_) => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_as_each_language_writes_them() {
        assert_eq!(number(Lang::Fr, 12.5), "12,5");
        assert_eq!(number(Lang::En, 12.5), "12.5");
        assert_eq!(number(Lang::Fr, 20.0), "20");
        assert_eq!(number(Lang::Fr, 6.333), "6,33");
        assert_eq!(
            date(Lang::Fr, "2026-11-28T14:05:09+01:00"),
            "28/11/2026 14:05"
        );
        assert_eq!(
            date(Lang::En, "2026-11-28T14:05:09+01:00"),
            "2026-11-28 14:05"
        );
        assert_eq!(date(Lang::En, "garbage"), "garbage");
        assert_eq!(
            Labels::of(Lang::Fr).task_verdict(TaskVerdict::Partial),
            "partiel"
        );
    }
}
