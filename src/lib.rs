//! labgrade: grade hands-on sysadmin practicals by inspecting and probing candidates' machines.

pub mod class;
pub mod cli;
pub mod commands;
pub mod error;
pub mod expect;
#[doc(hidden)]
pub mod fuzzing;
pub mod inventory;
pub mod judge;
pub mod lab;
pub mod manifest;
pub mod plan;
pub mod probe;
pub mod report;
pub mod results;
pub mod run;
pub mod score;
pub mod secrets;
pub mod template;
pub mod transport;
