//! Encryption of stored values: the state key, AES-256-GCM sealing bound to each value's
//! location, and [`EncryptedBackend`], which seals everything another backend stores.
//!
//! This module owns the key file format and its permissions, the sealed value format and the
//! associated data. Where the key file lives is [`super::paths`]'s; how values are stored is the
//! wrapped backend's. Namespaces, buckets and keys stay plaintext (they are not secret, and the
//! backend must list and index them); only values are encrypted.
//!
//! A sealed value is `1 || nonce (12 bytes) || ciphertext || tag (16 bytes)`, with a random
//! nonce per value (NIST SP 800-38D §8.2.2: random 96-bit nonces are safe for up to 2^32
//! messages per key) and associated data `namespace || 0x00 || bucket || 0x00 || key`, so a
//! value copied to another location fails to open.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};

use super::memory::parse_counter;
use super::paths::{FILE_MODE, create_private_dir, io_error};
use super::{Backend, KvError, Location};

/// The environment variable that supplies the state key instead of the key file.
pub const STATE_KEY_ENV: &str = "MCS_STATE_KEY";

/// Key length of AES-256.
const KEY_LEN: usize = 32;

/// GCM's recommended nonce length (NIST SP 800-38D §5.2.1.1).
const NONCE_LEN: usize = 12;

/// GCM's full-length tag.
const TAG_LEN: usize = 16;

/// First byte of every sealed value, so the format can change later.
const FORMAT_V1: u8 = 1;

/// The most a key file is read: 64 hex characters plus a little whitespace.
const KEY_FILE_MAX: u64 = 2 * KEY_LEN as u64 + 64;

/// The 256-bit key that seals stored values.
///
/// Stored on disk as 64 lowercase hex characters and a newline, in a file only its owner may
/// read; `MCS_STATE_KEY` uses the same 64 hex characters.
pub struct StateKey([u8; KEY_LEN]);

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

impl StateKey {
    /// Reads the key file at `path`, creating it with a fresh random key (mode 0600, in a
    /// directory created 0700) when it does not exist.
    ///
    /// Creation is atomic: the key is written and synced to a temporary file that is then
    /// hard-linked into place, so a reader never sees a partial key and, when two processes
    /// race, both end up using the one that was linked first.
    ///
    /// # Errors
    ///
    /// When the file is readable or writable by group or others ([`KvError::KeyFileMode`]), is
    /// not 64 hex characters ([`KvError::BadKey`]), or cannot be read or created.
    pub fn load_or_create(path: &Path) -> Result<Self, KvError> {
        if let Some(key) = Self::load(path)? {
            return Ok(key);
        }
        Self::create(path)?;
        Self::load(path)?.ok_or_else(|| {
            io_error("read key file", path)(io::Error::new(
                io::ErrorKind::NotFound,
                "removed right after it was created",
            ))
        })
    }

    /// Parses the value of `MCS_STATE_KEY`: 64 hex characters (surrounding whitespace ignored).
    ///
    /// # Errors
    ///
    /// When the value is not 64 hex characters; the error does not include the value.
    pub fn from_env_value(value: &str) -> Result<Self, KvError> {
        parse_hex_key(value)
            .map(Self)
            .ok_or_else(|| KvError::BadKey {
                origin: STATE_KEY_ENV.to_owned(),
            })
    }

    /// The key file's key, or `None` when there is no key file.
    fn load(path: &Path) -> Result<Option<Self>, KvError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("open key file", path)(e)),
        };
        let meta = file
            .metadata()
            .map_err(io_error("inspect key file", path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KvError::KeyFileMode {
                path: path.to_path_buf(),
                mode,
            });
        }
        let bad = || KvError::BadKey {
            origin: format!("state key file {path:?}"),
        };
        if !meta.is_file() {
            return Err(bad());
        }
        let mut text = Vec::new();
        file.take(KEY_FILE_MAX)
            .read_to_end(&mut text)
            .map_err(io_error("read key file", path))?;
        let text = std::str::from_utf8(&text).map_err(|_| bad())?;
        parse_hex_key(text)
            .map(|key| Some(Self(key)))
            .ok_or_else(bad)
    }

    /// Writes a fresh key to a temporary file and links it to `path` unless `path` exists.
    fn create(path: &Path) -> Result<(), KvError> {
        let dir = path.parent().unwrap_or(Path::new(""));
        create_private_dir(dir)?;
        let mut key = [0; KEY_LEN];
        random(&mut key)?;
        let mut text = hex(&key);
        text.push('\n');

        let mut tag = [0; 8];
        random(&mut tag)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), hex(&tag)));
        let written = write_synced(&tmp, text.as_bytes());
        let linked = written.and_then(|()| {
            fs::hard_link(&tmp, path).or_else(|e| match e.kind() {
                // Another process linked its key first: use theirs.
                io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(io_error("create key file", path)(e)),
            })
        });
        if let Err(e) = fs::remove_file(&tmp)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!("could not remove temporary key file {tmp:?}: {e}");
        }
        linked?;
        // Make the new directory entry durable too.
        let dir_for_sync = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir_for_sync)
            .and_then(|d| d.sync_all())
            .map_err(io_error("sync directory", dir_for_sync))
    }
}

