//! LinkAuth mode: the user types a credential (an API key, a password) into a LinkAuth form;
//! it is kept (`cred:<scope>`) until the tool reports it rejected.

use serde_json::json;

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::envelope;
use crate::linkauth::{DeviceFlow, Outcome, Wording};
use crate::settings::{self, Broker};
use crate::state::State;

/// Fields tried, in order, when no `token-field` is set (reference/mcs-python-sdk.md §3.1).
const TOKEN_FIELDS: &[&str] = &[
    "access_token",
    "api_key",
    "password",
    "token",
    "secret",
    "key",
];

/// The credential for `scope`, or the next step of the form flow.
pub fn get_token(scope: &str) -> Result<String, AuthError> {
    let broker = Broker::load()?;
    let state = State::open()?;
    let key = format!("cred:{scope}");
    if let Some(credential) = state.get_text(&key)? {
        return Ok(credential);
    }
    let flow = DeviceFlow::new(
        &state,
        &broker,
        &format!("form:{scope}"),
        scope,
        Wording::Form,
    );
    if flow.in_progress()? {
        match flow.step()? {
            Outcome::Waiting(challenge) => return Err(challenge),
            Outcome::Ready(fields) => {
                let credential = envelope::extract(&fields, broker.token_field.as_deref(), TOKEN_FIELDS)
                    .ok_or_else(|| {
                        AuthError::Misconfigured(format!(
                            "the form for {scope:?} returned fields {:?} and none is the token; set token-field",
                            fields.keys().collect::<Vec<_>>()
                        ))
                    })?;
                state.set_text(&key, &credential)?;
                return Ok(credential);
            }
            Outcome::Gone => {}
        }
    }
    let template =
        settings::get(&format!("linkauth-template.{scope}"))?.unwrap_or_else(|| "api_key".into());
    let request = json!({
        "template": template,
        "display_name": format!("Credentials for {scope}"),
    });
    let serde_json::Value::Object(request) = request else {
        unreachable!("json! of an object literal is an object")
    };
    Err(flow.start(request))
}

/// Forgets the stored credential of `scope`.
pub fn invalidate(scope: &str) -> Result<(), AuthError> {
    State::open()?.delete(&format!("cred:{scope}"))
}
