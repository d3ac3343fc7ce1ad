//! Checks that this machine can run test hosts, and says what to install when it cannot.
//!
//! A missing tool or kernel feature is a panic with a clear message, in CI and everywhere
//! else: a host test never turns into a silent skip.

use super::cgroup;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// The Debian packages the harness and its smoke test need on the machine. The hosts are
/// made of the machine's own installed files, so a package a test needs inside a host
/// (nginx, bind9...) is installed on the machine, with daemons kept from starting there.
pub const PACKAGES: &str =
    "systemd systemd-container dbus openssh-server openssh-client iproute2 nftables cron";

/// Panics, every time it is called, if the machine cannot run test hosts.
pub fn check() {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(message) = RESULT.get_or_init(probe) {
        panic!("{message}");
    }
}

fn probe() -> Result<(), String> {
    let mut missing = Vec::new();
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root: namespaces, mounts and systemd-nspawn need it".to_owned());
    }
    let tools = [
        ("systemd-nspawn", "systemd-container"),
        ("nsenter", "util-linux"),
        ("ip", "iproute2"),
        ("ssh-keygen", "openssh-client"),
        ("ssh", "openssh-client"),
        ("timeout", "coreutils"),
    ];
    for (tool, package) in tools {
        if which(tool).is_none() {
            missing.push(format!("`{tool}` (Debian package {package})"));
        }
    }
    let files = [
        ("/usr/sbin/sshd", "openssh-server"),
        ("/lib/systemd/systemd", "systemd"),
        ("/bin/bash", "bash"),
    ];
    for (file, package) in files {
        if !Path::new(file).exists() {
            missing.push(format!("{file} (Debian package {package})"));
        }
    }
    if !has_filesystem("overlay") {
        missing.push("the overlay filesystem in the kernel".to_owned());
    }
    if !has_filesystem("tmpfs") {
        missing.push("the tmpfs filesystem in the kernel".to_owned());
    }
    for ns in ["net", "pid", "mnt", "uts", "ipc", "cgroup"] {
        if !Path::new("/proc/self/ns").join(ns).exists() {
            missing.push(format!("{ns} namespaces in the kernel"));
        }
    }
    if !cgroup::supported() {
        missing.push(
            "a cgroup hierarchy at /sys/fs/cgroup (unified, or systemd + unified)".to_owned(),
        );
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "labgrade test hosts cannot run on this machine; missing:\n  - {}\n\
         Install with: apt-get install -y --no-install-recommends {PACKAGES}\n\
         (see tests/support/README.md)",
        missing.join("\n  - ")
    ))
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether the kernel offers `name`, loading its module if the kernel can.
fn has_filesystem(name: &str) -> bool {
    let listed = || {
        fs::read_to_string("/proc/filesystems")
            .unwrap_or_default()
            .lines()
            .any(|line| line.split_whitespace().last() == Some(name))
    };
    if listed() {
        return true;
    }
    // Not listed may just mean not loaded yet; modprobe may itself be missing.
    let _ = std::process::Command::new("modprobe")
        .arg(name)
        .stderr(std::process::Stdio::null())
        .status();
    listed()
}
