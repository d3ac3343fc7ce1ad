//! `labgrade report`: render reports again from saved results, touching no host.
//!
//! An exam folder (one that carries MANIFEST.sha256, or a candidate's folder inside one) is
//! checked first: if any file differs from its manifest, nothing is rendered, since new
//! reports and a new manifest would launder the change; if it is intact, the reports are
//! rendered from its verified results and the manifest is written again over them.

use std::path::{Path, PathBuf};

use crate::error::{EXIT_PASSED, Error};
use crate::manifest;
use crate::report::{Format, Templates, read_results, write_graded};

pub fn report(dir: &Path, formats: &[Format], templates: Option<&Path>) -> Result<i32, Error> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such folder of results",
            dir.display()
        )));
    }
    let formats = Format::or_all(formats);
    // Templates first: a broken one is reported before anything is read or written.
    let templates = Templates::load(templates).map_err(Error::Usage)?;
    // A folder without results is the user's mistake; a file that cannot be written is not.
    let graded = read_results(dir).map_err(Error::Usage)?;
    let sealed = sealed_folder(dir);
    if let Some(sealed) = &sealed {
        let changes = manifest::verify(sealed).map_err(Error::Usage)?;
        if !changes.is_empty() {
            return Err(Error::Usage(format!(
                "{}: this exam folder changed since its {} was written, so no report is rendered and the manifest is left as it is:\n{}(see `labgrade verify {}`)",
                sealed.display(),
                manifest::MANIFEST,
                changes.render(),
                sealed.display()
            )));
        }
    }
    let written = write_graded(dir, &graded, &formats, &templates).map_err(Error::Usage)?;
    for path in &written {
        println!("{}", path.display());
    }
    if let Some(sealed) = &sealed {
        let path = manifest::write(sealed).map_err(Error::Output)?;
        println!("{}", path.display());
    }
    Ok(EXIT_PASSED)
}

/// The exam folder `dir` belongs to: itself when it holds a manifest, or the class folder
/// around a candidate's folder.
fn sealed_folder(dir: &Path) -> Option<PathBuf> {
    if dir.join(manifest::MANIFEST).is_file() {
        return Some(dir.to_path_buf());
    }
    let dir = dir.canonicalize().ok()?;
    let parent = dir.parent()?;
    parent
        .join(manifest::MANIFEST)
        .is_file()
        .then(|| parent.to_path_buf())
}
