//! Every shipped lab, calibrated on real hosts: its answer key scores 20/20, a fresh install
//! at most 2/20, and a host with the typical mistakes loses exactly the tasks it should.
//!
//! Each `labs/LAB.yaml` has a folder `tests/calibration/LAB/` holding `calibration.yaml`:
//!
//! ```yaml
//! lab: labs/LAB.yaml
//! roles: [srv, client]          # the lab's roles to boot, one test host each
//! vars: { site: x }             # optional: the candidate's vars (the run gets an inventory)
//! reference: { srv: reference-srv.sh }   # setup scripts of the answer key, per role
//! fresh: {}                     # fresh hosts: no setup, unless a role needs one (say why)
//! mistakes:
//!   setup: { srv: mistakes-srv.sh }      # run after the reference script of that role
//!   lost: [task-id]             # exactly the tasks that must not pass
//! ```
//!
//! and the bash scripts it names, run as root inside each test host once it has booted. A
//! role may name a list of scripts: they run as one, in order (what the first defines, the
//! next can use). The secrets the lab's probes log in with get a value of the driver's: the
//! scripts read it from `LABGRADE_SECRET_NAME` (exported before they run), and the run from
//! the same variable.
//!
//! Windows servers and IOS devices cannot run here. A lab for them says `recorded: true`,
//! and each scenario names, per role, folders of recorded answers under `tests/recorded/`
//! (see its README) instead of scripts: the first folder that holds an answer gives it, and
//! the mistakes' folders come before the reference's. Such a lab is graded by the real runner
//! in this process, on a transport that replays the recordings and answers only the exact
//! commands labgrade is expected to send (tests/support/replay.rs).
//!
//! `LABGRADE_CALIBRATE=LAB` calibrates that lab alone, while writing one.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, RwLock};

use labgrade::results::{Results, TaskVerdict, Verdict};
use serde::Deserialize;
use support::{TestHost, grader_key, recorded, replay};

/// Labs calibrated at once: each boots 3 hosts a role, and services such as mariadb or samba
/// take a core for a while as they start.
const LABS_AT_ONCE: usize = 3;

/// A fresh install may earn this much out of 20, no more.
const FRESH_MAX: f64 = 2.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Calibration {
    lab: PathBuf,
    roles: Vec<String>,
    #[serde(default)]
    vars: BTreeMap<String, serde_json::Value>,
    reference: BTreeMap<String, Steps>,
    #[serde(default)]
    fresh: BTreeMap<String, Steps>,
    mistakes: Mistakes,
    /// The lab's hosts cannot run here: the scenarios name folders of recorded answers.
    #[serde(default)]
    recorded: bool,
    /// The lab's hosts take fixed addresses of their own on the shared bridge (a router's
    /// public address): its scenarios run one after another, with no other lab's hosts up.
    #[serde(default)]
    alone: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mistakes {
    #[serde(default)]
    setup: BTreeMap<String, Steps>,
    lost: Vec<String>,
}

/// What sets up one role: a script (or folder of recordings), or several in order.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Steps {
    One(String),
    Many(Vec<String>),
}

impl Steps {
    fn list(&self) -> &[String] {
        match self {
            Steps::One(one) => std::slice::from_ref(one),
            Steps::Many(many) => many,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Reference,
    Fresh,
    Mistakes,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::Reference, Variant::Fresh, Variant::Mistakes];

    fn name(self) -> &'static str {
        match self {
            Variant::Reference => "reference",
            Variant::Fresh => "fresh",
            Variant::Mistakes => "mistakes",
        }
    }

