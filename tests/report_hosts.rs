//! What comes back from a candidate's machine is untrusted (issue 5, point 3), and an exam's
//! output folder is sealed (point 4). A real test host keeps a file full of markup, template
//! syntax and terminal escapes; tests/labs/hostile.yaml shows that file in its evidence.
//! None of it reaches report.html, report.md or the run's own output raw; an exam run
//! writes MANIFEST.sha256 and `labgrade verify` sees each change.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;
use support::{TestHost, grader_key};

const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/labs/hostile.yaml");

/// Markup, a script, tera/jinja syntax, then every kind of terminal control: colour (CSI),
/// a window title and a hyperlink (OSC, ended by BEL and by ST), C1 CSI/OSC/ST in UTF-8,
/// a raw C1 byte, backspace, DEL, SO, a carriage return that rewrites the line, and a
/// bidirectional override.
fn hostile() -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"<script>alert(\"x\")</script><img src=x onerror=alert(2)>\n");
    bytes.extend_from_slice(b"{{ 7*7 }} {% if true %}yes{% endif %} {# note #}\n");
    bytes.extend_from_slice(b"\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\\n");
    bytes.extend_from_slice("\u{9b}2J \u{9d}0;t\u{9c} ".as_bytes());
    bytes.extend_from_slice(b"\x9b \x08\x7f\x0e\x01 bell\x07 fake\rPASS ");
    bytes.extend_from_slice("\u{202e}txt.exe\n".as_bytes());
    bytes
}

/// None of these may reach a report or a terminal raw.
const CONTROLS: &[char] = &[
    '\u{1b}', '\u{7}', '\u{8}', '\u{7f}', '\u{e}', '\u{1}', '\r', '\u{9b}', '\u{9c}', '\u{9d}',
    '\u{202e}',
];

/// One short line, which a failed check's reason quotes, so that it reaches the terminal.
const LINE: &str =
    "<script>alert(1)</script> {{ 7*7 }} \u{1b}[31mred\u{1b}]0;pwned\u{7} \u{9b}2J\u{202e}";

fn setup() -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        "set -e\nmkdir -p /srv\necho {} | base64 -d > /srv/notes.txt\necho {} | base64 -d > /srv/line.txt\n",
        b64(&hostile()),
        b64(LINE.as_bytes())
    )
}

fn labgrade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap()
}