/// Creates `path` (mode 0600, failing if it exists), writes `bytes` and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), KvError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(io_error("create temporary key file", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error("write temporary key file", path))
}

/// Fills `buf` from the operating system's random source.
fn random(buf: &mut [u8]) -> Result<(), KvError> {
    getrandom::fill(buf)
        .map_err(|e| KvError::Backend(format!("no randomness from the operating system: {e}")))
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A key from exactly 64 hex characters (either case) surrounded by optional whitespace.
fn parse_hex_key(text: &str) -> Option<[u8; KEY_LEN]> {
    let digits = text.trim().as_bytes();
    if digits.len() != 2 * KEY_LEN {
        return None;
    }
    let mut key = [0; KEY_LEN];
    for (byte, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from((hi << 4) | lo).ok()?;
    }
    Some(key)
}

/// The associated data that binds a sealed value to its location.
fn aad(at: Location<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(at.namespace.len() + at.bucket.len() + at.key.len() + 2);
    out.extend_from_slice(at.namespace.as_bytes());
    out.push(0);
    out.extend_from_slice(at.bucket.as_bytes());
    out.push(0);
    out.extend_from_slice(at.key.as_bytes());
    out
}

/// Seals and opens values with AES-256-GCM under a [`StateKey`], bound to their location.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// A sealer for `key`.
    pub fn new(key: &StateKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(GenericArray::from_slice(&key.0)),
        }
    }

    /// Encrypts `plaintext` for location `at` with a fresh random nonce.
    ///
    /// # Errors
    ///
    /// When the operating system provides no randomness, or the value is too large for GCM.
    pub fn seal(&self, at: Location<'_>, plaintext: &[u8]) -> Result<Vec<u8>, KvError> {
        let mut nonce = [0; NONCE_LEN];
        random(&mut nonce)?;
        let sealed = self
            .cipher
            .encrypt(
                GenericArray::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(at),
                },
            )
            .map_err(|_| KvError::Backend(format!("value for {:?} is too large", at.key)))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a value sealed by [`Sealer::seal`] for location `at`.
    ///
    /// # Errors
    ///
    /// [`KvError::Tampered`] when the value was changed, sealed under another key, or sealed
    /// for another location.
    pub fn open(&self, at: Location<'_>, sealed: &[u8]) -> Result<Vec<u8>, KvError> {
        let tampered = || KvError::Tampered {
            namespace: at.namespace.to_owned(),
            bucket: at.bucket.to_owned(),
            key: at.key.to_owned(),
        };
        let Some((&FORMAT_V1, rest)) = sealed.split_first() else {
            return Err(tampered());
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(tampered());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                GenericArray::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad(at),
                },
            )
            .map_err(|_| tampered())
    }
}

/// A backend that can read, change and write back one value atomically, which an encrypted
/// `increment` needs (the backend cannot add to a value it cannot read).
pub trait AtomicUpdate: Backend {
    /// Replaces the value at `at` with `f(current value)` as one atomic step and returns the
    /// new value; when `f` fails nothing is written.
    ///
    /// # Errors
    ///
    /// What `f` returns, or when the backend fails.
    fn update<F>(&self, at: Location<'_>, f: F) -> Result<Vec<u8>, KvError>
    where
        F: FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, KvError>;
}

/// A [`Backend`] that stores every value of `B` sealed with AES-256-GCM.
///
/// Values read back that fail to open give [`KvError::Tampered`]; counters are sealed like any
/// other value and incremented through [`AtomicUpdate`].
pub struct EncryptedBackend<B> {
    inner: B,
    sealer: Sealer,
}

impl<B: fmt::Debug> fmt::Debug for EncryptedBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedBackend")
            .field("inner", &self.inner)
            .field("sealer", &self.sealer)
            .finish()
    }
}

impl<B> EncryptedBackend<B> {
    /// Wraps `inner`, sealing its values with `key`.
    pub fn new(inner: B, key: &StateKey) -> Self {
        Self {
            inner,
            sealer: Sealer::new(key),
        }
    }

