//! systemd-nspawn booting real systemd on a host's root: started, found, and stopped by pid.

use super::cgroup;
use super::proc_id::{self, ProcId};
use super::slots::Slot;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Boots the container on `root`, in the slot's network namespace, its console going to
/// `console.log` in the slot folder.
pub fn spawn(slot: &Slot, root: &Path, hostname: &str) -> Child {
    let log_path = console_log(slot);
    let log = File::create(&log_path).unwrap_or_else(|e| {
        panic!(
            "labgrade test host: cannot create {}: {e}",
            log_path.display()
        )
    });
    let log_err = log.try_clone().expect("a file handle clones");
    // The shell moves itself into the slot's own cgroups, then becomes systemd-nspawn, which
    // (with --keep-unit) adopts the cgroup it runs in. Paths are the harness's own, no quotes.
    let enter = cgroup::create(slot)
        .iter()
        .fold(String::new(), |mut script, procs| {
            let _ = write!(script, "echo $$ > {} && ", procs.display());
            script
        });
    let args = [
        "--quiet".to_owned(),
        format!("--directory={}", root.display()),
        "--boot".to_owned(),
        format!("--machine={}", slot.machine()),
        format!("--hostname={hostname}"),
        // No system bus or machined on this machine: keep our cgroup and do not register.
        "--keep-unit".to_owned(),
        "--register=no".to_owned(),
        format!("--network-namespace-path=/run/netns/{}", slot.netns()),
        // The network namespace is the host's own, as on a real machine: its root may set up
        // a firewall, routes and sysctls there. With the path above, --private-network
        // creates no namespace, but it makes /proc/sys/net writable (ip_forward, rp_filter);
        // the capability is named too, so it stays if nspawn's defaults change.
        "--private-network".to_owned(),
        "--capability=CAP_NET_ADMIN".to_owned(),
        // The harness writes /etc/resolv.conf itself; the machine's resolver is unreachable.
        "--resolv-conf=off".to_owned(),
        "--timezone=off".to_owned(),
        "--link-journal=no".to_owned(),
        "--settings=no".to_owned(),
        "--console=read-only".to_owned(),
        // Stopping is a SIGTERM to nspawn, which then kills the whole container at once:
        // tests need no orderly shutdown, and it takes a second and more per host.
        "--kill-signal=SIGKILL".to_owned(),
        // No getty on the container's console: the host runs only what the test starts.
        "--setenv=SYSTEMD_GETTY_AUTO=0".to_owned(),
        // Plain text in console.log, which boot failures quote.
        "--setenv=SYSTEMD_COLORS=0".to_owned(),
    ];
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{enter}exec systemd-nspawn \"$@\""))
        .arg("sh")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .unwrap_or_else(|e| panic!("labgrade test host: cannot start systemd-nspawn: {e}"))
}

pub fn console_log(slot: &Slot) -> PathBuf {
    slot.dir().join("console.log")
}

/// The container's PID 1 once it runs systemd: nspawn's child in the new pid namespace.
/// Checking that it has exec'd systemd also tells that its mounts and `pivot_root` are done.
pub fn leader(nspawn: ProcId) -> Option<ProcId> {
    proc_id::all()
        .into_iter()
        .find(|s| s.ppid == nspawn.pid && s.comm == "systemd" && s.state != 'Z')
        .map(|s| s.id)
}

/// Stops a container this process started: SIGTERM to nspawn, which kills the container
/// (see --kill-signal) and exits; SIGKILL for both if that takes too long.
pub fn stop(nspawn: &mut Child, leader: Option<ProcId>) -> Result<(), String> {
    if nspawn.try_wait().ok().flatten().is_none() {
        let pid = i32::try_from(nspawn.id()).expect("pid fits in i32");
        // SAFETY: kill(2) has no memory-safety preconditions; `nspawn` is our unreaped
        // child, so its pid cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while nspawn.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        if nspawn.try_wait().ok().flatten().is_none() {
            let _ = nspawn.kill();
            let _ = nspawn.wait();
        }
    }
    // Killing nspawn alone leaves its container running, reparented elsewhere.
    if let Some(leader) = leader {
        leader.signal(libc::SIGKILL);
        wait_gone(&[leader], Duration::from_secs(10))?;
    }
    Ok(())
}

/// Stops the container of a slot whose owner process died, by the pids that process
/// recorded (each checked to still be the same process).
pub fn stop_orphan(slot: &Slot) -> Result<(), String> {
    let leader = slot.recorded("leader");
    let nspawn = slot.recorded("nspawn");
    if let Some(leader) = leader {
        leader.signal(libc::SIGKILL);
    }
    if let Some(nspawn) = nspawn {
        nspawn.signal(libc::SIGTERM);
    }
    let ids: Vec<ProcId> = leader.into_iter().chain(nspawn).collect();
    if wait_gone(&ids, Duration::from_secs(10)).is_err() {
        if let Some(nspawn) = nspawn {
            nspawn.signal(libc::SIGKILL);
        }
        wait_gone(&ids, Duration::from_secs(5))?;
    }
    Ok(())
}

fn wait_gone(ids: &[ProcId], limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while ids.iter().any(|id| id.is_alive()) {
        if Instant::now() > deadline {
            return Err(format!("processes {ids:?} do not exit"));
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Removes what nspawn leaves on the machine once its container is gone: its cgroups, and
/// its propagation folder, which nspawn refuses to delete itself where /run is on disk.
pub fn forget(slot: &Slot) -> Result<(), String> {
    let propagate = Path::new("/run/systemd/nspawn/propagate").join(slot.machine());
    let propagated = match fs::remove_dir_all(&propagate) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", propagate.display()))
        }
        _ => Ok(()),
    };
    cgroup::remove(slot).and(propagated)
}
