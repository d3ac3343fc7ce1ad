//! One open session: dialling, and running a script on a channel without blocking on either stream.

use super::*;

/// Why a non-blocking call gave up.
pub(super) enum Stop {
    Deadline,
    Ssh(ssh2::Error),
}

/// An open, authenticated session, in non-blocking mode.
pub(super) struct Connection {
    pub(super) session: Session,
    /// The socket the session owns, kept to wait on it with poll(2).
    pub(super) fd: RawFd,
    pub(super) endpoint: String,
}

impl Connection {
    pub(super) fn open(
        target: &SshTarget,
        options: &SshOptions,
    ) -> Result<Connection, TransportError> {
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
        // A host that goes silent (powered off, or a firewall that starts dropping the
        // grader mid-run) is found dead by the kernel within seconds, instead of each of its
        // remaining checks waiting out its own timeout.
        let socket = socket2::SockRef::from(&stream);
        socket
            .set_tcp_keepalive(&DEAD_PEER_PROBES)
            .and_then(|()| socket.set_tcp_user_timeout(Some(DEAD_PEER_AFTER)))
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

    /// Run a script with `/bin/sh -s`, fed on standard input, or a command as the host's
    /// shell reads it, reading both output streams in one loop: a host that fills one
    /// stream while the grader waits on the other cannot hang it.
    pub(super) fn exec(
        &self,
        run: &Run,
        timeout: Duration,
        cap: usize,
    ) -> Result<ExecOutput, ExecFailure> {
        let (command, input, mut stdout, mut stderr) = match run {
            Run::Script(script) => (
                "/bin/sh -s",
                format!("printf '%s\\n' {START_LINE}; printf '%s\\n' {START_LINE} >&2\n{script}"),
                Capped::after_start(cap),
                Capped::after_start(cap),
            ),
            // No POSIX shell there (PowerShell, IOS): nothing to mark the start with.
            Run::Command(command) => (
                command.as_str(),
                String::new(),
                Capped::new(cap),
                Capped::new(cap),
            ),
        };
        let started = Instant::now();
        let deadline = started + timeout + GRACE;
        let mut channel = self
            .retry(deadline, || self.session.channel_session())
            .map_err(|stop| self.failure(stop, "the host refused an ssh channel"))?;
        if let Err(stop) = self.retry(deadline, || channel.exec(command)) {
            let failure = self.failure(stop, &format!("the host refused to run {command:.60}"));
            self.abandon(channel);
            return Err(failure);
        }

        let finished = self
            .pump(
                &mut channel,
                input.as_bytes(),
                &mut stdout,
                &mut stderr,
                deadline,
            )
            // The exit status comes before the host's close: wait for that close.
            .and_then(|()| self.retry(deadline, || channel.close()))
            .and_then(|()| self.retry(deadline, || channel.wait_close()));
        if let Err(stop) = finished {
            let failure = match stop {
                Stop::Deadline if !stdout.started() => ExecFailure::LoginShell(format!(
                    "did not start the script within {}",
                    humantime::format_duration(timeout + GRACE)
                )),
                stop => self.failure(stop, "the channel failed"),
            };
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
        if !stdout.started() {
            let status =
                exit_code.map_or_else(|| "by a signal".to_string(), |c| format!("with status {c}"));
            return Err(ExecFailure::LoginShell(match stdout.printed_before() {
                printed if printed.is_empty() => {
                    format!("exited {status} before running the script")
                }
                printed => {
                    format!("exited {status} before running the script, printing {printed:?}")
                }
            }));
        }
        stderr.finish();
        Ok(ExecOutput {
            exit_code,
            arrivals: stdout.arrivals,
            stdout: stdout.kept,
            stderr: stderr.kept,
            dropped: stdout.dropped + stderr.dropped,
            duration: started.elapsed(),
        })
    }

    /// Write `input` then EOF, and read stdout and stderr, until the host closes both.
    pub(super) fn pump(
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
            // Reading one stream may have pulled the other's data off the socket into
            // libssh2's queue: then the socket is quiet, and waiting on it would stall.
            if !progress && channel.read_window().available > 0 {
                continue;
            }
            if !progress && !self.wait(blocked | libc::POLLIN, deadline) {
                return Err(Stop::Deadline);
            }
        }
    }

    /// Give up on a channel: close it, briefly. What it runs is left to the envelope's
    /// coreutils `timeout`; ssh2 offers no way to send a `signal` request on a channel
    /// that already runs a command.
    pub(super) fn abandon(&self, mut channel: Channel) {
        let until = Instant::now() + ABANDON_GRACE;
        let _ = self.retry(until, || channel.close());
    }

    pub(super) fn disconnect(self) {
        let until = Instant::now() + DISCONNECT_GRACE;
        let _ = self.retry(until, || {
            self.session
                .disconnect(None, "labgrade has finished with this host", None)
        });
        tracing::debug!(address = %self.endpoint, "disconnected");
    }

    /// Name what stopped an operation: the deadline, the connection or this channel.
    pub(super) fn failure(&self, stop: Stop, refused: &str) -> ExecFailure {
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
    pub(super) fn retry<T>(
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
    pub(super) fn wait(&self, events: libc::c_short, deadline: Instant) -> bool {
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
    pub(super) fn directions(&self) -> libc::c_short {
        match self.session.block_directions() {
            BlockDirections::Inbound => libc::POLLIN,
            BlockDirections::Outbound => libc::POLLOUT,
            BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
            BlockDirections::None => 0,
        }
    }

    /// Recover the libssh2 error behind an `io::Error` from ssh2's Read and Write impls.
    pub(super) fn io(&self, result: io::Result<usize>) -> Result<usize, ssh2::Error> {
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

/// What a connection runs.
pub(super) enum Run {
    /// A POSIX script, fed to `/bin/sh -s` on standard input.
    Script(String),
    /// One command line as the host's own shell reads it, with nothing on standard input.
    Command(String),
}

/// The line every script prints first, on both streams. sshd runs `/bin/sh -s` through the
/// user's login shell, and bash reads ~/.bashrc for it: what a greeting there prints comes
/// before this line and is not the script's; a run that never prints it never ran the script
/// (a ~/.bashrc that exits or hangs), whatever its exit status says.
pub(super) const START_LINE: &str = "labgrade-script-start";
/// How much of what the login shell prints before the script is looked through for the
/// start line; beyond it, only the tail is kept, where a start line may be cut in two.
const BEFORE_ROOM: usize = 64 * 1024;

/// One output stream: the first `cap` bytes, and a count of the rest.
pub(super) struct Capped {
    cap: usize,
    started: Instant,
    pub(super) kept: Vec<u8>,
    pub(super) dropped: u64,
    pub(super) arrivals: Vec<(usize, Duration)>,
    /// Until the start line shows: what came before it, which is not kept.
    before: Option<Vec<u8>>,
}

impl Capped {
    /// A stream whose bytes all count.
    pub(super) fn new(cap: usize) -> Capped {
        Capped {
            before: None,
            ..Capped::after_start(cap)
        }
    }

    /// A stream whose bytes count only after [`START_LINE`].
    pub(super) fn after_start(cap: usize) -> Capped {
        Capped {
            cap,
            started: Instant::now(),
            kept: Vec::new(),
            dropped: 0,
            arrivals: Vec::new(),
            before: Some(Vec::new()),
        }
    }

    /// Whether the start line came.
    pub(super) fn started(&self) -> bool {
        self.before.is_none()
    }

    /// The start of what came before the start line, for a message.
    pub(super) fn printed_before(&self) -> String {
        let before = self.before.as_deref().unwrap_or_default();
        String::from_utf8_lossy(&before[..before.len().min(120)])
            .trim()
            .to_string()
    }

    /// A stream whose start line never came (a login shell that closed stderr): all of it counts.
    pub(super) fn finish(&mut self) {
        if let Some(before) = self.before.take() {
            self.keep(&before);
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) {
        let Some(mut before) = self.before.take() else {
            return self.keep(bytes);
        };
        before.extend_from_slice(bytes);
        let line = format!("{START_LINE}\n");
        match before
            .windows(line.len())
            .position(|w| w == line.as_bytes())
        {
            Some(at) => self.keep(&before[at + line.len()..]),
            None => {
                if before.len() > BEFORE_ROOM {
                    before.drain(..before.len() - line.len());
                }
                self.before = Some(before);
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.cap.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.dropped += (bytes.len() - room) as u64;
        if room > 0 {
            self.arrivals
                .push((self.kept.len(), self.started.elapsed()));
        }
    }
}

/// Open the TCP connection, trying each address the name resolves to.
pub(super) fn dial(target: &SshTarget, timeout: Duration) -> Result<TcpStream, TransportError> {
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