    /// The wrapped backend, which sees only sealed values.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<B: AtomicUpdate> Backend for EncryptedBackend<B> {
    fn get(&self, at: Location<'_>) -> Result<Option<Vec<u8>>, KvError> {
        self.inner
            .get(at)?
            .map(|sealed| self.sealer.open(at, &sealed))
            .transpose()
    }

    fn set(&self, at: Location<'_>, value: &[u8]) -> Result<(), KvError> {
        self.inner.set(at, &self.sealer.seal(at, value)?)
    }

    fn delete(&self, at: Location<'_>) -> Result<(), KvError> {
        self.inner.delete(at)
    }

    fn list_keys(
        &self,
        namespace: &str,
        bucket: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<String>, KvError> {
        self.inner.list_keys(namespace, bucket, start, limit)
    }

    fn increment(&self, at: Location<'_>, delta: u64) -> Result<u64, KvError> {
        let mut sum = 0;
        self.inner.update(at, |current| {
            let current = match current {
                None => 0,
                Some(sealed) => {
                    parse_counter(&self.sealer.open(at, &sealed)?).ok_or_else(|| {
                        KvError::NotACounter {
                            key: at.key.to_owned(),
                        }
                    })?
                }
            };
            sum = current
                .checked_add(delta)
                .ok_or_else(|| KvError::Backend(format!("counter {:?} would overflow", at.key)))?;
            self.sealer.seal(at, sum.to_string().as_bytes())
        })?;
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::super::sqlite::SqliteBackend;
    use super::*;

    fn at(key: &str) -> Location<'_> {
        Location {
            namespace: "auth",
            bucket: "default",
            key,
        }
    }

    fn key(byte: u8) -> StateKey {
        StateKey([byte; KEY_LEN])
    }

    fn store(dir: &Path, k: &StateKey) -> EncryptedBackend<SqliteBackend> {
        EncryptedBackend::new(SqliteBackend::open(dir.join("state.db")).unwrap(), k)
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn aad_separates_namespace_bucket_and_key() {
        let l = Location {
            namespace: "ns",
            bucket: "b",
            key: "k",
        };
        assert_eq!(aad(l), b"ns\0b\0k");
    }

    #[test]
    fn sealed_values_round_trip_and_hide_the_plaintext() {
        let sealer = Sealer::new(&key(7));
        let sealed = sealer.seal(at("rt"), b"refresh-token").unwrap();
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 13 + TAG_LEN);
        assert!(!sealed.windows(7).any(|w| w == b"refresh"));
        assert_eq!(sealer.open(at("rt"), &sealed).unwrap(), b"refresh-token");
        assert_ne!(sealer.seal(at("rt"), b"refresh-token").unwrap(), sealed);
    }

    #[test]
    fn value_copied_to_another_key_is_tampered() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = store(tmp.path(), &key(1));
        kv.set(at("a"), b"secret").unwrap();
        let sealed = kv.inner().get(at("a")).unwrap().unwrap();
        kv.inner().set(at("b"), &sealed).unwrap();
        let err = kv.get(at("b")).unwrap_err();
        assert!(
            matches!(&err, KvError::Tampered { key, .. } if key == "b"),
            "{err:?}"
        );
        let other_bucket = Location {
            bucket: "other",
            ..at("a")
        };
        kv.inner().set(other_bucket, &sealed).unwrap();
        assert!(matches!(
            kv.get(other_bucket),
            Err(KvError::Tampered { .. })
        ));
    }

