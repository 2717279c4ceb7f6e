//! The credential-provider component.
//!
//! It answers `get-token(scope)` from its settings (`wasi:config`) and its state
//! (`wasi:keyvalue`). Modes, chosen by the `mode` setting:
//! - `static`: tokens come from settings named `token.<scope>` (e.g. `token.gmail`).
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
mod settings;
mod static_tokens;

use bindings::exports::mcs::auth::credential_provider::Guest;
use bindings::exports::mcs::auth::types::AuthError;

use settings::{Mode, Settings};

struct Provider;

impl Guest for Provider {
    fn get_token(scope: String) -> Result<String, AuthError> {
        let settings = Settings::load()?;
        match settings.mode {
            Mode::Static => static_tokens::get_token(&scope),
        }
    }

    fn invalidate_token(_scope: String) {
        // Static tokens have no cache to drop; a rejected static token stays rejected until the
        // operator changes the setting.
    }
}

bindings::export!(Provider with_types_in bindings);
