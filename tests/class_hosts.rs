//! A whole class graded at once with `--inventory`: 21 real hosts, good and faulty, a clone,
//! one unreachable and one that hangs; every candidate's verdicts asserted; a run stopped in
//! the middle (Ctrl-C, then a kill) and resumed ends with the results of an uninterrupted run;
//! `--retry-errors` grades again only what could not be checked.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{TestHost, grader_key, unreachable_address};

const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/labs/class.yaml");

/// The answer key of tests/labs/class.yaml, for candidate ID.
const GOOD: &str = r#"set -e
echo "Bienvenue ID" > /etc/motd
chmod 0644 /etc/motd
groupadd -g 2000 compta
useradd -m -u 2001 -G compta -s /bin/bash alice
mkdir -p /srv/compta
chgrp compta /srv/compta
chmod 2770 /srv/compta
echo "cle-ID" > /srv/compta/.cle
systemctl enable --now cron
sysctl -qw net.ipv4.ip_forward=1
echo '0 2 * * * restic backup /home' | crontab -
printf '#!/bin/sh\necho "backup ok"\n' > /usr/local/bin/backup.sh
chmod 0755 /usr/local/bin/backup.sh
"#;

/// A candidate: its id, the mistake planted after the answer key, and which of the 20
/// checks it makes fail.
struct Planted {
    id: &'static str,
    fault: &'static str,
    fails: &'static [usize],
}

const FAULTY: &[Planted] = &[
    Planted {
        id: "c13",
        fault: "echo Bienvenue > /etc/motd",
        fails: &[0],
    },
    Planted {
        id: "c14",
        fault: "usermod -s /bin/sh alice",
        fails: &[5],
    },
    Planted {
        id: "c15",
        fault: "chmod 0777 /srv/compta",
        fails: &[8],
    },
    Planted {
        id: "c16",
        fault: "systemctl stop cron",
        fails: &[14],
    },
    Planted {
        id: "c17",
        fault: "sysctl -qw net.ipv4.ip_forward=0",
        fails: &[18],
    },
    Planted {
        id: "c18",
        fault: "printf '#!/bin/sh\\necho failed\\n' > /usr/local/bin/backup.sh",
        fails: &[17],
    },
    Planted {
        id: "c22",
        fault: "useradd mallory",
        fails: &[6],
    },
];

/// The 20 checks' places: task index and check index in tests/labs/class.yaml.
const CHECKS_PER_TASK: &[usize] = &[2, 2, 3, 2, 2, 3, 4, 2];

struct Class {
    hosts: Vec<TestHost>,
    /// Candidate id to the verdicts of its 20 checks, in lab order.
    expected: BTreeMap<String, Vec<&'static str>>,
    inventory: PathBuf,
    known_hosts: PathBuf,
    /// The host whose sshd is stopped: it accepts connections and never answers.
    hung: usize,
    _dir: tempfile::TempDir,
}

