//! One test host: a booted systemd container with its own root, address, host key and sshd.

use super::container;
use super::keys;
use super::machine;
use super::net;
use super::proc_id::ProcId;
use super::rootfs;
use super::slots::{self, Slot};
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// From start to sshd answering. Generous: 20+ hosts booting at once share two cores.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Set to keep hosts running after their test, for debugging (see README.md).
const KEEP_ENV: &str = "LABGRADE_KEEP_HOSTS";
/// Set to print each step of a host's start and stop with its time.
const TRACE_ENV: &str = "LABGRADE_TRACE_HOSTS";
/// The environment of commands run by `exec`: a root login's, not the test process's.
const EXEC_ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "USER=root",
    "LOGNAME=root",
    "LANG=C.UTF-8",
];

/// A candidate machine for tests: a systemd-nspawn container booted with real systemd as
/// PID 1 on an overlay of this machine's `/`, in a network namespace of its own on the
/// bridge `lgtest0`, with sshd on port 22 accepting the [`grader_key`](super::grader_key)
/// for root. Dropping it stops the container and removes everything it used.
pub struct TestHost {
    /// Its hostname, as given to [`TestHost::start`].
    pub name: String,
    pub address: Ipv4Addr,
    /// Always 22.
    pub port: u16,
    slot: Slot,
    /// `ssh-ed25519 AAAA...`, this host's only host key.
    host_key: String,
    nspawn: Option<Child>,
    leader: Option<ProcId>,
    boot_time: Duration,
}

