//! Build-script support: builds workspace crates as `wasm32-wasip2` components.
//!
//! This follows Wasmtime's `crates/test-programs/artifacts/build.rs`: one nested
//! `cargo build --target wasm32-wasip2` into a target directory of its own (so it never waits
//! on the outer build's lock), `rerun-if-changed` from cargo's dep-info files (so the outer
//! build script reruns only when a guest source changes), and a generated `gen.rs` with a path
//! constant and an `include_bytes!` constant per component.
//!
//! It owns nothing at run time: callers include the generated file and decide what to embed.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for; it emits a component directly (no adapter step).
pub const TARGET: &str = "wasm32-wasip2";

/// The cargo profile guests are built with (defined in the workspace `Cargo.toml`).
pub const PROFILE: &str = "guest";

/// One built component.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The cargo package it was built from, e.g. `guest-auth`.
    pub package: String,
    /// The artifact's file stem, e.g. `guest_auth`.
    pub stem: String,
    /// Where the `.wasm` component is.
    pub path: PathBuf,
}

/// Builds `packages` (each a workspace member with a `cdylib` target) for `wasm32-wasip2`
/// and writes `$OUT_DIR/gen.rs`, which defines for each package `<STEM>_COMPONENT: &str`
/// (the path) and `<STEM>_COMPONENT_BYTES: &[u8]` (the contents).
///
/// # Panics
///
/// Panics, with the likely fix, when the nested build fails: this only ever runs inside a
/// build script, where a panic is how failure is reported.
pub fn build_components(packages: &[&str]) -> Vec<Artifact> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = workspace_root(&manifest_dir);
    let target_dir = shared_target_dir(&out_dir);

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg(PROFILE)
        .env("CARGO_TARGET_DIR", &target_dir)
        // The outer build's flags are for the host target; they must not leak into wasm.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    for package in packages {
        cmd.arg("--package").arg(package);
    }
    if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true") {
        cmd.arg("--offline");
    }
    println!("running: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the guests: {e}"));
    assert!(
        status.success(),
        "building the wasm32-wasip2 guests failed ({status}).\n\
         If the error above says the target is missing, install it with:\n    \
         rustup target add {TARGET}\n\
         (rust-toolchain.toml lists it, so rustup normally installs it on first use.)"
    );

    let artifact_dir = target_dir.join(TARGET).join(PROFILE);
    let mut artifacts = Vec::new();
    let mut sources = BTreeSet::new();
    for package in packages {
        let stem = package.replace('-', "_");
        let path = artifact_dir.join(format!("{stem}.wasm"));
        assert!(
            path.is_file(),
            "cargo reported success but {path:?} is missing; is {package:?} a cdylib?"
        );
        sources.extend(dep_info_sources(
            &artifact_dir.join(format!("{stem}.d")),
            &workspace,
        ));
        artifacts.push(Artifact {
            package: (*package).to_owned(),
            stem,
            path,
        });
    }

    // Watching each source's directory also catches files added next to it (a new module).
    let dirs: BTreeSet<&Path> = sources.iter().filter_map(|s| s.parent()).collect();
    for path in sources.iter().map(PathBuf::as_path).chain(dirs) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    // What dep-info cannot see: the WIT the guests bind to, manifests and the lock file.
    for extra in ["wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(extra).display());
    }
    for artifact in &artifacts {
        if let Some(manifest) = sources
            .iter()
            .filter_map(|s| s.ancestors().find(|a| a.join("Cargo.toml").is_file()))
            .find(|dir| dir.ends_with(&artifact.package))
        {
            println!(
                "cargo:rerun-if-changed={}",
                manifest.join("Cargo.toml").display()
            );
        }
    }

    std::fs::write(out_dir.join("gen.rs"), generated_source(&artifacts))
        .expect("OUT_DIR is writable");
    artifacts
}

/// The workspace root: the nearest ancestor whose `Cargo.toml` declares `[workspace]`.
fn workspace_root(manifest_dir: &Path) -> PathBuf {
    manifest_dir
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|text| text.lines().any(|l| l.trim() == "[workspace]"))
        })
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// One nested target directory for every build script of the workspace (host and tests), next
/// to the outer profile directories, so the guests' dependencies are compiled once.
/// `OUT_DIR` is `<target>/<profile>/build/<pkg>-<hash>/out`.
fn shared_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .nth(4)
        .unwrap_or(out_dir)
        .join("wasm-guests")
}

/// The workspace source files cargo's dep-info lists for one artifact.
fn dep_info_sources(dep_file: &Path, workspace: &Path) -> BTreeSet<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dep_file) else {
        return BTreeSet::new();
    };
    // Format: `<artifact>: <dep> <dep> ...`, spaces in paths escaped as `\ `.
    text.lines()
        .filter_map(|line| line.split_once(": ").map(|(_, deps)| deps))
        .flat_map(|deps| {
            deps.replace("\\ ", "\u{0}")
                .split(' ')
                .map(|d| PathBuf::from(d.replace('\u{0}', " ")))
                .collect::<Vec<_>>()
        })
        .filter(|p| p.starts_with(workspace) && !p.as_os_str().is_empty())
        .collect()
}

fn generated_source(artifacts: &[Artifact]) -> String {
    let mut src = String::from("// Generated by wasm-build; do not edit.\n");
    for a in artifacts {
        let upper = a.stem.to_uppercase();
        let path = a.path.display().to_string();
        let _ = writeln!(
            src,
            "/// Path of the `{pkg}` component.\n\
             pub const {upper}_COMPONENT: &str = {path:?};\n\
             /// The `{pkg}` component's bytes.\n\
             pub const {upper}_COMPONENT_BYTES: &[u8] = include_bytes!({path:?});",
            pkg = a.package,
        );
    }
    src
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_keeps_workspace_sources_and_unescapes_spaces() {
        let dir = env::temp_dir().join(format!("wasm-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dep = dir.join("x.d");
        std::fs::write(
            &dep,
            "/ws/target/x.wasm: /ws/guest/src/lib.rs /ws/my\\ dir/a.rs /registry/serde/lib.rs\n",
        )
        .unwrap();
        let got = dep_info_sources(&dep, Path::new("/ws"));
        let want: BTreeSet<PathBuf> = ["/ws/guest/src/lib.rs", "/ws/my dir/a.rs"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shared_target_dir_sits_beside_profile_dirs() {
        let out = Path::new("/ws/target/debug/build/mcs-host-abc/out");
        assert_eq!(
            shared_target_dir(out),
            PathBuf::from("/ws/target/wasm-guests")
        );
    }

    #[test]
    fn generated_source_names_constants_after_the_stem() {
        let src = generated_source(&[Artifact {
            package: "guest-auth".into(),
            stem: "guest_auth".into(),
            path: "/t/guest_auth.wasm".into(),
        }]);
        assert!(src.contains("pub const GUEST_AUTH_COMPONENT: &str = \"/t/guest_auth.wasm\";"));
        assert!(src.contains("GUEST_AUTH_COMPONENT_BYTES: &[u8] = include_bytes!"));
    }
}
