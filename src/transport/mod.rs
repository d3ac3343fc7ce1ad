//! How a script reaches a host: this machine (local) or a candidate's machine (SSH), behind one trait.

mod local;
mod script;
mod ssh;

pub use local::Local;
pub use script::{MISSING_TOOL_MARKER, shell_quote, wrap};
pub use ssh::{Ssh, SshOptions, SshTarget};

use std::time::Duration;

/// The most of a stream that is kept; the rest is counted and dropped, so a host
/// printing without end cannot exhaust the grader's memory.
pub const OUTPUT_CAP: usize = 1024 * 1024;

/// What one run of a script gave back.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// `None` when the process ended by a signal or the channel gave no exit status.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes the host sent beyond the cap on stdout and stderr, dropped.
    pub dropped: u64,
    pub duration: Duration,
    /// When stdout grew: (bytes kept so far, time since the start), a point per read. A
    /// batch of checks times each of its checks by when its output came back.
    pub arrivals: Vec<(usize, Duration)>,
}

impl ExecOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a script could not be run: the grader could not check, which is never the candidate's fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("ssh handshake with {address} failed: {reason}")]
    Handshake { address: String, reason: String },
    #[error(
        "the host key of {address} is not in {known_hosts} ({fingerprint}); check it, then run again with --accept-new-host-keys to record it"
    )]
    HostKeyUnknown {
        address: String,
        known_hosts: String,
        fingerprint: String,
    },
    #[error(
        "the host key of {address} does not match the one recorded in {known_hosts} ({fingerprint}): refusing to connect (the machine was reinstalled, or someone is in the middle)"
    )]
    HostKeyChanged {
        address: String,
        known_hosts: String,
        fingerprint: String,
    },
    #[error("authentication as {user} on {address} failed (tried: {tried})")]
    Auth {
        user: String,
        address: String,
        tried: String,
    },
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("connection to {address} lost: {reason}")]
    Lost { address: String, reason: String },
    #[error("cannot start the command: {0}")]
    Spawn(String),
}

/// A host that runs POSIX shell scripts. Implementations own their connection; callers
/// only send scripts. The script is already wrapped by [`wrap`]: the transport runs it
/// with `/bin/sh -s`, feeding it on standard input, so the candidate's login shell and
/// its quoting rules never touch it.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Open the connection now, so that an unreachable host is reported once, up front.
    async fn connect(&self) -> Result<(), TransportError>;

    /// Run one script; `timeout` bounds the whole run, and the script is stopped on the
    /// host when it is reached. Each output stream keeps at most [`OUTPUT_CAP`] bytes.
    async fn exec(&self, script: &str, timeout: Duration) -> Result<ExecOutput, TransportError> {
        self.exec_capped(script, timeout, OUTPUT_CAP).await
    }

    /// [`Transport::exec`], keeping at most `cap` bytes of each stream: a batch of checks
    /// has room for each of its checks.
    async fn exec_capped(
        &self,
        script: &str,
        timeout: Duration,
        cap: usize,
    ) -> Result<ExecOutput, TransportError>;

    /// Run one command as the host's own shell reads it, with nothing on its standard input:
    /// how `os: windows` hosts (a PowerShell command line) and `os: ios` devices (a `show`
    /// command) are asked, since neither has a POSIX shell.
    async fn exec_command(
        &self,
        command: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let _ = (command, timeout);
        Err(TransportError::Spawn(format!(
            "{} runs POSIX scripts only",
            self.describe()
        )))
    }

    /// How reports name this host: `local` or `user@address:port`.
    fn describe(&self) -> String;
}
