//! What the fuzz targets in `fuzz/` reach that the library keeps private, and the format of
//! their probe cases, shared with the unit tests that record seeds: not an API.

use crate::lab::Os;
use crate::probe::{KINDS, Kind, Query};
use crate::transport::ExecOutput;

/// The sections of a batch's output, as [`run_batch`](crate::run::run_batch) cuts them: by
/// index, the output each check would have given alone.
pub fn batch_sections(nonce: &str, output: &ExecOutput) -> Vec<(usize, ExecOutput)> {
    crate::run::batch_sections(nonce, output)
}

/// The fuzz target that reads `kind`'s output: a target of its own for a Linux white-box
/// kind, else one shared by several kinds, whose first byte picks among [`picked_kinds`].
pub fn target_of(kind: &dyn Kind) -> String {
    if kind.black_box() {
        return "remote_probe".to_string();
    }
    match kind.host_os() {
        Os::Linux => format!("probe_{}", kind.name()),
        Os::Windows => "windows_probe".to_string(),
        Os::Ios => "ios_probe".to_string(),
    }
}

/// The kinds a shared target picks from with its first byte, in the registry's order.
pub fn picked_kinds(target: &str) -> Vec<&'static dyn Kind> {
    KINDS
        .iter()
        .copied()
        .filter(|k| target_of(*k) == target)
        .collect()
}

/// A probe case for `kind`'s target, as the targets decode it (`fuzz/src/lib.rs`): the pick
/// byte of a shared target, then the subject, `INPUT=VALUE;...`, the exit code (empty: ended
/// by a signal), one line of stderr, and stdout to the end.
pub fn encode_case(kind: &dyn Kind, query: &Query, output: &ExecOutput) -> Vec<u8> {
    let target = target_of(kind);
    let mut case = Vec::new();
    if !target.starts_with("probe_") {
        // Within one target, a name is one kind.
        let pick = picked_kinds(&target)
            .iter()
            .position(|k| k.name() == kind.name())
            .expect("a kind of its own target");
        case.push(u8::try_from(pick).expect("fewer than 256 kinds"));
    }
    let inputs: Vec<String> = query
        .inputs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    case.extend(
        format!(
            "{}\n{}\n{}\n{}\n",
            query.subject,
            inputs.join(";"),
            output.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            stderr.lines().collect::<Vec<_>>().join(" ")
        )
        .as_bytes(),
    );
    case.extend(&output.stdout);
    case
}
