//! `command: LINE`: run a lab author's command line and report its exit code and output.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Expect, Fact, NumberMatch, Shape};
use crate::transport::ExecOutput;

pub struct Command;

const PARAMS: &[Param] = &[
    Param::expect(
        "exit_code",
        Shape::Number,
        "the command's exit status; 0 when not given",
    ),
    Param::expect(
        "stdout",
        Shape::Text,
        "what it printed, without the final newlines",
    ),
    Param::expect(
        "stderr",
        Shape::Text,
        "what it printed on error output, without the final newlines",
    ),
];

#[async_trait::async_trait]
impl Kind for Command {
    fn name(&self) -> &'static str {
        "command"
    }

    fn subject(&self) -> &'static str {
        "a command line, run by /bin/sh"
    }

    fn doc(&self) -> &'static str {
        "A command line of the lab's own: its exit status and what it prints. It must only read."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some((
            "exit_code",
            Expect::Number(NumberMatch {
                eq: Some(0.0),
                ..Default::default()
            }),
        ))
    }

    /// The subject is the script itself, as the lab author wrote it: it is code, not a value,
    /// so it is not quoted, and nothing else is put next to it. Standard input is closed so
    /// that a command that reads it ends at once instead of waiting on the connection.
    fn script(&self, q: &Query) -> String {
        format!("exec </dev/null\n{}", q.subject)
    }

    fn parse(&self, _q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let code = output
            .exit_code
            .ok_or("the command gave no exit status (it was killed)")?;
        let mut facts = Facts::new();
        facts.insert("exit_code", Fact::Number(f64::from(code)));
        facts.insert("stdout", Fact::Text(chomp(output.stdout_text())));
        facts.insert("stderr", Fact::Text(chomp(output.stderr_text())));
        Ok(facts)
    }
}

/// Drop the final newlines, as the shell's `$(...)` does, so `stdout: Linux` matches `uname`.
fn chomp(mut text: String) -> String {
    let kept = text.trim_end_matches('\n').len();
    text.truncate(kept);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::run_locally;

    #[test]
    fn reports_status_and_both_streams() {
        let facts = run_locally(&Command, "echo out; echo err >&2; exit 3", &[], &[]).unwrap();
        assert_eq!(facts["exit_code"], Fact::Number(3.0));
        assert_eq!(facts["stdout"], Fact::Text("out".into()));
        assert_eq!(facts["stderr"], Fact::Text("err".into()));
    }

    #[test]
    fn runs_in_the_c_locale_with_a_closed_stdin() {
        let facts = run_locally(&Command, "echo \"$LC_ALL\"; cat", &[], &[]).unwrap();
        assert_eq!(facts["exit_code"], Fact::Number(0.0));
        assert_eq!(facts["stdout"], Fact::Text("C".into()));
    }

    #[test]
    fn a_pipeline_and_a_missing_command_are_the_candidates_answer() {
        let facts = run_locally(&Command, "printf 'a\\nb\\n\\n' | wc -l", &[], &[]).unwrap();
        assert_eq!(facts["stdout"], Fact::Text("3".into()));
        let facts = run_locally(&Command, "no-such-command-labgrade", &[], &[]).unwrap();
        assert_eq!(facts["exit_code"], Fact::Number(127.0));
        assert!(matches!(&facts["stderr"], Fact::Text(t) if t.contains("not found")));
    }

    #[test]
    fn no_exit_status_is_an_error() {
        let output = ExecOutput::default();
        let inputs = Default::default();
        let q = Query {
            subject: "true",
            inputs: &inputs,
            wants: &[],
        };
        assert!(Command.parse(&q, &output).is_err());
    }

    #[test]
    fn the_default_is_success() {
        let (name, expect) = Command.default_expect().unwrap();
        assert_eq!(name, "exit_code");
        assert_eq!(expect.judge(&Fact::Number(0.0)), Ok(true));
        assert_eq!(expect.judge(&Fact::Number(1.0)), Ok(false));
    }
}
