//! The compiled-component cache: `.cwasm` files keyed by the SHA-256 of the component and the
//! engine's compatibility hash (Wasmtime version, configuration, CPU features), in a directory
//! only the user can write.
//!
//! Loading a cached component skips Cranelift (about 150 ms per component here) and takes
//! about a millisecond. Deserializing is `unsafe` in Wasmtime because a `.cwasm` is trusted
//! machine code, so nothing we did not write is ever deserialized: every entry has a sidecar
//! with the SHA-256 of the bytes we wrote, checked before use, and the directory must not be
//! writable by others. A missing, corrupt or mismatched entry is compiled again and replaced.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// The cache in `dir`, created with mode 0700 if missing.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created, or when group or others may write to it (a
    /// `.cwasm` from anyone else would be executed as trusted code).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let mode = fs::metadata(&dir)?.mode();
        if mode & 0o022 != 0 {
            return Err(std::io::Error::other(format!(
                "cache directory {} is writable by other users (mode {:o}); run `chmod 700 {}`",
                dir.display(),
                mode & 0o777,
                dir.display()
            )));
        }
        Ok(Self { dir })
    }

    /// The component for `wasm`: from the cache when a valid entry exists, else compiled and
    /// stored (a failure to store is logged, not returned).
    ///
    /// # Errors
    ///
    /// When `wasm` is not a valid component.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        let key = self.key(engine, wasm);
        let cwasm = self.dir.join(format!("{key}.cwasm"));
        let sidecar = self.dir.join(format!("{key}.sha256"));
        if let Some(bytes) = read_verified(&cwasm, &sidecar) {
            #[expect(
                unsafe_code,
                reason = "the bytes are a .cwasm this cache wrote, verified against its SHA-256"
            )]
            // SAFETY: `read_verified` returned bytes whose SHA-256 matches the sidecar we wrote
            // together with them, in a directory only this user can write.
            match unsafe { Component::deserialize(engine, &bytes) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!("recompiling {}: {e}", cwasm.display()),
            }
        }
        let component = Component::new(engine, wasm)?;
        match component.serialize() {
            Ok(bytes) => {
                if let Err(e) = write_entry(&cwasm, &sidecar, &bytes) {
                    tracing::warn!("could not cache {}: {e}", cwasm.display());
                }
            }
            Err(e) => tracing::warn!("could not serialize a component: {e}"),
        }
        Ok(component)
    }

    fn key(&self, engine: &Engine, wasm: &[u8]) -> String {
        let mut engine_hash = std::hash::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        format!(
            "{}-{:016x}",
            hex(&Sha256::digest(wasm)),
            engine_hash.finish()
        )
    }
}

/// The entry's bytes, if both files exist and the SHA-256 matches.
fn read_verified(cwasm: &Path, sidecar: &Path) -> Option<Vec<u8>> {
    let expected = fs::read_to_string(sidecar).ok()?;
    let bytes = fs::read(cwasm).ok()?;
    (hex(&Sha256::digest(&bytes)) == expected.trim()).then_some(bytes)
}

/// Writes the entry atomically (temporary file, then rename), files 0600, sidecar last.
fn write_entry(cwasm: &Path, sidecar: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(cwasm, bytes)?;
    write_atomic(sidecar, hex(&Sha256::digest(bytes)).as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guests::GUEST_AUTH_COMPONENT_BYTES as WASM;

    fn engine() -> Engine {
        crate::engine::new_engine().unwrap()
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn first_load_writes_a_private_entry_and_the_second_uses_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let cache = ComponentCache::new(&dir).unwrap();
        let engine = engine();
        cache.load(&engine, WASM).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let files = entries(&dir);
        assert_eq!(files.len(), 2, "{files:?}");
        for f in &files {
            assert_eq!(fs::metadata(f).unwrap().mode() & 0o777, 0o600, "{f:?}");
        }
        let written = fs::metadata(&files[0]).unwrap().modified().unwrap();
        cache.load(&engine, WASM).unwrap();
        assert_eq!(
            fs::metadata(&files[0]).unwrap().modified().unwrap(),
            written,
            "not rewritten"
        );
    }

    #[test]
    fn a_corrupt_entry_is_never_deserialized_but_recompiled() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ComponentCache::new(tmp.path()).unwrap();
        let engine = engine();
        cache.load(&engine, WASM).unwrap();
        let cwasm = entries(tmp.path())
            .into_iter()
            .find(|p| p.extension().unwrap() == "cwasm")
            .unwrap();
        let mut bytes = fs::read(&cwasm).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        fs::write(&cwasm, &bytes).unwrap();
        assert!(read_verified(&cwasm, &cwasm.with_extension("sha256")).is_none());
        cache.load(&engine, WASM).unwrap();
        assert!(
            read_verified(&cwasm, &cwasm.with_extension("sha256")).is_some(),
            "replaced"
        );
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = ComponentCache::new(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("chmod 700"), "{err}");
    }
}
