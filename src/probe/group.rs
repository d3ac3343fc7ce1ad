//! `group: NAME`: a group as the host's name service sees it, with every user who belongs to it.

use std::collections::BTreeSet;

use super::{Facts, Kind, Param, Query, getent};
use crate::expect::{Fact, Shape};
use crate::transport::ExecOutput;

pub struct Group;

const PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the group exists"),
    Param::expect("gid", Shape::Number, "its group id"),
    Param::expect(
        "members",
        Shape::List,
        "its listed members and the users whose primary group it is",
    ),
];

#[async_trait::async_trait]
impl Kind for Group {
    fn name(&self) -> &'static str {
        "group"
    }

    fn subject(&self) -> &'static str {
        "a group name"
    }

    fn doc(&self) -> &'static str {
        "A group: its id and members, through getent so directory groups count."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("exists")
    }

    /// `usermod -aG` lists a user in the group entry, `useradd -g` only in the user's own
    /// entry: both make a member, so the accounts are scanned for the group's id too. That
    /// scan sees the accounts the host can enumerate (a directory may hide its users).
    fn script(&self, q: &Query) -> String {
        let mut script = getent::lookup("group", q.subject);
        script.push_str(
            "gid=${line#*:*:}; gid=${gid%%:*}\n\
             case $gid in ''|*[!0-9]*) exit 0 ;; esac\n\
             need awk\n\
             getent passwd | awk -F: -v gid=\"$gid\" '$4 == gid { print \"primary=\" $1 }'\n",
        );
        script
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let mut facts = Facts::new();
        let Some(entry) = getent::entry("group", output, &stdout)? else {
            facts.insert("exists", Fact::Bool(false));
            return Ok(facts);
        };
        let fields: Vec<&str> = entry.split(':').collect();
        let [name, _, gid, listed] = fields[..] else {
            return Err(format!("unexpected group entry: {entry:?}"));
        };
        // getent also looks a number up as a gid: `group: 0` must not find root.
        if name != q.subject {
            facts.insert("exists", Fact::Bool(false));
            return Ok(facts);
        }
        let gid: u32 = gid
            .parse()
            .map_err(|_| format!("unexpected group entry: {entry:?}"))?;
        let primary = stdout.lines().filter_map(|l| l.strip_prefix("primary="));
        let members: BTreeSet<String> = listed
            .split(',')
            .chain(primary)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        facts.insert("exists", Fact::Bool(true));
        facts.insert("gid", Fact::Number(f64::from(gid)));
        facts.insert("members", Fact::List(members.into_iter().collect()));
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    #[test]
    fn root_is_in_group_root_by_its_primary_group() {
        let facts = run_locally(&Group, "root", &[], &[]).unwrap();
        assert_eq!(facts["exists"], Fact::Bool(true));
        assert_eq!(facts["gid"], Fact::Number(0.0));
        assert!(matches!(&facts["members"], Fact::List(m) if m.contains(&"root".to_string())));
    }

    #[test]
    fn an_unknown_group_only_says_so() {
        for name in ["labgrade-nogroup", "0", "root'; echo 'group=a:x:1:"] {
            let facts = run_locally(&Group, name, &[], &["gid"]).unwrap();
            assert_eq!(facts.len(), 1, "{name}");
            assert_eq!(facts["exists"], Fact::Bool(false), "{name}");
        }
    }

    #[test]
    fn listed_and_primary_members_together() {
        let out = "group=compta:x:1005:alice,bob\nprimary=carol\nprimary=alice\n";
        let facts = parse_canned(&Group, "compta", &[], 0, out, "").unwrap();
        assert_eq!(facts["gid"], Fact::Number(1005.0));
        assert_eq!(
            facts["members"],
            Fact::List(vec!["alice".into(), "bob".into(), "carol".into()])
        );
    }

    #[test]
    fn an_empty_group_has_no_members() {
        let facts = parse_canned(&Group, "sudo", &[], 0, "group=sudo:x:27:\n", "").unwrap();
        assert_eq!(facts["members"], Fact::List(Vec::new()));
    }

    #[test]
    fn a_malformed_entry_is_an_error() {
        assert!(parse_canned(&Group, "sudo", &[], 0, "group=sudo:x\n", "").is_err());
        assert!(parse_canned(&Group, "sudo", &[], 0, "group=sudo:x:abc:\n", "").is_err());
    }
}
