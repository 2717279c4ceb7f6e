//! Credential linking: how a tool component's `mcs:auth/credential-provider` import is
//! served.
//!
//! The host serves the import itself and asks a [`CredentialSource`] (normally the
//! credential-provider component, run in its own store with its own policy); the two
//! components are never linked to each other directly.

use std::future::Future;
use std::pin::Pin;

use crate::bindings::mail::mcs::auth::{credential_provider, types};
use crate::state::ComponentState;
use crate::tool::AuthError;

/// A boxed future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Issues tokens for a tool's `get-token` calls.
pub trait CredentialSource: Send + Sync {
    /// A token for `scope`.
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<String, AuthError>>;

    /// Forget any cached token for `scope`.
    fn invalidate_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, ()>;
}

impl types::Host for ComponentState {}

impl credential_provider::Host for ComponentState {
    async fn get_token(&mut self, scope: String) -> wasmtime::Result<Result<String, types::AuthError>> {
        let Some(source) = self.credentials.clone() else {
            return Ok(Err(AuthError::Misconfigured(
                "no credential provider is configured for this component".into(),
            )
            .into()));
        };
        Ok(source.get_token(&scope).await.map_err(Into::into))
    }

    async fn invalidate_token(&mut self, scope: String) -> wasmtime::Result<()> {
        if let Some(source) = self.credentials.clone() {
            source.invalidate_token(&scope).await;
        }
        Ok(())
    }
}
