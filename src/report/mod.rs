//! Renderers: each receives finished results and never talks to a host.

pub mod labels;
pub mod terminal;