    #[test]
    fn flipped_byte_is_tampered_and_other_keys_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = store(tmp.path(), &key(1));
        kv.set(at("a"), b"secret").unwrap();
        kv.set(at("b"), b"other").unwrap();
        let mut sealed = kv.inner().get(at("a")).unwrap().unwrap();
        for i in [0, 5, sealed.len() - 1] {
            sealed[i] ^= 1;
            kv.inner().set(at("a"), &sealed).unwrap();
            let err = kv.get(at("a")).unwrap_err();
            assert!(matches!(err, KvError::Tampered { .. }), "byte {i}: {err:?}");
            sealed[i] ^= 1;
        }
        kv.inner().set(at("a"), &sealed[..10]).unwrap();
        assert!(matches!(kv.get(at("a")), Err(KvError::Tampered { .. })));
        assert_eq!(kv.get(at("b")).unwrap().as_deref(), Some(&b"other"[..]));
    }

    #[test]
    fn tampered_error_names_the_key_and_shows_no_bytes() {
        let sealer = Sealer::new(&key(1));
        let err = sealer.open(at("rt"), &[FORMAT_V1; 40]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"rt\""), "{text}");
        assert!(text.contains("modified"), "{text}");
        assert!(!text.contains("[1"), "{text}");
        assert!(text.starts_with(char::is_lowercase), "{text}");
    }

    #[test]
    fn wrong_state_key_is_tampered() {
        let tmp = tempfile::tempdir().unwrap();
        store(tmp.path(), &key(1)).set(at("a"), b"secret").unwrap();
        let err = store(tmp.path(), &key(2)).get(at("a")).unwrap_err();
        assert!(matches!(err, KvError::Tampered { .. }), "{err:?}");
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let path = dir.join("state.key");
        let sealed = {
            let k = StateKey::load_or_create(&path).unwrap();
            Sealer::new(&k).seal(at("a"), b"v").unwrap()
        };
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "64 hex digits and a newline");
        let again = StateKey::load_or_create(&path).unwrap();
        assert_eq!(Sealer::new(&again).open(at("a"), &sealed).unwrap(), b"v");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
    }

    #[test]
    fn group_readable_key_file_is_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.key");
        StateKey::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = StateKey::load_or_create(&path).unwrap_err();
        assert!(matches!(err, KvError::KeyFileMode { mode: 0o640, .. }));
        let text = err.to_string();
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert!(text.contains("0640"), "{text}");
    }

    #[test]
    fn malformed_key_file_is_refused_without_showing_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.key");
        write_synced(&path, b"not-a-key-zzzz").unwrap();
        let text = StateKey::load_or_create(&path).unwrap_err().to_string();
        assert!(text.contains("64 hex"), "{text}");
        assert!(!text.contains("zzzz"), "{text}");
        assert_eq!(
            fs::read(&path).unwrap(),
            b"not-a-key-zzzz",
            "left untouched"
        );
    }

    #[test]
    fn env_key_parses_64_hex_characters() {
        let hex_key = "aB".repeat(32);
        let k = StateKey::from_env_value(&format!(" {hex_key}\n")).unwrap();
        assert_eq!(k.0, [0xab; KEY_LEN]);
        assert_eq!(format!("{k:?}"), "StateKey(<redacted>)");
    }

    #[test]
    fn env_key_errors_say_the_format_and_do_not_echo_the_value() {
        let secret = "s3cr3t";
        for value in [
            secret.to_owned(),
            format!("{secret}{}", "0".repeat(58)),
            "0".repeat(63),
            "0".repeat(65),
            "g".repeat(64),
            "é".repeat(32),
        ] {
            let err = StateKey::from_env_value(&value).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(STATE_KEY_ENV), "{text}");
            assert!(text.contains("64 hex characters"), "{text}");
            assert!(!text.contains(secret) && !text.contains("000"), "{text}");
            assert!(!format!("{err:?}").contains(secret));
        }
    }

    #[test]
    fn increment_counts_from_zero_and_stays_sealed() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = store(tmp.path(), &key(3));
        assert_eq!(kv.increment(at("n"), 2).unwrap(), 2);
        assert_eq!(kv.increment(at("n"), 3).unwrap(), 5);
        assert_eq!(kv.get(at("n")).unwrap().as_deref(), Some(&b"5"[..]));
        let raw = kv.inner().get(at("n")).unwrap().unwrap();
        assert_eq!(raw.len(), 1 + NONCE_LEN + 1 + TAG_LEN);
    }

    #[test]
    fn increment_refuses_non_counters_and_overflow_without_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = store(tmp.path(), &key(3));
        kv.set(at("s"), b"text").unwrap();
        assert!(matches!(
            kv.increment(at("s"), 1),
            Err(KvError::NotACounter { key }) if key == "s"
        ));
        assert_eq!(kv.get(at("s")).unwrap().as_deref(), Some(&b"text"[..]));
        kv.set(at("max"), u64::MAX.to_string().as_bytes()).unwrap();
        assert!(kv.increment(at("max"), 1).is_err());
        assert_eq!(kv.increment(at("max"), 0).unwrap(), u64::MAX);
    }

    #[test]
    fn increment_on_a_tampered_counter_is_tampered() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = store(tmp.path(), &key(3));
        kv.increment(at("n"), 1).unwrap();
        let mut raw = kv.inner().get(at("n")).unwrap().unwrap();
        raw[1] ^= 0x80;
        kv.inner().set(at("n"), &raw).unwrap();
        assert!(matches!(
            kv.increment(at("n"), 1),
            Err(KvError::Tampered { .. })
        ));
        assert_eq!(kv.inner().get(at("n")).unwrap().unwrap(), raw);
    }

    #[test]
    fn debug_output_redacts_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let kv = store(tmp.path(), &key(0xab));
        let text = format!("{kv:?} {:?}", Sealer::new(&key(0xab)));
        assert!(text.contains("<redacted>"), "{text}");
        assert!(!text.contains("171") && !text.contains("ab, "), "{text}");
    }
}
