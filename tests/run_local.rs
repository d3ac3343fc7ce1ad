//! `labgrade run` with no host: a self-test of this machine, driven like a user would.

use std::path::Path;
use std::process::{Command, Output};

fn labgrade(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A lab over files of a temporary folder, so that the test decides what passes.
fn lab(root: &Path) -> String {
    let root = root.display();
    format!(
        "lab: local
title: Local files
block: 4
hosts:
  srv: {{}}
vars:
  root: {root}
tasks:
  - id: motd
    title: La bannière existe
    points: 2
    hint: echo Bienvenue > {{{{ root }}}}/motd
    checks:
      - file: \"{{{{ root }}}}/motd\"
        contains: Bienvenue
  - id: secret
    title: Le secret est protégé
    points: 4
    partial: true
    requires: [motd]
    checks:
      - file: \"{{{{ root }}}}/secret\"
        mode: \"0600\"
      - file: \"{{{{ root }}}}/secret\"
        not_contains: password
        weight: 3
"
    )
}

#[test]
fn a_passing_self_test_exits_0_and_writes_results() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("motd"), "Bienvenue\n").unwrap();
    std::fs::write(dir.path().join("secret"), "hunter\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab(dir.path())).unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "out"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains("  PASS     motd    La bannière existe  2/2\n"),
        "{text}"
    );
    assert!(
        text.contains("  mark 20/20 (6/6 points) — passed (pass mark 10)\n"),
        "{text}"
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["format"], 1);
    assert_eq!(results["mode"], "practice");
    assert_eq!(results["hosts"]["srv"], "local");
    assert_eq!(results["labs"][0]["mark"], 20.0);
    let check = &results["labs"][0]["tasks"][0]["checks"][0];
    assert_eq!(check["verdict"], "pass");
    assert_eq!(check["evidence"]["exit_code"], 0);
    assert!(
        check["evidence"]["ran"]
            .as_str()
            .unwrap()
            .contains("stat --printf")
    );
}

#[test]
fn failures_cost_their_task_and_show_hints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("motd"), "Bienvenue\n").unwrap();
    std::fs::write(dir.path().join("secret"), "password=hunter\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab(dir.path())).unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "out"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    // mode passes (weight 1 of 4): 1 point of 4.
    assert!(
        text.contains("  PARTIAL  secret  Le secret est protégé  1/4\n"),
        "{text}"
    );
    assert!(
        text.contains("  mark 10/20 (3/6 points) — passed (pass mark 10)\n"),
        "{text}"
    );

    // Without the banner, the secret task is skipped and the banner's hint is shown.
    std::fs::remove_file(dir.path().join("motd")).unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "out2"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("  FAIL     motd    La bannière existe  0/2\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "           hint: echo Bienvenue > {}/motd\n",
            dir.path().display()
        )),
        "{text}"
    );
    assert!(text.contains("  SKIPPED  secret  Le secret est protégé  0/4\n           requires `motd`, not passed\n"), "{text}");

    // In exam mode, no hint.
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "out3", "--exam"]);
    assert!(!stdout(&out).contains("hint:"));
}

#[test]
fn earlier_results_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab(dir.path())).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/results.json"), "{}").unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "out"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "out/results.json already exists: choose another --out, or move the earlier results away\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/results.json")).unwrap(),
        "{}"
    );
}

#[test]
fn a_bad_lab_grades_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), "lab: x\n").unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "out"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn host_flags_are_checked_against_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab(dir.path())).unwrap();
    let out = labgrade(
        dir.path(),
        &["run", "lab.yaml", "--host", "srvv=root@127.0.0.1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "--host srvv=root@127.0.0.1: the labs have no role `srvv`, did you mean `srv`? (roles: srv)\n"
    );
}

/// This machine stands in for Linux roles only: a self-test of a Windows or IOS lab stops
/// before grading, saying what to give instead.
#[test]
fn a_self_test_cannot_stand_in_for_a_windows_or_ios_host() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
    for (lab, role, os) in [
        ("bloc3-windows-ad.yaml", "dc", "windows"),
        ("bloc2-switch.yaml", "sw", "ios"),
    ] {
        let path = shipped.join(lab);
        let out = labgrade(dir.path(), &["run", path.to_str().unwrap(), "--out", "out"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "role `{role}` is an `os: {os}` host, which this machine cannot stand in for: add --host {role}=[user@]address[:port]\n"
            )
        );
        assert!(!dir.path().join("out").exists());
    }
}

/// Issue 5: a run writes its reports beside results.json, in the formats asked for.
#[test]
fn a_run_writes_the_reports_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab(dir.path())).unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--out", "all"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    for name in [
        "report.md",
        "report.html",
        "gradebook.csv",
        "moodle.csv",
        "junit.xml",
    ] {
        assert!(dir.path().join("all").join(name).is_file(), "{name}");
    }
    assert!(!dir.path().join("all/MANIFEST.sha256").exists());
    assert!(!dir.path().join("all/class.md").exists());
    let report = std::fs::read_to_string(dir.path().join("all/report.md")).unwrap();
    assert!(
        report.contains("| motd | La bannière existe | échoué | 0/2 |"),
        "{report}"
    );

    let out = labgrade(
        dir.path(),
        &["run", "lab.yaml", "--out", "md", "--format", "md,json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("md"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["report.md", "results.json"]);
}

#[test]
fn a_broken_template_stops_a_run_before_it_grades() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), lab(dir.path())).unwrap();
    std::fs::create_dir(dir.path().join("school")).unwrap();
    std::fs::write(
        dir.path().join("school/candidate.md"),
        "# {{ labels.report }}\n{% for lab in labs %}\n## {{ lab.title }}\n",
    )
    .unwrap();
    let out = labgrade(
        dir.path(),
        &["run", "lab.yaml", "--out", "out", "--templates", "school"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("school/candidate.md:4:1: report template error"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());

    // Mended, it is used: an exam run also seals its folder.
    std::fs::write(
        dir.path().join("school/candidate.md"),
        "# {{ labels.report }} — Lycée Exemple\n",
    )
    .unwrap();
    let out = labgrade(
        dir.path(),
        &[
            "run",
            "lab.yaml",
            "--out",
            "out",
            "--templates",
            "school",
            "--exam",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/report.md")).unwrap(),
        "# Rapport d'évaluation — Lycée Exemple\n"
    );
    assert!(stdout(&out).ends_with("manifest: out/MANIFEST.sha256\n"));
    let out = labgrade(dir.path(), &["verify", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Going on with a sealed folder seals it again; with one edited since, nothing runs.
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--retry-errors", "out"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("manifest: out/MANIFEST.sha256\n"));
    assert_eq!(
        labgrade(dir.path(), &["verify", "out"]).status.code(),
        Some(0)
    );
    std::fs::write(dir.path().join("out/report.md"), "# 20/20\n").unwrap();
    let out = labgrade(dir.path(), &["run", "lab.yaml", "--retry-errors", "out"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("changed: report.md"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/report.md")).unwrap(),
        "# 20/20\n"
    );
    assert_eq!(
        labgrade(dir.path(), &["verify", "out"]).status.code(),
        Some(1)
    );
}
