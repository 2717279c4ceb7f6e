//! Outbound HTTP: which destinations a component may reach, and the hook that enforces it.
//!
//! Policy is data ([`policy`]: parse and match, no I/O; [`blocked`]: the non-public address
//! ranges); the mechanism is the `wasi:http` hook ([`hooks`]) and the pooled transport it
//! sends through ([`client`]); what the user sees of a denial is decided by the caller
//! through a [`DeniedHandler`].

pub mod blocked;
pub mod client;
pub mod hooks;
pub mod policy;

pub use blocked::is_blocked;
pub use client::{
    MAX_REQUEST_BODY, MAX_RESPONSE_BODY, ResolveFuture, Resolver, SystemResolver, Transport,
};
pub use hooks::{Denial, DenialReason, DeniedHandler, EgressHooks, Timeouts};
pub use policy::{EgressPolicy, PolicyError};
