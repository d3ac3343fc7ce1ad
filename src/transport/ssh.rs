//! A candidate's machine over SSH (ssh2): one session per host, owned by one blocking thread.

use std::path::PathBuf;
use std::time::Duration;

use super::{ExecOutput, Transport, TransportError};

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

pub struct Ssh {
    target: SshTarget,
}

impl Ssh {
    pub fn new(target: SshTarget, _options: SshOptions) -> Ssh {
        Ssh { target }
    }
}

#[async_trait::async_trait]
impl Transport for Ssh {
    async fn connect(&self) -> Result<(), TransportError> {
        todo!()
    }

    async fn exec(&self, _script: &str, _timeout: Duration) -> Result<ExecOutput, TransportError> {
        todo!()
    }

    fn describe(&self) -> String {
        format!(
            "{}@{}:{}",
            self.target.user, self.target.address, self.target.port
        )
    }
}
