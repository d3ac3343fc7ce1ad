//! The test-host harness itself: two real hosts, their isolation, keys, and teardown.

mod support;

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};
use support::{TestHost, grader_key, silent_address, unreachable_address, wrong_key};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

#[test]
fn two_hosts_are_separate_machines_reached_over_ssh() {
    let (web, db) = thread::scope(|s| {
        let web =
            s.spawn(|| TestHost::start("web1", "useradd -m alice && echo web1-motd > /etc/motd"));
        let db = s.spawn(|| TestHost::start("db1", "systemctl enable --now cron"));
        (web.join().unwrap(), db.join().unwrap())
    });
    eprintln!(
        "booted web1 in {:?}, db1 in {:?}",
        web.boot_time(),
        db.boot_time()
    );

    // Each answers over SSH, as itself, under strict host-key checking with its own line.
    for host in [&web, &db] {
        let out = host.ssh(&grader_key(), "hostname").output().unwrap();
        assert!(out.status.success(), "ssh {}: {}", host.name, stderr(&out));
        assert_eq!(stdout(&out), host.name);
        assert_eq!(host.port, 22);
        assert!(
            host.known_hosts_line()
                .starts_with(&format!("{} ssh-ed25519 AAAA", host.address))
        );
    }
    assert_ne!(web.address, db.address);

    // Host keys differ: db1's line does not vouch for web1.
    let key_of = |h: &TestHost| h.known_hosts_line().split_once(' ').unwrap().1.to_owned();
    assert_ne!(key_of(&web), key_of(&db));
    let swapped = web.state_dir().join("swapped_known_hosts");
    fs::write(&swapped, format!("{} {}\n", web.address, key_of(&db))).unwrap();
    let out = std::process::Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(grader_key())
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", swapped.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .arg(format!("root@{}", web.address))
        .arg("true")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a foreign host key was accepted");
    assert!(
        stderr(&out).contains("HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        stderr(&out)
    );

    let machine_forwarding = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();

    // Machine ids differ from each other and from this machine's.
    let machine_id = fs::read_to_string("/etc/machine-id").unwrap();
    let web_id = web.exec_ok("cat /etc/machine-id");
    let db_id = db.exec_ok("cat /etc/machine-id");
    assert_ne!(web_id, db_id);
    assert_ne!(web_id.trim(), machine_id.trim());

    // What web1's setup did stays in web1.
    assert!(web.exec("id alice").status.success());
    assert!(!db.exec("id alice").status.success());
    assert!(
        !std::process::Command::new("id")
            .arg("alice")
            .output()
            .unwrap()
            .status
            .success(),
        "alice leaked onto the machine"
    );
    assert_eq!(web.exec_ok("cat /etc/motd").trim(), "web1-motd");
    assert_ne!(db.exec_ok("cat /etc/motd").trim(), "web1-motd");
    assert_ne!(
        fs::read_to_string("/etc/motd").unwrap_or_default().trim(),
        "web1-motd"
    );

    // Real systemd: sshd active everywhere; cron only where setup enabled it.
    for host in [&web, &db] {
        assert_eq!(stdout(&host.exec("systemctl is-active ssh")), "active");
        assert_eq!(stdout(&host.exec("systemctl is-active sshd")), "active");
        assert_eq!(stdout(&host.exec("systemctl is-system-running")), "running");
    }
    assert_eq!(stdout(&web.exec("systemctl is-enabled cron")), "disabled");
    assert_eq!(stdout(&web.exec("systemctl is-active cron")), "inactive");
    assert_eq!(stdout(&db.exec("systemctl is-enabled cron")), "enabled");
    assert_eq!(stdout(&db.exec("systemctl is-active cron")), "active");
    // Root in a host may set its own network sysctls and firewall, as on a real machine.
    web.exec_ok("sysctl -qw net.ipv4.ip_forward=1 && nft add table inet labgrade_smoke");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        machine_forwarding
    );
    let web_procs = web.exec_ok("ps -eo comm=");
    assert!(web_procs.lines().any(|p| p == "sshd"), "{web_procs}");
    assert!(!web_procs.lines().any(|p| p == "cron"), "{web_procs}");
    assert!(db.exec_ok("ps -eo comm=").lines().any(|p| p == "cron"));

    // The same check over SSH, as labgrade will make it.
    let out = db
        .ssh(&grader_key(), "systemctl is-enabled cron")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "enabled");

    // Only the grader key gets in.
    let out = web.ssh(&wrong_key(), "true").output().unwrap();
    assert!(!out.status.success(), "the wrong key was accepted");
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    // Dropping a host removes its namespace, veth, mounts and folder.
    let netns = Path::new("/run/netns").join(web.netns_name());
    let veth = Path::new("/sys/class/net").join(web.veth_name());
    let dir = web.state_dir();
    assert!(netns.exists() && veth.exists() && dir.exists());
    let bridge_mac = fs::read_to_string("/sys/class/net/lgtest0/address").unwrap();
    drop(web);
    // A bridge whose MAC followed its ports cut the other hosts off for a minute.
    assert_eq!(
        fs::read_to_string("/sys/class/net/lgtest0/address").unwrap(),
        bridge_mac
    );
    assert!(!netns.exists(), "{} left behind", netns.display());
    assert!(!veth.exists(), "{} left behind", veth.display());
    assert!(!dir.exists(), "{} left behind", dir.display());
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&format!("{}/", dir.display())),
        "mounts left behind:\n{mounts}"
    );
    // The other host is untouched.
    let out = db.ssh(&grader_key(), "hostname").output().unwrap();
    assert_eq!(stdout(&out), "db1");
}

#[test]
fn reserved_addresses_fail_as_documented() {
    // unreachable_address: refused at once with "No route to host".
    let began = Instant::now();
    let err = TcpStream::connect_timeout(
        &SocketAddr::from((unreachable_address(), 22)),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EHOSTUNREACH), "{err}");
    assert!(began.elapsed() < Duration::from_secs(1));

    // silent_address: never answers, so the client's own timeout decides.
    let began = Instant::now();
    let err = TcpStream::connect_timeout(
        &SocketAddr::from((silent_address(), 22)),
        Duration::from_millis(500),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(began.elapsed() >= Duration::from_millis(500));
}
