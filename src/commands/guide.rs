//! The lab author's guide to check kinds, generated from the registry; the README holds a copy that a test keeps equal.

use crate::error::{EXIT_PASSED, Error};
use crate::expect::Shape;
use crate::lab::Os;
use crate::probe::{KINDS, Role};

pub fn guide() -> Result<i32, Error> {
    print!("{}", kinds_markdown());
    Ok(EXIT_PASSED)
}

fn shape_name(shape: Shape) -> &'static str {
    match shape {
        Shape::Bool => "true/false",
        Shape::Number => "number",
        Shape::Text => "text",
        Shape::List => "list",
    }
}

pub fn kinds_markdown() -> String {
    let mut out = String::new();
    for kind in KINDS {
        let system = match kind.host_os() {
            Os::Linux => String::new(),
            os => format!(" (`os: {os}`)"),
        };
        out.push_str(&format!(
            "### `{}: {}`{system}\n\n{}\n\n",
            kind.name(),
            kind.subject().replace(' ', "_").to_uppercase(),
            kind.doc()
        ));
        out.push_str("| key | takes | meaning |\n| --- | --- | --- |\n");
        for param in kind.params() {
            let input = if param.required {
                "(input, required)"
            } else {
                "(input)"
            };
            let takes = match param.role {
                Role::Expect(shape) => shape_name(shape).to_string(),
                Role::Input { choices: [] } => format!("text {input}"),
                Role::Secret => format!("a secret's name {input}"),
                Role::Input { choices } => format!("{} {input}", choices.join(" / ")),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                param.name,
                takes,
                param.doc.replace('|', "\\|")
            ));
        }
        let default = kind
            .default_expect()
            .map(|(name, e)| format!("`{name}` {}", e.describe()))
            .unwrap_or_else(|| "none: give at least one expectation".to_string());
        out.push_str(&format!("\nWith no expectation: {default}.\n\n"));
    }
    out
}
