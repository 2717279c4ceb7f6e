//! Tool arguments: a JSON object checked against the tool's parameter list, with messages an
//! LLM can act on ("`limit` must be an integer from 1 to 100, got 0").

use serde_json::{Map, Value};

use crate::bindings::exports::mcs::tools::tools::ToolError;

/// The type of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// An integer in `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A boolean.
    Bool,
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
    /// What it means, for the schema.
    pub description: &'static str,
}

/// Validated arguments of one call.
pub struct Args<'a> {
    tool: &'a str,
    map: Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Parses `raw` (an empty string means `{}`) and checks it against `params`: unknown
    /// names, missing required ones and wrong types are errors.
    pub fn parse(tool: &'a str, raw: &str, params: &[Param]) -> Result<Self, ToolError> {
        let map = if raw.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(map)) => map,
                Ok(other) => {
                    return Err(invalid(format!(
                        "arguments of {tool:?} must be a JSON object, got {}",
                        kind_of(&other)
                    )));
                }
                Err(e) => {
                    return Err(invalid(format!(
                        "arguments of {tool:?} are not valid JSON: {e}"
                    )));
                }
            }
        };
        if params.is_empty()
            && let Some(key) = map.keys().next()
        {
            return Err(invalid(format!("{tool:?} takes no arguments, got {key:?}")));
        }
        for key in map.keys() {
            if !params.iter().any(|p| p.name == key) {
                let known: Vec<&str> = params.iter().map(|p| p.name).collect();
                return Err(invalid(format!(
                    "{tool:?} has no parameter {key:?}; its parameters are: {}",
                    known.join(", ")
                )));
            }
        }
        let args = Self { tool, map };
        for p in params {
            match args.map.get(p.name) {
                None | Some(Value::Null) if p.required => {
                    return Err(invalid(format!(
                        "{tool:?} needs {:?} ({})",
                        p.name, p.description
                    )));
                }
                None | Some(Value::Null) => {}
                Some(v) => args.check(p, v)?,
            }
        }
        Ok(args)
    }

    fn check(&self, p: &Param, v: &Value) -> Result<(), ToolError> {
        let ok = match p.kind {
            Kind::Str => v.is_string(),
            Kind::Bool => v.is_boolean() || matches!(v.as_str(), Some("true" | "false")),
            Kind::Int { min, max } => {
                return match as_int(v) {
                    Some(n) if (min..=max).contains(&n) => Ok(()),
                    Some(n) => Err(invalid(format!(
                        "{:?} of {:?} must be an integer from {min} to {max}, got {n}",
                        p.name, self.tool
                    ))),
                    None => Err(invalid(format!(
                        "{:?} of {:?} must be an integer from {min} to {max}, got {}",
                        p.name,
                        self.tool,
                        kind_of(v)
                    ))),
                };
            }
        };
        if ok {
            Ok(())
        } else {
            let want = if p.kind == Kind::Str {
                "a string"
            } else {
                "a boolean"
            };
            Err(invalid(format!(
                "{:?} of {:?} must be {want}, got {}",
                p.name,
                self.tool,
                kind_of(v)
            )))
        }
    }

    /// A string argument (checked by [`Args::parse`]); `None` when absent.
    pub fn string(&self, name: &str) -> Option<String> {
        self.map
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// A string argument that must not be blank.
    pub fn required_string(&self, name: &str) -> Result<String, ToolError> {
        match self.string(name) {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(invalid(format!(
                "{name:?} of {:?} must not be empty",
                self.tool
            ))),
        }
    }

    /// A string argument; blank counts as absent.
    pub fn optional_string(&self, name: &str) -> Option<String> {
        self.string(name).filter(|s| !s.trim().is_empty())
    }

    /// An integer argument, or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.map.get(name).and_then(as_int).unwrap_or(default)
    }

    /// A boolean argument, or `default`.
    pub fn bool(&self, name: &str, default: bool) -> bool {
        match self.map.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => default,
        }
    }
}

/// Integers, and strings or floats that hold one exactly (LLMs send `"20"` and `20.0`).
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn invalid(msg: String) -> ToolError {
    ToolError::InvalidArguments(msg)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Param] = &[
        Param {
            name: "uid",
            kind: Kind::Str,
            required: true,
            description: "Message id.",
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
    ];

    fn err(raw: &str) -> String {
        match Args::parse("t", raw, PARAMS) {
            Err(ToolError::InvalidArguments(m)) => m,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("{raw} accepted"),
        }
    }

    #[test]
    fn missing_required_unknown_and_wrong_types_are_named() {
        assert!(err("{}").contains("needs \"uid\""));
        assert!(err(r#"{"uid":"1","folder":"x"}"#).contains("no parameter \"folder\""));
        assert!(err(r#"{"uid":1}"#).contains("must be a string, got a number"));
        assert!(err(r#"{"uid":"1","remove":"maybe"}"#).contains("must be a boolean"));
    }

    #[test]
    fn integers_are_bounded_and_numeric_strings_accepted() {
        assert!(err(r#"{"uid":"1","limit":0}"#).contains("from 1 to 100, got 0"));
        assert!(err(r#"{"uid":"1","limit":1000000000}"#).contains("got 1000000000"));
        assert!(err(r#"{"uid":"1","limit":"lots"}"#).contains("got a string"));
        let a = Args::parse("t", r#"{"uid":"1","limit":"20"}"#, PARAMS).unwrap();
        assert_eq!(a.int("limit", 5), 20);
        let a = Args::parse("t", r#"{"uid":"1","limit":7.0}"#, PARAMS).unwrap();
        assert_eq!(a.int("limit", 5), 7);
    }

    #[test]
    fn malformed_json_and_non_objects_are_refused() {
        assert!(err("{oops").contains("not valid JSON"));
        assert!(err("[1]").contains("got an array"));
    }
}
