//! How fast labgrade grades a class, next to a lower bound measured in the same run.
//!
//!     sudo cargo bench --bench class            # N = 1, 10, 50, 100
//!     sudo cargo bench --bench class -- 1 10    # other class sizes
//!
//! Brings up N real hosts (systemd containers with their own sshd, as the tests do), each
//! configured as the answer key of tests/labs/class.yaml (20 white-box checks), then, for
//! each N, measures three times and keeps the median:
//!
//! - labgrade: `labgrade run tests/labs/class.yaml --inventory` on the N hosts, as an
//!   instructor runs it (release build);
//! - the lower bound: a program that opens one ssh2 connection per host, all hosts at
//!   once, and runs the same 20 check scripts as one script, reading back their output
//!   and judging nothing.
//!
//! Wall time, CPU time (user + system) and peak memory (max RSS) of each process come from
//! wait4(2). The candidates' sshd run on the same cores as the grader.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{TestHost, grader_key};

const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/labs/class.yaml");
const RUNS: usize = 3;
const LOWER_BOUND_ENV: &str = "LABGRADE_BENCH_LOWER_BOUND";
/// Ends each check's output in the lower bound's script.
const END_MARK: &str = "labgrade-bound-check-done";

/// The answer key of tests/labs/class.yaml (its motd var is left at its default).
const GOOD: &str = r#"set -e
echo "Bienvenue" > /etc/motd
chmod 0644 /etc/motd
groupadd -g 2000 compta
useradd -m -u 2001 -G compta -s /bin/bash alice
mkdir -p /srv/compta
chgrp compta /srv/compta
chmod 2770 /srv/compta
systemctl enable --now cron
sysctl -qw net.ipv4.ip_forward=1
echo '0 2 * * * restic backup /home' | crontab -
printf '#!/bin/sh\necho "backup ok"\n' > /usr/local/bin/backup.sh
chmod 0755 /usr/local/bin/backup.sh
"#;

#[derive(Debug, Clone, Copy)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
}

fn main() {
    if std::env::var_os(LOWER_BOUND_ENV).is_some() {
        lower_bound();
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1, 10, 50, 100]
    } else {
        sizes
    };
    let most = *sizes.iter().max().expect("at least one size");

    let began = Instant::now();
    let hosts = start_hosts(most);
    eprintln!("{most} hosts up in {:.1}s", began.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let script = dir.path().join("checks.sh");
    std::fs::write(&script, lower_bound_script()).expect("write the script");

    println!(
        "| hosts | labgrade wall | labgrade CPU | labgrade peak RSS | lower bound wall | lower bound CPU | lower bound peak RSS | wall ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let class = &hosts[..n];
        let (inventory, known_hosts) = write_inventory(dir.path(), class);
        let mut ours = Vec::new();
        let mut bound = Vec::new();
        for run in 0..RUNS {
            let out = dir.path().join(format!("out-{n}-{run}"));
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_labgrade"));
            cmd.arg("run")
                .arg(LAB)
                .arg("--inventory")
                .arg(&inventory)
                .arg("--known-hosts")
                .arg(&known_hosts)
                .arg("--out")
                .arg(&out)
                .env_remove("SSH_AUTH_SOCK");
            // Its progress lines are not wanted here; its results folder says what went wrong.
            let (usage, code) = measure(cmd, Stdio::null());
            assert_eq!(
                code,
                0,
                "labgrade did not pass every host: see {}",
                out.display()
            );
            ours.push(usage);

            let mut cmd = Command::new(std::env::current_exe().expect("this program"));
            cmd.env(LOWER_BOUND_ENV, "1")
                .arg(&script)
                .arg(grader_key())
                .args(class.iter().map(|h| h.address.to_string()));
            let (usage, code) = measure(cmd, Stdio::inherit());
            assert_eq!(code, 0, "the lower bound failed");
            bound.push(usage);
        }
        let ours = median(ours);
        let bound = median(bound);
        println!(
            "| {n} | {:.2} s | {:.2} s | {} MiB | {:.2} s | {:.2} s | {} MiB | {:.2} |",
            ours.wall.as_secs_f64(),
            ours.cpu.as_secs_f64(),
            ours.max_rss_kib / 1024,
            bound.wall.as_secs_f64(),
            bound.cpu.as_secs_f64(),
            bound.max_rss_kib / 1024,
            ours.wall.as_secs_f64() / bound.wall.as_secs_f64(),
        );
    }
}

