//! Machines that cannot run here (Windows servers, IOS devices) answered from recordings
//! kept in tests/recorded/ (see its README), graded by the real runner in this process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use labgrade::plan::{Candidate, Target};
use labgrade::probe::POWERSHELL;
use labgrade::results::{Mode, Results};
use labgrade::run::{RunOptions, grade_on, plans};
use labgrade::secrets::Secrets;
use labgrade::transport::{ExecOutput, SshOptions, Transport, TransportError};

/// The folder of recorded answers.
pub fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/recorded")
}

/// How [`Replay::sent`] lists a command that no recording answers.
pub const UNANSWERED: &str = "UNANSWERED";

/// A host that answers from recordings: `layers` are searched in order (a faulty scenario
/// overrides a few answers of its reference). A PowerShell command line is decoded and
/// must be, byte for byte, one of the scripts in `windows/scripts/`; an IOS command names
/// its file (`show ip route` is `show_ip_route.txt`). Every command is kept, in order.
pub struct Replay {
    name: String,
    layers: Vec<PathBuf>,
    sent: Mutex<Vec<String>>,
}

impl Replay {
    /// `layers` are folders under tests/recorded/.
    pub fn new(name: &str, layers: &[impl AsRef<str>]) -> Arc<Replay> {
        Arc::new(Replay {
            name: name.to_string(),
            layers: layers.iter().map(|l| recorded().join(l.as_ref())).collect(),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// The recordings asked for, in order; `UNANSWERED what` for a command none answers.
    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }

    /// The name of the recording that answers `command`.
    fn key(&self, command: &str) -> Result<String, String> {
        let Some(encoded) = command.strip_prefix(POWERSHELL) else {
            return Ok(format!("{}.txt", command.replace(' ', "_")));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("not base64: {e}"))?;
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let script = String::from_utf16(&units).map_err(|e| format!("not UTF-16LE: {e}"))?;
        let scripts = recorded().join("windows/scripts");
        for entry in std::fs::read_dir(&scripts).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::read_to_string(&path).unwrap() == script {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                return Ok(format!("{stem}.json"));
            }
        }
        if let Ok(dir) = std::env::var("LABGRADE_DUMP_SCRIPTS") {
            let n = std::fs::read_dir(&dir).map_or(0, |d| d.count());
            std::fs::write(Path::new(&dir).join(format!("{n:02}.ps1")), &script).unwrap();
        }
        Err(format!("an unexpected PowerShell script:\n{script}"))
    }

    fn unanswered(&self, what: String) -> TransportError {
        self.sent
            .lock()
            .unwrap()
            .push(format!("{UNANSWERED} {what}"));
        TransportError::Spawn(what)
    }
}

#[async_trait::async_trait]
impl Transport for Replay {
    async fn connect(&self) -> Result<(), TransportError> {
        Ok(())
    }

    async fn exec_capped(
        &self,
        script: &str,
        _timeout: Duration,
        _cap: usize,
    ) -> Result<ExecOutput, TransportError> {
        Err(self.unanswered(format!("POSIX script: {script}")))
    }

    async fn exec_command(
        &self,
        command: &str,
        _timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let key = self.key(command).map_err(|e| self.unanswered(e))?;
        let found = self
            .layers
            .iter()
            .map(|l| l.join(&key))
            .find(|p| p.exists());
        let Some(path) = found else {
            return Err(self.unanswered(format!("no recording {key}")));
        };
        self.sent.lock().unwrap().push(key);
        Ok(ExecOutput {
            exit_code: Some(0),
            stdout: std::fs::read(path).unwrap(),
            ..ExecOutput::default()
        })
    }

    fn describe(&self) -> String {
        format!("replay {}", self.name)
    }
}

/// Grade `lab` (a path) for a candidate with `vars`, each role on its replaying host, as
/// `labgrade run` would in practice mode.
pub fn grade_replays(
    lab: &Path,
    vars: &BTreeMap<String, serde_json::Value>,
    hosts: &[(&str, Arc<Replay>)],
) -> Results {
    let lab = labgrade::lab::load(lab).unwrap_or_else(|e| panic!("{}: {e}", lab.display()));
    let candidate = Candidate {
        id: "c01".into(),
        name: "Alice Martin".into(),
        vars: vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        hosts: hosts
            .iter()
            .map(|(r, _)| (r.to_string(), Target::Local))
            .collect(),
    };
    let options = RunOptions {
        mode: Mode::Practice,
        hosts_at_once: Arc::new(tokio::sync::Semaphore::new(4)),
        host_deadline: Duration::from_secs(30),
        watch: Arc::default(),
        ssh: SshOptions {
            identity: None,
            password_env: None,
            known_hosts: PathBuf::from("/nonexistent"),
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(1),
        },
        only: Vec::new(),
        secrets: Arc::new(Secrets::default()),
    };
    let transports: BTreeMap<String, Arc<dyn Transport>> = hosts
        .iter()
        .map(|(r, t)| (r.to_string(), Arc::clone(t) as Arc<dyn Transport>))
        .collect();
    let labs = [lab];
    let plans = plans(&labs, &candidate, &[]).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(grade_on(
        &labs, &plans, &candidate, &options, None, transports,
    ))
}

/// A lab graded on recordings, and what each role's host was asked.
pub struct Graded {
    pub results: Results,
    pub sent: Vec<(String, Vec<String>)>,
}

/// Grade `lab` with each role answered by its folders of recordings (first found wins).
pub fn grade(
    lab: &Path,
    vars: &BTreeMap<String, serde_json::Value>,
    hosts: &[(String, Vec<String>)],
) -> Graded {
    let replays: Vec<(&str, Arc<Replay>)> = hosts
        .iter()
        .map(|(role, layers)| (role.as_str(), Replay::new(role, layers)))
        .collect();
    let results = grade_replays(lab, vars, &replays);
    Graded {
        results,
        sent: replays
            .iter()
            .map(|(role, r)| (role.to_string(), r.sent()))
            .collect(),
    }
}
