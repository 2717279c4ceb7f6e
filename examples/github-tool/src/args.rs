//! Tool arguments: a JSON object checked against the tool's parameter table, with messages an
//! LLM can act on (`"limit" of "list_repos" must be an integer from 1 to 100, got 0`).
//!
//! Everything here is checked before any token is asked for or any request is sent, so a bad
//! call costs nothing upstream.

use serde_json::{Map, Value};

use crate::bindings::exports::mcs::tools::tools::ToolError;

/// The type of one parameter; `tools.rs` turns it into JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any string.
    Str,
    /// One path segment of a GitHub URL: an owner or a repository name.
    Segment,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An integer in `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
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

/// The arguments of one call, checked against the tool's parameters.
#[derive(Debug)]
pub struct Args<'a> {
    tool: &'a str,
    map: Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Parses `raw` (an empty string means `{}`) and checks it against `params`: unknown names,
    /// missing required ones, wrong types and bad path segments are `invalid-arguments`.
    pub fn parse(tool: &'a str, raw: &str, params: &[Param]) -> Result<Self, ToolError> {
        let map = match raw.trim() {
            "" => Map::new(),
            text => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(invalid(format!(
                        "arguments of {tool:?} must be a JSON object"
                    )));
                }
                Err(e) => {
                    return Err(invalid(format!(
                        "arguments of {tool:?} are not valid JSON: {e}"
                    )));
                }
            },
        };
        if let Some(unknown) = map.keys().find(|k| !params.iter().any(|p| p.name == *k)) {
            let known: Vec<&str> = params.iter().map(|p| p.name).collect();
            return Err(invalid(format!(
                "{tool:?} has no parameter {unknown:?}; its parameters are: [{}]",
                known.join(", ")
            )));
        }
        for p in params {
            match map.get(p.name) {
                None | Some(Value::Null) if p.required => {
                    return Err(invalid(format!(
                        "{tool:?} needs {:?}: {}",
                        p.name, p.description
                    )));
                }
                None | Some(Value::Null) => {}
                Some(value) => check(tool, p, value)?,
            }
        }
        Ok(Self { tool, map })
    }

    /// A string argument, `None` when absent.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// A required string argument (its presence was checked by [`Args::parse`]).
    pub fn required(&self, name: &str) -> Result<&str, ToolError> {
        self.str(name)
            .ok_or_else(|| invalid(format!("{:?} needs {name:?}", self.tool)))
    }

    /// An integer argument, or `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.map.get(name).and_then(as_int).unwrap_or(default)
    }
}

/// Checks one present value against its parameter.
fn check(tool: &str, p: &Param, value: &Value) -> Result<(), ToolError> {
    let name = p.name;
    match p.kind {
        Kind::Str | Kind::Segment | Kind::OneOf(_) if !value.is_string() => Err(invalid(format!(
            "{name:?} of {tool:?} must be a string, got {}",
            kind_of(value)
        ))),
        Kind::Str if p.required && value.as_str().is_some_and(|s| s.trim().is_empty()) => {
            Err(invalid(format!("{name:?} of {tool:?} must not be empty")))
        }
        Kind::Str => Ok(()),
        Kind::Segment => segment(value.as_str().unwrap_or_default())
            .map_err(|why| invalid(format!("{name:?} of {tool:?} {why}"))),
        Kind::OneOf(choices) => match value.as_str() {
            Some(s) if choices.contains(&s) => Ok(()),
            _ => Err(invalid(format!(
                "{name:?} of {tool:?} must be one of [{}], got {value}",
                choices.join(", ")
            ))),
        },
        Kind::Int { min, max } => match as_int(value) {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(invalid(format!(
                "{name:?} of {tool:?} must be an integer from {min} to {max}, got {value}"
            ))),
        },
    }
}

/// Why `s` cannot be one path segment of a GitHub URL: it must be a single, plain name, so that
/// a caller cannot walk the URL elsewhere (`../../user`) or smuggle a query in.
fn segment(s: &str) -> Result<(), &'static str> {
    if s.trim().is_empty() {
        Err("must not be empty")
    } else if s.contains(['/', '\\']) {
        Err("must be a single name without '/' (give the owner and the repository separately)")
    } else if s == "." || s == ".." {
        Err("must be a name, not \".\" or \"..\"")
    } else if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err("must not contain spaces or control characters")
    } else {
        Ok(())
    }
}

