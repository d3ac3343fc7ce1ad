//! Running the machine's own tools (ip, ssh-keygen) with failures turned into readable messages.

use std::process::{Command, Stdio};

/// Runs `program args...` and returns its standard output, or a message naming the command
/// and quoting its standard error.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Like [`run`], for set-up steps where a failure leaves nothing sensible to do but panic.
pub fn must(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("labgrade test host: {e}"))
}
