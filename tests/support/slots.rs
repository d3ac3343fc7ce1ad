//! Cross-process bookkeeping: the state folder, its lock, and one numbered slot per host.
//!
//! Tests run as threads of one binary and as several binaries at once, so a host's number
//! (which fixes its address, interface names and folder) is taken under an flock on
//! `STATE_DIR/lock`. Each slot folder records its owner process; a slot whose owner is gone
//! is a leftover of a crashed or killed run, and the next run takes it apart.

use super::net;
use super::proc_id::ProcId;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Everything the harness keeps on the machine lives under here.
pub const STATE_DIR: &str = "/run/labgrade-tests";

/// Slot numbers map one to one to addresses 10.213.HI.LO; 0 is the network, 1 the bridge.
const FIRST_SLOT: u32 = 2;
/// Stops short of 10.213.255.x, kept for the harness's own reserved addresses.
const LAST_SLOT: u32 = 0xFEFF;

/// Holds the harness-wide lock until dropped.
pub struct StateLock(#[allow(dead_code)] File);

pub fn lock() -> StateLock {
    let hosts = hosts_dir();
    fs::create_dir_all(&hosts)
        .unwrap_or_else(|e| panic!("labgrade test host: cannot create {}: {e}", hosts.display()));
    let path = Path::new(STATE_DIR).join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("labgrade test host: cannot open {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("labgrade test host: cannot lock {}: {e}", path.display()));
    StateLock(file)
}

fn hosts_dir() -> PathBuf {
    Path::new(STATE_DIR).join("hosts")
}

/// One host's number and everything named after it.
#[derive(Debug)]
pub struct Slot {
    pub index: u32,
}

impl Slot {
    pub fn address(&self) -> Ipv4Addr {
        net::host_address(self.index)
    }

    /// The container's machine name (systemd-nspawn --machine), also its cgroup's name.
    pub fn machine(&self) -> String {
        format!("lgt{}", self.index)
    }

    /// The network namespace, under /run/netns.
    pub fn netns(&self) -> String {
        format!("lgtn{}", self.index)
    }

    /// The machine's end of the host's veth pair, a port of the bridge (at most 9 chars).
    pub fn veth(&self) -> String {
        format!("lgtv{}", self.index)
    }

    /// The host's eth0 MAC: fixed per slot, so a reused address never meets a stale ARP entry.
    pub fn mac(&self) -> String {
        format!(
            "02:4c:47:00:{:02x}:{:02x}",
            (self.index >> 8) & 0xFF,
            self.index & 0xFF
        )
    }

    pub fn dir(&self) -> PathBuf {
        hosts_dir().join(self.index.to_string())
    }

    /// Appends `key=PID:START` to the slot's state file, for the clean-up of a later run.
    pub fn record(&self, key: &str, id: ProcId) {
        let path = self.dir().join("state");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("labgrade test host: cannot open {}: {e}", path.display()));
        writeln!(file, "{key}={id}")
            .unwrap_or_else(|e| panic!("labgrade test host: cannot write {}: {e}", path.display()));
    }

    /// The last process recorded under `key`.
    pub fn recorded(&self, key: &str) -> Option<ProcId> {
        let text = fs::read_to_string(self.dir().join("state")).ok()?;
        text.lines()
            .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .filter_map(ProcId::parse)
            .next_back()
    }
}

/// Takes a free slot for the current process.
///
/// Numbers are handed out round-robin from a counter rather than lowest-free, so an address
/// just given up is not at once given to the next host.
pub fn allocate() -> Slot {
    let _lock = lock();
    let counter = hosts_dir().join("next");
    let span = LAST_SLOT - FIRST_SLOT + 1;
    let start = fs::read_to_string(&counter)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|n| (FIRST_SLOT..=LAST_SLOT).contains(n))
        .unwrap_or(FIRST_SLOT);
    for step in 0..span {
        let slot = Slot {
            index: FIRST_SLOT + (start - FIRST_SLOT + step) % span,
        };
        match fs::create_dir(slot.dir()) {
            Ok(()) => {
                slot.record("owner", ProcId::current());
                let next = FIRST_SLOT + (slot.index + 1 - FIRST_SLOT) % span;
                // Only a hint: losing it just restarts the search at the first slot.
                let _ = fs::write(&counter, next.to_string());
                return slot;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => panic!(
                "labgrade test host: cannot create {}: {e}",
                slot.dir().display()
            ),
        }
    }
    panic!("labgrade test host: all {span} host slots under {STATE_DIR}/hosts are taken")
}

/// Slots whose owner process is gone. Takes the lock as proof that no process is
/// allocating meanwhile (a slot being created has its owner written under the lock).
pub fn orphans(_lock: &StateLock) -> Vec<Slot> {
    let Ok(entries) = fs::read_dir(hosts_dir()) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .map(|index| Slot { index })
        .filter(|slot| !slot.recorded("owner").is_some_and(ProcId::is_alive))
        .collect()
}

/// Forgets a slot whose resources are all gone, making its number free again.
pub fn release(slot: &Slot) -> Result<(), String> {
    fs::remove_dir_all(slot.dir())
        .map_err(|e| format!("cannot remove {}: {e}", slot.dir().display()))
}
