//! Renderers: each receives finished results and never talks to a host.

pub mod terminal;
