//! The host's token cache: tokens the provider issued, kept until shortly before they expire,
//! so warm tool calls need not run the provider component at all.
//!
//! Lifetimes come from the provider's `grants.get-grant`. A token whose lifetime the provider
//! does not know (static or typed credentials) is kept for [`UNKNOWN_LIFETIME`]; a tool's
//! `invalidate-token` (after a 401) drops it at once.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token of unknown lifetime is reused before the provider is asked again.
pub const UNKNOWN_LIFETIME: Duration = Duration::from_secs(300);

/// A token held by the host; `Debug` never shows it.
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Tokens by scope, with their expiry.
#[derive(Debug, Default)]
pub struct GrantCache {
    tokens: Mutex<HashMap<String, (Secret, Instant)>>,
}

impl GrantCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached token of `scope`, if it has not expired.
    pub fn get(&self, scope: &str) -> Option<String> {
        let tokens = self.lock();
        let (token, expires) = tokens.get(scope)?;
        (Instant::now() < *expires).then(|| token.0.clone())
    }

    /// Keeps `token` for `expires_in` seconds (unknown: [`UNKNOWN_LIFETIME`]; zero: not kept).
    pub fn put(&self, scope: &str, token: String, expires_in: Option<u64>) {
        let ttl = expires_in.map_or(UNKNOWN_LIFETIME, Duration::from_secs);
        if ttl.is_zero() {
            self.remove(scope);
            return;
        }
        self.lock()
            .insert(scope.to_owned(), (Secret(token), Instant::now() + ttl));
    }

    /// Forgets the token of `scope`.
    pub fn remove(&self, scope: &str) {
        self.lock().remove(scope);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Secret, Instant)>> {
        // Single inserts and removals cannot leave the map half-updated.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_for_their_lifetime_and_dropped_on_request() {
        let c = GrantCache::new();
        c.put("gmail", "ya29.a".into(), Some(3600));
        assert_eq!(c.get("gmail").as_deref(), Some("ya29.a"));
        c.remove("gmail");
        assert_eq!(c.get("gmail"), None);
        c.put("gmail", "ya29.b".into(), Some(0));
        assert_eq!(c.get("gmail"), None, "a zero lifetime is not cached");
        c.put("github", "ghp".into(), None);
        assert_eq!(c.get("github").as_deref(), Some("ghp"));
        assert!(!format!("{c:?}").contains("ghp"));
    }
}
