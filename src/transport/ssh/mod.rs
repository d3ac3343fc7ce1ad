//! A candidate's machine over SSH (ssh2): one session per host, owned by one blocking thread.
//!
//! [`Ssh`] is a handle: it sends requests over a channel to a worker thread that owns the
//! `ssh2::Session` and answers each request on a oneshot. The worker connects once (TCP,
//! handshake, host key check, authentication) and reuses the session for every script. Once
//! connecting has failed or the connection is lost, every later request gets that error at
//! once: a dead host costs one timeout, not one per check.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use ssh2::{
    BlockDirections, Channel, CheckResult, ErrorCode, HashType, KeyboardInteractivePrompt,
    KnownHostFileKind, KnownHosts, MethodType, Prompt, Session,
};
use tokio::sync::oneshot;

use super::{ExecOutput, Transport, TransportError};

mod auth;
mod connection;
mod known_hosts;
#[cfg(test)]
mod tests;

use auth::*;
use connection::*;
use known_hosts::*;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: String,
    pub address: String,
    pub port: u16,
    /// A private key for this host only (an inventory's), instead of the run's.
    pub identity: Option<PathBuf>,
}

/// How to connect: shared by every host of a run.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// A private key file; when `None`, the agent and then ~/.ssh/id_ed25519, id_ecdsa, id_rsa are tried.
    pub identity: Option<PathBuf>,
    /// The name of an environment variable holding a password to try after keys.
    pub password_env: Option<String>,
    pub known_hosts: PathBuf,
    pub accept_new_host_keys: bool,
    pub connect_timeout: Duration,
}

/// How long past its own timeout a script may run before the grader gives up on it: the
/// envelope's coreutils `timeout` normally stops it first, and reports 124.
const GRACE: Duration = Duration::from_secs(2);
/// How long a timed-out script's channel gets to close.
const ABANDON_GRACE: Duration = Duration::from_secs(1);
/// How long the worker says goodbye before it drops the connection anyway.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);
/// The longest single wait on the socket; a safety net, the loops wake on readiness.
const POLL_SLICE: Duration = Duration::from_millis(250);
/// TCP keepalive probes on an idle connection: the first after 5 s of silence, then every
/// 2 s; 3 unanswered probes end the connection.
const DEAD_PEER_PROBES: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(5))
    .with_interval(Duration::from_secs(2))
    .with_retries(3);
/// How long data sent may stay unacknowledged before the kernel ends the connection.
const DEAD_PEER_AFTER: Duration = Duration::from_secs(15);
/// Read in chunks of this size; the channel window is 2 MiB.
const READ_CHUNK: usize = 64 * 1024;
/// The private keys tried in ~/.ssh when no identity is given, in OpenSSH's order.
const DEFAULT_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];
/// Host key algorithms in the order OpenSSH prefers them; certificates are left out since
/// they cannot be checked against known_hosts lines.
const HOST_KEY_ALGORITHMS: [&str; 7] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

// libssh2 error codes (libssh2.h) that the logic below tells apart.
const LIBSSH2_ERROR_EAGAIN: i32 = -37;
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
const LIBSSH2_ERROR_FILE: i32 = -16;
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
/// The codes after which the connection itself is gone (socket, protocol or crypto failure).
const CONNECTION_ERRORS: [i32; 16] = [
    -1,  // SOCKET_NONE
    -2,  // BANNER_RECV
    -3,  // BANNER_SEND
    -4,  // INVALID_MAC
    -5,  // KEX_FAILURE
    -7,  // SOCKET_SEND
    -8,  // KEY_EXCHANGE_FAILURE
    -9,  // TIMEOUT
    -12, // DECRYPT
    -13, // SOCKET_DISCONNECT
    -14, // PROTO
    -30, // SOCKET_TIMEOUT
    -43, // SOCKET_RECV
    -44, // ENCRYPT
    -45, // BAD_SOCKET
    -52, // MAC_FAILURE
];

/// One host reached over SSH. Cheap to hold: the connection lives in a worker thread,
/// opened on the first request and closed when this handle is dropped.
pub struct Ssh {
    target: SshTarget,
    /// `Err` says why the worker thread could not be started.
    worker: Result<mpsc::Sender<Request>, String>,
}

impl Ssh {
    pub fn new(target: SshTarget, mut options: SshOptions) -> Ssh {
        if let Some(identity) = &target.identity {
            options.identity = Some(identity.clone());
        }
        let (sender, requests) = mpsc::channel();
        let worker = Worker {
            target: target.clone(),
            options,
            state: State::NotYet,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("ssh {}", target.address))
            .spawn(move || worker.run(requests));
        Ssh {
            target,
            worker: spawned.map(|_| sender).map_err(|e| e.to_string()),
        }
    }

    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, TransportError>>) -> Request,
    ) -> Result<T, TransportError> {
        let worker = self.worker.as_ref().map_err(|e| {
            TransportError::Spawn(format!("cannot start a thread for the ssh connection: {e}"))
        })?;
        let (reply, answer) = oneshot::channel();
        if worker.send(request(reply)).is_err() {
            return Err(self.worker_gone());
        }
        answer.await.unwrap_or_else(|_| Err(self.worker_gone()))
    }

    fn worker_gone(&self) -> TransportError {
        TransportError::Lost {
            address: endpoint(&self.target),
            reason: "the thread that held the connection stopped".to_string(),
        }
    }
}

