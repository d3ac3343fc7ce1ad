//! `cron: USER`: the jobs cron runs as a user, from their crontab and from the system's.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Expect, Fact, ListMatch, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Cron;

const PARAMS: &[Param] = &[
    Param::expect(
        "entries",
        Shape::List,
        "the user's jobs, one a line: \"0 2 * * * /usr/local/bin/backup\"; some when not given",
    ),
    Param::expect(
        "entry",
        Shape::Text,
        "one job line satisfies this: the jobs joined by newlines, so ^ and $ anchor each",
    ),
];

const FILE: &str = "#labgrade:file ";
const CRONTAB: &str = "#labgrade:crontab ";

#[async_trait::async_trait]
impl Kind for Cron {
    fn name(&self) -> &'static str {
        "cron"
    }

    fn subject(&self) -> &'static str {
        "a user name"
    }

    fn doc(&self) -> &'static str {
        "The cron jobs that run as a user: their crontab, and the lines of /etc/crontab and \
         /etc/cron.d that name them, written without the user field so all read alike."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        None
    }

    fn default_expect(&self) -> Option<(&'static str, Expect)> {
        Some((
            "entries",
            Expect::List(ListMatch {
                matches: Some(".".into()),
                ..Default::default()
            }),
        ))
    }

    /// The system files come first (each ended by a newline of ours, in case its last line
    /// has none) and the user's crontab last, after its exit status, so that nothing in the
    /// crontab can pass for a system file. Backups and editor leftovers
    /// in /etc/cron.d are skipped, as cron skips them.
    fn script(&self, q: &Query) -> String {
        let user = shell_quote(q.subject);
        format!(
            "u={user}\n\
             need crontab\n\
             for f in /etc/crontab /etc/cron.d/*; do\n\
             \x20 [ -f \"$f\" ] || continue\n\
             \x20 case ${{f##*/}} in .*|*~|*.dpkg-*|*.ucf-*|*.rpmsave|*.rpmnew|*.rpmorig|*.swp) continue ;; esac\n\
             \x20 printf '{FILE}%s\\n' \"$f\"\n\
             \x20 cat -- \"$f\" || exit\n\
             \x20 echo\n\
             done\n\
             tab=$(crontab -l -u \"$u\" 2>&1); rc=$?\n\
             printf '{CRONTAB}%s\\n' \"$rc\"\n\
             printf '%s\\n' \"$tab\"\n"
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        if output.exit_code != Some(0) {
            return Err(match output.stderr_text().trim() {
                "" => format!(
                    "reading the cron tables failed (exit {:?})",
                    output.exit_code
                ),
                reason => reason.to_string(),
            });
        }
        let stdout = output.stdout_text();
        let (system, rest) = match stdout.find(&format!("\n{CRONTAB}")) {
            Some(at) => (&stdout[..at], &stdout[at + 1..]),
            None if stdout.starts_with(CRONTAB) => ("", stdout.as_str()),
            None => return Err(format!("unexpected answer: {stdout:?}")),
        };
        let (status, crontab) = rest[CRONTAB.len()..]
            .split_once('\n')
            .unwrap_or((&rest[CRONTAB.len()..], ""));
        let mut entries = Vec::new();
        match status {
            "0" => entries.extend(
                crontab
                    .lines()
                    .filter_map(|l| job(l).map(|(s, c)| join(&s, c))),
            ),
            // Without a crontab, or without such a user, there are simply no jobs.
            _ if crontab.contains("no crontab for") || crontab.contains("unknown") => {}
            _ if crontab.contains("must be privileged") => {
                return Err("reading another user's crontab needs root on this host".into());
            }
            _ => return Err(format!("crontab failed: {}", crontab.trim())),
        }
        for line in system.lines().filter(|l| !l.starts_with(FILE)) {
            let Some((schedule, rest)) = job(line) else {
                continue;
            };
            let (user, command) = first_word(rest);
            if user == q.subject {
                entries.push(join(&schedule, command.trim_start()));
            }
        }
        let mut facts = Facts::new();
        facts.insert("entry", Fact::Text(entries.join("\n")));
        facts.insert("entries", Fact::List(entries));
        Ok(facts)
    }
}

/// A job line's schedule (five fields, or one `@daily`-like word) with single spaces, and
/// what follows it. Comments, blank lines and variable assignments (`MAILTO=x`) are not jobs:
/// a job starts with a digit, `*` or `@`.
fn job(line: &str) -> Option<(String, &str)> {
    let line = line.trim();
    let fields = match line.chars().next()? {
        '@' => 1,
        '*' | '0'..='9' => 5,
        _ => return None,
    };
    let mut schedule = Vec::new();
    let mut rest = line;
    for _ in 0..fields {
        let (field, after) = first_word(rest);
        if field.is_empty() {
            return None;
        }
        schedule.push(field);
        rest = after;
    }
    Some((schedule.join(" "), rest.trim_start()))
}

fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    text.split_at(text.find(char::is_whitespace).unwrap_or(text.len()))
}

fn join(schedule: &str, command: &str) -> String {
    format!("{schedule} {}", command.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::TextMatch;
    use crate::probe::testing::{parse_canned, run_locally};

    /// /etc/crontab and /etc/cron.d/e2scrub_all of this Debian machine, then a crontab.
    const TABLES: &str = "#labgrade:file /etc/crontab
# /etc/crontab: system-wide crontab
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
#labgrade:file /etc/cron.d/e2scrub_all
30 3 * * 0 root test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron
@reboot alice /usr/local/bin/warm-cache
#labgrade:crontab 0
# m h  dom mon dow   command
MAILTO = alice@example.org
0  2 * * 1-5   /usr/local/bin/backup --full
*/5 * * * * /usr/bin/true
";

    #[test]
    fn system_lines_lose_their_user_field() {
        let facts = parse_canned(&Cron, "root", &[], 0, TABLES, "").unwrap();
        let Fact::List(entries) = &facts["entries"] else {
            panic!("entries is a list");
        };
        assert!(entries.contains(&"17 * * * * cd / && run-parts --report /etc/cron.hourly".into()));
        assert_eq!(entries.len(), 5);
    }

    #[test]
    fn the_users_crontab_and_their_system_lines() {
        let facts = parse_canned(&Cron, "alice", &[], 0, TABLES, "").unwrap();
        assert_eq!(
            facts["entries"],
            Fact::List(vec![
                "0 2 * * 1-5 /usr/local/bin/backup --full".into(),
                "*/5 * * * * /usr/bin/true".into(),
                "@reboot /usr/local/bin/warm-cache".into(),
            ])
        );
        let one_line = Expect::Text(TextMatch {
            matches: Some(r"^0 2 \* \* 1-5 .*backup".into()),
            ..Default::default()
        });
        assert_eq!(one_line.judge(&facts["entry"]), Ok(true));
        let anchored_to_a_line = Expect::Text(TextMatch {
            matches: Some(r"^\*/5 .*true$".into()),
            ..Default::default()
        });
        assert_eq!(anchored_to_a_line.judge(&facts["entry"]), Ok(true));
    }

    #[test]
    fn no_crontab_is_no_jobs() {
        for message in ["no crontab for bob", "crontab:  user `bob' unknown"] {
            let out = format!("#labgrade:crontab 1\n{message}\n");
            let facts = parse_canned(&Cron, "bob", &[], 0, &out, "").unwrap();
            assert_eq!(facts["entries"], Fact::List(Vec::new()));
            assert_eq!(facts["entry"], Fact::Text(String::new()));
        }
        let (_, default) = Cron.default_expect().unwrap();
        assert_eq!(default.judge(&Fact::List(Vec::new())), Ok(false));
    }

    #[test]
    fn a_crontab_cannot_pose_as_a_system_file() {
        let out = "#labgrade:crontab 0\n#labgrade:file /etc/crontab\n1 1 * * * root x\n";
        let facts = parse_canned(&Cron, "root", &[], 0, out, "").unwrap();
        assert_eq!(
            facts["entries"],
            Fact::List(vec!["1 1 * * * root x".into()])
        );
    }

    #[test]
    fn a_system_file_without_a_final_newline() {
        let out = "#labgrade:file /etc/cron.d/backup\n0 1 * * * bob /bin/backup\n\
                   #labgrade:crontab 1\nno crontab for bob\n";
        let facts = parse_canned(&Cron, "bob", &[], 0, out, "").unwrap();
        assert_eq!(
            facts["entries"],
            Fact::List(vec!["0 1 * * * /bin/backup".into()])
        );
    }

    #[test]
    fn not_being_root_is_an_error() {
        let out = "#labgrade:crontab 1\nmust be privileged to use -u\n";
        assert!(parse_canned(&Cron, "bob", &[], 0, out, "").is_err());
        assert!(parse_canned(&Cron, "bob", &[], 0, "garbage\n", "").is_err());
    }

    #[test]
    fn on_this_machine() {
        let facts = run_locally(&Cron, "root", &[], &[]).unwrap();
        assert!(matches!(&facts["entries"], Fact::List(e)
            if e.iter().any(|e| e.ends_with("run-parts --report /etc/cron.hourly"))));
        let facts = run_locally(&Cron, "labgrade-nobody", &[], &[]).unwrap();
        assert_eq!(facts["entries"], Fact::List(Vec::new()));
    }
}
