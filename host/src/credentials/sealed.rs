//! Sealed handles: what a tool component gets instead of a token, and the swap back.
//!
//! `get-token` returns an opaque random handle. Only this module can turn a handle back into
//! the token, and only for a request whose destination the scope's policy allows; the egress
//! hook asks it for every request that carries an `Authorization` header. The real token
//! never enters the tool's linear memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use http::HeaderValue;
use url::Url;

use crate::egress::EgressPolicy;

/// Every handle starts with this, so a stale or forged one is recognisable.
pub const HANDLE_PREFIX: &str = "mcs-sealed-";

/// Random bytes per handle: 128 bits cannot be guessed.
const HANDLE_BYTES: usize = 16;

/// Where each scope's token may be sent, e.g. `gmail` → `https://gmail.googleapis.com:443`.
#[derive(Debug, Clone, Default)]
pub struct ScopePolicies {
    scopes: Vec<(String, EgressPolicy)>,
}

impl ScopePolicies {
    /// Policies from `(scope, policy)` pairs.
    pub fn new(scopes: Vec<(String, EgressPolicy)>) -> Self {
        Self { scopes }
    }

    fn policy(&self, scope: &str) -> Option<&EgressPolicy> {
        self.scopes.iter().find(|(s, _)| s == scope).map(|(_, p)| p)
    }

    /// True when some scope's token may go to `url`.
    fn is_sealed_destination(&self, url: &Url) -> bool {
        self.scopes.iter().any(|(_, p)| p.allows(url))
    }
}

/// A token held by the host, as the `Authorization` value that carries it (`Bearer <token>`,
/// marked sensitive), built once when sealed; `None` when the token cannot be a header value.
/// Its `Debug` never shows the value.
struct Secret(Option<HeaderValue>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The handles minted for one tool store.
#[derive(Debug)]
pub struct SealedCredentials {
    policies: Arc<ScopePolicies>,
    handles: Mutex<HashMap<String, (String, Secret)>>,
}

/// Lowercase hex digits, for handles.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// What to do with a request's `Authorization` header.
#[derive(Debug)]
pub enum Unseal {
    /// Send the request as it is.
    Pass,
    /// Send it with this header value instead (the real token).
    Replace(HeaderValue),
    /// Refuse it.
    Refuse(Refusal),
}

/// Why a request with credentials was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A valid handle, sent where its scope's token may not go.
    WrongDestination {
        /// The handle's scope.
        scope: String,
    },
    /// An `Authorization` header toward a sealed destination that is no valid handle (a
    /// forged, stale or guessed one, or a token smuggled in from elsewhere).
    NotAHandle,
}

