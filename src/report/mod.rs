//! Renderers: each receives finished results and never talks to a host.

mod format;
pub mod gradebook;
pub mod junit;
pub mod labels;
pub mod markdown;
pub mod moodle;
pub(crate) mod sample;
pub mod templates;
pub mod terminal;
pub mod view;
mod write;

pub use format::Format;
pub use templates::Templates;
pub use write::{Graded, read_results, write_graded, write_reports};
