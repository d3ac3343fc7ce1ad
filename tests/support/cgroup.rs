//! A cgroup of its own for each container.
//!
//! PID 1 of this machine is not systemd, so systemd-nspawn runs with --keep-unit and uses
//! the cgroup it was started in as the container's. Two containers started from the same
//! cgroup would share it (and the second one's systemd would see the first one's
//! processes), so each nspawn is moved into `labgrade-tests/MACHINE` before it starts.

use super::slots::Slot;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";

/// The hierarchies that systemd tracks processes in: the unified one on a pure cgroup v2
/// machine; on a hybrid one (this machine) both the named `systemd` v1 hierarchy and
/// the unified one mounted beside it.
fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    ["systemd", "unified"]
        .iter()
        .map(|name| root.join(name))
        .filter(|dir| dir.join("cgroup.procs").exists())
        .collect()
}

/// Whether the machine has a cgroup hierarchy the harness knows how to use.
pub fn supported() -> bool {
    !hierarchies().is_empty()
}

fn dirs(slot: &Slot) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join("labgrade-tests").join(slot.machine()))
        .collect()
}

/// Creates the slot's cgroups and returns their `cgroup.procs` files: writing a pid there
/// moves that process in.
pub fn create(slot: &Slot) -> Vec<PathBuf> {
    dirs(slot)
        .into_iter()
        .map(|dir| {
            fs::create_dir_all(&dir).unwrap_or_else(|e| {
                panic!(
                    "labgrade test host: cannot create cgroup {}: {e}",
                    dir.display()
                )
            });
            dir.join("cgroup.procs")
        })
        .collect()
}

/// Removes the slot's cgroups, including those systemd made inside; they must be empty.
pub fn remove(slot: &Slot) -> Result<(), String> {
    let mut problems = Vec::new();
    for dir in dirs(slot) {
        if dir.exists()
            && let Err(e) = remove_tree(&dir)
        {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// rmdir, deepest first: a cgroup folder holds only kernel files, which go with it.
fn remove_tree(dir: &Path) -> Result<(), String> {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path())?;
            }
        }
    }
    // The kernel empties a cgroup a moment after its last process is reaped.
    for _ in 0..50 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("cannot remove cgroup {}: {e}", dir.display())),
        }
    }
    Err(format!("cgroup {} stays busy", dir.display()))
}
