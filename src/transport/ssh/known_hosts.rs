//! Host keys: checked against known_hosts before any authentication; new ones recorded only when the run says so.

use super::*;

/// The known_hosts file as read: its bytes (written back untouched) and its host lines.
pub(super) struct KnownHostsFile {
    pub(super) path: PathBuf,
    pub(super) bytes: Vec<u8>,
}

impl KnownHostsFile {
    /// A missing file is an empty one.
    pub(super) fn read(path: &Path) -> io::Result<KnownHostsFile> {
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
    pub(super) fn lines_by_key_type(&self) -> BTreeMap<String, Vec<String>> {
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
    pub(super) fn append(&self, line: &str) -> io::Result<()> {
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
pub(super) struct HostKeys {
    pub(super) by_type: BTreeMap<String, KnownHosts>,
}

impl HostKeys {
    pub(super) fn load(session: &Session, file: &KnownHostsFile) -> HostKeys {
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

    pub(super) fn check(&self, name: &str, key_type: &str, key: &[u8]) -> CheckResult {
        self.by_type
            .get(key_type)
            .map_or(CheckResult::NotFound, |hosts| hosts.check(name, key))
    }

    /// Ask for the key types already recorded for this host first, as OpenSSH does, so that
    /// the host shows a key that can be checked.
    pub(super) fn prefer_known_types(&self, session: &Session, name: &str) {
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
pub(super) fn key_type_of_algorithm(algorithm: &str) -> &str {
    if algorithm.starts_with("rsa-sha2-") {
        "ssh-rsa"
    } else {
        algorithm
    }
}

/// Serializes the read-append-rename of known_hosts between the hosts of a run.
pub(super) static KNOWN_HOSTS_WRITE: Mutex<()> = Mutex::new(());

pub(super) fn verify_host_key(
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

/// The key type a public key blob names in its first field (RFC 4253 §6.6).
pub(super) fn key_type_of_blob(blob: &[u8]) -> Option<&str> {
    let length = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4 + length)?).ok()
}

pub(super) fn base64(bytes: &[u8]) -> String {
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
