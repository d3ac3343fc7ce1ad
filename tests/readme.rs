//! The README's list of kinds is generated from the registry: keep the copy equal.
//!
//! To update it: `cargo run -- guide`, and paste between the markers; or run this test with
//! `UPDATE_README=1`.

use std::process::Command;

const START: &str = "<!-- kinds:start -->\n";
const END: &str = "<!-- kinds:end -->";

#[test]
fn readme_lists_every_kind_as_the_registry_does() {
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .arg("guide")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find(START).expect("README has the start marker") + START.len();
    let end = readme.find(END).expect("README has the end marker");
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(
            path,
            format!("{}{generated}{}", &readme[..start], &readme[end..]),
        )
        .unwrap();
        return;
    }
    assert_eq!(
        &readme[start..end],
        generated,
        "the README's kinds are stale: rerun with UPDATE_README=1"
    );
}

#[test]
fn readme_test_command_is_what_ci_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(readme.contains("bash .ci/run"));
    assert!(
        ci.lines().any(|l| l.trim_start().starts_with("cargo test")),
        "CI runs cargo test"
    );
}