impl TestHost {
    /// Boots a host named `name` (a hostname label: a-z, 0-9, '-'). `setup` is a bash script
    /// run as root inside the host once systemd has finished booting; it must exit 0.
    /// Returns once sshd accepts connections. Panics, with the host's console and failed
    /// units, if any of that does not happen.
    pub fn start(name: &str, setup: &str) -> TestHost {
        check_hostname(name);
        machine::prepare();
        let began = Instant::now();
        let slot = slots::allocate();
        trace(name, began, &format!("slot {}", slot.index));
        let mut host = TestHost {
            name: name.to_owned(),
            address: slot.address(),
            port: 22,
            slot,
            host_key: String::new(),
            nspawn: None,
            leader: None,
            boot_time: Duration::ZERO,
        };
        // From here on, a panic drops `host`, whose Drop removes what was set up so far.
        host.host_key = rootfs::build(&host.slot, name, host.address, &keys::grader_public_key());
        trace(name, began, "root built");
        let known_hosts = host.known_hosts_file();
        fs::write(&known_hosts, format!("{}\n", host.known_hosts_line())).unwrap_or_else(|e| {
            panic!(
                "labgrade test host: cannot write {}: {e}",
                known_hosts.display()
            )
        });
        net::plumb(&host.slot);
        trace(name, began, "network plumbed");
        let child = container::spawn(&host.slot, &rootfs::root(&host.slot), name);
        let nspawn = ProcId::of(i32::try_from(child.id()).expect("pid fits in i32"));
        host.nspawn = Some(child);
        let nspawn = nspawn.unwrap_or_else(|| host.fail("systemd-nspawn exited at once"));
        host.slot.record("nspawn", nspawn);
        let deadline = began + BOOT_TIMEOUT;
        let leader = host.wait_for_leader(nspawn, deadline);
        host.leader = Some(leader);
        host.slot.record("leader", leader);
        trace(name, began, "systemd started");
        host.wait_for_systemd(deadline);
        trace(name, began, "systemd booted");
        if !setup.trim().is_empty() {
            let out = host.exec(setup);
            if !out.status.success() {
                host.fail(&format!(
                    "setup script failed ({}):\n--- script\n{setup}\n--- stdout\n{}--- stderr\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        trace(name, began, "setup done");
        host.wait_for_sshd(deadline);
        trace(name, began, "sshd answers");
        host.boot_time = began.elapsed();
        host
    }

    /// Runs a bash script as root inside the host, not over SSH: in all the container's
    /// namespaces (so `ps` shows the host's processes), with a root login's environment.
    pub fn exec(&self, script: &str) -> Output {
        let leader = self
            .leader
            .unwrap_or_else(|| panic!("labgrade test host {}: not booted", self.name));
        let target = leader.pid.to_string();
        Command::new("nsenter")
            .args(["--target", &target])
            .args(["--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup"])
            .args(["--root", "--wd", "--", "/usr/bin/env", "-i"])
            .args(EXEC_ENV)
            .args(["/bin/bash", "-c", script])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("labgrade test host: cannot run nsenter: {e}"))
    }

    /// Like [`TestHost::exec`], and panics unless the script exits 0; returns its stdout.
    pub fn exec_ok(&self, script: &str) -> String {
        let out = self.exec(script);
        assert!(
            out.status.success(),
            "in test host {}: `{script}` failed ({}):\n{}{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ADDRESS ssh-ed25519 AAAA...`: this host's own host key, made when it was built.
    pub fn known_hosts_line(&self) -> String {
        format!("{} {}", self.address, self.host_key)
    }

    /// A `known_hosts` file holding just [`TestHost::known_hosts_line`].
    pub fn known_hosts_file(&self) -> PathBuf {
        self.slot.dir().join("known_hosts")
    }

    /// An OpenSSH client command running `remote_command` as root on this host with `key`,
    /// checking the host key strictly against [`TestHost::known_hosts_file`] and ignoring
    /// any ssh configuration of this machine.
    pub fn ssh(&self, key: &Path, remote_command: &str) -> Command {
        let mut command = Command::new("ssh");
        command
            .args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts_file().display()
            ))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"])
            .args(["-p", &self.port.to_string()])
            .arg(format!("root@{}", self.address))
            .arg("--")
            .arg(remote_command)
            .stdin(Stdio::null());
        command
    }

    /// How long `start` took, setup script included.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// The host's network namespace, as under /run/netns (for `ip netns exec`).
    pub fn netns_name(&self) -> String {
        self.slot.netns()
    }

    /// The machine's end of the host's veth pair, a port of the bridge.
    pub fn veth_name(&self) -> String {
        self.slot.veth()
    }

    /// The host's folder on the machine: its root mount, console log, `known_hosts`.
    pub fn state_dir(&self) -> PathBuf {
        self.slot.dir()
    }

    /// PID (in this machine's pid namespace) of the host's systemd, for `nsenter -t`.
    pub fn leader_pid(&self) -> Option<i32> {
        self.leader.map(|l| l.pid)
    }

    fn wait_for_leader(&mut self, nspawn: ProcId, deadline: Instant) -> ProcId {
        loop {
            if let Some(leader) = container::leader(nspawn) {
                return leader;
            }
            self.check_alive();
            if Instant::now() > deadline {
                self.fail("systemd did not start in the container");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until systemd has finished booting (`running`, or `degraded` with a warning).
    fn wait_for_systemd(&mut self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            // Fails at once while systemd has not yet opened its private socket.
            let out = self.exec(&format!(
                "timeout {} systemctl is-system-running --wait",
                left.max(1)
            ));
            let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            match state.as_str() {
                "running" => return,
                "degraded" => {
                    let failed = self.exec("systemctl --failed --no-legend --plain");
                    eprintln!(
                        "labgrade test host {}: booted degraded; failed units:\n{}",
                        self.name,
                        String::from_utf8_lossy(&failed.stdout)
                    );
                    return;
                }
                _ => {}
            }
            self.check_alive();
            if Instant::now() > deadline {
                self.fail(&format!("systemd did not finish booting (state `{state}`)"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until sshd, seen from the grader's side of the bridge, sends its banner.
    fn wait_for_sshd(&mut self, deadline: Instant) {
        let address = SocketAddr::from((self.address, self.port));
        loop {
            if banner(address).is_some_and(|b| b.starts_with(b"SSH-")) {
                return;
            }
            self.check_alive();
            if Instant::now() > deadline {
                self.fail("sshd does not answer on port 22");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn check_alive(&mut self) {
        let exited = self
            .nspawn
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten());
        if let Some(status) = exited {
            self.fail(&format!("systemd-nspawn exited ({status})"));
        }
    }

    /// Panics with what helps to see why a boot failed.
    fn fail(&self, what: &str) -> ! {
        let log = fs::read_to_string(container::console_log(&self.slot)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let console: Vec<&str> = tail.into_iter().rev().collect();
        let units = if self.leader.is_some_and(ProcId::is_alive) {
            let out = self.exec("systemctl --failed --no-legend --plain; systemctl status ssh");
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            String::new()
        };
        panic!(
            "labgrade test host {} ({}): {what}\n--- console (last lines)\n{}\n--- units\n{units}",
            self.name,
            self.address,
            console.join("\n")
        );
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!(
                "labgrade test host {} kept ({KEEP_ENV}): {} at {}, enter with `nsenter -t {} -a bash`; \
                 the next test run removes it",
                self.name,
                self.slot.machine(),
                self.address,
                self.leader.map_or(0, |l| l.pid)
            );
            return;
        }
        let began = Instant::now();
        let stopped = match self.nspawn.as_mut() {
            Some(child) => container::stop(child, self.leader),
            None => Ok(()),
        };
        trace(&self.name, began, "container stopped");
        // Drop must not panic (a second panic aborts the test binary): report instead.
        let stopped = stopped.map_err(|e| vec![e]);
        if let Err(e) = stopped.and_then(|()| dismantle(&self.slot)) {
            eprintln!(
                "labgrade test host {}: teardown incomplete, the next test run retries: {}",
                self.name,
                e.join("; ")
            );
        }
        trace(&self.name, began, "dismantled");
    }
}

fn trace(name: &str, began: Instant, step: &str) {
    if std::env::var_os(TRACE_ENV).is_some() {
        eprintln!(
            "labgrade test host {name}: {step} at {} ms",
            began.elapsed().as_millis()
        );
    }
}

/// Removes a stopped host's mounts, network, cgroups and folder. The folder, and so the
/// slot, is kept when something could not be removed, for the next run to retry.
pub fn dismantle(slot: &Slot) -> Result<(), Vec<String>> {
    let problems: Vec<String> = [
        rootfs::unmount(slot),
        net::unplumb(slot),
        container::forget(slot),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if problems.is_empty() {
        slots::release(slot).map_err(|e| vec![e])
    } else {
        Err(problems)
    }
}

/// The first bytes sshd sends, or `None` if it does not accept or say anything yet.
fn banner(address: SocketAddr) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

fn check_hostname(name: &str) {
    let valid = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    assert!(
        valid,
        "labgrade test host: `{name}` is not a hostname label (a-z, 0-9, '-', at most 63)"
    );
}
