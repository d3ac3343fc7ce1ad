//! A process identity that survives pid reuse: its pid plus its start time.
//!
//! The harness signals only processes it started itself. It records each one as a `ProcId`
//! and, before signalling, checks that the pid still belongs to the process with the same
//! start time, so a pid recycled by the kernel for somebody else's process is left alone.

use std::fmt;
use std::fs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcId {
    pub pid: i32,
    /// Field 22 of /proc/PID/stat: clock ticks since boot when the process started.
    pub start: u64,
}

/// What the harness reads from /proc/PID/stat.
pub struct Stat {
    pub id: ProcId,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
}

impl ProcId {
    pub fn current() -> ProcId {
        let pid = i32::try_from(std::process::id()).expect("pid fits in i32");
        ProcId::of(pid).expect("/proc/self/stat is readable")
    }

    /// The identity of a live process, `None` when it is gone or a zombie.
    pub fn of(pid: i32) -> Option<ProcId> {
        stat(pid).filter(|s| s.state != 'Z').map(|s| s.id)
    }

    /// Whether the very process recorded is still running.
    pub fn is_alive(self) -> bool {
        ProcId::of(self.pid) == Some(self)
    }

    /// Sends `signal` if, and only if, the recorded process is still the one running.
    pub fn signal(self, signal: i32) {
        if self.is_alive() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(self.pid, signal) };
        }
    }

    /// Parses the `PID:START` form written by `Display`.
    pub fn parse(text: &str) -> Option<ProcId> {
        let (pid, start) = text.trim().split_once(':')?;
        Some(ProcId {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        })
    }
}

impl fmt::Display for ProcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.pid, self.start)
    }
}

/// Reads /proc/PID/stat; `None` when the process does not exist.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may hold spaces and parentheses: it runs from the first '(' to the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // `rest` starts at field 3 (state); ppid is field 4, starttime field 22.
    Some(Stat {
        id: ProcId {
            pid,
            start: rest.get(19)?.parse().ok()?,
        },
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
    })
}

/// Every process on the machine (this pid namespace), for finding a container's leader.
pub fn all() -> Vec<Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}
