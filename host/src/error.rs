//! The host library's error types, one per concern that callers handle differently.

use std::time::Duration;

use crate::egress::PolicyError;
use crate::tool::ToolError;

/// A boxed source error (Wasmtime's errors are converted to this at the boundary).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a component could not be loaded. Raised at start-up, before any guest code runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The engine could not be created.
    #[error("could not create the WebAssembly engine")]
    Engine(#[source] BoxError),
    /// The bytes are not a valid component, or compiling them failed.
    #[error("component {component:?} is not a valid WebAssembly component")]
    Compile {
        /// The component's configured name.
        component: String,
        /// What Wasmtime said.
        #[source]
        source: BoxError,
    },
    /// The component imports an interface this host does not provide.
    #[error(
        "component {component:?} imports {import:?}, which this host does not provide: \
         components get only outbound HTTP (wasi:http), key-value storage (wasi:keyvalue), \
         settings (wasi:config) and clocks, random and stdio"
    )]
    ForbiddenImport {
        /// The component's configured name.
        component: String,
        /// The refused import, e.g. `wasi:filesystem/types@0.2.6`.
        import: String,
    },
    /// The component does not implement the world its role requires.
    #[error("component {component:?} does not implement the {world} world")]
    WrongWorld {
        /// The component's configured name.
        component: String,
        /// The world it should implement.
        world: &'static str,
        /// What Wasmtime said.
        #[source]
        source: BoxError,
    },
    /// The component's egress policy does not parse.
    #[error("component {component:?} has a bad allowed_outbound_hosts entry")]
    Policy {
        /// The component's configured name.
        component: String,
        /// The parse error.
        #[source]
        source: PolicyError,
    },
    /// Two components have the same name, or two tools the same tool name.
    #[error("{0}")]
    Duplicate(String),
    /// Listing the tools of a component failed.
    #[error("could not list the tools of component {component:?}")]
    ListTools {
        /// The component's configured name.
        component: String,
        /// Why.
        #[source]
        source: Box<CallError>,
    },
}

/// Why a tool call produced no result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The tool ran and reported an error (bad arguments, auth, upstream).
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The component ran past its deadline and was stopped.
    #[error("component {component:?} did not finish within {after:?} and was stopped")]
    Timeout {
        /// The component's configured name.
        component: String,
        /// The deadline.
        after: Duration,
    },
    /// The component trapped (a guest bug or a broken limit, e.g. memory).
    #[error("component {component:?} failed")]
    Trap {
        /// The component's configured name.
        component: String,
        /// The trap.
        #[source]
        source: BoxError,
    },
}
