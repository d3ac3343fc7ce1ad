//! Real test hosts for integration tests: systemd containers with their own sshd on a test bridge.
//!
//! Include with `mod support;` from a file in tests/. See README.md beside this file.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, unused_imports)]

mod cgroup;
mod cmd;
mod container;
mod host;
mod keys;
mod machine;
mod net;
mod preflight;
mod proc_id;
pub mod replay;
mod rootfs;
mod slots;

pub use host::TestHost;
pub use keys::{grader_key, wrong_key};
pub use net::{silent_address, unreachable_address};
pub use replay::recorded;

/// Each check of the first lab of a results.json as `TASK from ROLE: VERDICT REASON`, in
/// order: what the host tests assert, exactly.
pub fn verdict_lines(results: &serde_json::Value) -> Vec<String> {
    let mut verdicts = Vec::new();
    for task in results["labs"][0]["tasks"].as_array().unwrap() {
        for check in task["checks"].as_array().unwrap() {
            verdicts.push(format!(
                "{} from {}: {} {}",
                task["id"].as_str().unwrap(),
                check["role"].as_str().unwrap(),
                check["verdict"].as_str().unwrap(),
                check["reason"].as_str().unwrap_or("")
            ));
        }
    }
    verdicts
}
