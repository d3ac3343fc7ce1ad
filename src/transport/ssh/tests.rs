//! Against a real OpenSSH server on loopback that each test starts for itself.

use super::*;
use crate::transport::{OUTPUT_CAP, wrap};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// The login the test servers know, added to copies of /etc/passwd and /etc/shadow that
/// only the server's own mount namespace sees: this machine's users are left alone.
const USER: &str = "lgtest";
const UID: u32 = 4242;
const PASSWORD: &str = "correct horse battery staple";

/// The tests start a real sshd: without root or sshd they fail, saying what is missing.
fn require_sshd() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "the ssh tests start sshd and need root");
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "/usr/sbin/sshd is missing (apt-get install openssh-server)"
    );
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
    fn start(setup: Setup) -> Sshd {
        require_sshd();
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
        fs::set_permissions(d.join("authorized_keys"), fs::Permissions::from_mode(0o644)).unwrap();

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
        sshd
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
            identity: None,
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
    let sshd = Sshd::start(Setup::default());
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

/// How Windows (a PowerShell command line) and IOS (a `show` command) are asked: the
/// command is the exec request itself, with nothing on its standard input.
#[tokio::test]
async fn a_command_is_the_exec_request_itself_with_an_empty_stdin() {
    let sshd = Sshd::start(Setup::default());
    let ssh = sshd.ssh();
    let out = ssh
        .exec_command(
            "printf '%s|' one two; cat; echo $SSH_CONNECTION >&2; exit 4",
            FIVE,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(4));
    assert_eq!(out.stdout_text(), "one|two|");
    // The same session as the scripts'.
    let script = ssh.exec("echo $SSH_CONNECTION", FIVE).await.unwrap();
    assert_eq!(out.stderr_text(), script.stdout_text());

    let started = Instant::now();
    let late = ssh
        .exec_command("sleep 30", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(late, TransportError::Timeout(_)), "{late}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn one_session_serves_every_script() {
    let sshd = Sshd::start(Setup::default());
    let ssh = sshd.ssh();
    let first = ssh.exec("echo $SSH_CONNECTION", FIVE).await.unwrap();
    let second = ssh.exec("echo $SSH_CONNECTION", FIVE).await.unwrap();
    assert!(!first.stdout.is_empty());
    // The same client port: the same TCP connection.
    assert_eq!(first.stdout_text(), second.stdout_text());
}

#[tokio::test]
async fn megabytes_on_both_streams_are_capped_without_hanging() {
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup::default());
    let ssh = std::sync::Arc::new(sshd.ssh());
    ssh.connect().await.unwrap();
    let running = tokio::spawn({
        let ssh = ssh.clone();
        async move { ssh.exec("sleep 20", Duration::from_secs(30)).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Stopped first, all of them, so that none can close the channel politely when another
    // dies: the connection is cut, as when the machine goes away.
    let pids = sshd.descendants();
    for signal in [libc::SIGSTOP, libc::SIGKILL] {
        for &pid in &pids {
            // SAFETY: signalling, by pid, a process the test's own sshd started.
            unsafe {
                libc::kill(pid, signal);
            }
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
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup::default());
    let options = sshd.options("known_hosts", &[sshd.known_line(&sshd.host_key)]);
    let file = options.known_hosts.to_str().unwrap();
    run("ssh-keygen", &["-H", "-f", file]);
    let hashed = fs::read_to_string(file).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    Ssh::new(sshd.target(), options).connect().await.unwrap();
}

#[tokio::test]
async fn a_changed_host_key_is_refused_even_when_accepting_new_ones() {
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup {
        rsa: true,
        ..Setup::default()
    });
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
    let sshd = Sshd::start(Setup::default());
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
    let sshd = Sshd::start(Setup {
        listen: Some("::1"),
        ..Setup::default()
    });
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
        identity: None,
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
fn a_password_from_the_environment_logs_in() {
    let sshd = Sshd::start(Setup {
        password_auth: true,
        ..Setup::default()
    });
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
        identity: None,
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
        identity: None,
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

#[test]
fn what_the_login_shell_prints_before_the_start_line_is_not_kept() {
    let line = format!("{START_LINE}\n");
    // The start line cut across reads, after a greeting, then the script's output.
    let mut capped = Capped::after_start(8);
    let (head, tail) = line.split_at(5);
    capped.push(format!("Welcome!\n{head}").as_bytes());
    assert!(!capped.started());
    assert_eq!(capped.printed_before(), format!("Welcome!\n{head}"));
    capped.push(format!("{tail}out").as_bytes());
    assert!(capped.started());
    capped.push(b"put and more");
    assert_eq!(capped.kept, b"output a");
    assert_eq!(capped.dropped, 7);
    assert_eq!(capped.arrivals.len(), 2);

    // A flood before the start line keeps only its tail, where the line may still come.
    let mut flooded = Capped::after_start(8);
    flooded.push(&vec![b'x'; 200 * 1024]);
    flooded.push(line.as_bytes());
    flooded.push(b"ok");
    assert_eq!(flooded.kept, b"ok");

    // A stream that never saw it (a login shell that closed stderr) keeps all it got.
    let mut silent = Capped::after_start(8);
    silent.push(b"err");
    silent.finish();
    assert_eq!(silent.kept, b"err");
}
