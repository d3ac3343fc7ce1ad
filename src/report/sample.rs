//! A class of three candidates: the renderers' tests use it, `--templates` tries every
//! override template on it before a run or a report goes on, and it is the source of
//! tests/fixtures/class (regenerate it with `cargo test -- --ignored write_fixture`).

use crate::class::ClassSummary;
use crate::lab::Lang;
use crate::results::{
    CandidateInfo, CheckResult, Evidence, FORMAT_VERSION, LabResult, Mode, PropertyResult,
    PropertyVerdict, Results, TaskResult, TaskVerdict, Verdict,
};

/// What a hostile machine can send back: markup, a template, a table pipe, a terminal escape.
pub const HOSTILE: &str = "admins:x:1001:bob|eve <script>alert(1)</script> {{ 7*7 }} \u{1b}[31mred";

fn check(
    label: &str,
    kind: &str,
    verdict: Verdict,
    reason: Option<&str>,
    stdout: &str,
) -> CheckResult {
    CheckResult {
        label: label.into(),
        kind: kind.into(),
        role: "srv".into(),
        verdict,
        reason: reason.map(Into::into),
        weight: 1.0,
        properties: match (verdict, reason) {
            (Verdict::Fail, Some(found)) => vec![PropertyResult {
                name: "value".into(),
                expected: "as the lab says".into(),
                found: Some(found.into()),
                verdict: PropertyVerdict::Fail,
            }],
            _ => Vec::new(),
        },
        evidence: Evidence {
            ran: format!("{kind} probe"),
            exit_code: (verdict != Verdict::Error).then_some(0),
            stdout: stdout.into(),
            stderr: String::new(),
            truncated: 0,
            duration_ms: 120,
            attempts: 1,
        },
    }
}

fn task(
    id: &str,
    title: &str,
    points: f64,
    earned: f64,
    verdict: TaskVerdict,
    checks: Vec<CheckResult>,
) -> TaskResult {
    TaskResult {
        id: id.into(),
        title: title.into(),
        verdict,
        earned,
        points,
        reason: None,
        hint: None,
        checks,
    }
}

fn lab(id: &str, title: &str, lang: Lang, block: u8, tasks: Vec<TaskResult>) -> LabResult {
    let earned: f64 = tasks.iter().map(|t| t.earned).sum();
    let possible: f64 = tasks.iter().map(|t| t.points).sum();
    let mark = (earned / possible * 20.0 * 100.0).round() / 100.0;
    LabResult {
        id: id.into(),
        title: title.into(),
        lang,
        block,
        pass_mark: 10.0,
        earned,
        possible,
        mark,
        passed: mark >= 10.0,
        tasks,
    }
}

fn candidate(id: &str, name: &str, machine_id: &str, labs: Vec<LabResult>) -> Results {
    Results {
        format: FORMAT_VERSION,
        labgrade: "0.1.0".into(),
        mode: Mode::Practice,
        started: "2026-11-28T14:00:00+01:00".into(),
        finished: "2026-11-28T14:05:09+01:00".into(),
        candidate: CandidateInfo {
            id: id.into(),
            name: name.into(),
        },
        hosts: [("srv".to_string(), format!("root@10.0.{}.10:22", &id[1..]))].into(),
        machines: [(
            "srv".to_string(),
            [("machine_id".to_string(), machine_id.to_string())].into(),
        )]
        .into(),
        labs,
    }
}

const SSH: &str = "Le serveur SSH est démarré";
const USERS: &str = "Les comptes de l'équipe existent";
const FIREWALL: &str = "Le pare-feu n'ouvre que SSH";
const VHOST: &str = "The intranet site answers";

