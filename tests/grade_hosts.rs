//! `labgrade run` against real hosts over SSH: a reference host, a host with planted faults,
//! and hosts the grader cannot check. Every check's verdict is asserted.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{TestHost, grader_key, silent_address, unreachable_address, wrong_key};

const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/labs/whitebox.yaml");
/// One check that passes on any host: for tests about reaching a host, not grading it.
const REACH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/labs/reach.yaml");

/// The answer key of tests/labs/whitebox.yaml.
const REFERENCE: &str = r#"
set -e
echo "Bienvenue sur srv" > /etc/motd
chmod 0644 /etc/motd
groupadd -g 2000 compta
useradd -m -u 2001 -G compta -s /bin/bash alice
mkdir -p /srv/compta
chgrp compta /srv/compta
chmod 2770 /srv/compta
systemctl enable --now cron
sysctl -qw net.ipv4.ip_forward=1
echo '0 2 * * * restic backup /home' | crontab -
mkdir -p /mnt/data
mount -t tmpfs -o size=8m,noexec tmpfs /mnt/data
nft -f - <<'EOF'
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
  }
}
EOF
printf '#!/bin/sh\necho "backup ok"\n' > /usr/local/bin/backup.sh
chmod 0755 /usr/local/bin/backup.sh
"#;

/// The reference with the mistakes a candidate makes, each in one task.
const FAULTS: &str = r#"
set -e
echo "Hello" > /etc/motd
usermod -s /bin/sh alice
chmod 0777 /srv/compta
dpkg -r bridge-utils >/dev/null 2>&1
crontab -r
systemctl disable --now cron
sysctl -qw net.ipv4.ip_forward=0
umount /mnt/data
nft flush ruleset
nft -f - <<'EOF'
table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 22 accept
    tcp dport 23 accept
  }
}
EOF
printf '#!/bin/sh\necho "backup error: no repository" >&2\nexit 1\n' > /usr/local/bin/backup.sh
"#;

/// Test hosts are made of this machine's installed files: the lab's packages must be here.
fn require_packages() {
    for package in ["bridge-utils", "cron", "nftables", "openssh-server"] {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Status}", package])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "installed",
            "the whitebox lab needs the Debian package {package} on this machine (.ci/run installs it)"
        );
    }
}

struct Run {
    code: i32,
    stdout: String,
    results: Value,
    elapsed: Duration,
}

/// A known_hosts file holding `lines`.
fn known_hosts(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("known_hosts");
    std::fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    path
}

