//! Lab files: YAML to a validated [`Lab`], with located diagnostics.

mod check;
mod decode;
mod diagnostic;
mod library;
mod load;
mod model;
mod node;

pub use diagnostic::{Diagnostic, Diagnostics, Source, suggestion};
pub use load::{
    COMMON_OPTIONS, LAB_KEYS, LoadError, ROLE_KEYS, TASK_KEYS, UNIQUE_KEYS, UNIQUE_VALUES,
    USE_KEYS, load, load_str,
};
pub use model::{Check, Lab, Lang, Origin, Os, Retry, Role, Task, Unique, UniqueCommand};
pub use node::{Key, Node, Pos, Value, parse};