/// c01 passes everything; c02 has a partial task, failures with hostile evidence and hints;
/// c03's server could not be reached, and shares c01's machine id.
pub fn class() -> Vec<Results> {
    use TaskVerdict as T;
    use Verdict as V;
    let pass = |label: &str, kind: &str| check(label, kind, V::Pass, None, "ok\n");
    let c01 = candidate(
        "c01",
        "Alice Martin",
        "0f3a",
        vec![
            lab(
                "bloc4-socle-linux",
                "Socle Linux",
                Lang::Fr,
                4,
                vec![
                    task(
                        "ssh-up",
                        SSH,
                        2.0,
                        2.0,
                        T::Pass,
                        vec![pass("sshd est actif", "service")],
                    ),
                    task(
                        "users",
                        USERS,
                        4.0,
                        4.0,
                        T::Pass,
                        vec![
                            pass("l'utilisateur alice existe", "user"),
                            pass("le groupe admins contient alice", "group"),
                        ],
                    ),
                    task(
                        "firewall",
                        FIREWALL,
                        4.0,
                        4.0,
                        T::Pass,
                        vec![pass("nftables filtre l'entrée", "firewall")],
                    ),
                ],
            ),
            lab(
                "bloc5-web",
                "Intranet web server",
                Lang::En,
                5,
                vec![task(
                    "vhost",
                    VHOST,
                    4.0,
                    4.0,
                    T::Pass,
                    vec![pass("GET / answers 200", "http")],
                )],
            ),
        ],
    );

    let mut users = task(
        "users",
        USERS,
        4.0,
        3.0,
        T::Partial,
        vec![
            check(
                "l'utilisateur alice existe",
                "user",
                V::Pass,
                None,
                "alice:x:1000\n",
            ),
            check(
                "le groupe admins contient alice",
                "group",
                V::Fail,
                Some(HOSTILE),
                HOSTILE,
            ),
        ],
    );
    users.checks[0].weight = 3.0;
    users.hint = Some("usermod -aG admins alice".into());
    let mut firewall = task(
        "firewall",
        FIREWALL,
        4.0,
        0.0,
        T::Fail,
        vec![check(
            "nftables filtre l'entrée",
            "firewall",
            V::Fail,
            Some("policy accept, expected drop"),
            "table inet filter { chain input { policy accept; } }\n",
        )],
    );
    firewall.hint = Some("nft add chain inet filter input '{ policy drop; }'".into());
    let mut vhost = task(
        "vhost",
        VHOST,
        4.0,
        0.0,
        T::Fail,
        vec![check(
            "GET / answers 200",
            "http",
            V::Fail,
            Some("status 404, expected 200"),
            "HTTP/1.1 404 Not Found\n",
        )],
    );
    vhost.hint = Some("enable the site: ln -s ../sites-available/intranet".into());
    let c02 = candidate(
        "c02",
        "Bruno Petit",
        "77bc",
        vec![
            lab(
                "bloc4-socle-linux",
                "Socle Linux",
                Lang::Fr,
                4,
                vec![
                    task(
                        "ssh-up",
                        SSH,
                        2.0,
                        2.0,
                        T::Pass,
                        vec![pass("sshd est actif", "service")],
                    ),
                    users,
                    firewall,
                ],
            ),
            lab("bloc5-web", "Intranet web server", Lang::En, 5, vec![vhost]),
        ],
    );

    let unreachable = "could not connect to 10.0.3.10:22: connection timed out";
    let mut ssh = task(
        "ssh-up",
        SSH,
        2.0,
        0.0,
        T::Error,
        vec![check(
            "sshd est actif",
            "service",
            V::Error,
            Some(unreachable),
            "",
        )],
    );
    ssh.reason = Some(unreachable.into());
    let mut skipped = task("firewall", FIREWALL, 4.0, 0.0, T::Skipped, Vec::new());
    skipped.reason = Some("requires ssh-up".into());
    let c03 = candidate(
        "c03",
        "Chloé Durand",
        "0f3a",
        vec![
            lab(
                "bloc4-socle-linux",
                "Socle Linux",
                Lang::Fr,
                4,
                vec![
                    ssh,
                    task(
                        "users",
                        USERS,
                        4.0,
                        4.0,
                        T::Pass,
                        vec![
                            pass("l'utilisateur alice existe", "user"),
                            pass("le groupe admins contient alice", "group"),
                        ],
                    ),
                    skipped,
                ],
            ),
            lab(
                "bloc5-web",
                "Intranet web server",
                Lang::En,
                5,
                vec![task(
                    "vhost",
                    VHOST,
                    4.0,
                    4.0,
                    T::Pass,
                    vec![pass("GET / answers 200", "http")],
                )],
            ),
        ],
    );
    vec![c01, c02, c03]
}

/// The class summary, at a fixed time so that renderings are stable.
pub fn summary(graded: &[Results]) -> ClassSummary {
    let mut summary = ClassSummary::new(graded, &["machine_id".to_string()]);
    summary.labgrade = "0.1.0".into();
    summary.finished = "2026-11-28T14:06:00+01:00".into();
    summary
}

#[test]
#[ignore = "regenerates tests/fixtures/class"]
fn write_fixture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/class");
    let graded = class();
    for results in &graded {
        crate::class::write_candidate(&dir, results).unwrap();
    }
    summary(&graded).write(&dir.join("class.json")).unwrap();
}
