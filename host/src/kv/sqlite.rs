//! The durable backend: one SQLite database file shared by every store of the process and by
//! other processes using the same file.
//!
//! This module owns the schema, the connection settings and the mapping of SQLite failures to
//! [`KvError`]. It stores whatever bytes it is given; encryption is [`super::crypto`]'s and the
//! file's location is [`super::paths`]'s.
//!
//! Settings, per <https://sqlite.org/wal.html> and <https://sqlite.org/pragma.html>:
//! - `journal_mode=WAL`, so readers do not block the writer;
//! - `synchronous=FULL`: each commit syncs the WAL before it returns, so a committed value
//!   survives a power loss or an OS crash, not only a killed process (`NORMAL` would already
//!   survive `kill -9`, since a commit is in the WAL file when it returns, but may lose the last
//!   commits on power loss). Writes are rare here (tokens, small state) and losing a rotated
//!   refresh token forces a new login, so the extra sync per commit is worth it;
//! - `busy_timeout` of 5 s, so processes sharing the file wait for each other's write lock;
//! - read-modify-write ([`SqliteBackend::update`], `increment`) in one `BEGIN IMMEDIATE`
//!   transaction, which takes the write lock first, so concurrent updates serialise instead of
//!   losing one another or failing with `SQLITE_BUSY` on upgrade.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::crypto::AtomicUpdate;
use super::memory::parse_counter;
use super::paths::{create_private_dir, create_private_file};
use super::{Backend, KvError, Location};

/// How long a statement waits for another connection's lock before failing. Long enough for
/// any single write by another process, short enough that a stuck process shows as an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The one table. `WITHOUT ROWID` stores rows in primary-key order, which is also the order
/// `list_keys` pages in.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (namespace, bucket, key)
) WITHOUT ROWID";

const SELECT: &str = "SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3";

const UPSERT: &str = "INSERT INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (namespace, bucket, key) DO UPDATE SET value = excluded.value";

const DELETE: &str = "DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3";

const LIST: &str = "SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2
    ORDER BY key LIMIT ?3 OFFSET ?4";

const ANY: &str = "SELECT namespace, bucket, key FROM kv LIMIT 1";

/// A [`Backend`] in an SQLite database file.
pub struct SqliteBackend {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens the database at `path`, creating it (mode 0600, missing parent directories 0700)
    /// when it does not exist.
    ///
    /// # Errors
    ///
    /// [`KvError::CorruptDatabase`] when the file is not an SQLite database (it is left
    /// untouched); [`KvError::Io`] or [`KvError::Database`] when it cannot be created or opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KvError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
        // Created here so it gets our mode; SQLite gives its -wal and -shm files the database
        // file's permissions.
        create_private_file(&path)?;
        let db = |e| db_error(&path, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!("state database {path:?} stays in journal mode {mode:?}, not WAL");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA}; COMMIT"))
            .map_err(db)?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the value at `at` with `f(current value)` inside one `BEGIN IMMEDIATE`
    /// transaction and returns the new value; when `f` fails nothing is written.
    ///
    /// # Errors
    ///
    /// What `f` returns, or when the database fails.
    pub fn update(
        &self,
        at: Location<'_>,
        f: impl FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, KvError>,
    ) -> Result<Vec<u8>, KvError> {
        let db = |e| db_error(&self.path, e);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let current = tx
            .prepare_cached(SELECT)
            .and_then(|mut s| {
                s.query_row(params![at.namespace, at.bucket, at.key], |r| r.get(0))
                    .optional()
            })
            .map_err(db)?;
        // On error the transaction is dropped, which rolls it back.
        let next = f(current)?;
        tx.prepare_cached(UPSERT)
            .and_then(|mut s| s.execute(params![at.namespace, at.bucket, at.key, next]))
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(next)
    }

    /// Where some value is stored (namespace, bucket, key), or `None` for an empty store.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub fn any_location(&self) -> Result<Option<(String, String, String)>, KvError> {
        self.with(|c| {
            c.query_row(ANY, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
    }

    /// The connection. A panic while it was held leaves it usable: any open transaction was
    /// rolled back when it was dropped during unwinding.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection, mapping its error.
    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, KvError> {
        f(&self.lock()).map_err(|e| db_error(&self.path, e))
    }
}

/// [`KvError::CorruptDatabase`] when SQLite finds no database in the file, else
/// [`KvError::Database`].
fn db_error(path: &Path, e: rusqlite::Error) -> KvError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => KvError::CorruptDatabase {
            path,
            source: Box::new(e),
        },
        _ => KvError::Database {
            path,
            source: Box::new(e),
        },
    }
}

impl Backend for SqliteBackend {
    fn get(&self, at: Location<'_>) -> Result<Option<Vec<u8>>, KvError> {
        self.with(|c| {
            c.prepare_cached(SELECT)?
                .query_row(params![at.namespace, at.bucket, at.key], |r| r.get(0))
                .optional()
        })
    }

    fn set(&self, at: Location<'_>, value: &[u8]) -> Result<(), KvError> {
        self.with(|c| {
            c.prepare_cached(UPSERT)?
                .execute(params![at.namespace, at.bucket, at.key, value])
                .map(drop)
        })
    }

    fn delete(&self, at: Location<'_>) -> Result<(), KvError> {
        self.with(|c| {
            c.prepare_cached(DELETE)?
                .execute(params![at.namespace, at.bucket, at.key])
                .map(drop)
        })
    }

    fn list_keys(
        &self,
        namespace: &str,
        bucket: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(start).unwrap_or(i64::MAX);
        self.with(|c| {
            c.prepare_cached(LIST)?
                .query_map(params![namespace, bucket, limit, offset], |r| r.get(0))?
                .collect()
        })
    }

