//! Issue 8, points 2 and 3: candidates' machines that fight back. A class run with
//! `--inventory` over hosts whose checked command prints 100 MB, binary garbage or never
//! stops, whose login shell hangs, prints or exits, and one that cuts the grader off in the
//! middle of its batch: each ends in bounded time with an exact verdict, labgrade's peak
//! memory stays bounded, and the sane candidate beside them is graded as if alone. Then a
//! command that times out leaves none of its processes on the host, alone or in a batch.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{TestHost, grader_key};

/// Three checks: a command whose output is known exactly, a file, and the candidate's own
/// status script. Their timeouts bound every hostile host's run.
const LAB: &str = r#"lab: hostile
title: Machines hostiles
block: 4
hosts:
  srv: {}
tasks:
  - id: basics
    title: La machine est nommée
    points: 2
    partial: true
    checks:
      - command: cat /etc/hostname
        stdout: { matches: '\Ahostile-[a-z]+\z' }
        timeout: 4s
      - file: /etc/hostname
        exists: true
        timeout: 4s
  - id: status
    title: Le script d'état répond
    points: 2
    checks:
      - command: /usr/local/bin/status
        exit_code: 0
        stdout: { matches: '^status ok' }
        timeout: 8s
"#;

/// The status script of a sane machine.
const SANE: &str = "printf '#!/bin/sh\\necho status ok\\n' > /usr/local/bin/status
chmod 0755 /usr/local/bin/status";

/// A status script that is `BODY`.
fn status(body: &str) -> String {
    format!(
        "cat > /usr/local/bin/status <<'EOF'\n#!/bin/sh\n{body}\nEOF\nchmod 0755 /usr/local/bin/status"
    )
}

/// Put `line` first in root's ~/.bashrc, which bash reads for the commands sshd runs.
fn bashrc(line: &str) -> String {
    format!(
        "{SANE}\nprintf '%s\\n' {} | cat - /root/.bashrc > /root/.bashrc.new && mv /root/.bashrc.new /root/.bashrc",
        shell_quote(line)
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A candidate: its id, how its host is set up, and each check's verdict and reason.
struct Hostile {
    id: &'static str,
    setup: String,
    expected: [(&'static str, &'static str); 3],
}

const PASS: (&str, &str) = ("pass", "");
const HUNG: (&str, &str) = (
    "error",
    "cannot start the command: the login shell of root on ADDR:22 did not start the script within 23s (look at its ~/.bashrc and shell)",
);
const QUIT: (&str, &str) = (
    "error",
    "cannot start the command: the login shell of root on ADDR:22 exited with status 0 before running the script (look at its ~/.bashrc and shell)",
);

fn candidates() -> Vec<Hostile> {
    vec![
        Hostile {
            id: "sane",
            setup: SANE.to_string(),
            expected: [PASS, PASS, PASS],
        },
        Hostile {
            id: "flood",
            setup: status("echo status ok; head -c 100000000 /dev/zero | tr '\\0' x"),
            expected: [PASS, PASS, PASS],
        },
        Hostile {
            id: "garbage",
            setup: status(
                "echo status ok; printf '\\033]0;pwned\\007\\033[2J\\033[31m\\000\\377\\376\\r\\b'; head -c 300000 /dev/urandom; printf '\\033[?1049h'",
            ),
            expected: [PASS, PASS, PASS],
        },
        Hostile {
            id: "endless",
            setup: status("yes 'status ok'"),
            expected: [PASS, PASS, ("error", "timed out after 8s")],
        },
        Hostile {
            id: "hang",
            setup: bashrc("sleep 600"),
            // The batch's deadline: its checks' timeouts, 5 s for the batch and 2 s of grace.
            expected: [HUNG; 3],
        },
        Hostile {
            id: "chatty",
            setup: bashrc("echo 'Welcome to this machine!'; echo 'have a nice day' >&2"),
            expected: [PASS, PASS, PASS],
        },
        Hostile {
            id: "quits",
            setup: bashrc("exit 0"),
            expected: [QUIT; 3],
        },
        Hostile {
            id: "cut",
            setup: format!(
                "{}\nnft add table inet cut\nnft add chain inet cut input '{{ type filter hook input priority -10; }}'\nnft add chain inet cut output '{{ type filter hook output priority -10; }}'",
                status(
                    "nft add rule inet cut input ip saddr 10.213.0.1 drop\nnft add rule inet cut output ip daddr 10.213.0.1 drop\necho status ok"
                )
            ),
            // The kernel gives up on the silent peer (keepalive, unacknowledged data).
            expected: [("error", "connection to ADDR:22 lost: transport read"); 3],
        },
    ]
}

/// What a run of the real binary gave: its exit code, its output, its time and the peak
/// resident memory of the labgrade process, as the kernel counted it.
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    peak_rss_mib: f64,
}

/// Run labgrade with `args` and reap it with wait4(2), which reports its peak RSS.
fn measured(args: &[&str], dir: &Path) -> Measured {
    let stdout_path = dir.join("stdout");
    let stderr_path = dir.join("stderr");
    let started = Instant::now();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped below by wait4, which also reports its peak RSS"
    )]
    let child = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting, by pid, for the child this test spawned; both pointers are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let elapsed = started.elapsed();
    assert!(libc::WIFEXITED(status), "labgrade died: status {status}");
    Measured {
        code: libc::WEXITSTATUS(status),
        stdout: std::fs::read_to_string(stdout_path).unwrap(),
        stderr: std::fs::read_to_string(stderr_path).unwrap(),
        elapsed,
        // ru_maxrss is in KiB on Linux.
        peak_rss_mib: usage.ru_maxrss as f64 / 1024.0,
    }
}

