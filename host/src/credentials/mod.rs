//! Credential linking: how a tool component's `mcs:auth/credential-provider` import is
//! served.
//!
//! The host serves the import itself and asks a [`CredentialSource`] (normally the
//! credential-provider component, run in its own store with its own policy); the two
//! components are never linked to each other directly. The token it returns is sealed
//! ([`sealed`]): the tool gets an opaque handle, and the egress hook swaps the real token in
//! only on requests to the scope's allowed destinations.
//!
//! The embedder-facing pieces follow `wasmtime-wasi-http`: [`CredentialLink`] (per-store
//! state), [`CredentialView`] (the one trait an embedder implements), [`CredentialCtxView`]
//! (the borrow the generated host traits are implemented for) and [`add_to_linker`]. The
//! store's [`EgressHooks`](crate::egress::EgressHooks) must be given the same
//! [`CredentialLink::sealed`], or handles will never be swapped for tokens.

pub mod grants;
pub mod sealed;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::bindings::tool::mcs::auth::{credential_provider, types};
use crate::tool::AuthError;

use sealed::{ScopePolicies, SealedCredentials};

/// A boxed future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Issues tokens for a tool's `get-token` calls.
pub trait CredentialSource: Send + Sync {
    /// A token for `scope`.
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<String, AuthError>>;

    /// Forget any cached token for `scope`.
    fn invalidate_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, ()>;
}

/// A tool store's link to its credentials: where tokens come from, and where they are kept.
#[derive(Clone)]
pub struct CredentialLink {
    /// Issues the tokens.
    pub source: Arc<dyn CredentialSource>,
    /// Holds them; the tool sees only handles.
    pub sealed: Arc<SealedCredentials>,
}

impl CredentialLink {
    /// A link issuing tokens from `source`, each scope's token sendable only where `scopes`
    /// allows.
    pub fn new(source: Arc<dyn CredentialSource>, scopes: Arc<ScopePolicies>) -> Self {
        Self {
            source,
            sealed: Arc::new(SealedCredentials::new(scopes)),
        }
    }
}

/// The borrow the generated `mcs:auth/credential-provider` host traits are implemented for.
pub struct CredentialCtxView<'a> {
    /// The store's link, or `None` for a component that gets no credentials (its `get-token`
    /// then answers `misconfigured`).
    pub link: Option<&'a CredentialLink>,
}

/// Implemented by an embedder's store data to serve `mcs:auth/credential-provider`.
pub trait CredentialView: Send {
    /// The view over this store's credential link.
    fn credentials(&mut self) -> CredentialCtxView<'_>;
}

/// Marker for [`add_to_linker`]'s `HasData` projection.
struct McsCredentials;

impl HasData for McsCredentials {
    type Data<'a> = CredentialCtxView<'a>;
}

/// Adds `mcs:auth/types` and `mcs:auth/credential-provider` to `linker`, served from each
/// store's [`CredentialLink`].
///
/// # Errors
///
/// When the interfaces are already defined in `linker`.
pub fn add_to_linker<T: CredentialView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    types::add_to_linker::<T, McsCredentials>(linker, T::credentials)?;
    credential_provider::add_to_linker::<T, McsCredentials>(linker, T::credentials)?;
    Ok(())
}

impl types::Host for CredentialCtxView<'_> {}

impl credential_provider::Host for CredentialCtxView<'_> {
    async fn get_token(
        &mut self,
        scope: String,
    ) -> wasmtime::Result<Result<String, types::AuthError>> {
        let Some(link) = self.link.cloned() else {
            return Ok(Err(AuthError::Misconfigured(
                "no credential provider is configured for this component".into(),
            )
            .into()));
        };
        let token = match link.source.get_token(&scope).await {
            Ok(token) => token,
            Err(e) => return Ok(Err(e.into())),
        };
        match link.sealed.seal(&scope, token) {
            Ok(handle) => Ok(Ok(handle)),
            Err(e) => Ok(Err(AuthError::Upstream(format!(
                "could not mint a credential handle: {e}"
            ))
            .into())),
        }
    }

    async fn invalidate_token(&mut self, scope: String) -> wasmtime::Result<()> {
        if let Some(link) = self.link.cloned() {
            link.sealed.invalidate(&scope);
            link.source.invalidate_token(&scope).await;
        }
        Ok(())
    }
}
