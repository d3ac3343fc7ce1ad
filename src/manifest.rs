//! The exam manifest: `MANIFEST.sha256` in an exam run's output folder, the SHA-256 of every
//! file in it, in the format `sha256sum -c` reads (`HASH  relative/path`, sorted), so that
//! an edited, removed or added file is visible afterwards.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "MANIFEST.sha256";

/// What changed in a folder since its manifest was written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Files listed and present, whose content differs.
    pub changed: Vec<String>,
    /// Files listed and gone.
    pub missing: Vec<String>,
    /// Files present and not listed.
    pub added: Vec<String>,
    /// How many listed files are intact.
    pub intact: usize,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.added.is_empty()
    }

    /// A line per file that differs: `changed: c01/results.json`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (word, files) in [
            ("changed", &self.changed),
            ("missing", &self.missing),
            ("added", &self.added),
        ] {
            for file in files {
                let _ = writeln!(out, "{word}: {}", crate::report::terminal::sanitize(file));
            }
        }
        out
    }
}

/// Every file under `dir` but the manifest itself, by its path relative to `dir` with `/`
/// between folders, sorted.
fn files(dir: &Path) -> Result<Vec<String>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else {
                let relative = path.strip_prefix(root).expect("under the root");
                let name: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(name.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.retain(|name| name != MANIFEST);
    out.sort();
    Ok(out)
}

fn hash(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Write `dir/MANIFEST.sha256` over every file now in `dir`, atomically.
pub fn write(dir: &Path) -> Result<PathBuf, String> {
    let mut text = String::new();
    for name in files(dir)? {
        let _ = writeln!(text, "{}  {name}", hash(&dir.join(&name))?);
    }
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!(".{MANIFEST}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The manifest of `dir`, read: relative path to SHA-256. A line that is not
/// `64 hex digits, two spaces, a relative path` is an error naming the file and line.
pub fn read(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: cannot read the manifest: {e} (only an exam run, `labgrade run --exam`, writes one)",
            path.display()
        )
    })?;
    let mut listed = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let bad = |why: &str| {
            format!(
                "{}:{}: {why}; expected a SHA-256 in hex, two spaces and a relative path, as sha256sum writes",
                path.display(),
                number + 1
            )
        };
        let (sum, name) = line
            .split_once("  ")
            .ok_or_else(|| bad("no two spaces after the sum"))?;
        if sum.len() != 64 || !sum.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad("not a SHA-256"));
        }
        let relative = Path::new(name);
        if name.is_empty()
            || relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(bad(&format!("`{name}` is not a path inside the folder")));
        }
        if listed
            .insert(name.to_string(), sum.to_ascii_lowercase())
            .is_some()
        {
            return Err(bad(&format!("`{name}` is listed twice")));
        }
    }
    Ok(listed)
}

/// Hash `dir` again and compare with its manifest.
pub fn verify(dir: &Path) -> Result<Changes, String> {
    let listed = read(dir)?;
    let present = files(dir)?;
    let mut changes = Changes::default();
    for (name, sum) in &listed {
        let path = dir.join(name);
        if !path.is_file() {
            changes.missing.push(name.clone());
        } else if hash(&path)? != *sum {
            changes.changed.push(name.clone());
        } else {
            changes.intact += 1;
        }
    }
    changes.added = present
        .into_iter()
        .filter(|name| !listed.contains_key(name))
        .collect();
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_lists_every_file_and_sees_each_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("c01")).unwrap();
        std::fs::write(dir.path().join("c01/results.json"), "{}").unwrap();
        std::fs::write(dir.path().join("class.json"), "[]").unwrap();
        std::fs::write(dir.path().join("junit.xml"), "<x/>").unwrap();
        write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        assert_eq!(
            text,
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a  c01/results.json\n\
             4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945  class.json\n\
             2a31f44da4bd7decbbd3ddfd1a37ae04d02ec665e2c2688816ccc65631586ed1  junit.xml\n"
        );
        assert_eq!(verify(dir.path()).unwrap().intact, 3);
        assert!(verify(dir.path()).unwrap().is_empty());

        std::fs::write(dir.path().join("c01/results.json"), "{\"mark\":20}").unwrap();
        std::fs::remove_file(dir.path().join("junit.xml")).unwrap();
        std::fs::write(dir.path().join("extra.txt"), "x").unwrap();
        let changes = verify(dir.path()).unwrap();
        assert_eq!(changes.changed, ["c01/results.json"]);
        assert_eq!(changes.missing, ["junit.xml"]);
        assert_eq!(changes.added, ["extra.txt"]);
        assert_eq!(changes.intact, 1);
        assert_eq!(
            changes.render(),
            "changed: c01/results.json\nmissing: junit.xml\nadded: extra.txt\n"
        );
    }

    #[test]
    fn a_bad_manifest_line_is_located() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST),
            format!("{}  a\nnot a line\n", "0".repeat(64)),
        )
        .unwrap();
        let err = verify(dir.path()).unwrap_err();
        assert!(err.contains("MANIFEST.sha256:2: no two spaces"), "{err}");
        std::fs::write(
            dir.path().join(MANIFEST),
            format!("{}  ../etc/passwd\n", "0".repeat(64)),
        )
        .unwrap();
        let err = verify(dir.path()).unwrap_err();
        assert!(
            err.contains(":1: `../etc/passwd` is not a path inside"),
            "{err}"
        );
    }
}
