//! The getent lookup that `user` and `group` share: its script lines and the reading of its answer.

use crate::transport::{ExecOutput, shell_quote};

/// Lines that look `name` up in `database` (passwd, group) into `$line`, print it as
/// `DATABASE=entry`, and stop with `exists=no` when getent says there is no such entry (exit 2).
pub fn lookup(database: &str, name: &str) -> String {
    let name = shell_quote(name);
    format!(
        "name={name}\n\
         need getent\n\
         line=$(getent {database} -- \"$name\"); rc=$?\n\
         [ \"$rc\" -eq 2 ] && {{ echo exists=no; exit 0; }}\n\
         [ \"$rc\" -eq 0 ] || exit \"$rc\"\n\
         printf '{database}=%s\\n' \"$line\"\n"
    )
}

/// The entry printed by [`lookup`]: `Ok(None)` when there is none, `Err` when getent failed
/// or answered what the probe cannot read.
pub fn entry<'a>(
    database: &str,
    output: &ExecOutput,
    stdout: &'a str,
) -> Result<Option<&'a str>, String> {
    if output.exit_code != Some(0) {
        return Err(match output.stderr_text().trim() {
            "" => format!("getent failed (exit {:?})", output.exit_code),
            reason => reason.to_string(),
        });
    }
    let prefix = format!("{database}=");
    match stdout.lines().find_map(|l| l.strip_prefix(prefix.as_str())) {
        Some(entry) => Ok(Some(entry)),
        None if stdout.trim() == "exists=no" => Ok(None),
        None => Err(format!("unexpected answer from getent: {stdout:?}")),
    }
}
