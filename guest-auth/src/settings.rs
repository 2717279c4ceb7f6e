//! The provider's settings, read from `wasi:config`.

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::bindings::wasi::config::store;

/// How tokens are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tokens are settings named `token.<scope>`.
    Static,
}

/// Validated settings.
#[derive(Debug)]
pub struct Settings {
    /// The mode in force.
    pub mode: Mode,
}

impl Settings {
    /// Reads and validates the settings.
    pub fn load() -> Result<Self, AuthError> {
        let mode = match get("mode")?.as_deref() {
            None | Some("static") => Mode::Static,
            Some(other) => {
                return Err(AuthError::Misconfigured(format!(
                    "unknown provider mode {other:?}; supported: \"static\""
                )));
            }
        };
        Ok(Self { mode })
    }
}

/// One setting, `None` when unset or empty.
pub fn get(key: &str) -> Result<Option<String>, AuthError> {
    match store::get(key) {
        Ok(value) => Ok(value.filter(|v| !v.is_empty())),
        Err(store::Error::Upstream(msg) | store::Error::Io(msg)) => Err(AuthError::Upstream(
            format!("could not read setting {key:?}: {msg}"),
        )),
    }
}
