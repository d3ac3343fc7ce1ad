//! labgrade: grade hands-on sysadmin practicals by inspecting and probing candidates' machines.

pub mod expect;
pub mod probe;
pub mod transport;
