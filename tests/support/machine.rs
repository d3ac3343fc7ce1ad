//! One-time preparation of this machine for test hosts, once per test process.

use super::container;
use super::host;
use super::keys;
use super::net;
use super::preflight;
use super::slots;
use std::fs;
use std::sync::OnceLock;

/// Enough for 100+ systemd containers at once: each one's systemd and journald take
/// inotify instances, and the kernel's default of 128 per user is gone after a dozen hosts.
const MIN_INOTIFY_INSTANCES: u64 = 8192;

/// Checks the machine, then (under the harness lock) raises limits, creates the bridge and
/// the keys, and takes apart hosts left by processes that died without tearing them down.
pub fn prepare() {
    static DONE: OnceLock<()> = OnceLock::new();
    preflight::check();
    DONE.get_or_init(|| {
        let lock = slots::lock();
        raise_sysctl("fs/inotify/max_user_instances", MIN_INOTIFY_INSTANCES);
        net::ensure_bridge();
        keys::ensure(&lock);
        for slot in slots::orphans(&lock) {
            let stopped = container::stop_orphan(&slot).map_err(|e| vec![e]);
            if let Err(e) = stopped.and_then(|()| host::dismantle(&slot)) {
                eprintln!(
                    "labgrade test host: leftover slot {} not fully removed: {}",
                    slot.index,
                    e.join("; ")
                );
            }
        }
    });
}

/// Raises a sysctl to `min`, never lowers it.
fn raise_sysctl(key: &str, min: u64) {
    let path = format!("/proc/sys/{key}");
    let current: u64 = fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if current < min {
        fs::write(&path, min.to_string())
            .unwrap_or_else(|e| panic!("labgrade test host: cannot raise {path} to {min}: {e}"));
    }
}
