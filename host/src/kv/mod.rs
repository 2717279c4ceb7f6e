//! The host side of `wasi:keyvalue@0.2.0-draft` (store, atomics, batch).
//!
//! Every component gets its own namespace; `open(bucket)` succeeds only for the buckets its
//! configuration grants. Storage sits behind [`Backend`], so the same host code serves the
//! in-memory backend (tests) and durable ones. Wasmtime's own `wasmtime-wasi-keyvalue` is
//! in-memory per bucket handle and loses writes between instances, which is why this exists.
//!
//! The embedder-facing pieces follow `wasmtime-wasi-http`: [`KvCtx`] (per-store state),
//! [`KvView`] (the one trait an embedder implements), [`KvCtxView`] (the borrows the generated
//! host traits are implemented for) and [`add_to_linker`].

mod crypto;
mod memory;
mod paths;
mod sqlite;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use crate::bindings::keyvalue::wasi::keyvalue::{atomics, batch, store};

pub use crypto::{AtomicUpdate, EncryptedBackend, STATE_KEY_ENV, Sealer, StateKey};
pub use memory::MemoryBackend;
pub use paths::{default_state_dir, open_default};
pub use sqlite::SqliteBackend;

/// Keys returned per `list-keys` page.
const LIST_PAGE: usize = 1000;

/// Where a value lives: component namespace, bucket, key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// The component's namespace (its name in the configuration).
    pub namespace: &'a str,
    /// The bucket the component opened.
    pub bucket: &'a str,
    /// The key inside the bucket.
    pub key: &'a str,
}

/// Storage for key-value data. Implementations must make each call atomic on its own.
pub trait Backend: Send + Sync + 'static {
    /// The value at `at`, if any.
    ///
    /// # Errors
    ///
    /// When the backend fails or the stored value cannot be read back.
    fn get(&self, at: Location<'_>) -> Result<Option<Vec<u8>>, KvError>;

    /// Stores `value` at `at`, replacing any previous value.
    ///
    /// # Errors
    ///
    /// When the backend fails; the previous value is then unchanged.
    fn set(&self, at: Location<'_>, value: &[u8]) -> Result<(), KvError>;

    /// Removes the value at `at`; removing a missing key is not an error.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn delete(&self, at: Location<'_>) -> Result<(), KvError>;

    /// Keys of one bucket in sorted order, starting at offset `start`, at most `limit`.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn list_keys(
        &self,
        namespace: &str,
        bucket: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<String>, KvError>;

    /// Adds `delta` to the counter at `at` (a missing key counts as 0) and returns the sum.
    /// Counters are stored as decimal ASCII, so `get` reads them as text.
    ///
    /// # Errors
    ///
    /// When the existing value is not a counter, the sum overflows, or the backend fails.
    fn increment(&self, at: Location<'_>, delta: u64) -> Result<u64, KvError>;
}

/// Why a key-value operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// The component's configuration does not grant this bucket.
    #[error("bucket {bucket:?} is not granted to component {namespace:?}")]
    AccessDenied {
        /// The component.
        namespace: String,
        /// The bucket it asked for.
        bucket: String,
    },
    /// A counter operation found a value that is not a counter.
    #[error("value at {key:?} is not a counter")]
    NotACounter {
        /// The key.
        key: String,
    },
    /// The backend failed.
    #[error("key-value backend: {0}")]
    Backend(String),
    /// A stored value failed authentication: it was changed outside this host, or sealed under
    /// another state key or for another location.
    #[error(
        "value at {key:?} in bucket {bucket:?} of component {namespace:?} cannot be decrypted: \
         it was modified, or written with another state key or under another key"
    )]
    Tampered {
        /// The component.
        namespace: String,
        /// The bucket.
        bucket: String,
        /// The key whose value failed to open.
        key: String,
    },
    /// The state key file may be read or written by users other than its owner.
    #[error(
        "state key file {path:?} is accessible by group or others (mode {mode:04o}); \
         fix it with `chmod 600 {}`",
        path.display()
    )]
    KeyFileMode {
        /// The key file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The state was written with another state key than the one given (the key itself is
    /// never shown). Nothing was read or changed.
    #[error(
        "the state key from {origin} is not the one this state was written with: restore the \
         original key (MCS_STATE_KEY or state.key), or move the state directory aside to start \
         empty"
    )]
    WrongKey {
        /// Where the key came from: `MCS_STATE_KEY` or the key file.
        origin: String,
    },
    /// A state key is not in the expected format (the key itself is never shown).
    #[error("{origin} is not a state key: expected 64 hex characters (32 bytes)")]
    BadKey {
        /// Where the key came from: `MCS_STATE_KEY` or the key file.
        origin: String,
    },
    /// The state database file exists but is not an SQLite database, or is damaged. It is left
    /// untouched.
    #[error(
        "{path:?} is not a readable state database and was left untouched: \
         restore it from a backup, or move it aside to start an empty store"
    )]
    CorruptDatabase {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite said.
        #[source]
        source: crate::BoxError,
    },
    /// The state database failed.
    #[error("state database {path:?} failed")]
    Database {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite said.
        #[source]
        source: crate::BoxError,
    },
    /// A state file or directory could not be read or created.
    #[error("could not {action} {path:?}")]
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<KvError> for store::Error {
    fn from(e: KvError) -> Self {
        match e {
            KvError::AccessDenied { .. } => store::Error::AccessDenied,
            other => store::Error::Other(other.to_string()),
        }
    }
}

