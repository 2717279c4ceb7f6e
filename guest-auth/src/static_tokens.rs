//! Static mode: each scope's token is a setting, `token.<scope>`.
//!
//! Useful for tests, CI and services that issue long-lived tokens; the host maps
//! `MCS_TOKEN_<SCOPE>` environment variables onto these settings.

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::settings;

/// The token configured for `scope`.
pub fn get_token(scope: &str) -> Result<String, AuthError> {
    let key = format!("token.{scope}");
    settings::get(&key)?.ok_or_else(|| {
        AuthError::Misconfigured(format!(
            "no static token for scope {scope:?}: set {key:?} in the provider's settings \
             (environment: MCS_TOKEN_{})",
            scope.to_ascii_uppercase().replace(['-', '.', ':'], "_")
        ))
    })
}
