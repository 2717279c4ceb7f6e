//! The LLM-facing tool catalog: names, descriptions, JSON Schemas, and JSON dispatch.
//!
//! Names, parameters and result keys follow the MCS mail driver, so prompts written for it
//! keep working.

use serde_json::{Map, Value, json};

use crate::bindings::exports::mcs::mail::tools::{ToolError, ToolSpec};
use crate::gmail;

/// Every tool this component offers, in the order they are listed.
pub const TOOL_NAMES: &[&str] = &["list_folders"];

/// The specs of every tool.
pub fn specs() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "list_folders".into(),
        description: "List all folders (mailboxes) available on the mail server. Returns \
                      [{\"name\", \"id\", \"system\"}] sorted by name; use the name or the id \
                      wherever a folder is expected."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {},
            "additionalProperties": false,
        })
        .to_string(),
    }]
}

/// Runs tool `name` with its JSON arguments.
pub fn call(name: &str, arguments: &str) -> Result<String, ToolError> {
    let args = parse_arguments(name, arguments)?;
    match name {
        "list_folders" => {
            no_arguments(name, &args)?;
            let folders = gmail::Client::from_settings()?.list_folders()?;
            let items: Vec<Value> = folders
                .into_iter()
                .map(|f| json!({"name": f.name, "id": f.id, "system": f.system}))
                .collect();
            Ok(Value::Array(items).to_string())
        }
        _ => Err(ToolError::UnknownTool(format!(
            "no tool named {name:?}; available: {}",
            TOOL_NAMES.join(", ")
        ))),
    }
}

/// The arguments as a JSON object; an empty string means no arguments.
fn parse_arguments(tool: &str, arguments: &str) -> Result<Map<String, Value>, ToolError> {
    if arguments.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ToolError::InvalidArguments(format!(
            "arguments of {tool:?} must be a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(ToolError::InvalidArguments(format!(
            "arguments of {tool:?} are not valid JSON: {e}"
        ))),
    }
}

fn no_arguments(tool: &str, args: &Map<String, Value>) -> Result<(), ToolError> {
    match args.keys().next() {
        None => Ok(()),
        Some(key) => Err(ToolError::InvalidArguments(format!(
            "{tool:?} takes no arguments, got {key:?}"
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
