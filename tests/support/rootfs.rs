//! A host's root filesystem: an overlay of the machine's `/` with a per-host upper layer.
//!
//! The lower layer is the machine's own root, so a host has every package the machine has
//! at no cost; the upper layer is a tmpfs of the host's own, so whatever a host writes
//! (useradd, /etc edits, dpkg --purge) stays in that host and vanishes with it. Before boot
//! the harness makes the copy a distinct, quiet machine: its own hostname, machine-id and
//! ed25519 host key, key-only root login for the grader, a resolver that fails at once, and
//! none of the services the machine's packages enabled except sshd.

use super::cmd::must;
use super::slots::Slot;
use std::ffi::CString;
use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

/// Units left enabled in a fresh host; everything else the machine enabled is disabled.
const KEEP_UNITS: &[&str] = &["ssh.service"];
/// SysV scripts left enabled (Debian's `systemctl is-enabled` asks `/etc/rc?.d` for units
/// that have no native unit file, such as exim4).
const KEEP_SYSV: &[&str] = &["ssh"];
/// Cap on a host's own writes; memory is only used as they are made.
const UPPER_SIZE: &str = "4g";

const SSHD_DROP_IN: &str = "\
# Written by the labgrade test harness: key-only root login, one host key.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
";

const JOURNALD_DROP_IN: &str = "\
# Written by the labgrade test harness: keep the journal in memory.
[Journal]
Storage=volatile
RuntimeMaxUse=16M
";

const RESOLV_CONF: &str = "\
# labgrade test host: no resolver here, so every DNS lookup fails at once.
nameserver 127.0.0.1
options timeout:1 attempts:1
";

/// Where the host's root is mounted.
pub fn root(slot: &Slot) -> PathBuf {
    slot.dir().join("fs").join("root")
}

/// Mounts the slot's root and makes it a fresh host; returns its host public key
/// (`ssh-ed25519 AAAA...`).
pub fn build(slot: &Slot, name: &str, address: Ipv4Addr, authorized_key: &str) -> String {
    let fs_dir = slot.dir().join("fs");
    mkdir(&fs_dir, 0o755);
    let data = format!("mode=0755,size={UPPER_SIZE}");
    mount("labgrade-test", &fs_dir, "tmpfs", &data);
    let (upper, work, root) = (fs_dir.join("upper"), fs_dir.join("work"), root(slot));
    for dir in [&upper, &work, &root] {
        mkdir(dir, 0o755);
    }
    seed_upper(&upper, authorized_key);
    let data = format!(
        "lowerdir=/,upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    mount("labgrade-test", &root, "overlay", &data);
    write_identity(&root, name, address);
    disable_units(&root);
    // The machine's policy-rc.d (exit 101) keeps package scripts from starting daemons on
    // the machine itself; in a host, dpkg and apt should behave as on a real one.
    let policy = root.join("usr/sbin/policy-rc.d");
    if fs::symlink_metadata(&policy).is_ok() {
        remove(&policy);
    }
    configure_sshd(&root, name)
}

/// Writes into the upper layer before it is mounted: folders that must not show the
/// machine's content (its /root with its dotfiles and tools, its /home, its temp files) are
/// made opaque and start as on a fresh install.
fn seed_upper(upper: &Path, authorized_key: &str) {
    for (dir, mode) in [("root", 0o700), ("home", 0o755), ("tmp", 0o1777)] {
        opaque_dir(&upper.join(dir), mode);
    }
    mkdir(&upper.join("var"), 0o755);
    opaque_dir(&upper.join("var/tmp"), 0o1777);
    let home = upper.join("root");
    if let Ok(skel) = fs::read_dir("/etc/skel") {
        for entry in skel.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let to = home.join(entry.file_name());
                fs::copy(entry.path(), &to).unwrap_or_else(|e| {
                    panic!("labgrade test host: cannot copy to {}: {e}", to.display())
                });
            }
        }
    }
    mkdir(&home.join(".ssh"), 0o700);
    write(&home.join(".ssh/authorized_keys"), authorized_key, 0o600);
}