    fn increment(&self, at: Location<'_>, delta: u64) -> Result<u64, KvError> {
        let mut sum = 0;
        self.update(at, |current| {
            let current = match current {
                None => 0,
                Some(bytes) => parse_counter(&bytes).ok_or_else(|| KvError::NotACounter {
                    key: at.key.to_owned(),
                })?,
            };
            sum = current
                .checked_add(delta)
                .ok_or_else(|| KvError::Backend(format!("counter {:?} would overflow", at.key)))?;
            Ok(sum.to_string().into_bytes())
        })?;
        Ok(sum)
    }
}

impl AtomicUpdate for SqliteBackend {
    fn update<F>(&self, at: Location<'_>, f: F) -> Result<Vec<u8>, KvError>
    where
        F: FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, KvError>,
    {
        SqliteBackend::update(self, at, f)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn at<'a>(ns: &'a str, key: &'a str) -> Location<'a> {
        Location {
            namespace: ns,
            bucket: "default",
            key,
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn values_survive_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.db");
        {
            let kv = SqliteBackend::open(&path).unwrap();
            kv.set(at("a", "k"), b"v1").unwrap();
            kv.set(at("a", "k"), b"v2").unwrap();
            kv.set(at("a", "gone"), b"x").unwrap();
            kv.delete(at("a", "gone")).unwrap();
            kv.delete(at("a", "never")).unwrap();
        }
        let kv = SqliteBackend::open(&path).unwrap();
        assert_eq!(kv.get(at("a", "k")).unwrap().as_deref(), Some(&b"v2"[..]));
        assert_eq!(kv.get(at("a", "gone")).unwrap(), None);
        assert_eq!(kv.get(at("b", "k")).unwrap(), None);
    }

    #[test]
    fn database_and_new_directories_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x/y");
        let path = dir.join("state.db");
        let kv = SqliteBackend::open(&path).unwrap();
        kv.set(at("a", "k"), b"v").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("x")), 0o700);
        assert_eq!(mode(&dir.join("state.db-wal")), 0o600);
    }

    #[test]
    fn list_keys_pages_in_sorted_order_within_one_bucket() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = SqliteBackend::open(tmp.path().join("state.db")).unwrap();
        for k in ["c", "a", "e", "b", "d"] {
            kv.set(at("ns", k), b"1").unwrap();
        }
        kv.set(at("other", "a0"), b"1").unwrap();
        let other_bucket = Location {
            bucket: "b2",
            ..at("ns", "a0")
        };
        kv.set(other_bucket, b"1").unwrap();
        assert_eq!(kv.list_keys("ns", "default", 0, 2).unwrap(), ["a", "b"]);
        assert_eq!(kv.list_keys("ns", "default", 2, 2).unwrap(), ["c", "d"]);
        assert_eq!(kv.list_keys("ns", "default", 4, 2).unwrap(), ["e"]);
        assert!(kv.list_keys("ns", "default", 5, 2).unwrap().is_empty());
        assert!(
            kv.list_keys("ns", "default", u64::MAX, usize::MAX)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            kv.list_keys("ns", "default", 0, usize::MAX).unwrap().len(),
            5
        );
    }

    #[test]
    fn increment_counts_from_zero_and_refuses_non_counters() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = SqliteBackend::open(tmp.path().join("state.db")).unwrap();
        assert_eq!(kv.increment(at("a", "n"), 2).unwrap(), 2);
        assert_eq!(kv.increment(at("a", "n"), 3).unwrap(), 5);
        assert_eq!(kv.get(at("a", "n")).unwrap().as_deref(), Some(&b"5"[..]));
        kv.set(at("a", "s"), b"text").unwrap();
        assert!(matches!(
            kv.increment(at("a", "s"), 1),
            Err(KvError::NotACounter { key }) if key == "s"
        ));
        assert_eq!(kv.get(at("a", "s")).unwrap().as_deref(), Some(&b"text"[..]));
    }

    #[test]
    fn failed_update_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = SqliteBackend::open(tmp.path().join("state.db")).unwrap();
        kv.set(at("a", "k"), b"old").unwrap();
        let err = kv
            .update(at("a", "k"), |_| Err(KvError::Backend("no".into())))
            .unwrap_err();
        assert!(matches!(err, KvError::Backend(_)));
        assert_eq!(kv.get(at("a", "k")).unwrap().as_deref(), Some(&b"old"[..]));
        let new = kv
            .update(at("a", "k"), |v| {
                assert_eq!(v.as_deref(), Some(&b"old"[..]));
                Ok(b"new".to_vec())
            })
            .unwrap();
        assert_eq!(new, b"new");
        assert_eq!(kv.get(at("a", "k")).unwrap().as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn concurrent_increments_from_threads_and_connections_lose_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.db");
        SqliteBackend::open(&path).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let kv = SqliteBackend::open(&path).unwrap();
                s.spawn(move || {
                    for _ in 0..25 {
                        kv.increment(at("a", "n"), 1).unwrap();
                    }
                });
            }
        });
        let kv = SqliteBackend::open(&path).unwrap();
        assert_eq!(kv.get(at("a", "n")).unwrap().as_deref(), Some(&b"100"[..]));
    }

    #[test]
    fn corrupt_database_is_reported_with_its_path_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, garbage) in [
            ("short.db", b"this is not a database\n".to_vec()),
            ("long.db", b"this is not a database\n".repeat(500)),
        ] {
            let path = tmp.path().join(name);
            fs::write(&path, &garbage).unwrap();
            let err = SqliteBackend::open(&path).unwrap_err();
            assert!(
                matches!(&err, KvError::CorruptDatabase { path: p, .. } if *p == path),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains(&format!("{path:?}")), "{text}");
            assert_eq!(fs::read(&path).unwrap(), garbage, "file changed");
        }
    }
}
