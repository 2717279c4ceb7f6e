//! A Wasmtime host for agent tools that never hold a secret.
//!
//! Tool components (e.g. the Gmail tools) and a credential-provider component (the Auth0
//! Token Vault state machine) run in separate stores. Each gets only outbound HTTP to the
//! hosts its policy names, its own key-value namespace and its settings; a tool's
//! `get-token` import is served by the host, which runs the provider on its behalf.
//!
//! Start with [`Runtime::builder`]; [`guests`] holds the two components this crate ships.

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod bindings;
pub mod config;
pub mod credentials;
pub mod egress;
pub mod engine;
mod error;
pub mod kv;
pub mod linker;
pub mod mcp;
mod runtime;
mod state;
mod tool;

pub use error::{BoxError, CallError, LoadError};
pub use runtime::{ComponentConfig, DEFAULT_BUCKET, Limits, Runtime, RuntimeBuilder};
pub use state::ComponentState;
pub use tool::{AuthChallenge, AuthError, ToolError, ToolSpec};

/// The guest components built from this workspace and embedded in the binary.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/gen.rs"));
}
