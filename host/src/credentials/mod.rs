//! Credential linking: how a tool component's `mcs:auth/credential-provider` import is
//! served.
//!
//! The host serves the import itself and asks a [`CredentialSource`] (normally the
//! credential-provider component, run in its own store with its own policy); the two
//! components are never linked to each other directly. The token it returns is sealed
//! ([`sealed`]): the tool gets an opaque handle, and the egress hook swaps the real token in
//! only on requests to the scope's allowed destinations.

pub mod grants;
pub mod sealed;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::bindings::mail::mcs::auth::{credential_provider, types};
use crate::state::ComponentState;
use crate::tool::AuthError;

use sealed::SealedCredentials;

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

impl types::Host for ComponentState {}

impl credential_provider::Host for ComponentState {
    async fn get_token(
        &mut self,
        scope: String,
    ) -> wasmtime::Result<Result<String, types::AuthError>> {
        let Some(link) = self.credentials.clone() else {
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
        if let Some(link) = self.credentials.clone() {
            link.sealed.invalidate(&scope);
            link.source.invalidate_token(&scope).await;
        }
        Ok(())
    }
}