fn run(host: &TestHost, dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let known = dir.join("known_hosts");
    std::fs::write(&known, format!("{}\n", host.known_hosts_line())).unwrap();
    let key = grader_key();
    let mut args = vec!["run", LAB, "--host"];
    let target = format!("srv=root@{}", host.address);
    args.push(&target);
    args.extend([
        "--identity",
        key.to_str().unwrap(),
        "--known-hosts",
        known.to_str().unwrap(),
        "--candidate",
        "c01",
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend_from_slice(extra);
    labgrade(&args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `task: verdict earned`, and every check's verdict.
fn verdicts(results: &Value) -> (Vec<String>, Vec<String>) {
    let tasks = results["labs"][0]["tasks"].as_array().unwrap();
    (
        tasks
            .iter()
            .map(|t| {
                format!(
                    "{}: {} {}",
                    t["id"].as_str().unwrap(),
                    t["verdict"].as_str().unwrap(),
                    t["earned"]
                )
            })
            .collect(),
        tasks
            .iter()
            .flat_map(|t| t["checks"].as_array().unwrap())
            .map(|c| c["verdict"].as_str().unwrap().to_string())
            .collect(),
    )
}

fn assert_neutral(what: &str, text: &str) {
    for c in CONTROLS {
        assert!(
            !text.contains(*c),
            "{what} holds the raw control U+{:04X}:\n{text}",
            *c as u32
        );
    }
}

#[test]
fn hostile_evidence_reaches_no_report_and_no_terminal_raw() {
    let host = TestHost::start("hostile", &setup());
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = run(&host, dir.path(), &out_dir, &[]);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");

    let results: Value = serde_json::from_str(&read(&out_dir.join("results.json"))).unwrap();
    assert_eq!(
        verdicts(&results),
        (
            vec![
                "notes: fail 0.0".to_string(),
                "banner: fail 0.0".into(),
                "motd: fail 0.0".into(),
                "shell: pass 1.0".into()
            ],
            vec![
                "fail".to_string(),
                "fail".into(),
                "fail".into(),
                "pass".into()
            ]
        )
    );
    // The evidence keeps exactly what the machine sent: the results are the record.
    let sent = String::from_utf8_lossy(&hostile()).into_owned();
    let evidence = results["labs"][0]["tasks"][0]["checks"][0]["evidence"]["stdout"]
        .as_str()
        .unwrap();
    assert_eq!(evidence.trim_end_matches('\n'), sent.trim_end_matches('\n'));

    // The HTML report: the markup, the template and the escapes are text.
    let html = read(&out_dir.join("report.html"));
    assert_neutral("report.html", &html);
    for raw in ["<script", "<img", "{{", "{%", "{#", "href=\"http://evil"] {
        assert!(!html.contains(raw), "report.html holds `{raw}` raw");
    }
    assert!(
        html.contains(
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
        ),
        "{html}"
    );
    assert!(
        html.contains("&#123;&#123; 7*7 &#125;&#125; &#123;% if true %&#125;yes"),
        "{html}"
    );
    assert!(
        html.contains("\u{241b}[31mred\u{241b}[0m \u{241b}]0;pwned\u{2407}"),
        "{html}"
    );
    assert!(html.contains("\\u009b2J \\u009d0;t\\u009c"), "{html}");
    assert!(
        html.contains(
            "\u{2408}\u{2421}\u{240e}\u{2401} bell\u{2407} fake\u{240d}PASS \\u202etxt.exe"
        ),
        "{html}"
    );

    // The Markdown report: the same, escaped for Markdown.
    let md = read(&out_dir.join("report.md"));
    assert_neutral("report.md", &md);
    for raw in ["<script", "<img", "{{", "{%", "{#"] {
        assert!(!md.contains(raw), "report.md holds `{raw}` raw");
    }
    assert!(md.contains("\"&lt;script&gt;alert("), "{md}");
    assert!(
        md.contains("&#123;&#123; 7\\*7 &#125;&#125; &#123;% if true %&#125;yes"),
        "{md}"
    );

    // The terminal: every control made visible (markup and braces are inert there).
    assert_neutral("the run's output", &stdout);
    assert_neutral("the run's errors", &stderr);
    assert!(
        stdout.contains("found \"<script>alert(1)</script> {{ 7*7 }} "),
        "{stdout}"
    );
    assert!(
        stdout.contains("  FAIL     notes   Les notes sont vides  0/2\n"),
        "{stdout}"
    );

    // The class formats carry the candidate too, and stay clean.
    for name in ["junit.xml", "gradebook.csv", "moodle.csv"] {
        assert_neutral(name, &read(&out_dir.join(name)));
    }
}

fn verify(dir: &Path) -> Output {
    labgrade(&["verify", dir.to_str().unwrap()])
}

fn listed(dir: &Path) -> Vec<String> {
    read(&dir.join("MANIFEST.sha256"))
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect()
}

#[test]
fn an_exam_run_seals_its_folder_and_verify_sees_each_change() {
    let host = TestHost::start("exam", &setup());
    let dir = tempfile::tempdir().unwrap();
    let out_dir: PathBuf = dir.path().join("exam");
    let out = run(&host, dir.path(), &out_dir, &["--exam"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with(&format!(
            "manifest: {}\n",
            out_dir.join("MANIFEST.sha256").display()
        )),
        "{stdout}"
    );
    // Every output file, sorted, relative; and sha256sum agrees with every sum.
    assert_eq!(
        listed(&out_dir),
        [
            "gradebook.csv",
            "junit.xml",
            "moodle.csv",
            "report.html",
            "report.md",
            "results.json"
        ]
    );
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "MANIFEST.sha256"])
        .current_dir(&out_dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    // Exam mode: no hint anywhere.
    assert!(!read(&out_dir.join("report.html")).contains("videz"));
    assert!(!read(&out_dir.join("report.md")).contains("videz"));

    let out = verify(&out_dir);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "OK: 6 files as {} lists them\n",
            out_dir.join("MANIFEST.sha256").display()
        )
    );

    // Rendering again from intact results keeps the folder sealed.
    let out = labgrade(&["report", out_dir.to_str().unwrap(), "--format", "html"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(verify(&out_dir).status.code(), Some(0));

    // The mark raised by hand in results.json: seen, and no report may launder it.
    let results = out_dir.join("results.json");
    let text = read(&results);
    std::fs::write(
        &results,
        text.replacen("\"passed\": false", "\"passed\": true", 1),
    )
    .unwrap();
    let out = verify(&out_dir);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("changed: results.json\n"));
    let out = labgrade(&["report", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(verify(&out_dir).status.code(), Some(1));
}
