//! `labgrade report`: render reports again from saved results, touching no host.

use std::path::Path;

use crate::error::{EXIT_PASSED, Error};
use crate::report::{Format, read_results, write_graded};

pub fn report(dir: &Path, formats: &[Format]) -> Result<i32, Error> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: no such folder of results",
            dir.display()
        )));
    }
    let asked_html = formats.contains(&Format::Html);
    let formats = Format::or_all(formats);
    // A folder without results is the user's mistake; a file that cannot be written is not.
    let graded = read_results(dir).map_err(Error::Usage)?;
    let written = write_graded(dir, &graded, &formats).map_err(Error::Output)?;
    for path in &written {
        println!("{}", path.display());
    }
    if asked_html {
        eprintln!("html: not available yet, no HTML report written");
    }
    Ok(EXIT_PASSED)
}
