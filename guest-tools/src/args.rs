//! The arguments of one call: a JSON object checked against the tool's parameters, every
//! problem reported as [`Error::InvalidArguments`] with a message that names the parameter.

use serde_json::{Map, Value};

use crate::{Error, Kind, Param};

/// The arguments of one call, checked against the tool's parameters.
#[derive(Debug)]
pub struct Args<'a> {
    tool: &'a str,
    map: Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Parses `raw` (an empty string means `{}`) as the arguments of `tool` and checks them
    /// against `params`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArguments`] when `raw` is not a JSON object, names a parameter `params`
    /// does not have, lacks a required one (`null` counts as absent), or gives a value that
    /// does not fit its [`Kind`].
    pub fn parse(tool: &'a str, raw: &str, params: &[Param]) -> Result<Self, Error> {
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
        if let Some(unknown) = map.keys().find(|k| !params.iter().any(|p| p.name == *k)) {
            if params.is_empty() {
                return Err(invalid(format!(
                    "{tool:?} takes no arguments, got {unknown:?} (it has no parameter {unknown:?})"
                )));
            }
            let known: Vec<&str> = params.iter().map(|p| p.name).collect();
            return Err(invalid(format!(
                "{tool:?} has no parameter {unknown:?}; its parameters are: {}",
                known.join(", ")
            )));
        }
        for p in params {
            match map.get(p.name) {
                None | Some(Value::Null) if p.required => {
                    return Err(invalid(format!(
                        "{tool:?} needs {:?} ({})",
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

    /// A string argument that must not be blank.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArguments`] when it is absent, empty or only whitespace.
    pub fn required(&self, name: &str) -> Result<&str, Error> {
        match self.str(name) {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(invalid(format!(
                "{name:?} of {:?} must not be empty",
                self.tool
            ))),
        }
    }

    /// A string argument; blank counts as absent.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.str(name).filter(|s| !s.trim().is_empty())
    }

    /// An integer argument, or `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.map.get(name).and_then(as_int).unwrap_or(default)
    }

    /// A boolean argument, or `default` when absent.
    pub fn bool(&self, name: &str, default: bool) -> bool {
        match self.map.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => default,
        }
    }
}

/// Checks one present value against its parameter.
fn check(tool: &str, p: &Param, value: &Value) -> Result<(), Error> {
    let name = p.name;
    let wrong = |want: &str| {
        Err(invalid(format!(
            "{name:?} of {tool:?} must be {want}, got {}",
            kind_of(value)
        )))
    };
    match p.kind {
        Kind::Str | Kind::NonBlank | Kind::Checked { .. } | Kind::OneOf(_)
            if !value.is_string() =>
        {
            wrong("a string")
        }
        Kind::Str => Ok(()),
        Kind::NonBlank => match value.as_str() {
            Some(s) if s.trim().is_empty() => {
                Err(invalid(format!("{name:?} of {tool:?} must not be empty")))
            }
            _ => Ok(()),
        },
        Kind::Checked { check, .. } => check(value.as_str().unwrap_or_default())
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
            Some(n) => Err(invalid(format!(
                "{name:?} of {tool:?} must be an integer from {min} to {max}, got {n}"
            ))),
            None => wrong(&format!("an integer from {min} to {max}")),
        },
        Kind::Bool if value.is_boolean() || matches!(value.as_str(), Some("true" | "false")) => {
            Ok(())
        }
        Kind::Bool => wrong("a boolean"),
    }
}

/// Integers, and strings or floats that hold one exactly (LLMs send `"20"` and `20.0`).
fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
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

fn invalid(message: String) -> Error {
    Error::InvalidArguments(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::tests::PARAMS;

    /// The `InvalidArguments` message for `raw`; panics if it is accepted.
    fn refused(raw: &str) -> String {
        match Args::parse("t", raw, PARAMS) {
            Err(Error::InvalidArguments(m)) => m,
            Err(other) => panic!("{raw}: expected invalid arguments, got {other:?}"),
            Ok(args) => panic!("{raw}: accepted as {args:?}"),
        }
    }

    #[test]
    fn missing_unknown_and_mistyped_arguments_are_named() {
        assert_eq!(refused("{}"), "\"t\" needs \"uid\" (Message id.)");
        assert!(refused(r#"{"uid":null}"#).contains("needs \"uid\""));
        assert_eq!(
            refused(r#"{"uid":"1","folder":"x"}"#),
            "\"t\" has no parameter \"folder\"; its parameters are: uid, owner, state, limit, remove, title"
        );
        assert_eq!(
            refused(r#"{"uid":1}"#),
            "\"uid\" of \"t\" must be a string, got a number"
        );
        assert!(refused(r#"{"uid":"1","title":["x"]}"#).contains("got an array"));
        assert_eq!(
            refused(r#"{"uid":"1","remove":"maybe"}"#),
            "\"remove\" of \"t\" must be a boolean, got a string"
        );
    }

    #[test]
    fn a_tool_without_parameters_takes_no_arguments() {
        assert!(Args::parse("t", "{}", &[]).is_ok());
        match Args::parse("t", r#"{"x":1}"#, &[]) {
            Err(Error::InvalidArguments(m)) => {
                assert!(m.contains("takes no arguments, got \"x\""), "{m}");
                assert!(m.contains("no parameter \"x\""), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn integers_are_bounded_and_numeric_strings_and_floats_accepted() {
        assert_eq!(
            refused(r#"{"uid":"1","limit":0}"#),
            "\"limit\" of \"t\" must be an integer from 1 to 100, got 0"
        );
        assert!(refused(r#"{"uid":"1","limit":1000000000}"#).contains("got 1000000000"));
        assert!(refused(r#"{"uid":"1","limit":"lots"}"#).contains("from 1 to 100, got a string"));
        assert!(refused(r#"{"uid":"1","limit":2.5}"#).contains("got a number"));
        let a = Args::parse("t", r#"{"uid":"1","limit":"20"}"#, PARAMS).unwrap();
        assert_eq!(a.int("limit", 5), 20);
        let a = Args::parse("t", r#"{"uid":"1","limit":7.0}"#, PARAMS).unwrap();
        assert_eq!(a.int("limit", 5), 7);
        assert_eq!(a.int("page", 1), 1, "absent: the default");
    }

    #[test]
    fn choices_and_component_checks_are_enforced() {
        assert_eq!(
            refused(r#"{"uid":"1","state":"merged"}"#),
            "\"state\" of \"t\" must be one of [open, closed], got \"merged\""
        );
        assert_eq!(
            refused(r#"{"uid":"1","owner":"a.b"}"#),
            "\"owner\" of \"t\" must not contain '.'"
        );
        assert!(refused(r#"{"uid":"1","owner":7}"#).contains("must be a string, got a number"));
        let a = Args::parse("t", r#"{"uid":"1","owner":"o","state":"closed"}"#, PARAMS).unwrap();
        assert_eq!(a.str("state"), Some("closed"));
        assert_eq!(a.str("owner"), Some("o"));
    }

    #[test]
    fn a_non_blank_string_must_not_be_blank() {
        let params = [Param {
            name: "title",
            kind: Kind::NonBlank,
            required: true,
            description: "Title.",
        }];
        match Args::parse("t", r#"{"title":"  "}"#, &params) {
            Err(Error::InvalidArguments(m)) => {
                assert_eq!(m, "\"title\" of \"t\" must not be empty")
            }
            other => panic!("{other:?}"),
        }
        let args = Args::parse("t", r#"{"title":" x "}"#, &params).unwrap();
        assert_eq!(args.required("title").unwrap(), " x ");
    }

    #[test]
    fn accessors_treat_blank_and_absent_as_the_caller_asks() {
        let a = Args::parse("t", r#"{"uid":" ","title":"x","remove":"true"}"#, PARAMS).unwrap();
        assert_eq!(a.str("uid"), Some(" "));
        assert_eq!(a.optional("uid"), None);
        assert_eq!(
            a.required("uid").unwrap_err(),
            Error::InvalidArguments("\"uid\" of \"t\" must not be empty".into())
        );
        assert_eq!(a.optional("title"), Some("x"));
        assert!(a.bool("remove", false));
        assert!(a.bool("absent", true));
    }

    #[test]
    fn empty_input_is_an_empty_object_and_non_objects_are_refused() {
        assert!(Args::parse("t", "  ", &[]).is_ok());
        assert!(refused("{oops").starts_with("arguments of \"t\" are not valid JSON: "));
        assert_eq!(
            refused("[1]"),
            "arguments of \"t\" must be a JSON object, got an array"
        );
    }
}
