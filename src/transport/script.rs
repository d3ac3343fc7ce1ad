//! The envelope every check script travels in: C locale, a `need` helper, and a deadline enforced on the host.

use std::time::Duration;

/// Printed on stderr by `need TOOL` when the host lacks a tool a check relies on.
pub const MISSING_TOOL_MARKER: &str = "labgrade-missing-tool:";

/// Wrap a check script for `/bin/sh -s`.
///
/// The body runs under coreutils `timeout`, which signals its whole process group, so a
/// command that hangs is stopped on the host itself, not merely abandoned by the grader.
/// `LC_ALL=C` makes every tool answer in one language whatever the candidate installed.
/// The body reaches the inner shell in an environment variable, not as an argument: a
/// script may carry a password (to put in a 0600 file), and any user of the host can read
/// a process's arguments, while its environment is its owner's alone.
pub fn wrap(body: &str, timeout: Duration) -> String {
    let secs = timeout.as_secs_f64().max(0.1);
    let inner = format!(
        "need() {{ command -v \"$1\" >/dev/null 2>&1 || {{ printf '%s %s\\n' '{MISSING_TOOL_MARKER}' \"$1\" >&2; exit 127; }}; }}\n{body}\n"
    );
    let inner = shell_quote(&inner);
    let run = shell_quote(
        "labgrade_script=$LABGRADE_SCRIPT; unset LABGRADE_SCRIPT; eval \"$labgrade_script\"",
    );
    format!(
        "LC_ALL=C; LANG=C; export LC_ALL LANG\n\
         LABGRADE_SCRIPT={inner}; export LABGRADE_SCRIPT\n\
         if command -v timeout >/dev/null 2>&1; then exec timeout -k 1 {secs:.1} /bin/sh -c {run}; \
         else exec /bin/sh -c {run}; fi\n"
    )
}

/// Quote a value for a POSIX shell: every value put into a remote command goes through here.
pub fn shell_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn sh(script: &str) -> String {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn quoting_survives_hostile_values() {
        for value in [
            "plain",
            "it's",
            "$(touch /tmp/x)",
            "`id`",
            "a\nb",
            "\\'\"",
            "",
        ] {
            assert_eq!(sh(&format!("printf %s {}", shell_quote(value))), value);
        }
    }

    #[test]
    fn wrapped_script_runs_in_c_locale() {
        let out = sh(&wrap("echo \"$LC_ALL\"", Duration::from_secs(5)));
        assert_eq!(out, "C\n");
    }

    #[test]
    fn the_body_is_never_an_argument() {
        let out = sh(&wrap(
            "echo s3cret >/dev/null; tr '\\0' ' ' </proc/$$/cmdline; echo; env | grep -c s3cret",
            Duration::from_secs(5),
        ));
        let (cmdline, in_env) = out.split_once('\n').unwrap();
        assert!(!cmdline.contains("s3cret"), "{cmdline}");
        assert_eq!(in_env, "0\n");
    }

    #[test]
    fn need_reports_a_missing_tool() {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(wrap(
                "need no-such-tool-xyz; echo reached",
                Duration::from_secs(5),
            ))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{MISSING_TOOL_MARKER} no-such-tool-xyz\n")
        );
        assert!(out.stdout.is_empty());
    }
}
