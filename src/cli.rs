//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "labgrade",
    version,
    about = "Grade hands-on sysadmin practicals on real machines"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Grade labs; with no --host, every role is this machine (a self-test).
    Run(Box<RunArgs>),
    /// Check lab files without connecting anywhere.
    Validate {
        #[arg(required = true)]
        labs: Vec<PathBuf>,
    },
    /// The labs of a folder, by block, with their tasks and points.
    List {
        #[arg(default_value = "labs")]
        dir: PathBuf,
        /// A Markdown table instead (the README's lab table is generated with it).
        #[arg(long)]
        markdown: bool,
    },
    /// Render reports again from saved results (a run's --out folder), touching no host.
    Report {
        /// A folder with results.json, or a class folder with class.json.
        dir: PathBuf,
        /// Report formats, comma-separated: html,md,json,csv,moodle,junit (default: all).
        #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = Format::parse)]
        format: Vec<Format>,
        /// A folder of report templates replacing the built-in ones of the same name
        /// (candidate.html, class.html, base.html, style.css, candidate.md, class.md).
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
    },
    /// Check an exam's output folder against its MANIFEST.sha256: say whether any file
    /// changed, went missing or was added since the run (exit 0 intact, 1 changed).
    Verify {
        /// The output folder of `labgrade run --exam`.
        dir: PathBuf,
    },
    /// What a lab will check, for candidates (expected values withheld in exam labs).
    Explain { lab: PathBuf },
    /// The JSON Schema of the lab format, for editors.
    Schema,
    /// The lab author's guide to check kinds, in Markdown (the README's copy is generated from it).
    #[command(hide = true)]
    Guide,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Lab files; with none, the built-in self-test lab.
    pub labs: Vec<PathBuf>,
    /// The machine for a role: ROLE=[user@]address[:port] (repeatable).
    #[arg(long = "host", value_name = "ROLE=[USER@]ADDR[:PORT]")]
    pub hosts: Vec<String>,
    /// Exam mode: no hints; results written for the jury, sealed by MANIFEST.sha256
    /// (see `labgrade verify`).
    #[arg(long)]
    pub exam: bool,
    /// Where results go (created; an existing results file is never overwritten).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only these tasks (repeatable).
    #[arg(long = "only", value_name = "TASK")]
    pub only: Vec<String>,
    /// How the candidate is named in results; defaults to this machine's name or the first host.
    #[arg(long)]
    pub candidate: Option<String>,
    /// Private key for SSH; default: the agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// An environment variable holding an SSH password to try after keys.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// A YAML file of secret names to values (passwords probes log in with); the
    /// environment's LABGRADE_SECRET_NAME wins over it.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// The known_hosts file host keys are checked against.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Record the key of a host seen for the first time, instead of refusing it.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// How long to wait for a host to answer.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub connect_timeout: std::time::Duration,
    /// A class roster (YAML, or CSV `id,name,ROLE...`): grade every candidate in it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["hosts", "candidate"])]
    pub inventory: Option<PathBuf>,
    /// How many hosts are graded at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub jobs: u32,
    /// How long one host may take, all its checks included; what it has not done by then
    /// ends in error, and nobody else waits for it.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub host_deadline: std::time::Duration,
    /// Go on with a class run that stopped: grade only the candidates with no results in DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "retry_errors"])]
    pub resume: Option<PathBuf>,
    /// Grade again only the checks that ended in error in DIR's results, and merge.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub retry_errors: Option<PathBuf>,
    /// Reports written beside the results, comma-separated: html,md,json,csv,moodle,junit
    /// (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = Format::parse)]
    pub format: Vec<Format>,
    /// A folder of report templates replacing the built-in ones of the same name
    /// (candidate.html, class.html, base.html, style.css, candidate.md, class.md).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}
