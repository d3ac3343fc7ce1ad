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

use super::{ExecOutput, OUTPUT_CAP, Transport, TransportError};

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: String,
    pub address: String,
    pub port: u16,
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
    pub fn new(target: SshTarget, options: SshOptions) -> Ssh {
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

    async fn exec(&self, script: &str, timeout: Duration) -> Result<ExecOutput, TransportError> {
        let script = script.to_owned();
        self.ask(|reply| Request::Exec {
            script,
            timeout,
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
        script: String,
        timeout: Duration,
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
                    script,
                    timeout,
                    reply,
                } => {
                    let _ = reply.send(self.exec(&script, timeout));
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

    fn exec(&mut self, script: &str, timeout: Duration) -> Result<ExecOutput, TransportError> {
        let result = self.connection()?.exec(script, timeout);
        let address = endpoint(&self.target);
        result.map_err(|failure| match failure {
            ExecFailure::Timeout => TransportError::Timeout(timeout),
            ExecFailure::Refused(reason) => TransportError::Spawn(reason),
            ExecFailure::Channel(reason) => TransportError::Lost { address, reason },
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
}

/// Why a non-blocking call gave up.
enum Stop {
    Deadline,
    Ssh(ssh2::Error),
}

/// An open, authenticated session, in non-blocking mode.
struct Connection {
    session: Session,
    /// The socket the session owns, kept to wait on it with poll(2).
    fd: RawFd,
    endpoint: String,
}

impl Connection {
    fn open(target: &SshTarget, options: &SshOptions) -> Result<Connection, TransportError> {
        let address = endpoint(target);
        let started = Instant::now();
        let handshake_error = |reason: String| TransportError::Handshake {
            address: address.clone(),
            reason,
        };

        let stream = dial(target, options.connect_timeout)?;
        // Nagle plus delayed ACKs cost about 45 ms per exchange on loopback (FACTS.md).
        stream
            .set_nodelay(true)
            .map_err(|e| TransportError::Connect {
                address: address.clone(),
                reason: e.to_string(),
            })?;
        tracing::debug!(%address, elapsed = ?started.elapsed(), "tcp connected");
        let fd = stream.as_raw_fd();
        let mut session = Session::new().map_err(|e| handshake_error(e.message().to_owned()))?;
        session.set_tcp_stream(stream);
        // Bounds every blocking step of the handshake and the authentication.
        session.set_timeout(millis(options.connect_timeout).max(1));

        let known = KnownHostsFile::read(&options.known_hosts).map_err(|e| {
            handshake_error(format!(
                "cannot read {}: {e}",
                options.known_hosts.display()
            ))
        })?;
        let host_keys = HostKeys::load(&session, &known);
        let name = known_hosts_name(target);
        host_keys.prefer_known_types(&session, &name);

        session.handshake().map_err(|e| {
            handshake_error(if code(&e) == LIBSSH2_ERROR_TIMEOUT {
                format!(
                    "no ssh answer within {} (is an ssh server listening on this port?)",
                    humantime::format_duration(options.connect_timeout)
                )
            } else {
                e.message().to_owned()
            })
        })?;
        tracing::debug!(%address, elapsed = ?started.elapsed(), "ssh handshake done");

        // Before any authentication: a password must never reach an impostor.
        verify_host_key(&session, &host_keys, &name, &address, options)?;
        tracing::debug!(%address, "host key verified");
        authenticate(&session, target, options, &address)?;
        tracing::debug!(%address, elapsed = ?started.elapsed(), "authenticated");

        session.set_blocking(false);
        Ok(Connection {
            session,
            fd,
            endpoint: address,
        })
    }

    /// Run one script with `/bin/sh -s`, feeding it on standard input while reading both
    /// output streams, all in one loop: a host that fills one stream while the grader waits
    /// on the other cannot hang it.
    fn exec(&self, script: &str, timeout: Duration) -> Result<ExecOutput, ExecFailure> {
        let started = Instant::now();
        let deadline = started + timeout + GRACE;
        let mut channel = self
            .retry(deadline, || self.session.channel_session())
            .map_err(|stop| self.failure(stop, "the host refused an ssh channel"))?;
        if let Err(stop) = self.retry(deadline, || channel.exec("/bin/sh -s")) {
            let failure = self.failure(stop, "the host refused to run /bin/sh -s");
            self.abandon(channel);
            return Err(failure);
        }

        let mut stdout = Capped::default();
        let mut stderr = Capped::default();
        let finished = self
            .pump(
                &mut channel,
                script.as_bytes(),
                &mut stdout,
                &mut stderr,
                deadline,
            )
            // The exit status comes before the host's close: wait for that close.
            .and_then(|()| self.retry(deadline, || channel.close()))
            .and_then(|()| self.retry(deadline, || channel.wait_close()));
        if let Err(stop) = finished {
            let failure = self.failure(stop, "the channel failed");
            self.abandon(channel);
            return Err(failure);
        }

        let signalled = channel
            .exit_signal()
            .is_ok_and(|signal| signal.exit_signal.is_some());
        let exit_code = if signalled {
            None
        } else {
            channel.exit_status().ok()
        };
        Ok(ExecOutput {
            exit_code,
            stdout: stdout.kept,
            stderr: stderr.kept,
            dropped: stdout.dropped + stderr.dropped,
            duration: started.elapsed(),
        })
    }

    /// Write `input` then EOF, and read stdout and stderr, until the host closes both.
    fn pump(
        &self,
        channel: &mut Channel,
        mut input: &[u8],
        stdout: &mut Capped,
        stderr: &mut Capped,
        deadline: Instant,
    ) -> Result<(), Stop> {
        let mut errors = channel.stderr();
        let mut eof_sent = false;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let mut progress = false;
            let mut blocked = 0;

            if !eof_sent {
                let sent = if input.is_empty() {
                    channel.send_eof().map(|()| 0)
                } else {
                    self.io(channel.write(input))
                };
                match sent {
                    Ok(n) => {
                        input = &input[n..];
                        eof_sent = n == 0;
                        progress = true;
                    }
                    Err(e) if is_eagain(&e) => blocked |= self.directions(),
                    Err(e) if is_connection_error(&e) => return Err(Stop::Ssh(e)),
                    // The script ended without reading all of its input: nothing more to send.
                    Err(_) => eof_sent = true,
                }
            }

            for (stream, sink) in [
                (&mut *channel as &mut dyn Read, &mut *stdout),
                (&mut errors as &mut dyn Read, &mut *stderr),
            ] {
                match self.io(stream.read(&mut buf)) {
                    Ok(0) => {}
                    Ok(n) => {
                        sink.push(&buf[..n]);
                        progress = true;
                    }
                    Err(e) if is_eagain(&e) => blocked |= self.directions(),
                    Err(e) => return Err(Stop::Ssh(e)),
                }
            }

            // True only once the host sent EOF and nothing of either stream is left unread.
            if channel.eof() {
                return Ok(());
            }
            if !progress && !self.wait(blocked | libc::POLLIN, deadline) {
                return Err(Stop::Deadline);
            }
        }
    }

    /// Give up on a channel: close it, briefly. What it runs is left to the envelope's
    /// coreutils `timeout`; ssh2 offers no way to send a `signal` request on a channel
    /// that already runs a command.
    fn abandon(&self, mut channel: Channel) {
        let until = Instant::now() + ABANDON_GRACE;
        let _ = self.retry(until, || channel.close());
    }

    fn disconnect(self) {
        let until = Instant::now() + DISCONNECT_GRACE;
        let _ = self.retry(until, || {
            self.session
                .disconnect(None, "labgrade has finished with this host", None)
        });
        tracing::debug!(address = %self.endpoint, "disconnected");
    }

    /// Name what stopped an operation: the deadline, the connection or this channel.
    fn failure(&self, stop: Stop, refused: &str) -> ExecFailure {
        match stop {
            Stop::Deadline => ExecFailure::Timeout,
            Stop::Ssh(e) if is_connection_error(&e) => ExecFailure::Lost(e.message().to_owned()),
            Stop::Ssh(e)
                if matches!(code(&e), -21 | -22 | -32) /* CHANNEL_FAILURE, CHANNEL_REQUEST_DENIED, REQUEST_DENIED */ =>
            {
                ExecFailure::Refused(format!("{refused}: {}", e.message()))
            }
            Stop::Ssh(e) => ExecFailure::Channel(e.message().to_owned()),
        }
    }

    /// Call a non-blocking libssh2 operation until it completes, waiting on the socket in
    /// between, or until `deadline`.
    fn retry<T>(
        &self,
        deadline: Instant,
        mut operation: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, Stop> {
        loop {
            match operation() {
                Err(e) if is_eagain(&e) => {
                    if !self.wait(self.directions(), deadline) {
                        return Err(Stop::Deadline);
                    }
                }
                result => return result.map_err(Stop::Ssh),
            }
        }
    }

    /// Wait until the socket is ready for `events` (poll(2) flags), for at most
    /// [`POLL_SLICE`]; false when the deadline has passed.
    fn wait(&self, events: libc::c_short, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let slice = (deadline - now).min(POLL_SLICE);
        let mut fd = libc::pollfd {
            fd: self.fd,
            events: if events == 0 { libc::POLLIN } else { events },
            revents: 0,
        };
        // SAFETY: one valid pollfd on the socket the session owns and keeps open. An error
        // (EINTR) needs no handling: the caller tries its operation again.
        unsafe {
            libc::poll(&mut fd, 1, slice.as_micros().div_ceil(1000) as libc::c_int);
        }
        true
    }

    /// The poll(2) events libssh2 is blocked on.
    fn directions(&self) -> libc::c_short {
        match self.session.block_directions() {
            BlockDirections::Inbound => libc::POLLIN,
            BlockDirections::Outbound => libc::POLLOUT,
            BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
            BlockDirections::None => 0,
        }
    }

    /// Recover the libssh2 error behind an `io::Error` from ssh2's Read and Write impls.
    fn io(&self, result: io::Result<usize>) -> Result<usize, ssh2::Error> {
        result.map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                ssh2::Error::from_errno(ErrorCode::Session(LIBSSH2_ERROR_EAGAIN))
            } else {
                ssh2::Error::last_session_error(&self.session)
                    .unwrap_or_else(|| ssh2::Error::from_errno(ErrorCode::Session(-1)))
            }
        })
    }
}

/// One output stream: the first [`OUTPUT_CAP`] bytes, and a count of the rest.
#[derive(Default)]
struct Capped {
    kept: Vec<u8>,
    dropped: u64,
}

impl Capped {
    fn push(&mut self, bytes: &[u8]) {
        let room = OUTPUT_CAP.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.dropped += (bytes.len() - room) as u64;
    }
}

/// Open the TCP connection, trying each address the name resolves to.
fn dial(target: &SshTarget, timeout: Duration) -> Result<TcpStream, TransportError> {
    let address = endpoint(target);
    let error = |reason: String| TransportError::Connect {
        address: address.clone(),
        reason,
    };
    let host = bare_host(&target.address);
    let candidates: Vec<SocketAddr> = (host, target.port)
        .to_socket_addrs()
        .map_err(|e| error(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = None;
    for candidate in candidates {
        match TcpStream::connect_timeout(&candidate, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                tracing::debug!(%candidate, error = %e, "tcp connect failed");
                last = Some(e);
            }
        }
    }
    Err(error(match last {
        None => format!("{host} has no address"),
        Some(e) => match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => "connection refused (no ssh server on this port?)".into(),
            Some(libc::EHOSTUNREACH) => "no route to host".into(),
            Some(libc::ENETUNREACH) => "network is unreachable".into(),
            _ if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
            {
                format!(
                    "no answer within {} (host down, or a firewall drops the traffic)",
                    humantime::format_duration(timeout)
                )
            }
            _ => e.to_string(),
        },
    }))
}

/// The known_hosts file as read: its bytes (written back untouched) and its host lines.
struct KnownHostsFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl KnownHostsFile {
    /// A missing file is an empty one.
    fn read(path: &Path) -> io::Result<KnownHostsFile> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(KnownHostsFile {
            path: path.to_owned(),
            bytes,
        })
    }

    /// Host lines grouped by key type (`ssh-ed25519`, `ssh-rsa`...). Comments are left out,
    /// and so are `@cert-authority` and `@revoked` lines, which libssh2 does not understand.
    fn lines_by_key_type(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in String::from_utf8_lossy(&self.bytes).lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                continue;
            }
            if let Some(key_type) = line.split_whitespace().nth(1) {
                groups
                    .entry(key_type.to_owned())
                    .or_default()
                    .push(line.to_owned());
            }
        }
        groups
    }

    /// Write the file back with `line` added, atomically: a temporary file beside it, then
    /// a rename. Everything already there is kept byte for byte.
    fn append(&self, line: &str) -> io::Result<()> {
        // Write through a symbolic link, not over it.
        let path = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let mode = fs::metadata(&path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        let mut contents = self.bytes.clone();
        if !contents.is_empty() && !contents.ends_with(b"\n") {
            contents.push(b'\n');
        }
        contents.extend_from_slice(line.as_bytes());
        contents.push(b'\n');

        let file_name = path.file_name().map_or_else(
            || "known_hosts".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let temporary = dir.join(format!(".{file_name}.labgrade-{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temporary)
            .and_then(|mut file| {
                file.write_all(&contents)?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&temporary, &path));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }
}

/// The known_hosts entries loaded into libssh2, one collection per key type, so that a key
/// is only ever compared with recorded keys of its own type: a host recorded with its
/// ed25519 key that shows its RSA key is not a changed host.
struct HostKeys {
    by_type: BTreeMap<String, KnownHosts>,
}

impl HostKeys {
    fn load(session: &Session, file: &KnownHostsFile) -> HostKeys {
        let mut by_type = BTreeMap::new();
        for (key_type, lines) in file.lines_by_key_type() {
            let Ok(mut hosts) = session.known_hosts() else {
                continue;
            };
            for line in &lines {
                // A line libssh2 cannot parse (an exotic key type) is skipped, as OpenSSH does.
                if let Err(e) = hosts.read_str(line, KnownHostFileKind::OpenSSH) {
                    tracing::debug!(file = %file.path.display(), error = %e, "known_hosts line skipped");
                }
            }
            by_type.insert(key_type, hosts);
        }
        HostKeys { by_type }
    }

    fn check(&self, name: &str, key_type: &str, key: &[u8]) -> CheckResult {
        self.by_type
            .get(key_type)
            .map_or(CheckResult::NotFound, |hosts| hosts.check(name, key))
    }

    /// Ask for the key types already recorded for this host first, as OpenSSH does, so that
    /// the host shows a key that can be checked.
    fn prefer_known_types(&self, session: &Session, name: &str) {
        // With a key that matches nothing, a recorded host gives Mismatch, an unknown one NotFound.
        let known: Vec<&str> = self
            .by_type
            .keys()
            .filter(|key_type| matches!(self.check(name, key_type, b"\0"), CheckResult::Mismatch))
            .map(String::as_str)
            .collect();
        let supported = session
            .supported_algs(MethodType::HostKey)
            .unwrap_or_default();
        let (first, then): (Vec<&str>, Vec<&str>) = HOST_KEY_ALGORITHMS
            .iter()
            .filter(|algorithm| supported.contains(algorithm))
            .partition(|algorithm| known.contains(&key_type_of_algorithm(algorithm)));
        let preference = [first, then].concat().join(",");
        if !preference.is_empty()
            && let Err(e) = session.method_pref(MethodType::HostKey, &preference)
        {
            tracing::debug!(error = %e, "host key preference not set");
        }
    }
}

/// known_hosts says `ssh-rsa` for an RSA key whatever hash signs with it.
fn key_type_of_algorithm(algorithm: &str) -> &str {
    if algorithm.starts_with("rsa-sha2-") {
        "ssh-rsa"
    } else {
        algorithm
    }
}

/// Serializes the read-append-rename of known_hosts between the hosts of a run.
static KNOWN_HOSTS_WRITE: Mutex<()> = Mutex::new(());

fn verify_host_key(
    session: &Session,
    host_keys: &HostKeys,
    name: &str,
    address: &str,
    options: &SshOptions,
) -> Result<(), TransportError> {
    let known_hosts = options.known_hosts.display().to_string();
    let handshake_error = |reason: String| TransportError::Handshake {
        address: address.to_owned(),
        reason,
    };
    let (key, _) = session
        .host_key()
        .ok_or_else(|| handshake_error("the server showed no host key".into()))?;
    let key_type = key_type_of_blob(key)
        .ok_or_else(|| handshake_error("the server's host key is malformed".into()))?;
    let fingerprint = session
        .host_key_hash(HashType::Sha256)
        .map(|hash| format!("SHA256:{}", base64(hash).trim_end_matches('=')))
        .unwrap_or_default();
    let changed = || TransportError::HostKeyChanged {
        address: address.to_owned(),
        known_hosts: known_hosts.clone(),
        fingerprint: fingerprint.clone(),
    };
    let cannot_check =
        || handshake_error(format!("cannot check the host key against {known_hosts}"));

    match host_keys.check(name, key_type, key) {
        CheckResult::Match => return Ok(()),
        CheckResult::Mismatch => return Err(changed()),
        CheckResult::Failure => return Err(cannot_check()),
        CheckResult::NotFound if !options.accept_new_host_keys => {
            return Err(TransportError::HostKeyUnknown {
                address: address.to_owned(),
                known_hosts,
                fingerprint,
            });
        }
        CheckResult::NotFound => {}
    }

    let _guard = KNOWN_HOSTS_WRITE
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Another host of this run may have recorded a key for this name since the file was read.
    let file = KnownHostsFile::read(&options.known_hosts)
        .map_err(|e| handshake_error(format!("cannot read {known_hosts}: {e}")))?;
    match HostKeys::load(session, &file).check(name, key_type, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(changed()),
        CheckResult::Failure => Err(cannot_check()),
        CheckResult::NotFound => {
            file.append(&format!("{name} {key_type} {}", base64(key)))
                .map_err(|e| {
                    handshake_error(format!("cannot record the host key in {known_hosts}: {e}"))
                })?;
            tracing::info!(%address, %fingerprint, %known_hosts, "new host key recorded");
            Ok(())
        }
    }
}

/// Try the credentials in order, stopping at the first the server accepts.
fn authenticate(
    session: &Session,
    target: &SshTarget,
    options: &SshOptions,
    address: &str,
) -> Result<(), TransportError> {
    let user = target.user.as_str();
    let methods = match session.auth_methods(user) {
        Ok(methods) => methods.to_owned(),
        // The server let us in with no credentials at all.
        Err(_) if session.authenticated() => return Ok(()),
        Err(e) => return Err(auth_broke(address, &e)),
    };
    let accepts = |method: &str| methods.split(',').any(|m| m == method);
    let mut tried = Vec::new();

    if accepts("publickey") {
        if try_keys(session, user, options, &mut tried).map_err(|e| auth_broke(address, &e))? {
            return Ok(());
        }
    } else {
        tried.push("no key (the server does not accept keys)".to_owned());
    }

    if let Some(variable) = &options.password_env {
        match std::env::var(variable) {
            Ok(password) if !password.is_empty() => {
                let label = format!("a password from ${variable}");
                let result = if accepts("password") {
                    Some(session.userauth_password(user, &password))
                } else if accepts("keyboard-interactive") {
                    Some(session.userauth_keyboard_interactive(user, &mut AnswerWith(password)))
                } else {
                    None
                };
                match result {
                    None => tried.push(format!("{label} (the server does not accept passwords)")),
                    Some(result) => {
                        if attempt(result, &label, &mut tried)
                            .map_err(|e| auth_broke(address, &e))?
                        {
                            return Ok(());
                        }
                    }
                }
            }
            _ => tried.push(format!("no password (${variable} is not set)")),
        }
    }

    if tried.is_empty() {
        tried.push("nothing: no identity, no agent, no key in ~/.ssh".to_owned());
    }
    Err(TransportError::Auth {
        user: user.to_owned(),
        address: address.to_owned(),
        tried: format!("{}; the server accepts {methods}", tried.join(", ")),
    })
}

/// The identity when one is given; otherwise the agent's keys, then the default key files.
/// `Ok(true)` once one is accepted; `Err` when the connection broke.
fn try_keys(
    session: &Session,
    user: &str,
    options: &SshOptions,
    tried: &mut Vec<String>,
) -> Result<bool, ssh2::Error> {
    let key_file = |path: &Path, tried: &mut Vec<String>| {
        let label = format!("key {}", path.display());
        if let Err(e) = fs::File::open(path) {
            tried.push(format!("{label} (cannot read it: {e})"));
            return Ok(false);
        }
        attempt(
            session.userauth_pubkey_file(user, None, path, None),
            &label,
            tried,
        )
    };

    if let Some(identity) = &options.identity {
        return key_file(identity, tried);
    }

    if std::env::var_os("SSH_AUTH_SOCK").is_some_and(|socket| !socket.is_empty()) {
        match agent_keys(session, user, tried) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if is_connection_error(&e) => return Err(e),
            Err(e) => tried.push(format!("ssh-agent ({})", e.message())),
        }
    }

    if let Some(home) = std::env::var_os("HOME") {
        let dir = Path::new(&home).join(".ssh");
        for name in DEFAULT_KEYS {
            let path = dir.join(name);
            if path.exists() && key_file(&path, tried)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn agent_keys(session: &Session, user: &str, tried: &mut Vec<String>) -> Result<bool, ssh2::Error> {
    let mut agent = session.agent()?;
    agent.connect()?;
    agent.list_identities()?;
    let identities = agent.identities()?;
    if identities.is_empty() {
        tried.push("ssh-agent (it holds no key)".to_owned());
    }
    let mut accepted = false;
    for (i, identity) in identities.iter().enumerate() {
        let label = match identity.comment() {
            "" => format!("agent key #{}", i + 1),
            comment => format!("agent key {comment}"),
        };
        if attempt(agent.userauth(user, identity), &label, tried)? {
            accepted = true;
            break;
        }
    }
    let _ = agent.disconnect();
    Ok(accepted)
}

/// Note one authentication attempt: `Ok(true)` accepted, `Ok(false)` refused (and noted in
/// `tried`), `Err` when the connection itself failed.
fn attempt(
    result: Result<(), ssh2::Error>,
    label: &str,
    tried: &mut Vec<String>,
) -> Result<bool, ssh2::Error> {
    match result {
        Ok(()) => {
            tracing::debug!(credential = %label, "accepted");
            Ok(true)
        }
        Err(e) if is_connection_error(&e) => Err(e),
        Err(e) => {
            let why = match code(&e) {
                LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED => {
                    "refused".to_owned()
                }
                LIBSSH2_ERROR_FILE => format!("unusable: {}", e.message()),
                _ => e.message().to_owned(),
            };
            tried.push(format!("{label} ({why})"));
            Ok(false)
        }
    }
}

fn auth_broke(address: &str, e: &ssh2::Error) -> TransportError {
    TransportError::Handshake {
        address: address.to_owned(),
        reason: format!(
            "the connection failed during authentication: {}",
            e.message()
        ),
    }
}

/// Answers every hidden prompt of keyboard-interactive authentication with the password.
struct AnswerWith(String);

impl KeyboardInteractivePrompt for AnswerWith {
    fn prompt<'a>(
        &mut self,
        _user: &str,
        _instructions: &str,
        prompts: &[Prompt<'a>],
    ) -> Vec<String> {
        prompts
            .iter()
            .map(|prompt| {
                if prompt.echo {
                    String::new()
                } else {
                    self.0.clone()
                }
            })
            .collect()
    }
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

/// The key type a public key blob names in its first field (RFC 4253 §6.6).
fn key_type_of_blob(blob: &[u8]) -> Option<&str> {
    let length = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + length)?).ok()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let at = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (at(0) << 16) | (at(1) << 8) | at(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    //! Against a real OpenSSH server on loopback that each test starts for itself.

    use super::*;
    use crate::transport::wrap;
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};

    /// The login the test servers know, added to copies of /etc/passwd and /etc/shadow that
    /// only the server's own mount namespace sees: this machine's users are left alone.
    const USER: &str = "lgtest";
    const UID: u32 = 4242;
    const PASSWORD: &str = "correct horse battery staple";

    /// Whether the tests that start sshd can run here; under CI they must.
    fn sshd_available() -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let present = Path::new("/usr/sbin/sshd").exists();
        if root && present {
            return true;
        }
        let why = if present {
            "the tests start sshd and need root"
        } else {
            "/usr/sbin/sshd is missing (apt-get install openssh-server)"
        };
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
        false
    }

    fn run(program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new key pair `dir/name` and `dir/name.pub`; returns the public line.
    fn keygen(dir: &Path, name: &str, kind: &str) -> String {
        let path = dir.join(name);
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                kind,
                "-N",
                "",
                "-C",
                "",
                "-f",
                path.to_str().unwrap(),
            ],
        );
        fs::read_to_string(path.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[derive(Default)]
    struct Setup {
        /// Where sshd listens; 127.0.0.1 by default.
        listen: Option<&'static str>,
        password_auth: bool,
        /// Also give the server an RSA host key.
        rsa: bool,
    }

    /// A real sshd on loopback, killed by its pid when dropped.
    struct Sshd {
        child: Child,
        dir: tempfile::TempDir,
        address: String,
        port: u16,
        /// `ssh-ed25519 AAAA...`: what the server shows first.
        host_key: String,
        rsa_host_key: Option<String>,
        /// A private key the server accepts for [`USER`].
        client_key: PathBuf,
    }

    impl Drop for Sshd {
        fn drop(&mut self) {
            for pid in self.descendants() {
                // SAFETY: signalling, by pid, a process this test's sshd started.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Sshd {
        fn start(setup: Setup) -> Option<Sshd> {
            if !sshd_available() {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            // sshd reads authorized_keys as the user, who must be able to reach it.
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
            let home = d.join("home");
            fs::create_dir(&home).unwrap();
            std::os::unix::fs::chown(&home, Some(UID), Some(UID)).unwrap();
            // The privilege separation directory sshd is built with.
            fs::create_dir_all("/run/sshd").unwrap();

            let host_key = keygen(d, "host_ed25519", "ed25519");
            let rsa_host_key = setup.rsa.then(|| keygen(d, "host_rsa", "rsa"));
            let client = keygen(d, "client", "ed25519");
            fs::write(d.join("authorized_keys"), format!("{client}\n")).unwrap();
            fs::set_permissions(d.join("authorized_keys"), fs::Permissions::from_mode(0o644))
                .unwrap();

            let hash = run("openssl", &["passwd", "-6", "-salt", "labgrade", PASSWORD]);
            let mut passwd = fs::read_to_string("/etc/passwd").unwrap();
            passwd.push_str(&format!(
                "{USER}:x:{UID}:{UID}:labgrade test:{}:/bin/sh\n",
                home.display()
            ));
            fs::write(d.join("passwd"), passwd).unwrap();
            let mut shadow = fs::read_to_string("/etc/shadow").unwrap();
            shadow.push_str(&format!("{USER}:{}:19000:0:99999:7:::\n", hash.trim()));
            fs::write(d.join("shadow"), shadow).unwrap();

            let mut config = format!(
                "HostKey {d}/host_ed25519\n\
                 AuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile none\nUsePAM no\nStrictModes no\n\
                 KbdInteractiveAuthentication no\nPasswordAuthentication {}\n",
                if setup.password_auth { "yes" } else { "no" },
                d = d.display()
            );
            if setup.rsa {
                config.push_str(&format!("HostKey {}/host_rsa\n", d.display()));
            }
            fs::write(d.join("sshd_config"), config).unwrap();

            let address = setup.listen.unwrap_or("127.0.0.1");
            let port = free_port();
            let log = fs::File::create(d.join("sshd.log")).unwrap();
            let child = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
                .arg(
                    "mount --bind \"$1/passwd\" /etc/passwd && \
                     mount --bind \"$1/shadow\" /etc/shadow && \
                     exec /usr/sbin/sshd -D -e -f \"$1/sshd_config\" -p \"$2\" -o ListenAddress=\"$3\"",
                )
                .args(["sh", d.to_str().unwrap(), &port.to_string(), address])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let sshd = Sshd {
                child,
                client_key: d.join("client"),
                dir,
                address: address.to_owned(),
                port,
                host_key,
                rsa_host_key,
            };
            let started = Instant::now();
            let socket = (bare_host(address), port)
                .to_socket_addrs()
                .unwrap()
                .next()
                .unwrap();
            while TcpStream::connect(socket).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "sshd did not start: {}",
                    sshd.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(sshd)
        }

        fn log(&self) -> String {
            fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
        }

        fn target(&self) -> SshTarget {
            let address = if self.address.contains(':') {
                format!("[{}]", self.address)
            } else {
                self.address.clone()
            };
            SshTarget {
                user: USER.to_owned(),
                address,
                port: self.port,
            }
        }

        /// The known_hosts line OpenSSH would write for this server.
        fn known_line(&self, key: &str) -> String {
            let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            format!("{} {key}", known_hosts_name(&self.target()))
        }

        /// Options with the accepted key and a known_hosts file (`known`) holding `lines`.
        fn options(&self, known: &str, lines: &[String]) -> SshOptions {
            let known_hosts = self.dir.path().join(known);
            if !lines.is_empty() {
                fs::write(&known_hosts, lines.join("\n") + "\n").unwrap();
            }
            SshOptions {
                identity: Some(self.client_key.clone()),
                password_env: None,
                known_hosts,
                accept_new_host_keys: false,
                connect_timeout: Duration::from_secs(5),
            }
        }

        /// A transport that trusts this server's key.
        fn ssh(&self) -> Ssh {
            let options = self.options("known_hosts", &[self.known_line(&self.host_key)]);
            Ssh::new(self.target(), options)
        }

        /// Every process this sshd started, children first.
        fn descendants(&self) -> Vec<i32> {
            let mut found = Vec::new();
            let mut parents = vec![self.child.id() as i32];
            while let Some(parent) = parents.pop() {
                for pid in processes() {
                    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                    // The parent pid is the second field after the parenthesised command name.
                    let ppid = stat
                        .rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        .and_then(|p| p.parse::<i32>().ok());
                    if ppid == Some(parent) {
                        found.push(pid);
                        parents.push(pid);
                    }
                }
            }
            found.reverse();
            found
        }
    }

    fn processes() -> Vec<i32> {
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Processes whose command line is exactly `argv`.
    fn running(argv: &[&str]) -> Vec<i32> {
        let wanted: Vec<u8> = argv
            .iter()
            .flat_map(|a| [a.as_bytes(), b"\0"].concat())
            .collect();
        processes()
            .into_iter()
            .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
            .collect()
    }

    /// A sleep length no other test or process uses, to find that sleep afterwards.
    fn unique_sleep() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!(
            "30.{:05}{:04}",
            std::process::id() % 100_000,
            nanos % 10_000
        )
    }

    fn wait_until_gone(argv: &[&str]) -> Vec<i32> {
        let started = Instant::now();
        loop {
            let left = running(argv);
            if left.is_empty() || started.elapsed() > Duration::from_secs(3) {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    const FIVE: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn runs_scripts_and_keeps_streams_and_exit_codes_apart() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let ssh = sshd.ssh();
        ssh.connect().await.unwrap();
        let out = ssh
            .exec(&wrap("echo out; echo err >&2; exit 3", FIVE), FIVE)
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout_text(), "out\n");
        assert_eq!(out.stderr_text(), "err\n");
        assert_eq!(out.dropped, 0);

        let out = ssh
            .exec(&wrap("id -un; echo \"$LC_ALL\"", FIVE), FIVE)
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.stdout_text(), format!("{USER}\nC\n"));
    }

    #[tokio::test]
    async fn one_session_serves_every_script() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let ssh = sshd.ssh();
        let first = ssh.exec("echo $SSH_CONNECTION", FIVE).await.unwrap();
        let second = ssh.exec("echo $SSH_CONNECTION", FIVE).await.unwrap();
        assert!(!first.stdout.is_empty());
        // The same client port: the same TCP connection.
        assert_eq!(first.stdout_text(), second.stdout_text());
    }

    #[tokio::test]
    async fn megabytes_on_both_streams_are_capped_without_hanging() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let ssh = sshd.ssh();
        let started = Instant::now();
        // stderr is written while the grader also waits on stdout, and the other way round.
        let script = "head -c 3000000 /dev/zero >&2 & head -c 3000000 /dev/zero; wait";
        let out = ssh
            .exec(
                &wrap(script, Duration::from_secs(30)),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.stdout.len(), OUTPUT_CAP);
        assert_eq!(out.stderr.len(), OUTPUT_CAP);
        assert_eq!(out.dropped, 2 * (3_000_000 - OUTPUT_CAP as u64));
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[tokio::test]
    async fn a_large_script_is_fed_whole() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let ssh = sshd.ssh();
        // More than the channel window, so the write has to wait for the host to read.
        let filler = format!("# {}\n", "x".repeat(3_000_000));
        let out = ssh
            .exec(&format!("{filler}echo reached; {filler}echo end"), FIVE)
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "reached\nend\n");
    }

    #[tokio::test]
    async fn a_hanging_script_is_stopped_on_time() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let ssh = sshd.ssh();
        let one = Duration::from_secs(1);

        // The envelope stops it on the host: coreutils timeout answers 124.
        let length = unique_sleep();
        let started = Instant::now();
        let out = ssh
            .exec(&wrap(&format!("sleep {length}"), one), one)
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(124));
        assert!(started.elapsed() < FIVE, "took {:?}", started.elapsed());
        assert_eq!(wait_until_gone(&["sleep", &length]), Vec::<i32>::new());

        // With no envelope the grader gives up after the grace and closes the channel.
        let started = Instant::now();
        let result = ssh.exec("sleep 6", one).await;
        assert!(
            matches!(result, Err(TransportError::Timeout(t)) if t == one),
            "{result:?}"
        );
        assert!(started.elapsed() < FIVE, "took {:?}", started.elapsed());

        // The session survives a timeout.
        let out = ssh.exec("echo still here", FIVE).await.unwrap();
        assert_eq!(out.stdout_text(), "still here\n");
    }

    #[tokio::test]
    async fn a_lost_connection_fails_this_run_and_every_later_one_fast() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let ssh = std::sync::Arc::new(sshd.ssh());
        ssh.connect().await.unwrap();
        let running = tokio::spawn({
            let ssh = ssh.clone();
            async move { ssh.exec("sleep 20", Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        for pid in sshd.descendants() {
            // SAFETY: signalling, by pid, a process the test's own sshd started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let started = Instant::now();
        let result = running.await.unwrap();
        assert!(
            matches!(result, Err(TransportError::Lost { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < FIVE);

        let started = Instant::now();
        let result = ssh.exec("true", FIVE).await;
        assert!(
            matches!(result, Err(TransportError::Lost { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn an_unknown_host_key_is_refused_with_its_fingerprint() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let options = sshd.options("absent/known_hosts", &[]);
        let known_hosts = options.known_hosts.clone();
        let result = Ssh::new(sshd.target(), options).connect().await;
        let Err(e @ TransportError::HostKeyUnknown { .. }) = &result else {
            panic!("{result:?}");
        };
        // The fingerprint as OpenSSH prints it.
        let pub_file = sshd.dir.path().join("host_ed25519.pub");
        let listed = run(
            "ssh-keygen",
            &["-l", "-E", "sha256", "-f", pub_file.to_str().unwrap()],
        );
        let fingerprint = listed.split_whitespace().nth(1).unwrap();
        let message = e.to_string();
        assert!(message.contains(fingerprint), "{message}");
        assert!(message.contains("--accept-new-host-keys"), "{message}");
        assert!(!known_hosts.exists());
        // Refused before authentication: the server saw no login attempt.
        assert!(!sshd.log().contains("Accepted"), "{}", sshd.log());
    }

    #[tokio::test]
    async fn a_new_host_key_is_recorded_when_asked_and_then_matches() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let other = keygen(sshd.dir.path(), "other", "ed25519");
        let before = format!(
            "# kept as it is\n10.9.8.7 {other}\n|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|aGFzaGhhc2hoYXNoaGFzaGhhc2g= {other}\nno newline at the end"
        );
        let mut options = sshd.options("new/dir/known_hosts", &[]);
        fs::create_dir_all(options.known_hosts.parent().unwrap()).unwrap();
        fs::write(&options.known_hosts, &before).unwrap();
        options.accept_new_host_keys = true;
        Ssh::new(sshd.target(), options.clone())
            .connect()
            .await
            .unwrap();

        let after = fs::read_to_string(&options.known_hosts).unwrap();
        let line = sshd.known_line(&sshd.host_key);
        assert_eq!(after, format!("{before}\n{line}\n"));
        // OpenSSH finds it too.
        let name = known_hosts_name(&sshd.target());
        let found = run(
            "ssh-keygen",
            &["-F", &name, "-f", options.known_hosts.to_str().unwrap()],
        );
        assert!(found.contains(&line), "{found}");

        options.accept_new_host_keys = false;
        let ssh = Ssh::new(sshd.target(), options.clone());
        assert_eq!(
            ssh.exec("echo ok", FIVE).await.unwrap().stdout_text(),
            "ok\n"
        );
        assert_eq!(fs::read_to_string(&options.known_hosts).unwrap(), after);
    }

    #[tokio::test]
    async fn a_hashed_entry_matches() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let options = sshd.options("known_hosts", &[sshd.known_line(&sshd.host_key)]);
        let file = options.known_hosts.to_str().unwrap();
        run("ssh-keygen", &["-H", "-f", file]);
        let hashed = fs::read_to_string(file).unwrap();
        assert!(hashed.starts_with("|1|"), "{hashed}");
        Ssh::new(sshd.target(), options).connect().await.unwrap();
    }

    #[tokio::test]
    async fn a_changed_host_key_is_refused_even_when_accepting_new_ones() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let other = keygen(sshd.dir.path(), "other", "ed25519");
        let mut options = sshd.options("known_hosts", &[sshd.known_line(&other)]);
        options.accept_new_host_keys = true;
        let before = fs::read_to_string(&options.known_hosts).unwrap();
        let result = Ssh::new(sshd.target(), options.clone()).connect().await;
        assert!(
            matches!(result, Err(TransportError::HostKeyChanged { .. })),
            "{result:?}"
        );
        assert_eq!(fs::read_to_string(&options.known_hosts).unwrap(), before);
    }

    #[tokio::test]
    async fn a_key_recorded_with_another_type_is_not_a_changed_key() {
        let Some(sshd) = Sshd::start(Setup {
            rsa: true,
            ..Setup::default()
        }) else {
            return;
        };
        let rsa = sshd.rsa_host_key.clone().unwrap();
        // Only the RSA key is known: the server must be asked for that one.
        let options = sshd.options("known_hosts", &[sshd.known_line(&rsa)]);
        Ssh::new(sshd.target(), options).connect().await.unwrap();
        // Only the ed25519 key is known.
        let options = sshd.options("known_hosts", &[sshd.known_line(&sshd.host_key)]);
        Ssh::new(sshd.target(), options).connect().await.unwrap();
        // Both, and a different RSA key: the ed25519 one is asked for first and matches.
        let other = keygen(sshd.dir.path(), "other", "rsa");
        let options = sshd.options(
            "known_hosts",
            &[sshd.known_line(&other), sshd.known_line(&sshd.host_key)],
        );
        Ssh::new(sshd.target(), options).connect().await.unwrap();
        // A different RSA key alone is a changed key.
        let options = sshd.options("known_hosts", &[sshd.known_line(&other)]);
        let result = Ssh::new(sshd.target(), options).connect().await;
        assert!(
            matches!(result, Err(TransportError::HostKeyChanged { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_wrong_or_unreadable_key_is_an_auth_error() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        keygen(sshd.dir.path(), "stranger", "ed25519");
        let mut options = sshd.options("known_hosts", &[sshd.known_line(&sshd.host_key)]);
        let stranger = sshd.dir.path().join("stranger");
        options.identity = Some(stranger.clone());
        let result = Ssh::new(sshd.target(), options.clone()).connect().await;
        let Err(e @ TransportError::Auth { .. }) = &result else {
            panic!("{result:?}");
        };
        let message = e.to_string();
        assert!(
            message.contains(&format!("key {} (refused)", stranger.display())),
            "{message}"
        );

        options.identity = Some(sshd.dir.path().join("no-such-key"));
        let result = Ssh::new(sshd.target(), options).connect().await;
        let Err(e @ TransportError::Auth { .. }) = &result else {
            panic!("{result:?}");
        };
        assert!(e.to_string().contains("no-such-key (cannot read it"), "{e}");
    }

    #[tokio::test]
    async fn an_ipv6_address_in_brackets_works() {
        if !Path::new("/proc/net/if_inet6").exists() {
            eprintln!("skipped: no IPv6 here");
            return;
        }
        let Some(sshd) = Sshd::start(Setup {
            listen: Some("::1"),
            ..Setup::default()
        }) else {
            return;
        };
        let mut options = sshd.options("known_hosts", &[]);
        options.accept_new_host_keys = true;
        let ssh = Ssh::new(sshd.target(), options.clone());
        assert_eq!(
            ssh.exec("echo ok", FIVE).await.unwrap().stdout_text(),
            "ok\n"
        );
        let recorded = fs::read_to_string(&options.known_hosts).unwrap();
        assert!(
            recorded.starts_with(&format!("[::1]:{} ssh-ed25519 ", sshd.port)),
            "{recorded}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_quick_connect_error() {
        let port = free_port();
        let target = SshTarget {
            user: USER.to_owned(),
            address: "127.0.0.1".to_owned(),
            port,
        };
        let options = SshOptions {
            identity: None,
            password_env: None,
            known_hosts: PathBuf::from("/nonexistent/known_hosts"),
            accept_new_host_keys: false,
            connect_timeout: FIVE,
        };
        let ssh = Ssh::new(target, options);
        let started = Instant::now();
        let result = ssh.connect().await;
        let Err(e @ TransportError::Connect { .. }) = &result else {
            panic!("{result:?}");
        };
        assert!(e.to_string().contains("refused"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(1));
        // Reported again without a new attempt.
        let again = ssh.exec("true", FIVE).await;
        assert!(matches!(again, Err(TransportError::Connect { .. })));
    }

    #[test]
    fn a_silent_address_times_out_within_connect_timeout() {
        if !sshd_available() {
            return;
        }
        // In a network namespace of this thread alone, 192.0.2.10 sits behind a veth pair
        // whose far end never answers: packets go nowhere, and nowhere outside this machine.
        let (result, elapsed) = std::thread::spawn(|| {
            // SAFETY: unshare of the network namespace affects only the calling thread.
            let unshared = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(unshared, 0, "unshare: {}", io::Error::last_os_error());
            run("ip", &["link", "set", "lo", "up"]);
            run(
                "ip",
                &["link", "add", "lg0", "type", "veth", "peer", "name", "lg1"],
            );
            run("ip", &["addr", "add", "192.0.2.1/24", "dev", "lg0"]);
            run("ip", &["link", "set", "lg0", "up"]);
            run("ip", &["link", "set", "lg1", "up"]);
            let target = SshTarget {
                user: USER.to_owned(),
                address: "192.0.2.10".to_owned(),
                port: 22,
            };
            let options = SshOptions {
                identity: None,
                password_env: None,
                known_hosts: PathBuf::from("/nonexistent/known_hosts"),
                accept_new_host_keys: false,
                connect_timeout: Duration::from_secs(1),
            };
            // The worker thread is created here, so it lives in this namespace too.
            let ssh = Ssh::new(target, options);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let started = Instant::now();
            let result = runtime.block_on(ssh.connect());
            (result, started.elapsed())
        })
        .join()
        .unwrap();
        let Err(e @ TransportError::Connect { .. }) = &result else {
            panic!("{result:?}");
        };
        assert!(e.to_string().contains("no answer within 1s"), "{e}");
        assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    }

    /// The password test runs [`password_login_child`] in a child process, the only way to
    /// give it an environment variable without `set_var` racing the other tests' threads.
    #[test]
    fn a_password_from_the_environment_logs_in() {
        let Some(sshd) = Sshd::start(Setup {
            password_auth: true,
            ..Setup::default()
        }) else {
            return;
        };
        keygen(sshd.dir.path(), "stranger", "ed25519");
        let options = sshd.options("known_hosts", &[sshd.known_line(&sshd.host_key)]);
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "transport::ssh::tests::password_login_child",
                "--ignored",
                "--nocapture",
            ])
            .env("LABGRADE_TEST_PASSWORD", PASSWORD)
            .env("LABGRADE_TEST_WRONG_PASSWORD", "not the password")
            .env("LABGRADE_TEST_SSH_PORT", sshd.port.to_string())
            .env("LABGRADE_TEST_SSH_KNOWN_HOSTS", &options.known_hosts)
            .env("LABGRADE_TEST_SSH_KEY", sshd.dir.path().join("stranger"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[tokio::test]
    #[ignore = "run by a_password_from_the_environment_logs_in, which sets its environment"]
    async fn password_login_child() {
        let Ok(port) = std::env::var("LABGRADE_TEST_SSH_PORT") else {
            return;
        };
        let target = SshTarget {
            user: USER.to_owned(),
            address: "127.0.0.1".to_owned(),
            port: port.parse().unwrap(),
        };
        let options = SshOptions {
            // A key the server refuses: the password comes after it.
            identity: std::env::var_os("LABGRADE_TEST_SSH_KEY").map(PathBuf::from),
            password_env: Some("LABGRADE_TEST_PASSWORD".to_owned()),
            known_hosts: std::env::var_os("LABGRADE_TEST_SSH_KNOWN_HOSTS")
                .map(PathBuf::from)
                .unwrap(),
            accept_new_host_keys: false,
            connect_timeout: FIVE,
        };
        let ssh = Ssh::new(target.clone(), options.clone());
        let out = ssh.exec("id -un", FIVE).await.unwrap();
        assert_eq!(out.stdout_text(), format!("{USER}\n"));

        let wrong = SshOptions {
            password_env: Some("LABGRADE_TEST_WRONG_PASSWORD".to_owned()),
            ..options.clone()
        };
        let result = Ssh::new(target.clone(), wrong).connect().await;
        let Err(e @ TransportError::Auth { .. }) = &result else {
            panic!("{result:?}");
        };
        let message = e.to_string();
        assert!(message.contains("refused"), "{message}");
        assert!(
            message.contains("$LABGRADE_TEST_WRONG_PASSWORD"),
            "{message}"
        );
        assert!(!message.contains("not the password"), "{message}");

        let unset = SshOptions {
            password_env: Some("LABGRADE_TEST_UNSET_PASSWORD".to_owned()),
            ..options
        };
        let result = Ssh::new(target, unset).connect().await;
        let Err(e @ TransportError::Auth { .. }) = &result else {
            panic!("{result:?}");
        };
        assert!(
            e.to_string()
                .contains("$LABGRADE_TEST_UNSET_PASSWORD is not set"),
            "{e}"
        );
    }

    /// The numbers FACTS.md quotes, re-measured: `cargo test --lib ssh::tests::cost -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn cost_of_connect_and_exec() {
        let Some(sshd) = Sshd::start(Setup::default()) else {
            return;
        };
        let median = |mut samples: Vec<Duration>| {
            samples.sort();
            samples[samples.len() / 2]
        };
        let mut connects = Vec::new();
        for _ in 0..21 {
            let ssh = sshd.ssh();
            let started = Instant::now();
            ssh.connect().await.unwrap();
            connects.push(started.elapsed());
        }
        let ssh = sshd.ssh();
        ssh.connect().await.unwrap();
        let mut bare = Vec::new();
        let mut wrapped = Vec::new();
        for _ in 0..51 {
            let started = Instant::now();
            ssh.exec("true", FIVE).await.unwrap();
            bare.push(started.elapsed());
            let started = Instant::now();
            ssh.exec(&wrap("true", FIVE), FIVE).await.unwrap();
            wrapped.push(started.elapsed());
        }
        println!(
            "connect + auth {:?}, exec `true` {:?}, exec wrapped `true` {:?} (medians)",
            median(connects),
            median(bare),
            median(wrapped)
        );
    }

    #[test]
    fn base64_and_key_types() {
        for (raw, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), encoded);
        }
        assert_eq!(
            key_type_of_blob(b"\0\0\0\x0bssh-ed25519\0\0\0\x20"),
            Some("ssh-ed25519")
        );
        assert_eq!(key_type_of_blob(b"\0\0\0\x0bssh"), None);
        assert_eq!(key_type_of_algorithm("rsa-sha2-512"), "ssh-rsa");
    }

    #[test]
    fn hosts_are_named_as_openssh_names_them() {
        let target = |address: &str, port| SshTarget {
            user: "u".into(),
            address: address.into(),
            port,
        };
        assert_eq!(known_hosts_name(&target("10.0.0.1", 22)), "10.0.0.1");
        assert_eq!(
            known_hosts_name(&target("10.0.0.1", 2222)),
            "[10.0.0.1]:2222"
        );
        assert_eq!(known_hosts_name(&target("[::1]", 22)), "::1");
        assert_eq!(known_hosts_name(&target("[::1]", 2222)), "[::1]:2222");
        assert_eq!(endpoint(&target("::1", 22)), "[::1]:22");
        assert_eq!(endpoint(&target("srv.lab", 22)), "srv.lab:22");
    }
}
