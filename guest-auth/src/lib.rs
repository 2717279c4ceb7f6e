//! The credential-provider component.
//!
//! It answers `get-token(scope)` from its settings (`wasi:config`) and its state
//! (`wasi:keyvalue`). Modes, chosen by the `mode` setting (see `settings`):
//! - `token-vault`: Auth0 Token Vault, with the first run's browser steps through LinkAuth;
//! - `linkauth`: a credential typed into a LinkAuth form;
//! - `static`: tokens from settings named `token.<scope>`.
//!
//! The component is trusted with secrets but sandboxed: the host gives it its own store, its
//! own egress policy and its own key-value namespace, and never links it to a tool directly.

mod bindings {
    wit_bindgen::generate!({
        path: ["../wit/deps/keyvalue", "../wit/deps/config", "../wit/auth"],
        world: "mcs:auth/auth-provider",
        generate_all,
    });
}
mod auth0;
mod clock;
mod envelope;
mod form;
mod keys;
mod linkauth;
mod random;
mod settings;
mod state;
mod static_tokens;
mod token_vault;
mod transport;

use bindings::exports::mcs::auth::credential_provider::Guest;
use bindings::exports::mcs::auth::grants::{self, Grant};
use bindings::exports::mcs::auth::types::AuthError;

use settings::{Mode, Settings};

struct Provider;

impl Guest for Provider {
    fn get_token(scope: String) -> Result<String, AuthError> {
        match Settings::load()?.mode {
            Mode::Static => static_tokens::get_token(&scope),
            Mode::TokenVault => token_vault::TokenVault::load()?.get_token(&scope),
            Mode::LinkAuth => form::get_token(&scope),
        }
    }

    fn invalidate_token(scope: String) {
        // Failures here are not reportable (the WIT function returns nothing); the next
        // get-token reports any problem with the store.
        let _ = match Settings::load().map(|s| s.mode) {
            Ok(Mode::TokenVault) => {
                token_vault::TokenVault::load().and_then(|tv| tv.invalidate(&scope))
            }
            Ok(Mode::LinkAuth) => form::invalidate(&scope),
            Ok(Mode::Static) | Err(_) => Ok(()),
        };
    }
}

impl grants::Guest for Provider {
    fn get_grant(scope: String) -> Result<Grant, AuthError> {
        match Settings::load()?.mode {
            Mode::TokenVault => {
                let (token, ttl) = token_vault::TokenVault::load()?.grant(&scope)?;
                Ok(Grant {
                    token,
                    expires_in: Some(ttl),
                })
            }
            // Static and typed credentials have no known lifetime.
            Mode::Static | Mode::LinkAuth => Ok(Grant {
                token: Self::get_token(scope)?,
                expires_in: None,
            }),
        }
    }
}

bindings::export!(Provider with_types_in bindings);
