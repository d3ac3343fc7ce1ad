//! `labgrade schema`: the JSON Schema of the lab format, generated from the registry of kinds.

use serde_json::{Value, json};

use crate::error::{EXIT_PASSED, Error};
use crate::expect::Shape;
use crate::probe::{KINDS, Role};

pub fn schema() -> Result<i32, Error> {
    println!(
        "{}",
        serde_json::to_string_pretty(&lab_schema()).expect("a schema serialises")
    );
    Ok(EXIT_PASSED)
}

fn text_matchers() -> Value {
    let strings =
        json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {"equals": strings, "contains": strings, "not_contains": strings, "matches": {"type": "string"}}
    })
}

fn shape_schema(shape: Shape) -> Value {
    match shape {
        Shape::Bool => json!({"type": "boolean"}),
        Shape::Number => json!({"oneOf": [
            {"type": "number"},
            {"type": "object", "additionalProperties": false,
             "properties": {"eq": {"type": "number"}, "ge": {"type": "number"}, "le": {"type": "number"}}}
        ]}),
        Shape::Text => {
            json!({"oneOf": [{"type": ["string", "number", "boolean"]}, {"type": "array", "items": {"type": "string"}}, text_matchers()]})
        }
        Shape::List => {
            json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, text_matchers()]})
        }
    }
}

fn common_options() -> serde_json::Map<String, Value> {
    let duration = json!({"oneOf": [{"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h)$"}, {"type": "number"}]});
    let mut map = serde_json::Map::new();
    map.insert(
        "on".into(),
        json!({"type": "string", "description": "the role whose host is inspected"}),
    );
    map.insert("from".into(), json!({"type": "string", "description": "where a black-box probe starts: a role, or grader"}));
    map.insert(
        "label".into(),
        json!({"type": "string", "description": "how the check reads in reports"}),
    );
    map.insert("timeout".into(), duration.clone());
    map.insert("weight".into(), json!({"type": "number", "minimum": 0}));
    map.insert(
        "retry".into(),
        json!({"type": "object", "additionalProperties": false, "required": ["times"],
        "properties": {"times": {"type": "integer", "minimum": 1}, "every": duration}}),
    );
    map
}

pub fn lab_schema() -> Value {
    // A kind with forms for several systems (`service` on Linux and Windows) is one schema
    // holding the parameters of all its forms: which form applies depends on the role.
    let mut names: Vec<&str> = Vec::new();
    for kind in KINDS {
        if !names.contains(&kind.name()) {
            names.push(kind.name());
        }
    }
    let mut checks: Vec<Value> = names
        .iter()
        .map(|name| {
            let forms: Vec<_> = KINDS.iter().filter(|k| k.name() == *name).collect();
            let kind = forms[0];
            let mut props = common_options();
            props.insert(kind.name().into(), json!({"type": ["string", "number"], "description": kind.subject()}));
            for param in forms.iter().flat_map(|k| k.params()) {
                let schema = match param.role {
                    Role::Expect(shape) => shape_schema(shape),
                    Role::Input { choices: [] } | Role::Secret => json!({"type": "string"}),
                    Role::Input { choices } => json!({"enum": choices}),
                };
                let mut schema = schema;
                schema["description"] = param.doc.into();
                props.insert(param.name.into(), schema);
            }
            // Required where every form of the kind requires it.
            let mut required = vec![kind.name()];
            required.extend(
                kind.params()
                    .iter()
                    .filter(|p| p.required)
                    .filter(|p| {
                        forms
                            .iter()
                            .all(|k| k.params().iter().any(|q| q.name == p.name && q.required))
                    })
                    .map(|p| p.name),
            );
            json!({"type": "object", "description": kind.doc(), "required": required, "additionalProperties": false, "properties": props})
        })
        .collect();
    let mut use_props = common_options();
    use_props.insert(
        "use".into(),
        json!({"type": "string", "description": "a reusable check in checks/"}),
    );
    use_props.insert("with".into(), json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}));
    checks.push(json!({"type": "object", "required": ["use"], "additionalProperties": false, "properties": use_props}));
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "labgrade lab",
        "type": "object",
        "additionalProperties": false,
        "required": ["title", "block", "hosts", "tasks"],
        "properties": {
            "lab": {"type": "string"},
            "title": {"type": "string"},
            "block": {"type": "integer", "minimum": 1, "maximum": 6},
            "competence": {"type": "string"},
            "pass_mark": {"type": "number", "minimum": 0, "maximum": 20},
            "lang": {"enum": ["fr", "en"]},
            "exam": {"type": "boolean"},
            "timeout": {"type": ["string", "number"]},
            "vars": {"type": "object"},
            "unique": {"type": "array", "items": {"anyOf": [
                {"enum": crate::lab::UNIQUE_VALUES},
                {"type": "object", "additionalProperties": false, "required": ["name", "command"],
                 "properties": {
                    "name": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
                    "command": {"type": "string"},
                    "on": {"type": "string"}}}]}},
            "hosts": {"type": "object", "minProperties": 1, "additionalProperties": {
                "oneOf": [{"type": "null"}, {"type": "object", "additionalProperties": false, "properties": {
                    "os": {"enum": ["linux", "windows", "ios"]}, "optional": {"type": "boolean"}}}]}},
            "tasks": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["id", "title", "points", "checks"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "points": {"type": "number", "minimum": 0},
                    "partial": {"type": "boolean"},
                    "requires": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "hint": {"type": "string"},
                    "checks": {"type": "array", "minItems": 1, "items": {"oneOf": checks}}
                }
            }}
        }
    })
}
