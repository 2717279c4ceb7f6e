//! What tool calls return, as plain Rust types independent of the generated bindings.
//!
//! The shapes mirror `mcs:tools/tools` and `mcs:auth/types`; the conversions from the
//! generated types live here too, so callers never touch `bindings`.

use std::fmt;

use serde::Serialize;

use crate::bindings::{auth, tool};

/// The user must act before a token can be issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthChallenge {
    /// A sentence for the user.
    pub message: String,
    /// The page to open, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The code to check on that page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The scope the challenge is for.
    pub scope: String,
}

impl AuthChallenge {
    /// The JSON an LLM sees, as the MCS AuthDecorator writes it:
    /// `{"auth_required":true,"message":…,"url":…,"code":…,"scope":…}`, keys only when set.
    pub fn to_llm_json(&self) -> String {
        #[derive(Serialize)]
        struct Decorated<'a> {
            auth_required: bool,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            url: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
            #[serde(skip_serializing_if = "str::is_empty")]
            scope: &'a str,
        }
        serde_json::to_string(&Decorated {
            auth_required: true,
            message: &self.message,
            url: self.url.as_deref(),
            code: self.code.as_deref(),
            scope: &self.scope,
        })
        .unwrap_or_default()
    }
}

/// Why a credential provider issued no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The user must act; call again later.
    Challenge(AuthChallenge),
    /// A setup error; the text names the setting to check.
    Misconfigured(String),
    /// The user or the identity provider refused.
    Denied(String),
    /// A transient upstream failure.
    Upstream(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Challenge(c) => write!(f, "authorization required: {}", c.message),
            AuthError::Misconfigured(m) => write!(f, "credential provider misconfigured: {m}"),
            AuthError::Denied(m) => write!(f, "access denied: {m}"),
            AuthError::Upstream(m) => write!(f, "credential provider failed: {m}"),
        }
    }
}

impl std::error::Error for AuthError {}

/// One tool an LLM may call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// Stable tool name.
    pub name: String,
    /// What the tool does, for an LLM.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub input_schema: serde_json::Value,
}

/// Why a tool call failed, as the tool reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// No tool has this name.
    UnknownTool(String),
    /// The arguments do not fit the schema.
    InvalidArguments(String),
    /// No token could be issued (including "the user must act").
    Auth(AuthError),
    /// The upstream service refused or failed.
    Upstream(String),
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::UnknownTool(m) => write!(f, "unknown tool: {m}"),
            ToolError::InvalidArguments(m) => write!(f, "invalid arguments: {m}"),
            ToolError::Auth(e) => e.fmt(f),
            ToolError::Upstream(m) => write!(f, "upstream error: {m}"),
        }
    }
}

impl std::error::Error for ToolError {}

/// The auth error is generated three times: `mcs:auth/types` on the export side of the
/// provider's world and on the import side of the tool's world, and its copy in
/// `mcs:tools/tools`. All convert the same way.
macro_rules! auth_types_conversions {
    ($($wit:ident)::+) => {
        impl From<$($wit)::+::AuthError> for AuthError {
            fn from(e: $($wit)::+::AuthError) -> Self {
                use $($wit)::+::AuthError as Wit;
                match e {
                    Wit::Challenge(c) => AuthError::Challenge(AuthChallenge {
                        message: c.message,
                        url: c.url,
                        code: c.code,
                        scope: c.scope,
                    }),
                    Wit::Misconfigured(m) => AuthError::Misconfigured(m),
                    Wit::Denied(m) => AuthError::Denied(m),
                    Wit::Upstream(m) => AuthError::Upstream(m),
                }
            }
        }

        impl From<AuthError> for $($wit)::+::AuthError {
            fn from(e: AuthError) -> Self {
                use $($wit)::+::{AuthChallenge as WitChallenge, AuthError as Wit};
                match e {
                    AuthError::Challenge(c) => Wit::Challenge(WitChallenge {
                        message: c.message,
                        url: c.url,
                        code: c.code,
                        scope: c.scope,
                    }),
                    AuthError::Misconfigured(m) => Wit::Misconfigured(m),
                    AuthError::Denied(m) => Wit::Denied(m),
                    AuthError::Upstream(m) => Wit::Upstream(m),
                }
            }
        }
    };
}

auth_types_conversions!(auth::exports::mcs::auth::types);
auth_types_conversions!(tool::mcs::auth::types);
auth_types_conversions!(tool::exports::mcs::tools::tools);

impl From<tool::exports::mcs::tools::tools::ToolError> for ToolError {
    fn from(e: tool::exports::mcs::tools::tools::ToolError) -> Self {
        use tool::exports::mcs::tools::tools::ToolError as Wit;
        match e {
            Wit::UnknownTool(m) => ToolError::UnknownTool(m),
            Wit::InvalidArguments(m) => ToolError::InvalidArguments(m),
            Wit::Auth(a) => ToolError::Auth(a.into()),
            Wit::Upstream(m) => ToolError::Upstream(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_json_keeps_the_decorator_key_order_and_omits_unset_keys() {
        let full = AuthChallenge {
            message: "Open it".into(),
            url: Some("https://b/connect/AB-12".into()),
            code: Some("AB-12".into()),
            scope: "gmail".into(),
        };
        assert_eq!(
            full.to_llm_json(),
            r#"{"auth_required":true,"message":"Open it","url":"https://b/connect/AB-12","code":"AB-12","scope":"gmail"}"#
        );
        let bare = AuthChallenge {
            message: "Wait".into(),
            url: None,
            code: None,
            scope: String::new(),
        };
        assert_eq!(
            bare.to_llm_json(),
            r#"{"auth_required":true,"message":"Wait"}"#
        );
    }
}
