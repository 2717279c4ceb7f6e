//! Outbound HTTP: which destinations a component may reach, and the hook that enforces it.
//!
//! Policy is data ([`policy`]: parse and match, no I/O; [`blocked`]: the non-public address
//! ranges); the mechanism is the `wasi:http` hook ([`hooks`]) and the pooled transport it
//! sends through ([`client`]); what the user sees of a denial is decided by the caller
//! through a [`DeniedHandler`].
//!
//! An embedder mounts this in its own `Linker<T>` the `wasmtime-wasi-http` way: its store data
//! implements `WasiHttpView`, handing out an [`EgressHooks`] as the `hooks`, and
//! [`add_to_linker`] adds `wasi:http` (outgoing only) to the linker.

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

/// Adds `wasi:http/{types,outgoing-handler}` to `linker`; every request goes through the hooks
/// the store's `WasiHttpView` returns (an [`EgressHooks`] enforces a policy). Add the rest of
/// WASI (io, clocks, random, cli) with `wasmtime_wasi`.
///
/// # Errors
///
/// When the interfaces are already defined in `linker`.
pub fn add_to_linker<T: wasmtime_wasi_http::WasiHttpView + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}
