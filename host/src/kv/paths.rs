//! Where durable state lives on disk, and how its directory and files are created private.
//!
//! This module owns the state directory (`$MCS_HOME`, else the XDG data directory), the file
//! names inside it, and [`open_default`], which puts the SQLite store and its key together.
//! The database itself is [`super::sqlite`]'s and the key and sealing are [`super::crypto`]'s.
//! Unix only: privacy is expressed as file modes (0700 directories, 0600 files).

use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::crypto::{EncryptedBackend, STATE_KEY_ENV, StateKey};
use super::sqlite::SqliteBackend;
use super::{Backend, KvError, Location};

/// The state database inside the state directory.
const DB_FILE: &str = "state.db";

/// The state key file inside the state directory (used when `MCS_STATE_KEY` is not set).
const KEY_FILE: &str = "state.key";

/// Mode of directories we create: only the owner may list or enter them.
const DIR_MODE: u32 = 0o700;

/// Mode of files we create: only the owner may read or write them.
pub(crate) const FILE_MODE: u32 = 0o600;

/// The directory durable state lives in: `$MCS_HOME`, else `$XDG_DATA_HOME/mcs`, else
/// `$HOME/.local/share/mcs`; `None` when none of them is set.
///
/// Empty variables count as unset, and a relative `XDG_DATA_HOME` is ignored, as the XDG Base
/// Directory Specification requires.
pub fn default_state_dir() -> Option<PathBuf> {
    state_dir_from(|name| std::env::var_os(name))
}

/// [`default_state_dir`] over an injected environment, so it can be tested.
fn state_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = set("MCS_HOME") {
        return Some(home);
    }
    if let Some(data) = set("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Some(data.join("mcs"));
    }
    set("HOME").map(|home| home.join(".local/share/mcs"))
}

/// Opens the encrypted store in `dir`: `dir/state.db`, sealed with `state_key` (the value of
/// `MCS_STATE_KEY`, 64 hex characters) when given, else with the key in `dir/state.key`,
/// which is created on first use.
///
/// The caller reads the environment (see [`super::STATE_KEY_ENV`]), so this stays testable.
///
/// # Errors
///
/// When `state_key` is malformed, the key file cannot be read or created or is readable by
/// others, or the database cannot be opened (see [`SqliteBackend::open`]).
pub fn open_default(
    dir: &Path,
    state_key: Option<&str>,
) -> Result<EncryptedBackend<SqliteBackend>, KvError> {
    create_private_dir(dir)?;
    let key = match state_key {
        Some(value) => StateKey::from_env_value(value)?,
        None => StateKey::load_or_create(&dir.join(KEY_FILE))?,
    };
    let db = SqliteBackend::open(dir.join(DB_FILE))?;
    let store = EncryptedBackend::new(db, &key);
    check_key(
        &store,
        if state_key.is_some() {
            STATE_KEY_ENV
        } else {
            KEY_FILE
        },
    )?;
    Ok(store)
}

/// Where the store keeps a value sealed under its key, to tell a wrong key from tampering.
/// The namespace has a colon, which no component name in a configuration has.
const KEY_CHECK: Location<'static> = Location {
    namespace: "mcs:host",
    bucket: "state",
    key: "key-check",
};

/// Fails with [`KvError::WrongKey`] when `store`'s key cannot open its key check. A store
/// without one (new, or from before the check existed) gets one, but only after its key has
/// opened a value already there, so a wrong key is never recorded as the right one.
fn check_key(store: &EncryptedBackend<SqliteBackend>, origin: &str) -> Result<(), KvError> {
    let wrong = |e| match e {
        KvError::Tampered { .. } => KvError::WrongKey {
            origin: origin.to_owned(),
        },
        e => e,
    };
    if store.get(KEY_CHECK).map_err(wrong)?.is_some() {
        return Ok(());
    }
    if let Some((namespace, bucket, key)) = store.inner().any_location()? {
        let at = Location {
            namespace: &namespace,
            bucket: &bucket,
            key: &key,
        };
        store.get(at).map_err(wrong)?;
    }
    store.set(KEY_CHECK, b"ok")
}

/// Creates `dir` and its missing parents with mode 0700. Existing directories are left as they
/// are.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), KvError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io_error("create directory", dir))
}