fn write_identity(root: &Path, name: &str, address: Ipv4Addr) {
    write(&root.join("etc/hostname"), &format!("{name}\n"), 0o644);
    let hosts = format!(
        "127.0.0.1\tlocalhost\n{address}\t{name}\n\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    );
    write(&root.join("etc/hosts"), &hosts, 0o644);
    write(&root.join("etc/resolv.conf"), RESOLV_CONF, 0o644);
    let uuid = fs::read_to_string("/proc/sys/kernel/random/uuid").expect("the kernel makes uuids");
    let machine_id = format!("{}\n", uuid.trim().replace('-', ""));
    write(&root.join("etc/machine-id"), &machine_id, 0o444);
    // Debian keeps a copy for D-Bus; left alone, every host would share the machine's.
    let dbus_id = root.join("var/lib/dbus/machine-id");
    if fs::symlink_metadata(&dbus_id).is_ok_and(|m| m.is_file()) {
        write(&dbus_id, &machine_id, 0o444);
    }
    write(
        &root.join("etc/systemd/journald.conf.d/labgrade-test.conf"),
        JOURNALD_DROP_IN,
        0o644,
    );
}

/// Disables every unit and `SysV` script the machine enabled, except sshd, so a fresh host
/// runs only systemd's own units and sshd until the test's setup starts more.
fn disable_units(root: &Path) {
    for base in ["etc/systemd/system", "etc/systemd/user"] {
        for dir in subdirs(&root.join(base)) {
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            if !(name.ends_with(".wants") || name.ends_with(".requires")) {
                continue;
            }
            for link in entries(&dir) {
                let unit = link.file_name().unwrap_or_default().to_string_lossy();
                if !KEEP_UNITS.contains(&unit.as_ref()) {
                    remove(&link);
                }
            }
        }
    }
    // Whatever the machine did, the host has sshd enabled, under both names.
    let system = root.join("etc/systemd/system");
    mkdir(&system.join("multi-user.target.wants"), 0o755);
    for link in ["multi-user.target.wants/ssh.service", "sshd.service"] {
        let path = system.join(link);
        if fs::symlink_metadata(&path).is_err() {
            symlink("/lib/systemd/system/ssh.service", &path).unwrap_or_else(|e| {
                panic!("labgrade test host: cannot link {}: {e}", path.display())
            });
        }
    }
    // What `update-rc.d NAME disable` does: start links become kill links, which
    // `systemctl enable` (through update-rc.d enable) turns back.
    for rc in ["rc2.d", "rc3.d", "rc4.d", "rc5.d", "rcS.d"] {
        let dir = root.join("etc").join(rc);
        for link in entries(&dir) {
            let file = link.file_name().unwrap_or_default().to_string_lossy();
            let Some(script) = sysv_start_link(&file) else {
                continue;
            };
            if KEEP_SYSV.contains(&script) {
                continue;
            }
            remove(&link);
            let kill = dir.join(format!("K01{script}"));
            if fs::symlink_metadata(&kill).is_err() {
                symlink(format!("../init.d/{script}"), &kill).unwrap_or_else(|e| {
                    panic!("labgrade test host: cannot link {}: {e}", kill.display())
                });
            }
        }
    }
}

/// `S01cron` -> `cron`.
fn sysv_start_link(file: &str) -> Option<&str> {
    let rest = file.strip_prefix('S')?;
    let digits = rest.get(..2)?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| &rest[2..])
        .filter(|script| !script.is_empty())
}

