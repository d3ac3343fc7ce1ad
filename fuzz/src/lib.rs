//! What the fuzz targets share: how a fuzzer's bytes become a host's answer to a probe, a
//! lab or a roster, and the invariants checked on what labgrade makes of them.
//!
//! A probe case is text a person can write as a seed:
//!
//! ```text
//! SUBJECT
//! INPUT=VALUE;INPUT=VALUE
//! EXIT CODE (empty: ended by a signal)
//! STDERR (one line)
//! STDOUT (the rest, any bytes)
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use labgrade::plan::{Candidate, Target};
use labgrade::probe::{self, Kind, Query, Role};
use labgrade::transport::ExecOutput;

/// A probe's script output as the fuzzer wrote it.
#[derive(Debug)]
pub struct ProbeCase {
    pub subject: String,
    pub inputs: BTreeMap<String, String>,
    pub output: ExecOutput,
}

impl ProbeCase {
    pub fn decode(data: &[u8]) -> ProbeCase {
        let mut rest = data;
        let mut line = || {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let text = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = rest.get(end + 1..).unwrap_or(&[]);
            text
        };
        let subject = line();
        let inputs = line()
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let exit_code = line().trim().parse::<i32>().ok();
        let stderr = line().into_bytes();
        ProbeCase {
            subject,
            inputs,
            output: ExecOutput {
                exit_code,
                stdout: rest.to_vec(),
                stderr,
                ..ExecOutput::default()
            },
        }
    }
}

/// Parse a host's answer with `kind`'s parser, every property wanted: it must not panic,
/// and every fact it reports must be one the kind declares (the judge looks facts up by
/// the names of the kind's parameters).
pub fn parse_probe(kind: &str, data: &[u8]) {
    let kind = probe::find(kind).expect("a kind labgrade knows");
    check_parse(kind, &ProbeCase::decode(data));
}

/// A target that serves several kinds (`remote_probe`: the black-box kinds run `from:` a
/// candidate's host; `windows_probe`: PowerShell's JSON; `ios_probe`: `show` output): the
/// first byte picks the kind, in the order of `labgrade::fuzzing::picked_kinds`.
pub fn parse_picked(target: &str, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let kinds = labgrade::fuzzing::picked_kinds(target);
    let kind = kinds[usize::from(pick) % kinds.len()];
    check_parse(kind, &ProbeCase::decode(rest));
}

fn check_parse(kind: &dyn Kind, case: &ProbeCase) {
    let declared: Vec<&str> = kind
        .params()
        .iter()
        .filter(|p| matches!(p.role, Role::Expect(_)))
        .map(|p| p.name)
        .collect();
    let query = Query {
        subject: &case.subject,
        inputs: &case.inputs,
        wants: &declared,
    };
    if let Ok(facts) = kind.parse(&query, &case.output) {
        for (name, fact) in &facts {
            assert!(
                declared.contains(name),
                "`{}` reported `{name}`, which it does not declare",
                kind.name()
            );
            let _ = fact.display();
        }
    }
}

/// Load a lab: an error names the file, line and column; a lab that loads can be planned
/// for a candidate on this machine without panicking.
pub fn load_lab(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A folder that does not exist, so `use:` finds no library here.
    let path = Path::new("/nonexistent-labgrade-fuzz/labs/lab.yaml");
    match labgrade::lab::load_str(path, text) {
        Ok(lab) => {
            let candidate = Candidate {
                id: "c01".into(),
                name: "c01".into(),
                vars: Default::default(),
                hosts: lab
                    .roles
                    .iter()
                    .map(|r| (r.name.clone(), Target::Local))
                    .collect(),
            };
            let _ = labgrade::plan::plan(&lab, &candidate, &[]);
        }
        Err(labgrade::lab::LoadError::Invalid(diags)) => {
            let shown = diags.to_string();
            assert!(
                shown.contains(&format!("--> {}:", path.display())),
                "an error that does not say where: {shown}"
            );
        }
        Err(e @ labgrade::lab::LoadError::Io { .. }) => panic!("a lab in memory read a file: {e}"),
    }
}

