//! The subcommands, one file each.

mod explain;
mod guide;
mod list;
mod progress;
mod report;
mod run;
mod schema;
mod validate;
mod verify;

pub use explain::explain;
pub use guide::guide;
pub use list::list;
pub use report::report;
pub use run::{SELF_TEST_LAB, SELF_TEST_NAME, parse_host, run};
pub use schema::schema;
pub use validate::validate;
pub use verify::verify;

use std::path::PathBuf;

use crate::error::Error;
use crate::lab::{Diagnostics, Lab, LoadError, load};

/// Load every lab, gathering every mistake of every file before giving up.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Lab>, Error> {
    let mut labs = Vec::new();
    let mut diags = Diagnostics::default();
    for path in paths {
        match load(path) {
            Ok(lab) => labs.push(lab),
            Err(LoadError::Invalid(d)) => diags.0.extend(d.0),
            Err(e) => return Err(e.into()),
        }
    }
    if diags.is_empty() {
        Ok(labs)
    } else {
        Err(LoadError::Invalid(diags).into())
    }
}