fn results(out: &Path, id: &str) -> Value {
    let path = out.join(id).join("results.json");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Every check's (verdict, reason), in lab order.
fn verdicts(results: &Value) -> Vec<(String, String)> {
    results["labs"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["checks"].as_array().unwrap().clone())
        .map(|c| {
            (
                c["verdict"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The hosts' scripts need nft and ps, from the machine's own packages.
fn require_packages() {
    for package in ["nftables", "procps", "coreutils"] {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Status}", package])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "installed",
            "this test needs the Debian package {package} on this machine (.ci/run installs it)"
        );
    }
}

#[test]
fn hostile_hosts_end_in_bounded_time_and_spare_the_others() {
    require_packages();
    let candidates = candidates();
    let hosts: Vec<TestHost> = std::thread::scope(|scope| {
        let started: Vec<_> = candidates
            .iter()
            .map(|c| scope.spawn(move || TestHost::start(&format!("hostile-{}", c.id), &c.setup)))
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    let lines: Vec<String> = hosts.iter().map(|h| h.known_hosts_line()).collect();
    std::fs::write(&known_hosts, lines.join("\n") + "\n").unwrap();
    let mut inventory = format!(
        "defaults: {{ user: root, identity: {} }}\ncandidates:\n",
        grader_key().display()
    );
    for (c, host) in candidates.iter().zip(&hosts) {
        inventory.push_str(&format!(
            "  - id: {}\n    name: {}\n    hosts: {{ srv: {} }}\n",
            c.id, c.id, host.address
        ));
    }
    let inventory_path = dir.path().join("class.yaml");
    std::fs::write(&inventory_path, inventory).unwrap();
    let lab = dir.path().join("hostile.yaml");
    std::fs::write(&lab, LAB).unwrap();
    let out = dir.path().join("out");

    let run = measured(
        &[
            "run",
            lab.to_str().unwrap(),
            "--inventory",
            inventory_path.to_str().unwrap(),
            "--known-hosts",
            known_hosts.to_str().unwrap(),
            "--connect-timeout",
            "3s",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let text = format!("--- stdout\n{}--- stderr\n{}", run.stdout, run.stderr);
    println!(
        "class of {} hostile hosts: {:.1} s, labgrade's peak RSS {:.1} MiB",
        hosts.len(),
        run.elapsed.as_secs_f64(),
        run.peak_rss_mib
    );
    let mut got = BTreeMap::new();
    let mut want = BTreeMap::new();
    for (c, host) in candidates.iter().zip(&hosts) {
        got.insert(c.id, verdicts(&results(&out, c.id)));
        let address = host.address.to_string();
        want.insert(
            c.id,
            c.expected
                .iter()
                .map(|(v, r)| (v.to_string(), r.replace("ADDR", &address)))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(got, want, "{text}");
    assert_eq!(run.code, 3, "{text}");

    // Bounded: the slowest host is the hung login shell, 23 s; memory does not follow the
    // 100 MB a host printed.
    assert!(
        run.elapsed < Duration::from_secs(60),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.peak_rss_mib < 200.0,
        "labgrade's peak RSS: {:.1} MiB",
        run.peak_rss_mib
    );
    // Each candidate's own time says the others did not wait for it.
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(" sane sane: "))
        .expect("the sane candidate's progress line");
    {
        let secs: f64 = line
            .rsplit_once('(')
            .and_then(|(_, t)| t.split_once("s)"))
            .map(|(t, _)| t.parse().unwrap())
            .unwrap();
        assert!(secs < 5.0, "{line}");
    }
    // The 100 MB were counted, not kept: 64 KiB of evidence, the rest dropped.
    let flood = &results(&out, "flood")["labs"][0]["tasks"][1]["checks"][0]["evidence"];
    let kept = flood["stdout"].as_str().unwrap().len() as u64;
    assert_eq!(kept, 64 * 1024);
    assert_eq!(
        kept + flood["truncated"].as_u64().unwrap(),
        "status ok\n".len() as u64 + 100_000_000
    );
    // The garbage never reaches the terminal raw: no escape, bell, backspace or NUL.
    for c in text.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "labgrade printed {c:?}:\n{text}"
        );
    }
    let garbage = results(&out, "garbage");
    let evidence = garbage["labs"][0]["tasks"][1]["checks"][0]["evidence"]["stdout"]
        .as_str()
        .unwrap();
    assert!(
        evidence.starts_with("status ok\n\u{1b}]0;pwned"),
        "{evidence:?}"
    );
}

/// A check alone on its host: it runs by itself, not in a batch.
const SLOW_ALONE: &str = r#"lab: slow-alone
title: Une commande trop lente
block: 4
hosts:
  srv: {}
tasks:
  - id: slow
    title: lente
    points: 1
    checks:
      - command: sleep 3001
        timeout: 2s
"#;

/// Checks in one batch: a plain sleep, one that ignores SIGTERM, one that leaves a child
/// in the background, then a check that must still run.
const SLOW_BATCH: &str = r#"lab: slow-batch
title: Des commandes trop lentes
block: 4
hosts:
  srv: {}
tasks:
  - id: slow
    title: lentes
    points: 1
    partial: true
    checks:
      - command: sleep 3002
        timeout: 2s
      - command: "trap '' TERM; sleep 3003"
        timeout: 2s
      - command: "sleep 3004 & sleep 3005"
        timeout: 2s
      - command: echo after
        stdout: after
"#;

/// The host's processes whose command line mentions `sleep 300`, after giving the kernel
/// a moment to reap what was killed.
fn leftovers(host: &TestHost) -> Vec<String> {
    let started = Instant::now();
    loop {
        let ps = host.exec_ok("ps -eo pid,args");
        let left: Vec<String> = ps
            .lines()
            .filter(|l| l.contains("sleep 300"))
            .map(str::to_string)
            .collect();
        if left.is_empty() || started.elapsed() > Duration::from_secs(3) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_command_that_times_out_leaves_nothing_running_on_the_host() {
    require_packages();
    let host = TestHost::start("slow", "");
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = host.known_hosts_file();
    for (name, lab, expected) in [
        ("alone", SLOW_ALONE, vec![("error", "timed out after 2s")]),
        (
            "batch",
            SLOW_BATCH,
            vec![
                ("error", "timed out after 2s"),
                ("error", "timed out after 2s"),
                ("error", "timed out after 2s"),
                ("pass", ""),
            ],
        ),
    ] {
        let lab_path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&lab_path, lab).unwrap();
        let out = dir.path().join(name);
        let run = measured(
            &[
                "run",
                lab_path.to_str().unwrap(),
                "--host",
                &format!("srv=root@{}", host.address),
                "--identity",
                grader_key().to_str().unwrap(),
                "--known-hosts",
                known_hosts.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        let text = format!("--- stdout\n{}--- stderr\n{}", run.stdout, run.stderr);
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(v, r)| (v.to_string(), r.to_string()))
            .collect();
        assert_eq!(verdicts(&results), expected, "{name}\n{text}");
        assert_eq!(run.code, 3, "{name}\n{text}");
        assert_eq!(
            leftovers(&host),
            Vec::<String>::new(),
            "{name}: left running"
        );
    }
}
