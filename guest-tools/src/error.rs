//! The one error type: which of the two caller mistakes this crate can see.

use std::fmt;

/// A call the component cannot run: each component maps it to its `tool-error` variant of
/// the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No tool has this name; the message lists the tools there are.
    UnknownTool(String),
    /// The arguments do not fit the tool's parameters; the message names the parameter.
    InvalidArguments(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTool(m) | Self::InvalidArguments(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