impl SealedCredentials {
    /// An empty table enforcing `policies`.
    pub fn new(policies: Arc<ScopePolicies>) -> Self {
        Self {
            policies,
            handles: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps `token` for `scope` and returns the handle that stands for it.
    ///
    /// # Errors
    ///
    /// When the system's random source fails (no handle is then minted).
    pub fn seal(&self, scope: &str, token: String) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; HANDLE_BYTES];
        getrandom::fill(&mut bytes)?;
        let mut handle = String::with_capacity(HANDLE_PREFIX.len() + 2 * HANDLE_BYTES);
        handle.push_str(HANDLE_PREFIX);
        for b in bytes {
            handle.push(char::from(HEX[usize::from(b >> 4)]));
            handle.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        self.lock()
            .insert(handle.clone(), (scope.to_owned(), Secret(value)));
        Ok(handle)
    }

    /// Forgets every handle of `scope` (after the upstream rejected its token).
    pub fn invalidate(&self, scope: &str) {
        self.lock().retain(|_, (s, _)| s != scope);
    }

    /// Decides what a request to `url` with `authorization` may carry.
    pub fn unseal(&self, authorization: Option<&HeaderValue>, url: &Url) -> Unseal {
        let Some(value) = authorization else {
            return Unseal::Pass;
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let handles = self.lock();
        match presented.and_then(|h| handles.get(h)) {
            Some((scope, token)) => {
                let allowed = self.policies.policy(scope).is_some_and(|p| p.allows(url));
                if !allowed {
                    return Unseal::Refuse(Refusal::WrongDestination {
                        scope: scope.clone(),
                    });
                }
                match &token.0 {
                    Some(value) => Unseal::Replace(value.clone()),
                    None => Unseal::Refuse(Refusal::NotAHandle),
                }
            }
            None if self.policies.is_sealed_destination(url) => Unseal::Refuse(Refusal::NotAHandle),
            None if presented.is_some_and(|h| h.starts_with(HANDLE_PREFIX)) => {
                Unseal::Refuse(Refusal::NotAHandle)
            }
            None => Unseal::Pass,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Secret)>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts
        // and removals), so a poisoned lock is still safe to use.
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> SealedCredentials {
        let gmail = EgressPolicy::parse(&["https://gmail.googleapis.com"]).unwrap();
        SealedCredentials::new(Arc::new(ScopePolicies::new(vec![("gmail".into(), gmail)])))
    }

    fn bearer(h: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {h}")).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn handle_is_swapped_for_the_token_at_the_scopes_destination() {
        let s = sealed();
        let h = s.seal("gmail", "ya29.real".into()).unwrap();
        assert!(h.starts_with(HANDLE_PREFIX) && !h.contains("ya29"));
        match s.unseal(Some(&bearer(&h)), &url("https://gmail.googleapis.com/x")) {
            Unseal::Replace(v) => {
                assert_eq!(v.to_str().unwrap(), "Bearer ya29.real");
                assert!(v.is_sensitive());
            }
            other => panic!("expected a swap, got {other:?}"),
        }
    }

    #[test]
    fn handle_sent_elsewhere_is_refused() {
        let s = sealed();
        let h = s.seal("gmail", "ya29.real".into()).unwrap();
        assert!(matches!(
            s.unseal(Some(&bearer(&h)), &url("https://evil.test/")),
            Unseal::Refuse(Refusal::WrongDestination { scope }) if scope == "gmail"
        ));
        assert!(matches!(
            s.unseal(
                Some(&bearer(&h)),
                &url("https://gmail.googleapis.com:8443/")
            ),
            Unseal::Refuse(_)
        ));
    }

    #[test]
    fn other_authorization_toward_a_sealed_destination_is_refused() {
        let s = sealed();
        for value in [
            "Bearer ya29.stolen",
            "Basic dXNlcjpwdw==",
            "Bearer mcs-sealed-00",
        ] {
            let v = HeaderValue::from_static(value);
            assert!(
                matches!(
                    s.unseal(Some(&v), &url("https://gmail.googleapis.com/")),
                    Unseal::Refuse(Refusal::NotAHandle)
                ),
                "{value}"
            );
        }
    }

    #[test]
    fn unknown_handles_are_refused_anywhere_and_other_auth_passes_elsewhere() {
        let s = sealed();
        let forged = HeaderValue::from_static("Bearer mcs-sealed-deadbeef");
        assert!(matches!(
            s.unseal(Some(&forged), &url("https://api.example.com/")),
            Unseal::Refuse(Refusal::NotAHandle)
        ));
        let own = HeaderValue::from_static("Bearer tool-own-key");
        assert!(matches!(
            s.unseal(Some(&own), &url("https://api.example.com/")),
            Unseal::Pass
        ));
        assert!(matches!(
            s.unseal(None, &url("https://gmail.googleapis.com/")),
            Unseal::Pass
        ));
    }

    #[test]
    fn invalidated_handles_stop_working() {
        let s = sealed();
        let h = s.seal("gmail", "ya29.real".into()).unwrap();
        s.invalidate("gmail");
        assert!(matches!(
            s.unseal(Some(&bearer(&h)), &url("https://gmail.googleapis.com/")),
            Unseal::Refuse(Refusal::NotAHandle)
        ));
    }

    #[test]
    fn debug_output_never_shows_tokens() {
        let s = sealed();
        s.seal("gmail", "ya29.real".into()).unwrap();
        assert!(!format!("{s:?}").contains("ya29.real"));
    }
}