fn start_class() -> Class {
    let mut specs: Vec<(String, String, Vec<usize>)> = Vec::new();
    for n in 1..=12 {
        let id = format!("c{n:02}");
        specs.push((id.clone(), GOOD.replace("ID", &id), vec![]));
    }
    for planted in FAULTY {
        specs.push((
            planted.id.to_string(),
            format!("{}{}\n", GOOD.replace("ID", planted.id), planted.fault),
            planted.fails.to_vec(),
        ));
    }
    // c19 is a clone of c01: same machine-id, everything else right.
    specs.push(("c19".into(), GOOD.replace("ID", "c19"), vec![]));
    // c21 hangs: its sshd is stopped once it is up.
    specs.push(("c21".into(), GOOD.replace("ID", "c21"), vec![]));

    let hosts: Vec<TestHost> = std::thread::scope(|scope| {
        let started: Vec<_> = specs
            .iter()
            .map(|(id, setup, _)| {
                scope.spawn(move || TestHost::start(&format!("class-{id}"), setup))
            })
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let c01_machine_id = hosts[0].exec_ok("cat /etc/machine-id");
    let c19 = specs.iter().position(|s| s.0 == "c19").unwrap();
    hosts[c19].exec_ok(&format!("echo {} > /etc/machine-id", c01_machine_id.trim()));
    // c10 copied c05's answer: the lab's own `compta_key` is the same.
    let c10 = specs.iter().position(|s| s.0 == "c10").unwrap();
    hosts[c10].exec_ok("echo cle-c05 > /srv/compta/.cle");
    let hung = specs.iter().position(|s| s.0 == "c21").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    let lines: Vec<String> = hosts.iter().map(|h| h.known_hosts_line()).collect();
    std::fs::write(&known_hosts, lines.join("\n") + "\n").unwrap();

    let mut inventory = format!(
        "defaults: {{ user: root, identity: {} }}\ncandidates:\n",
        grader_key().display()
    );
    let mut expected = BTreeMap::new();
    for ((id, _, fails), host) in specs.iter().zip(&hosts) {
        inventory.push_str(&format!(
            "  - id: {id}\n    name: Candidat {id}\n    hosts: {{ srv: {} }}\n    vars: {{ motd: Bienvenue {id} }}\n",
            host.address
        ));
        let verdicts = (0..20)
            .map(|i| if fails.contains(&i) { "fail" } else { "pass" })
            .collect();
        expected.insert(id.clone(), verdicts);
    }
    inventory.push_str(&format!(
        "  - id: c20\n    name: Candidat c20\n    hosts: {{ srv: {} }}\n",
        unreachable_address()
    ));
    expected.insert("c20".into(), vec!["error"; 20]);
    expected.insert("c21".into(), vec!["error"; 20]);
    let inventory_path = dir.path().join("class.yaml");
    std::fs::write(&inventory_path, inventory).unwrap();
    hosts[hung].exec_ok("kill -STOP $(pgrep -x sshd)");
    Class {
        hosts,
        expected,
        inventory: inventory_path,
        known_hosts,
        hung,
        _dir: dir,
    }
}

impl Class {
    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_labgrade"));
        cmd.arg("run")
            .arg(LAB)
            .arg("--inventory")
            .arg(&self.inventory)
            .arg("--known-hosts")
            .arg(&self.known_hosts)
            .args(["--connect-timeout", "3s"])
            .args(extra)
            .env_remove("SSH_AUTH_SOCK");
        cmd
    }

    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Each candidate's check verdicts, reasons and points, from a class folder: what must not
/// change whether the run was stopped and resumed or not.
fn graded(dir: &Path) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path().join("results.json");
        if !path.exists() {
            continue;
        }
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let tasks: Vec<Value> = results["labs"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let checks: Vec<Value> = t["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| serde_json::json!([c["label"], c["verdict"], c["reason"]]))
                    .collect();
                serde_json::json!([t["id"], t["verdict"], t["earned"], checks])
            })
            .collect();
        all.insert(
            results["candidate"]["id"].as_str().unwrap().to_string(),
            serde_json::json!([results["labs"][0]["mark"], tasks]),
        );
    }
    all
}

fn verdicts(dir: &Path, id: &str) -> (Vec<String>, Vec<String>) {
    let path = dir.join(id).join("results.json");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut verdicts = Vec::new();
    let mut reasons = Vec::new();
    for task in results["labs"][0]["tasks"].as_array().unwrap() {
        for check in task["checks"].as_array().unwrap() {
            verdicts.push(check["verdict"].as_str().unwrap().to_string());
            reasons.push(check["reason"].as_str().unwrap_or("").to_string());
        }
    }
    (verdicts, reasons)
}

fn count_results(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().join("results.json").exists())
                })
                .count()
        })
        .unwrap_or(0)
}

