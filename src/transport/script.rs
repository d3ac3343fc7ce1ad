//! The envelope every check script travels in: C locale, a `need` helper, and a deadline enforced on the host.

use std::time::Duration;

/// Printed on stderr by `need TOOL` when the host lacks a tool a check relies on.
pub const MISSING_TOOL_MARKER: &str = "labgrade-missing-tool:";

/// Wrap a check script for `/bin/sh -s`.
///
/// The body runs under coreutils `timeout`, which signals its whole process group, so a
/// command that hangs is stopped on the host itself, not merely abandoned by the grader.
/// `LC_ALL=C` makes every tool answer in one language whatever the candidate installed.
/// The body reaches its shell through a here-document, never on a command line, so that
/// nothing it carries (a probe's password) shows in the host's process list; it then runs
/// with standard input from /dev/null, so a command that reads its input cannot swallow
/// the rest of the script. Only shell built-ins read it: a PATH without coreutils still
/// gets to the body, whose `need` says what is missing.
pub fn wrap(body: &str, timeout: Duration) -> String {
    let secs = timeout.as_secs_f64().max(0.1);
    let inner = format!(
        "need() {{ command -v \"$1\" >/dev/null 2>&1 || {{ printf '%s %s\\n' '{MISSING_TOOL_MARKER}' \"$1\" >&2; exit 127; }}; }}\n{body}\n"
    );
    let end = delimiter(&inner);
    format!(
        "LC_ALL=C; LANG=C; export LC_ALL LANG\n\
         if command -v timeout >/dev/null 2>&1; then t=\"timeout -k 1 {secs:.1}\"; else t=; fi\n\
         exec $t /bin/sh -c 'b=; while IFS= read -r l; do b=\"$b$l\n\"; done; exec </dev/null; eval \"$b\"' <<'{end}'\n\
         {inner}{end}\n"
    )
}

/// A here-document delimiter that no line of `text` can end early.
fn delimiter(text: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut n = 0u64;
    loop {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(n);
        let end = format!("LABGRADE_END_{:016x}", hasher.finish());
        if !text.lines().any(|line| line == end) {
            return end;
        }
        n += 1;
    }
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
        let (cmdline, in_env) = out.trim_end().rsplit_once('\n').unwrap();
        assert!(!cmdline.contains("s3cret"), "{cmdline}");
        assert_eq!(in_env, "0");
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

    #[test]
    fn the_body_never_shows_in_the_process_list() {
        use std::io::Write;
        let marker = "hunter2-a9f3c1";
        let script = wrap(
            &format!("sleep 1 # {marker}\nread line || echo stdin-is-empty"),
            Duration::from_secs(5),
        );
        let mut child = Command::new("/bin/sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).unwrap();
        stdin.write_all(b"echo after-the-script\n").unwrap();
        drop(stdin);
        std::thread::sleep(Duration::from_millis(400));
        for entry in std::fs::read_dir("/proc").unwrap() {
            let cmdline = std::fs::read(entry.unwrap().path().join("cmdline")).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&cmdline).contains(marker),
                "the body is on a command line: {}",
                String::from_utf8_lossy(&cmdline)
            );
        }
        let out = child.wait_with_output().unwrap();
        // The body read nothing of what followed it: `exec` ended the script there.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "stdin-is-empty\n");
    }
}