/// Per-store key-value state: the backend, the component's namespace and granted buckets.
#[derive(Clone)]
pub struct KvCtx {
    backend: Arc<dyn Backend>,
    namespace: Arc<str>,
    buckets: Arc<[String]>,
}

impl KvCtx {
    /// State for component `namespace`, which may open only `buckets`.
    pub fn new(backend: Arc<dyn Backend>, namespace: &str, buckets: &[String]) -> Self {
        Self {
            backend,
            namespace: namespace.into(),
            buckets: buckets.into(),
        }
    }
}

/// An open bucket, as held in the resource table.
#[derive(Debug)]
pub struct Bucket {
    name: String,
}

/// The borrows the generated `wasi:keyvalue` host traits are implemented for.
pub struct KvCtxView<'a> {
    /// The store's key-value state.
    pub ctx: &'a KvCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// Implemented by an embedder's store data to provide `wasi:keyvalue`.
pub trait KvView: Send {
    /// The view over this store's key-value state.
    fn kv(&mut self) -> KvCtxView<'_>;
}

/// Marker for [`add_to_linker`]'s `HasData` projection.
struct WasiKeyValue;

impl HasData for WasiKeyValue {
    type Data<'a> = KvCtxView<'a>;
}

/// Adds `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft` to `linker`.
///
/// # Errors
///
/// When the interfaces are already defined in `linker`.
pub fn add_to_linker<T: KvView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    store::add_to_linker::<T, WasiKeyValue>(linker, T::kv)?;
    atomics::add_to_linker::<T, WasiKeyValue>(linker, T::kv)?;
    batch::add_to_linker::<T, WasiKeyValue>(linker, T::kv)?;
    Ok(())
}

impl KvCtxView<'_> {
    fn location<'a>(&'a self, bucket: &'a Bucket, key: &'a str) -> Location<'a> {
        Location {
            namespace: &self.ctx.namespace,
            bucket: &bucket.name,
            key,
        }
    }

    fn bucket(&self, handle: &Resource<Bucket>) -> wasmtime::Result<&Bucket> {
        Ok(self.table.get(handle)?)
    }
}

type KvResult<T> = wasmtime::Result<Result<T, store::Error>>;

impl store::Host for KvCtxView<'_> {
    async fn open(&mut self, identifier: String) -> KvResult<Resource<Bucket>> {
        if !self.ctx.buckets.contains(&identifier) {
            let denied = KvError::AccessDenied {
                namespace: self.ctx.namespace.to_string(),
                bucket: identifier,
            };
            tracing::warn!("{denied}");
            return Ok(Err(denied.into()));
        }
        Ok(Ok(self.table.push(Bucket { name: identifier })?))
    }
}

impl store::HostBucket for KvCtxView<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<Option<Vec<u8>>> {
        let b = self.bucket(&bucket)?;
        Ok(self
            .ctx
            .backend
            .get(self.location(b, &key))
            .map_err(Into::into))
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> KvResult<()> {
        let b = self.bucket(&bucket)?;
        Ok(self
            .ctx
            .backend
            .set(self.location(b, &key), &value)
            .map_err(Into::into))
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<()> {
        let b = self.bucket(&bucket)?;
        Ok(self
            .ctx
            .backend
            .delete(self.location(b, &key))
            .map_err(Into::into))
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> KvResult<bool> {
        let b = self.bucket(&bucket)?;
        Ok(self
            .ctx
            .backend
            .get(self.location(b, &key))
            .map(|v| v.is_some())
            .map_err(Into::into))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> KvResult<store::KeyResponse> {
        let b = self.bucket(&bucket)?;
        let start = cursor.unwrap_or(0);
        let keys = match self
            .ctx
            .backend
            .list_keys(&self.ctx.namespace, &b.name, start, LIST_PAGE)
        {
            Ok(keys) => keys,
            Err(e) => return Ok(Err(e.into())),
        };
        let cursor = (keys.len() == LIST_PAGE).then(|| start + LIST_PAGE as u64);
        Ok(Ok(store::KeyResponse { keys, cursor }))
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvCtxView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> KvResult<u64> {
        let b = self.bucket(&bucket)?;
        Ok(self
            .ctx
            .backend
            .increment(self.location(b, &key), delta)
            .map_err(Into::into))
    }
}

impl batch::Host for KvCtxView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> KvResult<Vec<Option<(String, Vec<u8>)>>> {
        let b = self.bucket(&bucket)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match self.ctx.backend.get(self.location(b, &key)) {
                Ok(value) => out.push(value.map(|v| (key, v))),
                Err(e) => return Ok(Err(e.into())),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> KvResult<()> {
        let b = self.bucket(&bucket)?;
        for (key, value) in &key_values {
            if let Err(e) = self.ctx.backend.set(self.location(b, key), value) {
                return Ok(Err(e.into()));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> KvResult<()> {
        let b = self.bucket(&bucket)?;
        for key in &keys {
            if let Err(e) = self.ctx.backend.delete(self.location(b, key)) {
                return Ok(Err(e.into()));
            }
        }
        Ok(Ok(()))
    }
}
