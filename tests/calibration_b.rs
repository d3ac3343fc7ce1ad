//! Calibration of the labs of blocks 1, 2 and 6 on real hosts: the answer key scores 20/20,
//! fresh hosts at most 2/20, and the typical mistakes lose exactly the tasks they should.
//!
//! Each lab has a folder tests/calibration/LAB/ whose calibration.yaml names the lab, the
//! roles to boot, and the setup script of each role in each of the three scenarios. The
//! lab is graded by the real `labgrade run` binary over SSH as root.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;
use support::{TestHost, grader_key};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Calibration {
    lab: String,
    roles: Vec<String>,
    #[serde(default)]
    reference: BTreeMap<String, String>,
    #[serde(default)]
    fresh: BTreeMap<String, String>,
    mistakes: Mistakes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mistakes {
    #[serde(default)]
    setup: BTreeMap<String, String>,
    lost: Vec<String>,
}

/// What one graded scenario came to: the mark, and each task's id and verdict.
struct Graded {
    mark: f64,
    tasks: Vec<(String, String)>,
    stdout: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

/// Boots one host per role, each with its scripts run in order, and grades the lab.
fn grade(lab: &Path, roles: &[String], scripts: &[(&Path, &BTreeMap<String, String>)]) -> Graded {
    let hosts: Vec<(String, TestHost)> = std::thread::scope(|s| {
        let started: Vec<_> = roles
            .iter()
            .map(|role| {
                let setup: String = scripts
                    .iter()
                    .filter_map(|(dir, map)| map.get(role).map(|f| script(dir, f)))
                    .collect::<Vec<_>>()
                    .join("\n");
                s.spawn(move || (role.clone(), TestHost::start(role, &setup)))
            })
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known_hosts");
    let lines: String = hosts
        .iter()
        .map(|(_, h)| format!("{}\n", h.known_hosts_line()))
        .collect();
    std::fs::write(&known, lines).unwrap();
    let out_dir = dir.path().join("out");
    let mut command = Command::new(env!("CARGO_BIN_EXE_labgrade"));
    command.arg("run").arg(lab);
    for (role, host) in &hosts {
        command.args(["--host", &format!("{role}=root@{}", host.address)]);
    }
    let out = command
        .arg("--identity")
        .arg(grader_key())
        .arg("--known-hosts")
        .arg(&known)
        .arg("--out")
        .arg(&out_dir)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(out_dir.join("results.json")).unwrap_or_else(|e| {
        panic!(
            "no results.json ({e}); stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results: Value = serde_json::from_str(&text).unwrap();
    let lab = &results["labs"][0];
    // Every check that did not pass, with its reason, for a failed assertion to show.
    let mut stdout = stdout;
    for task in lab["tasks"].as_array().unwrap() {
        for check in task["checks"].as_array().unwrap() {
            if check["verdict"] != "pass" {
                stdout.push_str(&format!(
                    "  {} / {}: {} {}\n",
                    task["id"], check["label"], check["verdict"], check["reason"]
                ));
            }
        }
    }
    let tasks = lab["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let id = t["id"].as_str().unwrap().to_string();
            (id, t["verdict"].as_str().unwrap().to_string())
        })
        .collect();
    Graded {
        mark: lab["mark"].as_f64().unwrap(),
        tasks,
        stdout,
    }
}

/// Test hosts are made of this machine's installed files: the labs' packages must be here
/// (.ci/run installs them). A missing one fails the test, in CI and everywhere else.
const PACKAGES: &[&str] = &[
    "nftables",
    "nginx",
    "curl",
    "restic",
    "sudo",
    "systemd-timesyncd",
    "unattended-upgrades",
    "prometheus-node-exporter",
    "fail2ban",
    "python3-systemd",
    "mdadm",
    "wireguard-tools",
    "wireguard-go",
    "isc-dhcp-relay",
    "python3",
];

fn require_packages() {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|package| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${db:Status-Status}", package])
                .output()
                .unwrap();
            out.stdout != b"installed"
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the calibrated labs need these Debian packages on this machine (.ci/run installs them): {}",
        missing.join(" ")
    );
}

fn calibrate(id: &str) {
    require_packages();
    let dir = root().join("tests/calibration").join(id);
    let text = std::fs::read_to_string(dir.join("calibration.yaml")).unwrap();
    let cal: Calibration = serde_saphyr::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("calibration.yaml").display()));
    let lab = root().join(&cal.lab);
    // One scenario at a time: hosts of all scenarios share one bridge, and a lab's
    // machines may take fixed addresses of their own (a router's 192.168.50.1) that would
    // answer each other's ARP if two scenarios ran at once.
    let reference = grade(&lab, &cal.roles, &[(&dir, &cal.reference)]);
    let fresh = grade(&lab, &cal.roles, &[(&dir, &cal.fresh)]);
    let mistakes = grade(
        &lab,
        &cal.roles,
        &[(&dir, &cal.reference), (&dir, &cal.mistakes.setup)],
    );
    for (name, g) in [
        ("reference", &reference),
        ("fresh", &fresh),
        ("mistakes", &mistakes),
    ] {
        eprintln!("{id} {name}: {}/20 {:?}", g.mark, g.tasks);
    }
    let not_passed = |g: &Graded| -> Vec<String> {
        g.tasks
            .iter()
            .filter(|(_, v)| v != "pass")
            .map(|(id, _)| id.clone())
            .collect()
    };
    assert_eq!(
        (reference.mark, not_passed(&reference)),
        (20.0, vec![]),
        "{id}: the reference host does not score 20/20:\n{}",
        reference.stdout
    );
    assert!(
        fresh.mark <= 2.0,
        "{id}: a fresh host scores {} (more than 2/20):\n{}",
        fresh.mark,
        fresh.stdout
    );
    let ids: Vec<&String> = reference.tasks.iter().map(|(id, _)| id).collect();
    for lost in &cal.mistakes.lost {
        assert!(ids.contains(&lost), "{id}: `lost` names no task `{lost}`");
    }
    let mut lost = cal.mistakes.lost;
    lost.sort();
    let mut missed = not_passed(&mistakes);
    missed.sort();
    assert_eq!(
        missed, lost,
        "{id}: the mistakes host did not lose exactly its tasks:\n{}",
        mistakes.stdout
    );
}

#[test]
fn bloc6_pare_feu() {
    calibrate("bloc6-pare-feu");
}

#[test]
fn bloc6_sauvegarde() {
    calibrate("bloc6-sauvegarde");
}

#[test]
fn bloc1_poste() {
    calibrate("bloc1-poste");
}

#[test]
fn bloc2_routeur() {
    calibrate("bloc2-routeur");
}

#[test]
fn bloc6_supervision() {
    calibrate("bloc6-supervision");
}

#[test]
fn bloc1_mises_a_jour() {
    calibrate("bloc1-mises-a-jour");
}

#[test]
fn bloc2_vlan_vpn() {
    calibrate("bloc2-vlan-vpn");
}

#[test]
fn bloc6_firewall_in_english() {
    calibrate("bloc6-firewall");
}