/// Integers, and strings that hold one (LLMs send `"20"` as often as `20`).
fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
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

fn invalid(message: String) -> ToolError {
    ToolError::InvalidArguments(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Param] = &[
        Param {
            name: "owner",
            kind: Kind::Segment,
            required: true,
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
            name: "title",
            kind: Kind::Str,
            required: false,
            description: "Title.",
        },
    ];

    /// The `invalid-arguments` message for `raw`; panics if it is accepted.
    fn refused(raw: &str) -> String {
        match Args::parse("t", raw, PARAMS) {
            Err(ToolError::InvalidArguments(m)) => m,
            Err(other) => panic!("{raw}: expected invalid-arguments, got {other:?}"),
            Ok(args) => panic!("{raw}: accepted as {args:?}"),
        }
    }

    #[test]
    fn missing_unknown_and_mistyped_arguments_are_named() {
        assert!(refused("{}").contains("needs \"owner\""));
        assert!(refused(r#"{"owner":null}"#).contains("needs \"owner\""));
        assert!(refused(r#"{"owner":"o","repo":"r"}"#).contains("no parameter \"repo\""));
        assert!(refused(r#"{"owner":7}"#).contains("must be a string, got a number"));
        assert!(refused(r#"{"owner":"o","title":["x"]}"#).contains("got an array"));
    }

    #[test]
    fn path_segments_cannot_walk_the_url() {
        for bad in [
            "",
            " ",
            "a/b",
            "..",
            ".",
            "a\\b",
            "a b",
            "a\nb",
            "../../user",
        ] {
            let raw = serde_json::json!({ "owner": bad }).to_string();
            let message = refused(&raw);
            assert!(
                message.starts_with("\"owner\" of \"t\" must"),
                "{bad:?}: {message}"
            );
        }
        for good in [
            "octocat",
            "my-org",
            "Hello.World",
            "a..b",
            "repo_1",
            "ünïcode",
        ] {
            let raw = serde_json::json!({ "owner": good }).to_string();
            let args = Args::parse("t", &raw, PARAMS).unwrap();
            assert_eq!(args.required("owner").unwrap(), good);
        }
    }

    #[test]
    fn choices_and_integer_bounds_are_enforced() {
        assert!(refused(r#"{"owner":"o","state":"merged"}"#).contains("one of [open, closed]"));
        assert!(refused(r#"{"owner":"o","limit":0}"#).contains("from 1 to 100, got 0"));
        assert!(refused(r#"{"owner":"o","limit":101}"#).contains("got 101"));
        assert!(refused(r#"{"owner":"o","limit":2.5}"#).contains("got 2.5"));
        assert!(refused(r#"{"owner":"o","limit":"many"}"#).contains("got \"many\""));
        let args = Args::parse(
            "t",
            r#"{"owner":"o","limit":"20","state":"closed"}"#,
            PARAMS,
        );
        let args = args.unwrap();
        assert_eq!(args.int("limit", 30), 20);
        assert_eq!(args.str("state"), Some("closed"));
        assert_eq!(args.int("page", 1), 1, "absent: the default");
    }

    #[test]
    fn a_required_string_must_not_be_blank() {
        let params = [Param {
            name: "title",
            kind: Kind::Str,
            required: true,
            description: "Title.",
        }];
        match Args::parse("t", r#"{"title":"  "}"#, &params) {
            Err(ToolError::InvalidArguments(m)) => {
                assert_eq!(m, "\"title\" of \"t\" must not be empty")
            }
            other => panic!("{other:?}"),
        }
        let args = Args::parse("t", r#"{"title":" x "}"#, &params).unwrap();
        assert_eq!(args.required("title").unwrap(), " x ");
    }

    #[test]
    fn empty_input_is_an_empty_object_and_non_objects_are_refused() {
        let no_params = Args::parse("t", "  ", &[]);
        assert!(no_params.is_ok());
        assert!(refused("{oops").contains("not valid JSON"));
        assert!(refused("[]").contains("must be a JSON object"));
    }
}
