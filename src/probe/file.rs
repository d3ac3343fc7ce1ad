//! `file: PATH`: existence, type, owner, group, mode, content and checksum of a path.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct File;

/// Content beyond this is not read: a check greps configuration files, not disk images.
const CONTENT_CAP: usize = 1024 * 1024;

const PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "the path exists (a dangling link counts)",
    ),
    Param::expect("type", Shape::Text, "file, directory, symlink or other"),
    Param::expect("owner", Shape::Text, "the owning user's name"),
    Param::expect("group", Shape::Text, "the owning group's name"),
    Param::expect(
        "mode",
        Shape::Text,
        "permission bits in octal, four digits: \"0640\"",
    ),
    Param::expect(
        "contains",
        Shape::Text,
        "the content contains this text (a list: all of them)",
    ),
    Param::expect(
        "not_contains",
        Shape::Text,
        "the content does not contain this text (a list: none of them)",
    ),
    Param::expect(
        "matches",
        Shape::Text,
        "a regex found in the content; ^ and $ match at each line",
    ),
    Param::expect("sha256", Shape::Text, "the SHA-256 of the content, in hex"),
];

const CONTENT_MARK: &str = "--labgrade-content--";

#[async_trait::async_trait]
impl Kind for File {
    fn name(&self) -> &'static str {
        "file"
    }

    fn subject(&self) -> &'static str {
        "a path"
    }

    fn doc(&self) -> &'static str {
        "A file, directory or link: its type, owner, mode, content or checksum."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("exists")
    }

    fn script(&self, q: &Query) -> String {
        let path = shell_quote(q.subject);
        let mut script = format!(
            "p={path}\n\
             if [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then echo exists=no; exit 0; fi\n\
             need stat\n\
             stat --printf 'exists=yes\\ntype=%F\\nowner=%U\\ngroup=%G\\nmode=%a\\n' -- \"$p\"\n"
        );
        if q.wants("sha256") {
            script.push_str("need sha256sum\n[ -f \"$p\" ] && printf 'sha256=%s\\n' \"$(sha256sum < \"$p\" | cut -c1-64)\"\n");
        }
        if ["contains", "not_contains", "matches"]
            .iter()
            .any(|w| q.wants(w))
        {
            script.push_str(&format!(
                "[ -f \"$p\" ] && {{ echo {CONTENT_MARK}; head -c {CONTENT_CAP} -- \"$p\"; }}\n"
            ));
        }
        script
    }

    fn parse(&self, _q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let text = output.stdout_text();
        let (head, content) = match text.split_once(&format!("{CONTENT_MARK}\n")) {
            Some((head, content)) => (head, Some(content)),
            None => (text.as_str(), None),
        };
        let mut facts = Facts::new();
        for line in head.lines() {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("unexpected line from stat: {line:?}"))?;
            match key {
                "exists" => {
                    facts.insert("exists", Fact::Bool(value == "yes"));
                }
                "type" => {
                    facts.insert("type", Fact::Text(file_type(value).to_string()));
                }
                "owner" => {
                    facts.insert("owner", Fact::Text(value.to_string()));
                }
                "group" => {
                    facts.insert("group", Fact::Text(value.to_string()));
                }
                "mode" => {
                    facts.insert("mode", Fact::Text(format!("{value:0>4}")));
                }
                "sha256" => {
                    facts.insert("sha256", Fact::Text(value.to_string()));
                }
                _ => return Err(format!("unexpected line from stat: {line:?}")),
            }
        }
        if !facts.contains_key("exists") {
            return Err("no answer from the file probe".to_string());
        }
        if let Some(content) = content {
            for name in ["contains", "not_contains", "matches"] {
                facts.insert(name, Fact::Text(content.to_string()));
            }
        }
        Ok(facts)
    }
}

/// `stat %F` names types in words; labs use the short names.
fn file_type(stat_name: &str) -> &'static str {
    match stat_name {
        "regular file" | "regular empty file" => "file",
        "directory" => "directory",
        "symbolic link" => "symlink",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::run_locally;

    #[test]
    fn reads_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's a file");
        std::fs::write(&path, "server_name intranet;\n").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let facts =
            run_locally(&File, path.to_str().unwrap(), &[], &["contains", "sha256"]).unwrap();
        assert_eq!(facts["exists"], Fact::Bool(true));
        assert_eq!(facts["type"], Fact::Text("file".into()));
        assert_eq!(facts["mode"], Fact::Text("0640".into()));
        assert_eq!(
            facts["contains"],
            Fact::Text("server_name intranet;\n".into())
        );
        let abc = dir.path().join("abc");
        std::fs::write(&abc, "abc").unwrap();
        let facts = run_locally(&File, abc.to_str().unwrap(), &[], &["sha256"]).unwrap();
        assert_eq!(
            facts["sha256"],
            Fact::Text("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into())
        );
    }

    #[test]
    fn a_missing_path_only_says_so() {
        let facts = run_locally(&File, "/nonexistent/labgrade", &[], &["mode"]).unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["exists"], Fact::Bool(false));
    }

    #[test]
    fn directories_and_links_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/nonexistent", &link).unwrap();
        let facts = run_locally(&File, dir.path().to_str().unwrap(), &[], &[]).unwrap();
        assert_eq!(facts["type"], Fact::Text("directory".into()));
        let facts = run_locally(&File, link.to_str().unwrap(), &[], &[]).unwrap();
        assert_eq!(facts["type"], Fact::Text("symlink".into()));
    }
}
