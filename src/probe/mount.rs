//! `mount: PATH`: what is mounted on a mount point now, with which options, and whether quotas are on.

use serde::Deserialize;

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Mount;

const PARAMS: &[Param] = &[
    Param::expect(
        "mounted",
        Shape::Bool,
        "a file system is mounted on this very path",
    ),
    Param::expect("fstype", Shape::Text, "its type: ext4, xfs, nfs4, tmpfs"),
    Param::expect(
        "source",
        Shape::Text,
        "what is mounted: a device (/dev/sdb1, never UUID=), server:/export, tmpfs",
    ),
    Param::expect(
        "options",
        Shape::List,
        "its mount options, as the kernel reports them: rw, noexec, usrquota",
    ),
    Param::expect(
        "quota",
        Shape::Bool,
        "user, group or project quotas are among its mount options",
    ),
];

/// Marks the fallback answer, the kernel's own table, on a host without findmnt.
const PROC_MOUNTS: &str = "#labgrade:proc-mounts";

#[async_trait::async_trait]
impl Kind for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn subject(&self) -> &'static str {
        "a mount point"
    }

    fn doc(&self) -> &'static str {
        "A mounted file system as the kernel has it now (not as /etc/fstab says it will be)."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("mounted")
    }

    /// findmnt's JSON; `--nofsroot` keeps a bind mount's source a device, without `[/dir]`.
    fn script(&self, q: &Query) -> String {
        let path = shell_quote(q.subject);
        format!(
            "m={path}\n\
             if command -v findmnt >/dev/null 2>&1; then\n\
             \x20 exec findmnt -J --nofsroot -M \"$m\" -o TARGET,SOURCE,FSTYPE,OPTIONS\n\
             fi\n\
             echo '{PROC_MOUNTS}'\n\
             exec cat /proc/self/mounts\n"
        )
    }

    fn parse(&self, q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        let found = match output.exit_code {
            // findmnt says "not mounted" by exiting with 1 and printing nothing at all.
            Some(1) if stdout.trim().is_empty() && stderr.trim().is_empty() => None,
            Some(0) => match stdout.strip_prefix(PROC_MOUNTS) {
                Some(table) => from_proc_mounts(table, q.subject),
                None => from_findmnt(&stdout)?,
            },
            _ => {
                return Err(match stderr.trim() {
                    "" => format!("findmnt failed (exit {:?})", output.exit_code),
                    reason => reason.to_string(),
                });
            }
        };
        let mut facts = Facts::new();
        facts.insert("mounted", Fact::Bool(found.is_some()));
        if let Some(fs) = found {
            let options: Vec<String> = fs.options.split(',').map(str::to_string).collect();
            facts.insert("quota", Fact::Bool(options.iter().any(|o| is_quota(o))));
            facts.insert("fstype", Fact::Text(fs.fstype));
            facts.insert("source", Fact::Text(fs.source.unwrap_or_default()));
            facts.insert("options", Fact::List(options));
        }
        Ok(facts)
    }
}

#[derive(Debug, Deserialize)]
struct Filesystem {
    source: Option<String>,
    fstype: String,
    options: String,
}

#[derive(Debug, Deserialize)]
struct Findmnt {
    filesystems: Vec<Filesystem>,
}

/// Mounts stacked on one point are listed oldest first: the last one is the one in use.
fn from_findmnt(json: &str) -> Result<Option<Filesystem>, String> {
    let answer: Findmnt =
        serde_json::from_str(json).map_err(|e| format!("unexpected answer from findmnt: {e}"))?;
    Ok(answer.filesystems.into_iter().next_back())
}

/// `/proc/self/mounts` writes a space in a path as `\040`; trailing slashes are not written.
fn from_proc_mounts(table: &str, path: &str) -> Option<Filesystem> {
    let wanted = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    // The last line naming the point is the mount on top.
    table.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields[..] {
            [source, target, fstype, options, ..] if unescape(target) == wanted => {
                Some(Filesystem {
                    source: Some(unescape(source)),
                    fstype: fstype.to_string(),
                    options: options.to_string(),
                })
            }
            _ => None,
        }
    })
}

