//! The tool table: each tool's name, description and parameters, the JSON Schema generated
//! from the parameters, and finding a tool by name.

use serde_json::{Map, Value, json};

use crate::Error;

/// One tool: name, description, parameters.
#[derive(Debug)]
pub struct Tool {
    /// Stable name.
    pub name: &'static str,
    /// What it does and what it returns, for an LLM.
    pub description: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
}

/// One parameter of a tool.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name, as in the JSON arguments.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// True when the call must give it.
    pub required: bool,
    /// What it means, for the schema; states the default of an optional parameter.
    pub description: &'static str,
}

/// The type of one parameter, for both the schema and the checks.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Any string.
    Str,
    /// A string that is not empty or only whitespace.
    NonBlank,
    /// A string that the component checks itself; the schema says it is not empty, so the
    /// check should refuse an empty one.
    Checked {
        /// The JSON Schema `pattern` that describes the accepted strings to the caller.
        pattern: &'static str,
        /// Why a string is refused, as the end of a sentence that starts with the parameter
        /// (`must not contain spaces`); `Ok` when it is accepted.
        check: fn(&str) -> Result<(), &'static str>,
    },
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An integer in `min..=max`; a string or a float that holds one exactly is accepted too
    /// (LLMs send `"20"` and `20.0`).
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A boolean; the strings `"true"` and `"false"` are accepted too.
    Bool,
}

/// JSON Schema (draft 2020-12) of the arguments object of a tool with `params`.
pub fn schema(params: &[Param]) -> Value {
    let properties: Map<String, Value> = params
        .iter()
        .map(|p| {
            let mut property = match p.kind {
                Kind::Str | Kind::NonBlank => json!({"type": "string"}),
                Kind::Checked { pattern, .. } => {
                    json!({"type": "string", "minLength": 1, "pattern": pattern})
                }
                Kind::OneOf(choices) => json!({"type": "string", "enum": choices}),
                Kind::Int { min, max } => {
                    json!({"type": "integer", "minimum": min, "maximum": max})
                }
                Kind::Bool => json!({"type": "boolean"}),
            };
            property["description"] = json!(p.description);
            (p.name.to_owned(), property)
        })
        .collect();
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The tool called `name`.
///
/// # Errors
///
/// [`Error::UnknownTool`], listing the names in `tools`, when none is called `name`.
pub fn find<'t>(tools: &'t [Tool], name: &str) -> Result<&'t Tool, Error> {
    tools.iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        Error::UnknownTool(format!(
            "no tool named {name:?}; available: {}",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A component's own check, as `Kind::Checked` takes it.
    fn no_dots(s: &str) -> Result<(), &'static str> {
        if s.is_empty() {
            Err("must not be empty")
        } else if s.contains('.') {
            Err("must not contain '.'")
        } else {
            Ok(())
        }
    }

    /// One parameter of each kind but `NonBlank`, for the schema and the argument tests.
    pub(crate) const PARAMS: &[Param] = &[
        Param {
            name: "uid",
            kind: Kind::Str,
            required: true,
            description: "Message id.",
        },
        Param {
            name: "owner",
            kind: Kind::Checked {
                pattern: "^[^.]+$",
                check: no_dots,
            },
            required: false,
            description: "Owner.",
        },
        Param {
            name: "state",
            kind: Kind::OneOf(&["open", "closed"]),
            required: false,
            description: "State.",
        },
        Param {
            name: "limit",
            kind: Kind::Int { min: 1, max: 100 },
            required: false,
            description: "How many.",
        },
        Param {
            name: "remove",
            kind: Kind::Bool,
            required: false,
            description: "Remove.",
        },
        Param {
            name: "title",
            kind: Kind::Str,
            required: false,
            description: "Title.",
        },
    ];

    #[test]
    fn the_schema_lists_every_parameter_and_requires_only_the_required_ones() {
        assert_eq!(
            schema(PARAMS),
            json!({
                "type": "object",
                "properties": {
                    "uid": {"type": "string", "description": "Message id."},
                    "owner": {"type": "string", "minLength": 1, "pattern": "^[^.]+$", "description": "Owner."},
                    "state": {"type": "string", "enum": ["open", "closed"], "description": "State."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "How many."},
                    "remove": {"type": "boolean", "description": "Remove."},
                    "title": {"type": "string", "description": "Title."},
                },
                "required": ["uid"],
                "additionalProperties": false,
            })
        );
        assert_eq!(
            schema(&[]),
            json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false})
        );
    }

    #[test]
    fn an_unknown_tool_is_refused_with_the_names_there_are() {
        const TOOLS: &[Tool] = &[
            Tool {
                name: "a",
                description: "A.",
                params: &[],
            },
            Tool {
                name: "b",
                description: "B.",
                params: PARAMS,
            },
        ];
        assert_eq!(find(TOOLS, "b").unwrap().name, "b");
        assert_eq!(
            find(TOOLS, "c").unwrap_err(),
            Error::UnknownTool("no tool named \"c\"; available: a, b".into())
        );
    }
}
