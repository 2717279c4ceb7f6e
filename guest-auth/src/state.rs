//! Everything the provider remembers, in `wasi:keyvalue` (bucket `default`).
//!
//! Each pending step of a flow is its own key, written as soon as it exists, so every call can
//! run in a fresh instance of a fresh process with only the store shared. Key names follow the
//! reference stack where it has one (`rt:{domain}`, `at:{scope}`, `linkauth:privkey`).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::bindings::wasi::keyvalue::store::{self, Bucket};

/// The bucket every key lives in.
const BUCKET: &str = "default";

/// An access token with its expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedToken {
    /// The token.
    pub token: String,
    /// Seconds since the epoch after which it must not be used.
    pub expires_at: u64,
}

/// A LinkAuth session the user has yet to finish.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrokerSession {
    /// Broker session id.
    pub session_id: String,
    /// The code the user checks.
    pub code: String,
    /// The page the user opens.
    pub url: String,
    /// Bearer token for polling.
    pub poll_token: String,
    /// Seconds between polls, as the broker asked (raised by `slow_down`).
    pub interval: u64,
    /// Do not poll before this time (seconds since the epoch).
    pub next_poll_at: u64,
}

/// A Connected Accounts flow between `/connect` and `/complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingConnect {
    /// Auth0's handle on the flow.
    pub auth_session: String,
    /// PKCE verifier whose S256 challenge went to `/connect`.
    pub code_verifier: String,
    /// The `state` sent to `/connect` (and given to the broker as `custom_state`).
    pub state: String,
    /// The redirect URI sent to `/connect`; `/complete` must repeat it.
    pub redirect_uri: String,
    /// The Auth0 connection, e.g. `google-oauth2`.
    pub connection: String,
    /// The My Account API token used for `/connect`, reused for `/complete` while valid.
    #[serde(default)]
    pub my_account: Option<CachedToken>,
}

/// The provider's store.
pub struct State {
    bucket: Bucket,
}

impl State {
    /// Opens the bucket.
    pub fn open() -> Result<Self, AuthError> {
        let bucket = store::open(BUCKET).map_err(|e| storage("open the store", &e))?;
        Ok(Self { bucket })
    }

    /// A text value.
    pub fn get_text(&self, key: &str) -> Result<Option<String>, AuthError> {
        match self.bucket.get(key).map_err(|e| storage("read", &e))? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| corrupt(key)),
        }
    }

    /// Stores a text value.
    pub fn set_text(&self, key: &str, value: &str) -> Result<(), AuthError> {
        self.bucket
            .set(key, value.as_bytes())
            .map_err(|e| storage("write", &e))
    }

    /// A JSON value; a value that no longer parses is reported, not silently dropped.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, AuthError> {
        match self.bucket.get(key).map_err(|e| storage("read", &e))? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| corrupt(key)),
        }
    }

    /// Stores a JSON value.
    pub fn set_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AuthError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| AuthError::Upstream(format!("could not encode {key:?}: {e}")))?;
        self.bucket
            .set(key, &bytes)
            .map_err(|e| storage("write", &e))
    }

    /// Removes a key (missing keys are fine).
    pub fn delete(&self, key: &str) -> Result<(), AuthError> {
        self.bucket.delete(key).map_err(|e| storage("delete", &e))
    }

    /// Every key starting with `prefix`.
    pub fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, AuthError> {
        let mut keys = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .bucket
                .list_keys(cursor)
                .map_err(|e| storage("list", &e))?;
            keys.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }
}

fn storage(what: &str, e: &store::Error) -> AuthError {
    let detail = match e {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(msg) => msg.clone(),
    };
    AuthError::Upstream(format!("could not {what} the provider's state: {detail}"))
}

fn corrupt(key: &str) -> AuthError {
    AuthError::Upstream(format!(
        "stored value {key:?} is unreadable; remove it (mcs auth logout) to start over"
    ))
}