/// Undo the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount options that switch quotas on: `usrquota`, `grpquota`, `prjquota`, the old
/// `quota`, and ext4's journaled `usrjquota=`/`grpjquota=`. XFS's `*qnoenforce` only
/// counts usage, so it is not "quota on".
fn is_quota(option: &str) -> bool {
    matches!(option, "usrquota" | "grpquota" | "prjquota" | "quota")
        || option.starts_with("usrjquota=")
        || option.starts_with("grpjquota=")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    #[test]
    fn the_root_is_mounted_here() {
        let facts = run_locally(&Mount, "/", &[], &["fstype"]).unwrap();
        assert_eq!(facts["mounted"], Fact::Bool(true));
        assert!(
            matches!(&facts["options"], Fact::List(o) if o.iter().any(|o| o == "rw" || o == "ro"))
        );
        let facts = run_locally(&Mount, "/proc/", &[], &["fstype"]).unwrap();
        assert_eq!(facts["fstype"], Fact::Text("proc".into()));
    }

    #[test]
    fn a_plain_directory_is_not_mounted() {
        for path in ["/usr", "/nonexistent/labgrade", "-x", "/'; echo '{"] {
            let facts = run_locally(&Mount, path, &[], &["fstype"]).unwrap();
            assert_eq!(facts.len(), 1, "{path}");
            assert_eq!(facts["mounted"], Fact::Bool(false), "{path}");
        }
    }

    /// Captured from `findmnt -J --nofsroot -M /home -o TARGET,SOURCE,FSTYPE,OPTIONS`.
    const HOME: &str = r#"{
   "filesystems": [
      {
         "target": "/home",
         "source": "/dev/sdb1",
         "fstype": "ext4",
         "options": "rw,relatime,quota,usrquota,grpquota"
      }
   ]
}
"#;

    #[test]
    fn quota_options_are_seen() {
        let facts = parse_canned(&Mount, "/home", &[], 0, HOME, "").unwrap();
        assert_eq!(facts["source"], Fact::Text("/dev/sdb1".into()));
        assert_eq!(facts["quota"], Fact::Bool(true));
        assert!(matches!(&facts["options"], Fact::List(o) if o.contains(&"usrquota".to_string())));
        let plain = HOME.replace(",quota,usrquota,grpquota", "");
        let facts = parse_canned(&Mount, "/home", &[], 0, &plain, "").unwrap();
        assert_eq!(facts["quota"], Fact::Bool(false));
        assert!(is_quota("usrjquota=aquota.user"));
        assert!(!is_quota("uqnoenforce"));
    }

    #[test]
    fn the_last_of_stacked_mounts_is_in_use() {
        let json = r#"{"filesystems": [
            {"target": "/mnt", "source": "tmpfs", "fstype": "tmpfs", "options": "rw"},
            {"target": "/mnt", "source": "srv:/export", "fstype": "nfs4", "options": "ro"}
        ]}"#;
        let facts = parse_canned(&Mount, "/mnt", &[], 0, json, "").unwrap();
        assert_eq!(facts["fstype"], Fact::Text("nfs4".into()));
        assert_eq!(facts["source"], Fact::Text("srv:/export".into()));
    }

    #[test]
    fn the_kernels_table_when_there_is_no_findmnt() {
        let table = "#labgrade:proc-mounts\n\
                     /dev/vda / ext4 rw,relatime 0 0\n\
                     /dev/sdb1 /srv/my\\040data xfs rw,usrquota,prjquota 0 0\n";
        let facts = parse_canned(&Mount, "/srv/my data/", &[], 0, table, "").unwrap();
        assert_eq!(facts["fstype"], Fact::Text("xfs".into()));
        assert_eq!(facts["quota"], Fact::Bool(true));
        let facts = parse_canned(&Mount, "/", &[], 0, table, "").unwrap();
        assert_eq!(facts["source"], Fact::Text("/dev/vda".into()));
        let facts = parse_canned(&Mount, "/srv", &[], 0, table, "").unwrap();
        assert_eq!(facts["mounted"], Fact::Bool(false));
    }

    #[test]
    fn a_findmnt_error_is_not_a_verdict() {
        let err = "findmnt: invalid option -- 'J'\n";
        assert!(parse_canned(&Mount, "/home", &[], 1, "", err).is_err());
        assert!(parse_canned(&Mount, "/home", &[], 0, "not json", "").is_err());
    }
}