#[async_trait::async_trait]
impl Transport for Ssh {
    async fn connect(&self) -> Result<(), TransportError> {
        self.ask(Request::Connect).await
    }

    async fn exec_capped(
        &self,
        script: &str,
        timeout: Duration,
        cap: usize,
    ) -> Result<ExecOutput, TransportError> {
        let script = script.to_owned();
        self.ask(|reply| Request::Exec {
            run: Run::Script(script),
            timeout,
            cap,
            reply,
        })
        .await
    }

    async fn exec_command(
        &self,
        command: &str,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let command = command.to_owned();
        self.ask(|reply| Request::Exec {
            run: Run::Command(command),
            timeout,
            cap: crate::transport::OUTPUT_CAP,
            reply,
        })
        .await
    }

    fn describe(&self) -> String {
        format!(
            "{}@{}:{}",
            self.target.user, self.target.address, self.target.port
        )
    }
}

enum Request {
    Connect(oneshot::Sender<Result<(), TransportError>>),
    Exec {
        run: Run,
        timeout: Duration,
        cap: usize,
        reply: oneshot::Sender<Result<ExecOutput, TransportError>>,
    },
}

/// The thread that owns one host's session.
struct Worker {
    target: SshTarget,
    options: SshOptions,
    state: State,
}

enum State {
    NotYet,
    Up(Connection),
    /// Connecting failed or the connection was lost: the answer to every later request,
    /// with no new attempt.
    Down(TransportError),
}

impl Worker {
    fn run(mut self, requests: mpsc::Receiver<Request>) {
        // Ends when the `Ssh` handle, the only sender, is dropped.
        while let Ok(request) = requests.recv() {
            match request {
                Request::Connect(reply) => {
                    let _ = reply.send(self.connection().map(|_| ()));
                }
                Request::Exec {
                    run,
                    timeout,
                    cap,
                    reply,
                } => {
                    let _ = reply.send(self.exec(&run, timeout, cap));
                }
            }
        }
        if let State::Up(connection) = self.state {
            connection.disconnect();
        }
    }

    fn connection(&mut self) -> Result<&Connection, TransportError> {
        if let State::NotYet = self.state {
            self.state = match Connection::open(&self.target, &self.options) {
                Ok(connection) => State::Up(connection),
                Err(e) => State::Down(e),
            };
        }
        match &self.state {
            State::Up(connection) => Ok(connection),
            State::Down(e) => Err(e.clone()),
            State::NotYet => unreachable!("a connection was just attempted"),
        }
    }

    fn exec(
        &mut self,
        run: &Run,
        timeout: Duration,
        cap: usize,
    ) -> Result<ExecOutput, TransportError> {
        let result = self.connection()?.exec(run, timeout, cap);
        let address = endpoint(&self.target);
        result.map_err(|failure| match failure {
            ExecFailure::Timeout => TransportError::Timeout(timeout),
            ExecFailure::Refused(reason) => TransportError::Spawn(reason),
            ExecFailure::Channel(reason) => TransportError::Lost { address, reason },
            ExecFailure::LoginShell(reason) => {
                let e = TransportError::Spawn(format!(
                    "the login shell of {} on {address} {reason} (look at its ~/.bashrc and shell)",
                    self.target.user
                ));
                // It will do the same to every later script.
                self.state = State::Down(e.clone());
                e
            }
            ExecFailure::Lost(reason) => {
                tracing::debug!(%address, %reason, "ssh connection lost");
                let e = TransportError::Lost { address, reason };
                self.state = State::Down(e.clone());
                e
            }
        })
    }
}

/// How one script run went wrong, before it is named for the caller.
enum ExecFailure {
    /// The deadline passed; the script was killed and its channel closed.
    Timeout,
    /// The host refused a channel or the command: the session itself is fine.
    Refused(String),
    /// This run's channel failed; the session may still serve the next one.
    Channel(String),
    /// The connection is gone.
    Lost(String),
    /// The user's login shell never ran the script: it exited, or hung, before.
    LoginShell(String),
}

/// How messages name the host: `address:port`, `[v6 address]:port`.
fn endpoint(target: &SshTarget) -> String {
    let host = bare_host(&target.address);
    if host.contains(':') {
        format!("[{host}]:{}", target.port)
    } else {
        format!("{host}:{}", target.port)
    }
}

/// How OpenSSH names the host in known_hosts: the bare address on port 22, `[address]:port`
/// on any other.
fn known_hosts_name(target: &SshTarget) -> String {
    let host = bare_host(&target.address);
    if target.port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{}", target.port)
    }
}

/// An IPv6 address may come in brackets (`[::1]`).
fn bare_host(address: &str) -> &str {
    address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address)
}

fn code(e: &ssh2::Error) -> i32 {
    match e.code() {
        ErrorCode::Session(code) => code,
        ErrorCode::SFTP(_) => 0,
    }
}

fn is_eagain(e: &ssh2::Error) -> bool {
    code(e) == LIBSSH2_ERROR_EAGAIN
}

fn is_connection_error(e: &ssh2::Error) -> bool {
    CONNECTION_ERRORS.contains(&code(e))
}

fn millis(duration: Duration) -> u32 {
    duration.as_millis().try_into().unwrap_or(u32::MAX)
}
