//! Outbound HTTP: which destinations a component may reach, and the hook that enforces it.
//!
//! Policy is data ([`policy`]: parse and match, no I/O); the mechanism is the `wasi:http`
//! hook ([`hooks`]); what the user sees of a denial is decided by the caller through a
//! [`DeniedHandler`].

pub mod hooks;
pub mod policy;

pub use hooks::{Denial, DenialReason, DeniedHandler, EgressHooks, Timeouts};
pub use policy::{EgressPolicy, PolicyError};
