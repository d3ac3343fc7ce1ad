//! `labgrade list`, `explain` and `schema`, driven like a user would.

use std::process::{Command, Output};

fn labgrade(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

const LAB: &str = "lab: web
title: Serveur web
block: 5
exam: EXAM
hosts:
  srv: {}
vars:
  site: intranet.lab
tasks:
  - id: vhost
    title: Le site {{ site }} est configuré
    points: 3
    partial: true
    checks:
      - file: /etc/nginx/sites-enabled/{{ site }}
        contains: server_name {{ site }}
        mode: \"0644\"
";

#[test]
fn explain_shows_expected_values_in_practice_labs_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("practice.yaml"),
        LAB.replace("EXAM", "false"),
    )
    .unwrap();
    std::fs::write(dir.path().join("exam.yaml"), LAB.replace("EXAM", "true")).unwrap();

    let out = labgrade(dir.path(), &["explain", "practice.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "web — Serveur web (block 5)
machines: srv (linux)
3 points; pass mark 10/20

vhost — Le site intranet.lab est configuré (3 points, partial credit)
  - file /etc/nginx/sites-enabled/intranet.lab: contains \"server_name intranet.lab\", mode \"0644\"
"
    );

    let out = labgrade(dir.path(), &["explain", "exam.yaml"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("exam lab: expected values are not shown"),
        "{text}"
    );
    assert!(
        text.contains("  - file /etc/nginx/sites-enabled/intranet.lab on srv: contains, mode\n"),
        "{text}"
    );
    assert!(
        !text.contains("0644") && !text.contains("server_name"),
        "{text}"
    );
}

#[test]
fn list_shows_the_library_by_block() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), LAB.replace("EXAM", "false")).unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        LAB.replace("EXAM", "false")
            .replace("lab: web", "lab: base")
            .replace("block: 5", "block: 4"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.yaml"), "lab: [").unwrap();
    let out = labgrade(dir.path(), &["list", "."]);
    assert_eq!(out.status.code(), Some(2), "a broken lab is reported");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "block 4: Linux servers
  lab   tasks  points  lang  title
  base      1       3  fr    Serveur web

block 5: client/server applications
  lab   tasks  points  lang  title
  web       1       3  fr    Serveur web
invalid: ./broken.yaml (labgrade validate ./broken.yaml says why)
"
    );
    let out = labgrade(dir.path(), &["list", "--markdown", "."]);
    assert_eq!(out.status.code(), Some(2), "a broken lab is reported");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "| block | lab | title | tasks | points | lang |
| --- | --- | --- | ---: | ---: | --- |
| 4 Linux servers | `base` | Serveur web | 1 | 3 | fr |
| 5 client/server applications | `web` | Serveur web | 1 | 3 | fr |
invalid: ./broken.yaml (labgrade validate ./broken.yaml says why)
"
    );
}

#[test]
fn the_shipped_labs_validate_and_list() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = labgrade(std::path::Path::new(root), &["list"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bloc4-socle-linux"));
}

#[test]
fn schema_is_generated_from_the_registry_of_kinds() {
    let out = labgrade(std::path::Path::new("."), &["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = schema["properties"]["tasks"]["items"]["properties"]["checks"]["items"]["oneOf"]
        .as_array()
        .unwrap()
        .clone();
    for kind in labgrade::probe::KINDS {
        let entry = checks
            .iter()
            .find(|c| c["required"][0] == kind.name())
            .unwrap_or_else(|| panic!("no schema for {}", kind.name()));
        assert_eq!(entry["additionalProperties"], false);
        for param in kind.params() {
            assert!(
                entry["properties"][param.name].is_object(),
                "{} has no {}",
                kind.name(),
                param.name
            );
        }
    }
    assert!(checks.iter().any(|c| c["required"][0] == "use"));
}
