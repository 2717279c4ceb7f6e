//! The import allow-list: what a component may import, and the one linker that provides it.
//!
//! Components get outbound HTTP (`wasi:http`), key-value storage (`wasi:keyvalue`), settings
//! (`wasi:config`), the harmless io/clocks/random/stdio parts of WASI, and, for tool
//! components only, the host-served `mcs:auth/credential-provider`. Nothing else is linked:
//! no filesystem, no sockets. A component importing anything else is refused at load, by
//! name, before any of its code runs.

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::error::LoadError;
use crate::state::ComponentState;

/// What a component is for; it decides which imports it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Issues tokens (guest-auth). Trusted with secrets, sandboxed like the rest.
    Provider,
    /// Offers tools to an LLM (guest-mail). Untrusted; its tokens come from the host.
    Tool,
}

/// Interfaces every component may import (versions stripped).
const COMMON_IMPORTS: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:keyvalue/store",
    "wasi:keyvalue/atomics",
    "wasi:keyvalue/batch",
    "wasi:config/store",
];

/// Interfaces only tool components may import: their credentials come through the host.
const TOOL_IMPORTS: &[&str] = &["mcs:auth/types", "mcs:auth/credential-provider"];

/// Builds the linker shared by every component of the process.
///
/// # Errors
///
/// When an interface cannot be added (a Wasmtime bug; it does not depend on input).
pub fn new_linker(engine: &Engine) -> wasmtime::Result<Linker<ComponentState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::{cli, random};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
    let mut linker = Linker::new(engine);
    let l = &mut linker;
    // io, clocks, random, stdin/stdout/stderr: the wasi:http/proxy set.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(l)?;
    // The rest of what Rust's std imports on wasm32-wasip2; the context grants nothing
    // through them (empty environment, no terminal).
    let rng = <ComponentState as WasiRandomView>::random;
    random::insecure::add_to_linker::<_, WasiRandom>(l, rng)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, rng)?;
    let cli = <ComponentState as WasiCliView>::cli;
    cli::exit::add_to_linker::<_, WasiCli>(l, cli)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, cli)?;
    crate::egress::add_to_linker(l)?;
    crate::kv::add_to_linker(l)?;
    wasmtime_wasi_config::add_to_linker(l, |s: &mut ComponentState| {
        wasmtime_wasi_config::WasiConfig::from(&*s.config)
    })?;
    crate::credentials::add_to_linker(l)?;
    Ok(linker)
}

/// Refuses a component that imports anything its role does not allow, naming the import.
///
/// # Errors
///
/// [`LoadError::ForbiddenImport`] for the first import outside the allow-list.
pub fn audit_imports(
    engine: &Engine,
    component: &Component,
    name: &str,
    role: Role,
) -> Result<(), LoadError> {
    for (import, _) in component.component_type().imports(engine) {
        if !is_allowed(import, role) {
            return Err(LoadError::ForbiddenImport {
                component: name.to_owned(),
                import: import.to_owned(),
            });
        }
    }
    Ok(())
}

/// True when `import` (e.g. `wasi:http/types@0.2.6`) is on `role`'s allow-list.
pub fn is_allowed(import: &str, role: Role) -> bool {
    let interface = import.split_once('@').map_or(import, |(name, _)| name);
    COMMON_IMPORTS.contains(&interface) || (role == Role::Tool && TOOL_IMPORTS.contains(&interface))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystem_and_sockets_are_refused_for_every_role() {
        for role in [Role::Provider, Role::Tool] {
            for import in [
                "wasi:filesystem/types@0.2.6",
                "wasi:filesystem/preopens@0.2.6",
                "wasi:sockets/tcp@0.2.6",
                "wasi:sockets/ip-name-lookup@0.2.0",
                "wasi:http/incoming-handler@0.2.6",
            ] {
                assert!(!is_allowed(import, role), "{import} allowed for {role:?}");
            }
        }
    }

    #[test]
    fn versions_do_not_matter_for_allowed_interfaces() {
        assert!(is_allowed("wasi:http/outgoing-handler@0.2.0", Role::Tool));
        assert!(is_allowed(
            "wasi:http/outgoing-handler@0.2.12",
            Role::Provider
        ));
        assert!(is_allowed("wasi:keyvalue/store@0.2.0-draft", Role::Tool));
    }

    #[test]
    fn only_tools_may_import_the_credential_provider() {
        assert!(is_allowed("mcs:auth/credential-provider@0.1.0", Role::Tool));
        assert!(!is_allowed(
            "mcs:auth/credential-provider@0.1.0",
            Role::Provider
        ));
    }
}
