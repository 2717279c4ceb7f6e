//! The in-memory backend: shared by every store of the process, gone when it exits.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Backend, KvError, Location};

/// Values keyed by (namespace, bucket, key); sorted so `list_keys` pages are stable.
type Map = BTreeMap<(String, String, String), Vec<u8>>;

/// An in-memory [`Backend`], for tests and one-shot runs.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    map: Mutex<Map>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Map) -> Result<R, KvError>) -> Result<R, KvError> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| KvError::Backend("in-memory store poisoned by a panic".into()))?;
        f(&mut map)
    }
}

fn owned(at: Location<'_>) -> (String, String, String) {
    (at.namespace.into(), at.bucket.into(), at.key.into())
}

impl Backend for MemoryBackend {
    fn get(&self, at: Location<'_>) -> Result<Option<Vec<u8>>, KvError> {
        self.with(|m| Ok(m.get(&owned(at)).cloned()))
    }

    fn set(&self, at: Location<'_>, value: &[u8]) -> Result<(), KvError> {
        self.with(|m| {
            m.insert(owned(at), value.to_vec());
            Ok(())
        })
    }

    fn delete(&self, at: Location<'_>) -> Result<(), KvError> {
        self.with(|m| {
            m.remove(&owned(at));
            Ok(())
        })
    }

    fn list_keys(
        &self,
        namespace: &str,
        bucket: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        let skip = usize::try_from(start).unwrap_or(usize::MAX);
        self.with(|m| {
            Ok(m.keys()
                .filter(|(ns, b, _)| ns == namespace && b == bucket)
                .skip(skip)
                .take(limit)
                .map(|(_, _, k)| k.clone())
                .collect())
        })
    }

    fn increment(&self, at: Location<'_>, delta: u64) -> Result<u64, KvError> {
        self.with(|m| {
            let key = owned(at);
            let current = match m.get(&key) {
                None => 0,
                Some(bytes) => parse_counter(bytes).ok_or_else(|| KvError::NotACounter {
                    key: at.key.to_owned(),
                })?,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| KvError::Backend(format!("counter {:?} would overflow", at.key)))?;
            m.insert(key, next.to_string().into_bytes());
            Ok(next)
        })
    }
}

/// A counter value: decimal ASCII.
pub(crate) fn parse_counter(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(ns: &'a str, key: &'a str) -> Location<'a> {
        Location {
            namespace: ns,
            bucket: "default",
            key,
        }
    }

    #[test]
    fn namespaces_do_not_see_each_other() {
        let kv = MemoryBackend::new();
        kv.set(at("auth", "rt"), b"secret").unwrap();
        assert_eq!(kv.get(at("mail", "rt")).unwrap(), None);
        assert_eq!(
            kv.get(at("auth", "rt")).unwrap().as_deref(),
            Some(&b"secret"[..])
        );
        assert!(kv.list_keys("mail", "default", 0, 10).unwrap().is_empty());
    }

    #[test]
    fn increment_counts_from_zero_and_refuses_non_counters() {
        let kv = MemoryBackend::new();
        assert_eq!(kv.increment(at("a", "n"), 2).unwrap(), 2);
        assert_eq!(kv.increment(at("a", "n"), 3).unwrap(), 5);
        assert_eq!(kv.get(at("a", "n")).unwrap().as_deref(), Some(&b"5"[..]));
        kv.set(at("a", "s"), b"text").unwrap();
        assert!(matches!(
            kv.increment(at("a", "s"), 1),
            Err(KvError::NotACounter { .. })
        ));
    }

    #[test]
    fn list_keys_pages_in_sorted_order() {
        let kv = MemoryBackend::new();
        for k in ["c", "a", "b"] {
            kv.set(at("ns", k), b"1").unwrap();
        }
        assert_eq!(kv.list_keys("ns", "default", 0, 2).unwrap(), ["a", "b"]);
        assert_eq!(kv.list_keys("ns", "default", 2, 2).unwrap(), ["c"]);
    }
}