/// Load a roster, CSV when the first byte is odd, YAML otherwise: an error says where;
/// a roster that loads has unique, non-empty ids and ports that are not 0.
pub fn load_inventory(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let name = if pick % 2 == 1 {
        "class.csv"
    } else {
        "class.yaml"
    };
    let path = Path::new("/nonexistent-labgrade-fuzz").join(name);
    match labgrade::inventory::load_str(&path, text) {
        Ok(inventory) => {
            let mut ids: Vec<&str> = inventory.candidates.iter().map(|c| c.id.as_str()).collect();
            assert!(ids.iter().all(|id| !id.is_empty()), "an empty id");
            ids.sort_unstable();
            let count = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), count, "two candidates share an id");
            for host in inventory.candidates.iter().flat_map(|c| c.hosts.values()) {
                assert_ne!(host.port, 0, "port 0 accepted");
                assert!(!host.address.is_empty(), "an empty address accepted");
            }
        }
        Err(labgrade::inventory::InventoryError::Invalid(diags)) => {
            let shown = diags.to_string();
            assert!(
                shown.contains(&format!("--> {}:", path.display())),
                "an error that does not say where: {shown}"
            );
        }
        Err(e) => panic!("a roster in memory read a file: {e}"),
    }
}

/// The nonce of the batch targets; what a real batch draws is as long.
pub const NONCE: &str = "labgrade-00000000000000ab";

/// Cut a batch's raw output (stdout, then stderr after the first NUL byte): every section
/// found is a piece of what came back, never holds a closing line, and the sections' times
/// add up to no more than the batch's.
pub fn cut_batch(data: &[u8]) {
    let (stdout, stderr) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    // Arrivals every 7 bytes, 1 ms apart, as a slow host would send them.
    let arrivals: Vec<(usize, Duration)> = (1..=stdout.len().div_ceil(7))
        .map(|i| ((i * 7).min(stdout.len()), Duration::from_millis(i as u64)))
        .collect();
    let total = arrivals.last().map_or(Duration::ZERO, |(_, at)| *at);
    let output = ExecOutput {
        exit_code: Some(0),
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
        arrivals,
        ..ExecOutput::default()
    };
    let marker = format!("\n{NONCE} ");
    let mut spent = Duration::ZERO;
    for (_, section) in labgrade::fuzzing::batch_sections(NONCE, &output) {
        for (part, whole) in [(&section.stdout, stdout), (&section.stderr, stderr)] {
            assert!(contains(whole, part), "a section that did not come back");
            assert!(
                !contains(part, marker.as_bytes()),
                "a section holds a closing line"
            );
        }
        spent += section.duration;
    }
    assert!(
        spent <= total,
        "sections took {spent:?}, the batch {total:?}"
    );
}

/// Write sections in the batch's format, each a piece of the fuzzer's bytes, and cut them
/// back: what comes back is what was written, in order, exit codes included.
pub fn batch_round_trip(data: &[u8]) {
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut written = Vec::new();
    for (index, pair) in pieces.chunks(2).enumerate() {
        let out = pair[0];
        let err = pair.get(1).copied().unwrap_or_default();
        // A check's output that holds the nonce is the one case the format does not cover.
        if contains(out, NONCE.as_bytes()) || contains(err, NONCE.as_bytes()) {
            return;
        }
        let code = i32::from(out.first().copied().unwrap_or(0)) - 128;
        stdout.extend(out);
        stdout.extend(format!("\n{NONCE} {index} {code}\n").as_bytes());
        stderr.extend(err);
        stderr.extend(format!("\n{NONCE} {index}\n").as_bytes());
        written.push((index, code, out, err));
    }
    let output = ExecOutput {
        exit_code: Some(0),
        stdout,
        stderr,
        ..ExecOutput::default()
    };
    let found = labgrade::fuzzing::batch_sections(NONCE, &output);
    assert_eq!(found.len(), written.len(), "sections lost or added");
    for ((index, section), (want_index, code, out, err)) in found.iter().zip(&written) {
        assert_eq!(index, want_index);
        assert_eq!(section.exit_code, Some(*code));
        assert_eq!(section.stdout, *out);
        assert_eq!(section.stderr, *err);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