/// The hosts, started a few at a time so that boots do not starve each other.
fn start_hosts(n: usize) -> Vec<TestHost> {
    let mut hosts = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(20) {
        let started: Vec<TestHost> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|i| scope.spawn(move || TestHost::start(&format!("bench-{i}"), GOOD)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a host started"))
                .collect()
        });
        hosts.extend(started);
    }
    hosts
}

fn write_inventory(dir: &Path, hosts: &[TestHost]) -> (PathBuf, PathBuf) {
    let mut inventory = format!(
        "defaults: {{ user: root, identity: {} }}\ncandidates:\n",
        grader_key().display()
    );
    let mut known = String::new();
    for (i, host) in hosts.iter().enumerate() {
        inventory.push_str(&format!(
            "  - {{ id: c{i:03}, hosts: {{ srv: {} }} }}\n",
            host.address
        ));
        known.push_str(&host.known_hosts_line());
        known.push('\n');
    }
    let inventory_path = dir.join(format!("class-{}.yaml", hosts.len()));
    let known_path = dir.join(format!("known_hosts-{}", hosts.len()));
    std::fs::write(&inventory_path, inventory).expect("write the inventory");
    std::fs::write(&known_path, known).expect("write known_hosts");
    (inventory_path, known_path)
}

/// Run a command to its end; its wall time, CPU time and peak memory from wait4(2).
// The child is reaped by wait4 itself, which clippy does not see.
#[allow(clippy::zombie_processes)]
fn measure(mut cmd: Command, stderr: Stdio) -> (Usage, i32) {
    cmd.stdout(Stdio::null()).stderr(stderr);
    let began = Instant::now();
    let child = cmd.spawn().expect("start the measured command");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting, by its pid, for the child this function started; both out-pointers
    // are valid for writes.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = began.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        Usage {
            wall,
            cpu: time(usage.ru_utime) + time(usage.ru_stime),
            max_rss_kib: usage.ru_maxrss,
        },
        code,
    )
}

fn median(mut runs: Vec<Usage>) -> Usage {
    runs.sort_by_key(|u| u.wall);
    runs[runs.len() / 2]
}

/// The 20 checks of the class lab as one script: each check's own script, in its envelope,
/// one after the other, their outputs delimited.
fn lower_bound_script() -> String {
    let lab = labgrade::lab::load(Path::new(LAB)).expect("the class lab loads");
    let candidate = labgrade::plan::Candidate {
        id: "c".into(),
        name: "c".into(),
        vars: Default::default(),
        hosts: [("srv".to_string(), labgrade::plan::Target::Local)].into(),
    };
    let plan = labgrade::plan::plan(&lab, &candidate, &[]).expect("the class lab plans");
    let mut script = String::new();
    for check in plan.tasks.iter().flat_map(|t| &t.checks) {
        let wants: Vec<&str> = check.expects.iter().map(|(name, _)| *name).collect();
        let query = labgrade::probe::Query {
            subject: &check.subject,
            inputs: &check.inputs,
            wants: &wants,
        };
        let body = check.kind.script(&query);
        let wrapped = labgrade::transport::wrap(&body, check.timeout);
        script.push_str(&format!(
            "(\n{wrapped}) </dev/null; echo \"{END_MARK} $?\"\n"
        ));
    }
    script
}

/// The lower bound itself: ARGS are the script, the key, then the hosts' addresses.
fn lower_bound() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let script = std::fs::read(&args[0]).expect("read the script");
    let key = PathBuf::from(&args[1]);
    std::thread::scope(|scope| {
        for address in &args[2..] {
            let (script, key) = (&script, &key);
            scope.spawn(move || {
                let tcp = TcpStream::connect((address.as_str(), 22)).expect("connect");
                let mut session = ssh2::Session::new().expect("a session");
                session.set_tcp_stream(tcp);
                session.handshake().expect("handshake");
                session
                    .userauth_pubkey_file("root", None, key, None)
                    .expect("authenticate");
                let mut channel = session.channel_session().expect("a channel");
                channel.exec("/bin/sh -s").expect("exec");
                channel.write_all(script).expect("send the script");
                channel.send_eof().expect("eof");
                let mut out = Vec::new();
                channel.read_to_end(&mut out).expect("read the output");
                channel.wait_close().expect("close");
                assert_eq!(
                    out.windows(END_MARK.len())
                        .filter(|w| *w == END_MARK.as_bytes())
                        .count(),
                    20,
                    "{address}: every check ran"
                );
            });
        }
    });
}
