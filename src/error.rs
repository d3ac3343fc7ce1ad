//! The one table that maps what went wrong to labgrade's exit codes.

use crate::inventory::InventoryError;
use crate::lab::LoadError;
use crate::plan::PlanError;

/// Every task passed.
pub const EXIT_PASSED: i32 = 0;
/// Graded; some task did not pass.
pub const EXIT_FAILED: i32 = 1;
/// Bad input (lab, inventory, flags): nothing was graded.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Some check could not be evaluated (host unreachable, timeout, tool missing).
pub const EXIT_COULD_NOT_CHECK: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Lab(#[from] LoadError),
    #[error("{0}")]
    Inventory(#[from] InventoryError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Output(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Lab(_)
            | Error::Inventory(_)
            | Error::Plan(_)
            | Error::Usage(_)
            | Error::Output(_) => EXIT_BAD_INPUT,
        }
    }
}