/// Replaces the machine's host keys by one new ed25519 key, so each host is told apart by
/// its key, and configures key-only root login. Returns the public key.
fn configure_sshd(root: &Path, name: &str) -> String {
    let ssh = root.join("etc/ssh");
    for entry in entries(&ssh) {
        let file = entry.file_name().unwrap_or_default().to_string_lossy();
        if file.starts_with("ssh_host_") {
            remove(&entry);
        }
    }
    let key = ssh.join("ssh_host_ed25519_key");
    let comment = format!("root@{name}");
    let key_arg = key.to_str().expect("state paths are UTF-8");
    must(
        "ssh-keygen",
        &[
            "-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f", key_arg,
        ],
    );
    write(
        &ssh.join("sshd_config.d/labgrade-test.conf"),
        SSHD_DROP_IN,
        0o644,
    );
    let public = fs::read_to_string(key.with_extension("pub"))
        .unwrap_or_else(|e| panic!("labgrade test host: cannot read the new host key: {e}"));
    // Drop the comment: known_hosts lines are `ADDRESS TYPE KEY`.
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unmounts everything mounted under the slot folder, deepest first.
pub fn unmount(slot: &Slot) -> Result<(), String> {
    let prefix = format!("{}/", slot.dir().display());
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // Field 5 is the mount point; the harness's paths need none of mountinfo's escapes.
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    let mut problems = Vec::new();
    for point in points {
        if let Err(e) = umount(point) {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn umount(point: &str) -> Result<(), String> {
    let target = CString::new(point).expect("mount points have no NUL");
    // A container's last processes can hold the mount for a moment after they are killed.
    for _ in 0..50 {
        // SAFETY: `target` is a valid NUL-terminated path.
        if unsafe { libc::umount2(target.as_ptr(), 0) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EBUSY) => thread::sleep(Duration::from_millis(20)),
            Some(libc::EINVAL | libc::ENOENT) => return Ok(()),
            _ => return Err(format!("cannot unmount {point}: {e}")),
        }
    }
    // Still busy: detach it, so the slot can go; the kernel frees it once unused.
    // SAFETY: as above.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        Err(format!("cannot unmount {point}: {e}"))
    }
}

fn mount(source: &str, target: &Path, fstype: &str, data: &str) {
    let c = |s: &str| CString::new(s).expect("mount arguments have no NUL");
    let (c_source, c_fstype, c_data) = (c(source), c(fstype), c(data));
    let c_target = CString::new(target.as_os_str().as_bytes()).expect("paths have no NUL");
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let r = unsafe {
        libc::mount(
            c_source.as_ptr(),
            c_target.as_ptr(),
            c_fstype.as_ptr(),
            0,
            c_data.as_ptr().cast(),
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        panic!(
            "labgrade test host: cannot mount {fstype} ({data}) on {}: {e}",
            target.display()
        );
    }
}

/// A folder in the upper layer that hides the lower layer's folder of the same path.
fn opaque_dir(dir: &Path, mode: u32) {
    mkdir(dir, mode);
    let path = CString::new(dir.as_os_str().as_bytes()).expect("paths have no NUL");
    // SAFETY: valid NUL-terminated name and path, and a 1-byte value buffer of length 1.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        panic!(
            "labgrade test host: cannot make {} opaque: {e}",
            dir.display()
        );
    }
}

/// mkdir -p, then the exact mode (the umask would otherwise trim it).
fn mkdir(dir: &Path, mode: u32) {
    fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(mode)))
        .unwrap_or_else(|e| panic!("labgrade test host: cannot create {}: {e}", dir.display()));
}

/// Writes a file in place of whatever was there (a symlink such as resolv.conf included).
fn write(path: &Path, content: &str, mode: u32) {
    if let Some(parent) = path.parent()
        && !parent.exists()
    {
        mkdir(parent, 0o755);
    }
    let _ = fs::remove_file(path);
    fs::write(path, content)
        .and_then(|()| fs::set_permissions(path, fs::Permissions::from_mode(mode)))
        .unwrap_or_else(|e| panic!("labgrade test host: cannot write {}: {e}", path.display()));
}

fn remove(path: &Path) {
    fs::remove_file(path)
        .unwrap_or_else(|e| panic!("labgrade test host: cannot remove {}: {e}", path.display()));
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    entries(dir)
        .into_iter()
        .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect()
}
