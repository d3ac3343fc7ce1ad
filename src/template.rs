//! Strings in a lab are tera templates over `vars`, `candidate` and `hosts`.

use std::error::Error as _;

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// A variable the context does not have, by its dotted name.
    Undefined(String),
    Invalid(String),
}

pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Render one string; plain strings are returned as they are, without invoking tera.
pub fn render(template: &str, context: &serde_json::Value) -> Result<String, TemplateError> {
    if !is_template(template) {
        return Ok(template.to_string());
    }
    let context = tera::Context::from_value(context.clone())
        .map_err(|e| TemplateError::Invalid(e.to_string()))?;
    tera::Tera::one_off(template, &context, false).map_err(|e| {
        let mut chain = e.to_string();
        let mut source = e.source();
        while let Some(inner) = source {
            chain = format!("{chain}: {inner}");
            source = inner.source();
        }
        match undefined_variable(&chain) {
            Some(name) => TemplateError::Undefined(name),
            None => TemplateError::Invalid(tidy(&chain)),
        }
    })
}

/// tera says "Variable `x.y` not found in context while rendering '__tera_one_off'".
fn undefined_variable(message: &str) -> Option<String> {
    let start = message.find("Variable `")? + "Variable `".len();
    let end = message[start..].find('`')?;
    Some(message[start..start + end].to_string())
}

fn tidy(message: &str) -> String {
    message
        .replace("Failed to parse '__tera_one_off': ", "")
        .replace("Failed to render '__tera_one_off': ", "")
        .replace("Failed to render '__tera_one_off'", "")
        .trim_start_matches(": ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_vars_and_hosts() {
        let ctx = json!({"site": "intranet.lab", "hosts": {"srv": {"address": "10.0.0.2"}}});
        assert_eq!(
            render("http://{{ hosts.srv.address }}/ {{ site }}", &ctx),
            Ok("http://10.0.0.2/ intranet.lab".to_string())
        );
    }

    #[test]
    fn names_the_undefined_variable() {
        let ctx = json!({"site": "x"});
        assert_eq!(
            render("{{ sitee }}", &ctx),
            Err(TemplateError::Undefined("sitee".into()))
        );
        assert_eq!(
            render("{{ hosts.client.address }}", &ctx),
            Err(TemplateError::Undefined("hosts.client.address".into()))
        );
    }

    #[test]
    fn plain_strings_pass_through() {
        assert_eq!(render("a } b {", &json!({})), Ok("a } b {".to_string()));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(
            render("{{ site ", &json!({"site": 1})),
            Err(TemplateError::Invalid(_))
        ));
    }
}
