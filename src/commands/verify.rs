//! `labgrade verify`: has anything in an exam's output folder changed since the run sealed it?

use std::path::Path;

use crate::error::{EXIT_FAILED, EXIT_PASSED, Error};
use crate::manifest;

/// Exit 0 when every file is as the manifest says, 1 when a file changed, went missing or
/// was added; a folder without a readable manifest is bad input (2).
pub fn verify(dir: &Path) -> Result<i32, Error> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such folder of results",
            dir.display()
        )));
    }
    let changes = manifest::verify(dir).map_err(Error::Usage)?;
    if changes.is_empty() {
        println!(
            "OK: {} files as {} lists them",
            changes.intact,
            dir.join(manifest::MANIFEST).display()
        );
        Ok(EXIT_PASSED)
    } else {
        print!("{}", changes.render());
        println!(
            "CHANGED: {} changed, {} missing, {} added since {} was written ({} intact)",
            changes.changed.len(),
            changes.missing.len(),
            changes.added.len(),
            manifest::MANIFEST,
            changes.intact
        );
        Ok(EXIT_FAILED)
    }
}
