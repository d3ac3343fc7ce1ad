//! The check kinds: each file observes one kind of subject; `KINDS` is the one registry that
//! the loader, the runner, `labgrade schema` and the lab author's guide all read.

mod command;
mod cron;
mod db;
mod dhcp;
mod dns;
mod file;
mod firewall;
mod getent;
mod group;
mod http;
mod imap;
mod ios;
mod ldap;
mod mail;
mod mount;
mod package;
mod pop3;
mod port;
mod process;
mod service;
mod smb;
mod smtp;
mod ssh;
mod sysctl;
mod tcp;
mod user;
mod windows;

use std::collections::BTreeMap;

use crate::expect::{Expect, Fact, Shape};
use crate::lab::Os;
use crate::transport::ExecOutput;

pub use windows::{POWERSHELL, powershell_command};

/// Every kind labgrade knows, in the order the guide lists them.
pub static KINDS: &[&dyn Kind] = &[
    &command::Command,
    &file::File,
    &package::Package,
    &service::Service,
    &user::User,
    &group::Group,
    &port::Port,
    &process::Process,
    &sysctl::Sysctl,
    &mount::Mount,
    &firewall::Firewall,
    &cron::Cron,
    &tcp::Tcp,
    &http::Http,
    &dns::Dns,
    &ssh::Ssh,
    &smtp::Smtp,
    &imap::Imap,
    &pop3::Pop3,
    &db::Db,
    &ldap::Ldap,
    &smb::Smb,
    &dhcp::Dhcp,
    // `os: windows` hosts: the Windows forms of the white-box kinds, then Windows-only kinds.
    &windows::SERVICE,
    &windows::USER,
    &windows::GROUP,
    &windows::FILE,
    &windows::PACKAGE,
    &windows::PORT,
    &windows::FIREWALL,
    &windows::COMMAND,
    &windows::AD_USER,
    &windows::AD_GROUP,
    &windows::GPO,
    &windows::DHCP_SCOPE,
    &windows::DNS_RECORD,
    &windows::SHARE,
    &windows::QUOTA,
    // `os: ios` network devices.
    &ios::CONFIG,
    &ios::VLAN,
    &ios::INTERFACE,
    &ios::ROUTE,
];

/// The first kind of that name, whatever the system it inspects.
pub fn find(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The form of kind `name` that inspects an `os` host; a black-box kind probes any host.
pub fn find_for(name: &str, os: Os) -> Option<&'static dyn Kind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.name() == name && (k.black_box() || k.host_os() == os))
}

/// What a parameter of a kind is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Compared with what the probe found (the matchers of its shape apply).
    Expect(Shape),
    /// Changes what the probe looks at (a protocol, a table): a plain string, one of `choices` when given.
    Input { choices: &'static [&'static str] },
    /// The name of a secret (a password the probe logs in with). The lab names it; its value
    /// comes from the environment or a secrets file at run time, and never reaches results.
    Secret,
}

/// One parameter of a kind, documented where it is declared.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub role: Role,
    pub doc: &'static str,
    /// An input the probe cannot go without: a check that lacks it is a located error of
    /// the lab, not an error on exam day.
    pub required: bool,
}

impl Param {
    pub const fn expect(name: &'static str, shape: Shape, doc: &'static str) -> Param {
        Param {
            name,
            role: Role::Expect(shape),
            doc,
            required: false,
        }
    }

    pub const fn secret(name: &'static str, doc: &'static str) -> Param {
        Param {
            name,
            role: Role::Secret,
            doc,
            required: false,
        }
    }

    pub const fn input(
        name: &'static str,
        choices: &'static [&'static str],
        doc: &'static str,
    ) -> Param {
        Param {
            name,
            role: Role::Input { choices },
            doc,
            required: false,
        }
    }

    /// This parameter must be given.
    pub const fn required(self) -> Param {
        Param {
            required: true,
            ..self
        }
    }
}

