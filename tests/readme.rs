//! The README's generated sections (the list of kinds, the lab table) are kept equal to what
//! labgrade generates.
//!
//! To update them: `cargo run -- guide` and `cargo run -- list --markdown labs`, and paste
//! between the markers; or run this test with `UPDATE_README=1`.

use std::process::Command;

/// labgrade's output with these arguments, run from the repository.
fn generated(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "labgrade {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts that the README holds `generated` between the markers `<!-- NAME:start -->` and
/// `<!-- NAME:end -->`, or writes it there under UPDATE_README.
fn section_is(name: &str, generated: &str) {
    let start_marker = format!("<!-- {name}:start -->\n");
    let end_marker = format!("<!-- {name}:end -->");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(&start_marker)
        .unwrap_or_else(|| panic!("README has no {start_marker:?}"))
        + start_marker.len();
    let end = readme
        .find(&end_marker)
        .unwrap_or_else(|| panic!("README has no {end_marker:?}"));
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
        "the README's {name} section is stale: rerun with UPDATE_README=1"
    );
}

#[test]
fn readme_lists_every_kind_as_the_registry_does() {
    section_is("kinds", &generated(&["guide"]));
}

#[test]
fn readme_lab_table_is_the_library() {
    section_is("labs", &generated(&["list", "--markdown", "labs"]));
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