/// Start a run and stop it with `signal` once `after` candidates are written.
fn stop_midway(class: &Class, out: &Path, extra: &[&str], after: usize, signal: i32) -> Output {
    let child: Child = class
        .command(&[&["--jobs", "2"], extra].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while count_results(out) < after {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "no results came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling, by pid, the labgrade process this test started.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_class_is_graded_at_once_and_a_stopped_run_resumes() {
    let class = start_class();
    assert_eq!(CHECKS_PER_TASK.iter().sum::<usize>(), 20);
    let work = tempfile::tempdir().unwrap();

    // The whole class, uninterrupted.
    let full = work.path().join("full");
    let out = class.run(&["--out", full.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    for (id, expected) in &class.expected {
        let (got, reasons) = verdicts(&full, id);
        assert_eq!(
            &got,
            expected,
            "candidate {id}: {reasons:?}\n{}",
            text(&out)
        );
    }
    let (_, reasons) = verdicts(&full, "c20");
    assert!(
        reasons[0].starts_with(&format!("cannot connect to {}:22", unreachable_address())),
        "{reasons:?}"
    );
    let (_, reasons) = verdicts(&full, "c21");
    assert!(reasons[0].starts_with("ssh handshake with "), "{reasons:?}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("class.json")).unwrap()).unwrap();
    let rows = summary["candidates"].as_array().unwrap();
    assert_eq!(rows.len(), 22);
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(row("c01")["mark"], 20.0);
    assert_eq!(row("c13")["mark"], 19.0, "1 of 2 checks of a 2-point task");
    assert_eq!(row("c20")["errors"], 20);
    let shared = summary["shared"].as_array().unwrap();
    assert_eq!(shared.len(), 2, "{shared:?}");
    assert_eq!(shared[0]["what"], "machine_id");
    assert_eq!(
        shared[0]["machines"],
        serde_json::json!(["c01/srv", "c19/srv"])
    );
    assert_eq!(shared[1]["what"], "compta_key");
    assert_eq!(shared[1]["value"], "cle-c05");
    assert_eq!(
        shared[1]["machines"],
        serde_json::json!(["c05/srv", "c10/srv"])
    );
    // Every report format of the real run: a report per candidate, the class pages, the
    // gradebook read back a row per candidate, and the clone flagged in the class page.
    for id in class.expected.keys() {
        for name in ["results.json", "report.md", "report.html"] {
            assert!(full.join(id).join(name).is_file(), "{id}/{name}");
        }
    }
    for name in [
        "class.json",
        "class.md",
        "class.html",
        "gradebook.csv",
        "moodle.csv",
        "junit.xml",
    ] {
        assert!(full.join(name).is_file(), "{name}");
    }
    let page = std::fs::read_to_string(full.join("class.html")).unwrap();
    assert_eq!(page.matches("<tr class=\"candidate\"").count(), 22);
    assert!(page.contains("<td>c01/srv, c19/srv</td>"), "{page}");
    assert!(page.contains("<td>c05/srv, c10/srv</td>"), "{page}");
    let gradebook = std::fs::read_to_string(full.join("gradebook.csv")).unwrap();
    // A French lab: fields separated by `;`; a row per candidate, as wide as the header
    // (id, name, a column per task and per block, mark, passed, errors).
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(gradebook.as_bytes());
    let width = reader.headers().unwrap().len();
    assert_eq!(width, 2 + CHECKS_PER_TASK.len() + 1 + 3, "{gradebook}");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 22, "{gradebook}");
    assert!(records.iter().all(|r| r.len() == width), "{gradebook}");
    // A line per candidate as they are graded (plain lines: stderr is not a terminal here).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(progress.len(), 22, "{stderr}");
    assert!(progress[21].starts_with("[22/22] "), "{stderr}");
    assert!(
        progress
            .iter()
            .any(|l| l.contains("] c13 Candidat c13: 19/20 (")),
        "{stderr}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.contains("] c20 Candidat c20: 0/20, 20 checks could not be evaluated")),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("shared machine_id"),
        "the clone is flagged on screen: {stdout}"
    );
    assert!(
        stdout.contains("shared compta_key cle-c05: c05/srv, c10/srv"),
        "the copied answer is flagged on screen: {stdout}"
    );

    // The same class, stopped by Ctrl-C, then killed, then resumed twice.
    let resumed = work.path().join("resumed");
    let out = stop_midway(
        &class,
        &resumed,
        &["--out", resumed.to_str().unwrap()],
        3,
        libc::SIGINT,
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--resume"),
        "{}",
        text(&out)
    );
    let kept = count_results(&resumed);
    assert!((3..22).contains(&kept), "{kept} candidates kept");
    let again = stop_midway(
        &class,
        &resumed,
        &["--resume", resumed.to_str().unwrap()],
        kept + 2,
        libc::SIGKILL,
    );
    assert_eq!(again.status.code(), None, "killed: {}", text(&again));
    let out = class.run(&["--resume", resumed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(graded(&resumed), graded(&full));
    let resumed_summary: Value =
        serde_json::from_str(&std::fs::read_to_string(resumed.join("class.json")).unwrap())
            .unwrap();
    assert_eq!(resumed_summary["candidates"], summary["candidates"]);
    assert_eq!(resumed_summary["shared"], summary["shared"]);

    // An earlier folder is never graded over without --resume.
    let out = class.run(&["--out", full.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The hung host comes back: --retry-errors grades it, and touches nobody else.
    let before: BTreeMap<String, Vec<u8>> = ["c01", "c13", "c20"]
        .iter()
        .map(|id| {
            (
                id.to_string(),
                std::fs::read(full.join(id).join("results.json")).unwrap(),
            )
        })
        .collect();
    class.hosts[class.hung].exec_ok("kill -CONT $(pgrep -x sshd)");
    let out = class.run(&["--retry-errors", full.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "c20 is still unreachable: {}",
        text(&out)
    );
    let (got, reasons) = verdicts(&full, "c21");
    assert_eq!(got, vec!["pass"; 20], "{reasons:?}");
    for (id, bytes) in &before {
        if id == "c20" {
            continue;
        }
        assert_eq!(
            &std::fs::read(full.join(id).join("results.json")).unwrap(),
            bytes,
            "{id} had no error: its results stay as they were"
        );
    }
}