/// Creates `path` empty with mode 0600 unless it exists; returns whether it was created.
pub(crate) fn create_private_file(path: &Path) -> Result<bool, KvError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error("create", path)(e)),
    }
}

/// Wraps an I/O error with what was being done to which path.
pub(crate) fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> KvError {
    let path = path.to_path_buf();
    move |source| KvError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn state_dir_prefers_mcs_home_then_xdg_then_home() {
        let all = [("MCS_HOME", "/m"), ("XDG_DATA_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(state_dir_from(env(&all)), Some("/m".into()));
        assert_eq!(state_dir_from(env(&all[1..])), Some("/x/mcs".into()));
        assert_eq!(
            state_dir_from(env(&all[2..])),
            Some("/h/.local/share/mcs".into())
        );
        assert_eq!(state_dir_from(env(&[])), None);
    }

    #[test]
    fn state_dir_ignores_empty_and_relative_values() {
        let vars = [("MCS_HOME", ""), ("XDG_DATA_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(
            state_dir_from(env(&vars)),
            Some("/h/.local/share/mcs".into())
        );
    }

    #[test]
    fn new_directories_are_private_and_existing_ones_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let nested = tmp.path().join("a/b");
        create_private_dir(&nested).unwrap();
        for dir in [tmp.path().join("a"), nested] {
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{dir:?}");
        }
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&open).unwrap();
        let mode = std::fs::metadata(&open).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn open_default_uses_the_given_key_over_the_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        let hex = "11".repeat(32);
        open_default(tmp.path(), Some(&hex)).unwrap();
        assert!(tmp.path().join(DB_FILE).exists());
        assert!(!tmp.path().join(KEY_FILE).exists());
        let other = tempfile::tempdir().unwrap();
        open_default(other.path(), None).unwrap();
        assert!(other.path().join(KEY_FILE).exists());
    }

    fn value_at(key: &str) -> Location<'_> {
        Location {
            namespace: "auth",
            bucket: "default",
            key,
        }
    }

    #[test]
    fn another_key_is_refused_at_open_naming_where_it_came_from() {
        let tmp = tempfile::tempdir().unwrap();
        let (right, wrong) = ("11".repeat(32), "22".repeat(32));
        let store = open_default(tmp.path(), Some(&right)).unwrap();
        store.set(value_at("rt"), b"refresh").unwrap();
        drop(store);

        let err = open_default(tmp.path(), Some(&wrong)).unwrap_err();
        assert!(
            matches!(&err, KvError::WrongKey { origin } if origin == STATE_KEY_ENV),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(!text.contains(&wrong) && !text.contains(&right), "{text}");
        let err = open_default(tmp.path(), None).unwrap_err();
        assert!(
            matches!(&err, KvError::WrongKey { origin } if origin == KEY_FILE),
            "{err:?}"
        );

        let store = open_default(tmp.path(), Some(&right)).unwrap();
        assert_eq!(
            store.get(value_at("rt")).unwrap().as_deref(),
            Some(&b"refresh"[..])
        );
    }

    #[test]
    fn a_store_from_before_the_check_is_checked_against_its_values_first() {
        let tmp = tempfile::tempdir().unwrap();
        let (right, wrong) = ("11".repeat(32), "22".repeat(32));
        let db = SqliteBackend::open(tmp.path().join(DB_FILE)).unwrap();
        let legacy = EncryptedBackend::new(db, &StateKey::from_env_value(&right).unwrap());
        legacy.set(value_at("rt"), b"refresh").unwrap();
        drop(legacy);

        // The wrong key is refused and not recorded: the right one still opens afterwards.
        let err = open_default(tmp.path(), Some(&wrong)).unwrap_err();
        assert!(matches!(err, KvError::WrongKey { .. }), "{err:?}");
        let store = open_default(tmp.path(), Some(&right)).unwrap();
        assert_eq!(
            store.get(value_at("rt")).unwrap().as_deref(),
            Some(&b"refresh"[..])
        );
        drop(store);
        let err = open_default(tmp.path(), Some(&wrong)).unwrap_err();
        assert!(matches!(err, KvError::WrongKey { .. }), "{err:?}");
    }
}
