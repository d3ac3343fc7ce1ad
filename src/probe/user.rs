//! `user: LOGIN`: an account as the host's name service sees it (local files, LDAP, sssd).

use super::{Facts, Kind, Param, Query, getent};
use crate::expect::{Fact, Shape};
use crate::transport::ExecOutput;

pub struct User;

const PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the account exists"),
    Param::expect("uid", Shape::Number, "its user id"),
    Param::expect("gid", Shape::Number, "the id of its primary group"),
    Param::expect(
        "groups",
        Shape::List,
        "the names of all its groups, the primary one included",
    ),
    Param::expect("shell", Shape::Text, "its login shell: \"/bin/bash\""),
    Param::expect("home", Shape::Text, "its home directory"),
];

#[async_trait::async_trait]
impl Kind for User {
    fn name(&self) -> &'static str {
        "user"
    }

    fn subject(&self) -> &'static str {
        "a login name"
    }

    fn doc(&self) -> &'static str {
        "A user account: its ids, groups, shell and home, through getent so directory accounts count."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("exists")
    }

    /// getent exits with 2 when the name is unknown; any other failure is the host's.
    fn script(&self, q: &Query) -> String {
        let mut script = getent::lookup("passwd", q.subject);
        script.push_str(
            "need id\n\
             printf 'groups=%s\\n' \"$(id -Gn -- \"$name\")\"\n",
        );
        script
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let mut facts = Facts::new();
        let Some(passwd) = getent::entry("passwd", output, &stdout)? else {
            facts.insert("exists", Fact::Bool(false));
            return Ok(facts);
        };
        let fields: Vec<&str> = passwd.split(':').collect();
        let [name, _, uid, gid, _, home, shell] = fields[..] else {
            return Err(format!("unexpected passwd entry: {passwd:?}"));
        };
        // getent also looks a number up as a uid: `user: 0` must not find root.
        if name != q.subject {
            facts.insert("exists", Fact::Bool(false));
            return Ok(facts);
        }
        let number = |field: &str| {
            field
                .parse::<u32>()
                .map(|n| Fact::Number(f64::from(n)))
                .map_err(|_| format!("unexpected passwd entry: {passwd:?}"))
        };
        facts.insert("exists", Fact::Bool(true));
        facts.insert("uid", number(uid)?);
        facts.insert("gid", number(gid)?);
        facts.insert("home", Fact::Text(home.to_string()));
        facts.insert("shell", Fact::Text(shell.to_string()));
        // When id could not name the groups, they were not observed: say nothing rather than "none".
        let groups = stdout.lines().find_map(|l| l.strip_prefix("groups="));
        if let Some(groups) = groups.filter(|g| !g.trim().is_empty()) {
            let names = groups.split_whitespace().map(str::to_string).collect();
            facts.insert("groups", Fact::List(names));
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    #[test]
    fn root_is_here() {
        let facts = run_locally(&User, "root", &[], &[]).unwrap();
        assert_eq!(facts["exists"], Fact::Bool(true));
        assert_eq!(facts["uid"], Fact::Number(0.0));
        assert_eq!(facts["gid"], Fact::Number(0.0));
        assert_eq!(facts["home"], Fact::Text("/root".into()));
        assert!(matches!(&facts["groups"], Fact::List(g) if g.contains(&"root".to_string())));
    }

    #[test]
    fn an_unknown_login_only_says_so() {
        for login in [
            "labgrade-nobody",
            "0",
            "-x",
            "root'; echo 'passwd=a:x:1:1::/:/bin/sh",
        ] {
            let facts = run_locally(&User, login, &[], &["shell"]).unwrap();
            assert_eq!(facts.len(), 1, "{login}");
            assert_eq!(facts["exists"], Fact::Bool(false), "{login}");
        }
    }

    #[test]
    fn reads_a_directory_account() {
        let out = "passwd=alice:*:1001:100:Alice Martin,,,:/home/alice:/bin/zsh\n\
                   groups=users sudo compta\n";
        let facts = parse_canned(&User, "alice", &[], 0, out, "").unwrap();
        assert_eq!(facts["uid"], Fact::Number(1001.0));
        assert_eq!(facts["shell"], Fact::Text("/bin/zsh".into()));
        assert_eq!(
            facts["groups"],
            Fact::List(vec!["users".into(), "sudo".into(), "compta".into()])
        );
    }

    #[test]
    fn groups_id_could_not_read_are_not_observed() {
        let out = "passwd=bob:x:1002:1002::/home/bob:/bin/sh\ngroups=\n";
        let facts = parse_canned(&User, "bob", &[], 0, out, "").unwrap();
        assert!(!facts.contains_key("groups"));
    }

    #[test]
    fn a_failing_name_service_is_an_error() {
        assert!(parse_canned(&User, "bob", &[], 1, "", "getent: unknown database\n").is_err());
        let out = "passwd=bob:x:1002\n";
        assert!(parse_canned(&User, "bob", &[], 0, out, "").is_err());
    }
}