    /// A hostname label: a fresh Debian install has some name too.
    fn short(self) -> &'static str {
        match self {
            Variant::Reference => "ref",
            Variant::Fresh => "fresh",
            Variant::Mistakes => "mist",
        }
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A lab ready to calibrate: its file, its calibration and its folder.
struct Case {
    id: String,
    lab_path: PathBuf,
    calibration: Calibration,
    dir: PathBuf,
    lab: labgrade::lab::Lab,
}

impl Case {
    /// Reads `tests/calibration/ID/calibration.yaml` and checks it against the lab.
    fn read(lab_path: &Path) -> Result<Case, String> {
        let lab = labgrade::lab::load(lab_path)
            .map_err(|e| format!("{}: does not load: {e}", lab_path.display()))?;
        let dir = root().join("tests/calibration").join(&lab.id);
        let file = dir.join("calibration.yaml");
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "lab {} has no calibration: {} ({e})",
                lab.id,
                file.strip_prefix(root()).unwrap_or(&file).display()
            )
        })?;
        let calibration: Calibration =
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut wrong = Vec::new();
        if root().join(&calibration.lab) != lab_path {
            wrong.push(format!(
                "`lab: {}` should be labs/{}",
                calibration.lab.display(),
                lab_path.file_name().unwrap().to_string_lossy()
            ));
        }
        for role in &calibration.roles {
            if lab.role(role).is_none() {
                wrong.push(format!("`roles`: the lab has no role `{role}`"));
            }
        }
        for required in lab.roles.iter().filter(|r| !r.optional) {
            if !calibration.roles.contains(&required.name) {
                wrong.push(format!("`roles`: the lab needs `{}`", required.name));
            }
        }
        let scripts = [
            ("reference", &calibration.reference),
            ("fresh", &calibration.fresh),
            ("mistakes.setup", &calibration.mistakes.setup),
        ];
        for (key, scripts) in scripts {
            for (role, steps) in scripts {
                if !calibration.roles.contains(role) {
                    wrong.push(format!("`{key}`: `{role}` is not among `roles`"));
                }
                if steps.list().is_empty() {
                    wrong.push(format!("`{key}`: `{role}` has an empty list"));
                }
                for step in steps.list() {
                    if calibration.recorded {
                        if !recorded().join(step).is_dir() {
                            wrong.push(format!("`{key}`: no folder tests/recorded/{step}"));
                        }
                    } else if !dir.join(step).is_file() {
                        wrong.push(format!("`{key}`: no script {step}"));
                    }
                }
            }
        }
        if calibration.recorded {
            // Nothing to boot: every scenario says what each machine answers.
            for role in &calibration.roles {
                for (key, steps) in [
                    ("reference", &calibration.reference),
                    ("fresh", &calibration.fresh),
                ] {
                    if !steps.contains_key(role) {
                        wrong.push(format!("`{key}`: no recordings for `{role}`"));
                    }
                }
            }
        }
        for task in &calibration.mistakes.lost {
            if !lab.tasks.iter().any(|t| &t.id == task) {
                wrong.push(format!("`mistakes.lost`: the lab has no task `{task}`"));
            }
        }
        if calibration.mistakes.lost.is_empty() {
            wrong.push("`mistakes.lost` is empty: a mistake must cost a task".to_string());
        }
        if !wrong.is_empty() {
            return Err(format!("{}:\n  {}", file.display(), wrong.join("\n  ")));
        }
        Ok(Case {
            id: lab.id.clone(),
            lab_path: lab_path.to_path_buf(),
            calibration,
            dir,
            lab,
        })
    }

    /// The secrets the lab's checks name, each with the value this calibration gives it.
    fn secrets(&self) -> BTreeMap<String, String> {
        let mut secrets = BTreeMap::new();
        for task in &self.lab.tasks {
            for check in &task.checks {
                if let Some(name) = check.inputs.get("secret") {
                    // Letters, digits and punctuation a shell or a config file must quote.
                    let value = format!("Cal1b-{name}-'p4ss\" w0rd");
                    secrets.insert(labgrade::secrets::env_name(name), value);
                }
            }
        }
        secrets
    }

    /// The setup script of one role in one variant.
    fn script(&self, variant: Variant, role: &str) -> String {
        // A role's list of scripts runs as one.
        let read = |steps: &Steps| {
            let texts: Vec<String> = steps
                .list()
                .iter()
                .map(|name| {
                    std::fs::read_to_string(self.dir.join(name))
                        .unwrap_or_else(|e| panic!("{}: {e}", self.dir.join(name).display()))
                })
                .collect();
            texts.join("\n")
        };
        let c = &self.calibration;
        let parts: Vec<String> = match variant {
            Variant::Reference => c.reference.get(role).map(read).into_iter().collect(),
            Variant::Fresh => c.fresh.get(role).map(read).into_iter().collect(),
            Variant::Mistakes => [c.reference.get(role), c.mistakes.setup.get(role)]
                .into_iter()
                .flatten()
                .map(read)
                .collect(),
        };
        if parts.is_empty() {
            return String::new();
        }
        let mut script = String::new();
        for (var, value) in self.secrets() {
            writeln!(script, "export {var}={}", shell_quote(&value)).unwrap();
        }
        script.push_str("set -e\nmkdir -p /run/labgrade-calibration\n");
        for (i, part) in parts.iter().enumerate() {
            // Each part from its own file, in its own bash: `exit` in one ends only it, a
            // failure there fails the whole setup, and its commands keep their stdin.
            let file = format!("/run/labgrade-calibration/{}-{i}.sh", variant.name());
            writeln!(
                script,
                "cat > {file} <<'LABGRADE_CALIBRATION_PART'\n{part}\nLABGRADE_CALIBRATION_PART\nbash -e {file} </dev/null"
            )
            .unwrap();
        }
        script
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Grades the recorded answers of one variant's machines with the real runner.
fn grade_recorded(case: &Case, variant: Variant) -> Result<Results, String> {
    let c = &case.calibration;
    let hosts: Vec<(String, Vec<String>)> = c
        .roles
        .iter()
        .map(|role| {
            let mut layers: Vec<String> = Vec::new();
            if variant == Variant::Mistakes {
                layers.extend_from_slice(c.mistakes.setup.get(role).map_or(&[], Steps::list));
            }
            let own = match variant {
                Variant::Fresh => &c.fresh,
                Variant::Reference | Variant::Mistakes => &c.reference,
            };
            layers.extend_from_slice(own.get(role).map_or(&[], Steps::list));
            (role.clone(), layers)
        })
        .collect();
    let graded = replay::grade(&case.lab_path, &c.vars, &hosts);
    let unanswered: Vec<&String> = graded
        .sent
        .iter()
        .flat_map(|(_, sent)| sent)
        .filter(|s| s.starts_with(replay::UNANSWERED))
        .collect();
    if !unanswered.is_empty() {
        return Err(format!(
            "{}: commands no recording answers: {unanswered:?}",
            variant.name()
        ));
    }
    Ok(graded.results)
}

/// Boots the hosts of one variant and grades them with the real binary.
fn grade(case: &Case, variant: Variant) -> Result<Results, String> {
    if case.calibration.recorded {
        return grade_recorded(case, variant);
    }
    let hosts: Vec<(String, TestHost)> = std::thread::scope(|s| {
        let started: Vec<_> = case
            .calibration
            .roles
            .iter()
            .map(|role| {
                let script = case.script(variant, role);
                // A hostname label: a-z, 0-9 and '-' only, whatever the role is called.
                let label: String = role
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect();
                let name = format!("{label}-{}", variant.short());
                let role = role.clone();
                s.spawn(move || (role, TestHost::start(&name, &script)))
            })
            .collect();
        started.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    })
    .into_iter()
    .collect::<Result<_, _>>()
    .map_err(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("a host of {} did not start: {text}", variant.name())
    })?;
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known_hosts");
    let lines: String = hosts
        .iter()
        .map(|(_, h)| format!("{}\n", h.known_hosts_line()))
        .collect();
    std::fs::write(&known, lines).unwrap();
    let key = grader_key();
    let out_dir = dir.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labgrade"));
    cmd.arg("run")
        .arg(&case.lab_path)
        .arg("--identity")
        .arg(&key)
        .arg("--known-hosts")
        .arg(&known)
        .arg("--out")
        .arg(&out_dir)
        .env_remove("SSH_AUTH_SOCK")
        .envs(case.secrets());
    let results_file = if case.calibration.vars.is_empty() {
        for (role, host) in &hosts {
            cmd.arg("--host")
                .arg(format!("{role}=root@{}", host.address));
        }
        cmd.arg("--candidate").arg(variant.name());
        out_dir.join("results.json")
    } else {
        let candidate = serde_json::json!({
            "defaults": { "user": "root" },
            "candidates": [{
                "id": variant.name(),
                "hosts": hosts.iter().map(|(r, h)| (r.clone(), h.address.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                "vars": case.calibration.vars,
            }],
        });
        let inventory = dir.path().join("inventory.yaml");
        // JSON is YAML.
        std::fs::write(&inventory, candidate.to_string()).unwrap();
        cmd.arg("--inventory").arg(&inventory);
        out_dir.join(variant.name()).join("results.json")
    };
    let out = cmd.output().unwrap();
    let text = std::fs::read_to_string(&results_file).map_err(|e| {
        format!(
            "{}: no results ({e}); labgrade exited {}\n{}{}",
            variant.name(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    drop(hosts);
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", results_file.display()))
}

/// What is wrong with one variant's results, if anything.
fn judge(case: &Case, variant: Variant, results: &Results) -> Option<String> {
    let lab = &results.labs[0];
    let not_passed: BTreeSet<&str> = lab
        .tasks
        .iter()
        .filter(|t| t.verdict != TaskVerdict::Pass)
        .map(|t| t.id.as_str())
        .collect();
    let (wrong, shown): (Option<String>, BTreeSet<&str>) = match variant {
        Variant::Reference => (
            (!not_passed.is_empty() || lab.mark != 20.0)
                .then(|| format!("scored {}/20, expected 20/20", lab.mark)),
            not_passed.clone(),
        ),
        Variant::Fresh => (
            (lab.mark > FRESH_MAX)
                .then(|| format!("scored {}/20, expected at most {FRESH_MAX}", lab.mark)),
            lab.tasks
                .iter()
                .filter(|t| t.earned > 0.0)
                .map(|t| t.id.as_str())
                .collect(),
        ),
        Variant::Mistakes => {
            let lost: BTreeSet<&str> = case
                .calibration
                .mistakes
                .lost
                .iter()
                .map(String::as_str)
                .collect();
            (
                (not_passed != lost).then(|| {
                    format!("tasks not passed: {not_passed:?}, expected exactly {lost:?}")
                }),
                not_passed.symmetric_difference(&lost).copied().collect(),
            )
        }
    };
    let wrong = wrong?;
    let mut text = format!("{} {}: {wrong}\n", case.id, variant.name());
    for task in lab.tasks.iter().filter(|t| shown.contains(t.id.as_str())) {
        writeln!(
            text,
            "  task {}: {:?}, {}/{}{}",
            task.id,
            task.verdict,
            task.earned,
            task.points,
            task.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
        .unwrap();
        for check in &task.checks {
            let mark = if check.verdict == Verdict::Pass {
                "pass"
            } else if check.verdict == Verdict::Fail {
                "FAIL"
            } else {
                "ERROR"
            };
            writeln!(
                text,
                "    {mark} [{}] {}{}",
                check.role,
                check.label,
                check
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
            .unwrap();
        }
    }
    Some(text)
}

fn calibrate(case: &Case) -> Vec<String> {
    let outcomes: Vec<_> = if case.calibration.alone {
        Variant::ALL.iter().map(|&v| (v, grade(case, v))).collect()
    } else {
        std::thread::scope(|s| {
            let runs: Vec<_> = Variant::ALL
                .iter()
                .map(|&v| s.spawn(move || (v, grade(case, v))))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        })
    };
    let mut failures = Vec::new();
    for (variant, outcome) in outcomes {
        match outcome {
            Ok(results) => {
                let lab = &results.labs[0];
                eprintln!(
                    "{} {}: {}/20",
                    case.id,
                    variant.name(),
                    labgrade::expect::format_number(lab.mark)
                );
                failures.extend(judge(case, variant, &results));
            }
            Err(e) => failures.push(format!("{} {}: {e}", case.id, variant.name())),
        }
    }
    failures
}

/// The shipped labs, or the one `LABGRADE_CALIBRATE` names.
fn lab_files() -> Vec<PathBuf> {
    let only = std::env::var("LABGRADE_CALIBRATE").ok();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("labs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| {
            only.as_deref()
                .is_none_or(|id| p.file_stem().is_some_and(|s| s == id))
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no lab to calibrate (LABGRADE_CALIBRATE={only:?})"
    );
    paths
}

/// Calibration folders whose lab is gone (renamed or removed): they would calibrate nothing.
fn orphans(labs: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("tests/calibration")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !labs
            .iter()
            .any(|p| p.file_stem().is_some_and(|s| *s == *name))
        {
            found.push(format!(
                "tests/calibration/{name}: no lab labs/{name}.yaml to calibrate"
            ));
        }
    }
    found
}

#[test]
fn every_shipped_lab_is_calibrated() {
    let mut failures = Vec::new();
    let mut cases = Vec::new();
    let labs = lab_files();
    for path in &labs {
        match Case::read(path) {
            Ok(case) => cases.push(case),
            Err(e) => failures.push(e),
        }
    }
    if std::env::var_os("LABGRADE_CALIBRATE").is_none() {
        failures.extend(orphans(&labs));
    }
    let queue = Mutex::new(cases.iter());
    let found = Mutex::new(Vec::new());
    // Labs that need the bridge to themselves take it whole; the others share it.
    let bridge = RwLock::new(());
    std::thread::scope(|s| {
        for _ in 0..LABS_AT_ONCE {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some(case) = next else { break };
                    let f = if case.calibration.alone {
                        let _whole = bridge.write().unwrap();
                        calibrate(case)
                    } else {
                        let _shared = bridge.read().unwrap();
                        calibrate(case)
                    };
                    found.lock().unwrap().extend(f);
                }
            });
        }
    });
    failures.extend(found.into_inner().unwrap());
    assert!(
        failures.is_empty(),
        "{} calibration failure(s):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
