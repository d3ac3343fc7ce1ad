//! The grader's SSH keys: one authorized for root on every host, one authorized nowhere.
//!
//! Generated once per machine under the state folder and shared by all test processes, so
//! hosts of one run and another all trust the same key.

use super::cmd::must;
use super::machine;
use super::slots::{STATE_DIR, StateLock};
use std::fs::{self, DirBuilder};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

const GRADER: &str = "grader_ed25519";
const WRONG: &str = "wrong_ed25519";

/// The private ed25519 key (no passphrase) that every host authorizes for root.
pub fn grader_key() -> PathBuf {
    machine::prepare();
    path(GRADER)
}

/// A private ed25519 key (no passphrase) that no host authorizes.
pub fn wrong_key() -> PathBuf {
    machine::prepare();
    path(WRONG)
}

/// The grader key's public half, as an `authorized_keys` line.
pub fn grader_public_key() -> String {
    let public = path(GRADER).with_extension("pub");
    fs::read_to_string(&public)
        .unwrap_or_else(|e| panic!("labgrade test host: cannot read {}: {e}", public.display()))
}

fn path(name: &str) -> PathBuf {
    Path::new(STATE_DIR).join("keys").join(name)
}

/// Generates whichever key is missing. Under the lock, so two processes never race.
pub fn ensure(_lock: &StateLock) {
    let dir = Path::new(STATE_DIR).join("keys");
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .unwrap_or_else(|e| panic!("labgrade test host: cannot create {}: {e}", dir.display()));
    for name in [GRADER, WRONG] {
        let key = path(name);
        let public = key.with_extension("pub");
        if key.exists() && public.exists() {
            continue;
        }
        // Written beside and renamed into place: a crash never leaves half a key pair.
        let tmp = dir.join(format!("{name}.tmp"));
        let tmp_public = tmp.with_extension("tmp.pub");
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(&tmp_public);
        let comment = format!("labgrade-test-{name}");
        must(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                &comment,
                "-f",
                tmp.to_str().expect("state paths are UTF-8"),
            ],
        );
        for (from, to) in [(&tmp_public, &public), (&tmp, &key)] {
            fs::rename(from, to).unwrap_or_else(|e| {
                panic!("labgrade test host: cannot rename {}: {e}", from.display())
            });
        }
    }
}