fn labgrade(dir: &Path, lab: &str, host: &str, extra: &[&str]) -> Run {
    let out_dir = dir.join(format!(
        "out-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(["run", lab, "--host", &format!("srv=root@{host}"), "--out"])
        .arg(&out_dir)
        .args(extra)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read_to_string(out_dir.join("results.json"))
        .unwrap_or_else(|e| panic!("no results.json ({e}); stdout:\n{stdout}\nstderr:\n{stderr}"));
    Run {
        code: out.status.code().unwrap(),
        stdout,
        results: serde_json::from_str(&text).unwrap(),
        elapsed,
    }
}

fn grade(host: &TestHost, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let known = known_hosts(dir.path(), &[host.known_hosts_line()]);
    let key = grader_key();
    let mut args = vec![
        "--identity",
        key.to_str().unwrap(),
        "--known-hosts",
        known.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    labgrade(dir.path(), LAB, &host.address.to_string(), &args)
}

/// `task: verdict earned` per task, and every check's verdict in order.
fn verdicts(results: &Value) -> (Vec<String>, Vec<String>) {
    let mut tasks = Vec::new();
    let mut checks = Vec::new();
    for task in results["labs"][0]["tasks"].as_array().unwrap() {
        tasks.push(format!(
            "{}: {} {}",
            task["id"].as_str().unwrap(),
            task["verdict"].as_str().unwrap(),
            task["earned"]
        ));
        for (i, check) in task["checks"].as_array().unwrap().iter().enumerate() {
            checks.push(format!(
                "{}[{i}] {}",
                task["id"].as_str().unwrap(),
                check["verdict"].as_str().unwrap()
            ));
        }
    }
    (tasks, checks)
}

#[test]
fn the_reference_host_scores_20() {
    require_packages();
    let host = TestHost::start("reference", REFERENCE);
    let run = grade(&host, &[]);
    let (tasks, checks) = verdicts(&run.results);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(checks.len(), 21);
    assert!(
        checks.iter().all(|c| c.ends_with(" pass")),
        "{checks:#?}\n{}",
        run.stdout
    );
    assert!(tasks.iter().all(|t| t.contains(": pass ")), "{tasks:#?}");
    assert_eq!(run.results["labs"][0]["mark"], 20.0);
    assert_eq!(
        run.results["hosts"]["srv"],
        format!("root@{}:22", host.address)
    );
    assert!(
        run.stdout
            .contains("  mark 20/20 (20/20 points) — passed (pass mark 10)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn each_planted_fault_costs_its_task() {
    require_packages();
    let host = TestHost::start("faulty", &format!("{REFERENCE}\n{FAULTS}"));
    let run = grade(&host, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let (tasks, checks) = verdicts(&run.results);
    assert_eq!(
        tasks,
        [
            "motd: fail 0.0",
            "group: pass 1.0",
            "alice: partial 1.33",
            "share: fail 0.0",
            "packages: partial 1.33",
            "ssh: pass 2.0",
            "cron: fail 0.0",
            "routing: fail 0.0",
            "data: fail 0.0",
            "firewall: partial 0.67",
            "script: fail 0.0",
        ],
        "{}",
        run.stdout
    );
    assert_eq!(
        checks,
        [
            "motd[0] fail",
            "group[0] pass",
            "alice[0] pass",
            "alice[1] fail",
            "alice[2] pass",
            "share[0] fail",
            "packages[0] fail",
            "packages[1] pass",
            "packages[2] pass",
            "ssh[0] pass",
            "ssh[1] pass",
            "ssh[2] pass",
            "cron[0] fail",
            "cron[1] fail",
            "routing[0] fail",
            "data[0] fail",
            "firewall[0] pass",
            "firewall[1] fail",
            "firewall[2] fail",
            "script[0] fail",
            "script[1] pass",
        ]
    );
    assert_eq!(run.results["labs"][0]["mark"], 6.33);
    let task = |id: &str| {
        run.results["labs"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        task("alice")["checks"][1]["reason"],
        "shell: expected \"/bin/bash\", found \"/bin/sh\""
    );
    assert_eq!(
        task("share")["checks"][0]["reason"],
        "mode: expected \"2770\", found \"2777\""
    );
    assert_eq!(
        task("routing")["checks"][0]["reason"],
        "value: expected \"1\", found \"0\""
    );
    assert_eq!(
        task("data")["checks"][0]["reason"],
        "/mnt/data: mounted is false"
    );
    assert_eq!(
        task("packages")["checks"][0]["reason"],
        "installed: expected true, found false"
    );
    assert_eq!(
        task("script")["hint"],
        "/usr/local/bin/backup.sh --check doit afficher \"ok\""
    );
    assert_eq!(
        task("script")["checks"][0]["evidence"]["stderr"],
        "backup error: no repository\n"
    );
}

#[test]
fn an_unreachable_host_is_an_error_with_results_written() {
    let dir = tempfile::tempdir().unwrap();
    let known = known_hosts(dir.path(), &[]);
    let run = labgrade(
        dir.path(),
        LAB,
        &unreachable_address().to_string(),
        &[
            "--known-hosts",
            known.to_str().unwrap(),
            "--connect-timeout",
            "3s",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let (tasks, checks) = verdicts(&run.results);
    assert!(checks.iter().all(|c| c.ends_with(" error")), "{checks:#?}");
    assert!(
        tasks
            .iter()
            .all(|t| t.contains(": error ") || t.contains(": skipped ")),
        "{tasks:#?}"
    );
    let reason = run.results["labs"][0]["tasks"][0]["checks"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.starts_with(&format!("cannot connect to {}:22: ", unreachable_address())),
        "{reason}"
    );
    assert!(run.stdout.contains("could not check"), "{}", run.stdout);
    assert!(
        run.elapsed < Duration::from_secs(60),
        "bounded: {:?}",
        run.elapsed
    );
}

#[test]
fn a_host_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let known = known_hosts(dir.path(), &[]);
    let run = labgrade(
        dir.path(),
        LAB,
        &silent_address().to_string(),
        &[
            "--known-hosts",
            known.to_str().unwrap(),
            "--connect-timeout",
            "2s",
        ],
    );
    assert_eq!(run.code, 3);
    let reason = run.results["labs"][0]["tasks"][0]["checks"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.starts_with(&format!("cannot connect to {}:22: ", silent_address())),
        "{reason}"
    );
    assert!(
        reason.ends_with("no answer within 2s (host down, or a firewall drops the traffic)"),
        "{reason}"
    );
    assert!(
        run.elapsed < Duration::from_secs(60),
        "bounded: {:?}",
        run.elapsed
    );
}

#[test]
fn a_wrong_key_and_unknown_or_changed_host_keys_are_refused() {
    let host = TestHost::start("keys", "");
    let other = TestHost::start("other-keys", "");
    let dir = tempfile::tempdir().unwrap();
    let address = host.address.to_string();
    let first_reason = |run: &Run| {
        run.results["labs"][0]["tasks"][0]["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // A key the host does not accept.
    let known = known_hosts(dir.path(), &[host.known_hosts_line()]);
    let wrong = wrong_key();
    let run = labgrade(
        dir.path(),
        REACH,
        &address,
        &[
            "--identity",
            wrong.to_str().unwrap(),
            "--known-hosts",
            known.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 3);
    assert!(
        first_reason(&run).starts_with(&format!("authentication as root on {address}:22 failed")),
        "{}",
        first_reason(&run)
    );

    // A host key seen for the first time: refused, with how to accept it.
    let key = grader_key();
    let known = known_hosts(dir.path(), &[]);
    let args = [
        "--identity",
        key.to_str().unwrap(),
        "--known-hosts",
        known.to_str().unwrap(),
    ];
    let run = labgrade(dir.path(), REACH, &address, &args);
    assert_eq!(run.code, 3);
    let reason = first_reason(&run);
    assert!(
        reason.starts_with(&format!(
            "the host key of {address}:22 is not in {}",
            known.display()
        )),
        "{reason}"
    );
    assert!(reason.contains("--accept-new-host-keys"), "{reason}");

    // Accepted: recorded, and the next run needs no flag.
    let run = labgrade(
        dir.path(),
        REACH,
        &address,
        &[&args[..], &["--accept-new-host-keys"]].concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let recorded = std::fs::read_to_string(&known).unwrap();
    assert!(
        recorded.contains(host.known_hosts_line().split_whitespace().nth(2).unwrap()),
        "{recorded}"
    );
    let run = labgrade(dir.path(), REACH, &address, &args);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Another machine's key recorded for this address: always refused.
    let other_key = other
        .known_hosts_line()
        .split_once(' ')
        .unwrap()
        .1
        .to_string();
    let known = known_hosts(dir.path(), &[format!("{address} {other_key}")]);
    let run = labgrade(
        dir.path(),
        REACH,
        &address,
        &[
            "--identity",
            key.to_str().unwrap(),
            "--known-hosts",
            known.to_str().unwrap(),
            "--accept-new-host-keys",
        ],
    );
    assert_eq!(run.code, 3);
    assert!(
        first_reason(&run).starts_with(&format!("the host key of {address}:22 does not match")),
        "{}",
        first_reason(&run)
    );
}

#[test]
fn a_command_that_hangs_is_stopped_on_the_host() {
    let host = TestHost::start("hangs", "");
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("hang.yaml");
    std::fs::write(
        &lab,
        "lab: hang\ntitle: Hang\nblock: 4\nhosts:\n  srv: {}\ntasks:\n  - id: hang\n    title: Hang\n    points: 1\n    checks:\n      - command: sleep 600; echo labgrade-hang-marker\n        timeout: 2s\n  - id: quick\n    title: Quick\n    points: 1\n    checks:\n      - command: 'true'\n",
    )
    .unwrap();
    let known = known_hosts(dir.path(), &[host.known_hosts_line()]);
    let key = grader_key();
    let run = labgrade(
        dir.path(),
        lab.to_str().unwrap(),
        &host.address.to_string(),
        &[
            "--identity",
            key.to_str().unwrap(),
            "--known-hosts",
            known.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let (tasks, _) = verdicts(&run.results);
    assert_eq!(tasks, ["hang: error 0.0", "quick: pass 1.0"]);
    assert_eq!(
        run.results["labs"][0]["tasks"][0]["checks"][0]["reason"],
        "timed out after 2s"
    );
    assert!(
        run.elapsed < Duration::from_secs(60),
        "bounded: {:?}",
        run.elapsed
    );
    // Nothing of the command is left running on the host.
    let left = host.exec("ps -eo args= | grep -c '[l]abgrade-hang-marker' || true");
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "0");
}