/// What a probe is asked: the subject, the inputs given, and the expectations present
/// (so a probe reads a file's content or hashes it only when a check needs it).
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub subject: &'a str,
    pub inputs: &'a BTreeMap<String, String>,
    pub wants: &'a [&'a str],
}

impl Query<'_> {
    pub fn input(&self, name: &str) -> Option<&str> {
        self.inputs.get(name).map(String::as_str)
    }

    pub fn wants(&self, name: &str) -> bool {
        self.wants.contains(&name)
    }
}

/// What a probe found: a fact per property. A property absent from the map was not
/// observed, which the judge reports as "not found" rather than guessing.
pub type Facts = BTreeMap<&'static str, Fact>;

/// What a black-box probe sent and saw, kept as the check's evidence.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub facts: Facts,
    /// What was sent and what came back, in a few lines a person reads.
    pub transcript: String,
}

/// A check kind.
///
/// A white-box kind is a POSIX shell script run on the inspected host, and a parser for its
/// output. A black-box kind probes a service from outside: natively from the grader
/// ([`Kind::observe`]), or, `from:` another role, by a script run on that host.
///
/// A probe observes and nothing else: it never sees points, and never sees the expected
/// values (only which properties are wanted). Scripts must only read: the built-in kinds
/// change nothing on a candidate's machine, except `smb`'s `can_write`, which writes one
/// uniquely named file and deletes it at once.
#[async_trait::async_trait]
pub trait Kind: Sync {
    /// The key that names the kind in a lab: `file: /etc/motd`.
    fn name(&self) -> &'static str;

    /// The system a white-box kind inspects. Linux kinds send a POSIX script in labgrade's
    /// envelope (batched); a Windows kind's script is PowerShell, run alone by
    /// `powershell -EncodedCommand`; an IOS kind's script is one `show` command.
    fn host_os(&self) -> Os {
        Os::Linux
    }

    /// What the subject is, for the guide: "a path".
    fn subject(&self) -> &'static str;

    /// One sentence for the guide.
    fn doc(&self) -> &'static str;

    fn params(&self) -> &'static [Param];

    /// The fact that says the subject is there at all (`exists`, `installed`...). When it is
    /// false the other properties are skipped, not failed.
    fn presence(&self) -> Option<&'static str>;

    /// What a check with no expectation tests.
    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        self.presence().map(|name| (name, Expect::Bool(true)))
    }

    /// The script to run, with every interpolated value shell-quoted. It may call
    /// `need TOOL` to report a missing tool as "could not check".
    fn script(&self, query: &Query) -> String;

    /// Read the script's output into facts. `Err` means the output could not be understood:
    /// the check ends in error, never in fail.
    fn parse(&self, query: &Query, output: &ExecOutput) -> Result<Facts, String>;

    /// A black-box kind probes from outside: from the grader by default, `from:` a role.
    fn black_box(&self) -> bool {
        false
    }

    /// The address a black-box probe will contact, so that the runner can refuse any
    /// address that is not one of the candidate's machines.
    fn destination(&self, _query: &Query) -> Result<String, String> {
        Err(format!("`{}` does not contact anything", self.name()))
    }

    /// Probe from the grader itself, waiting at most `wait` for an answer.
    async fn observe(
        &self,
        _query: &Query<'_>,
        _wait: std::time::Duration,
    ) -> Result<Observation, String> {
        Err(format!("`{}` is not a black-box kind", self.name()))
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_their_parameters_have_one_name_each() {
        let mut kinds: Vec<String> = KINDS
            .iter()
            .map(|k| format!("{} {}", k.name(), k.host_os()))
            .collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), KINDS.len(), "two kinds share a name");
        for kind in KINDS {
            let mut names: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(
                names.len(),
                kind.params().len(),
                "`{}` has two parameters of one name",
                kind.name()
            );
            for name in names {
                assert!(
                    !crate::lab::COMMON_OPTIONS.contains(&name),
                    "`{}` has a parameter named like the common option `{name}`",
                    kind.name()
                );
            }
        }
    }
}
