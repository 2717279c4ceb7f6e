//! `mcs inspect`: what a component imports and exports, whether this host would load it, and
//! what its configuration would have to grant.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use mcs_host::linker::{Role, is_allowed};
use wasmtime::component::Component;

use super::exit::Exit;

/// Arguments of `mcs inspect`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  mcs inspect target/wasm-guests/wasm32-wasip2/guest/guest_mail.wasm"
)]
pub struct Args {
    /// The component (.wasm) to inspect
    #[arg(value_name = "COMPONENT")]
    pub path: PathBuf,
}

/// Runs `mcs inspect`.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let bytes = std::fs::read(&args.path)
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let engine = mcs_host::engine::new_engine_for(mcs_host::engine::Workload::OneShot)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let component = Component::new(&engine, &bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a WebAssembly component: {e}",
            args.path.display()
        )
    })?;
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports: Vec<String> = ty
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();

    let has = |list: &[String], prefix: &str| list.iter().any(|n| n.starts_with(prefix));
    let role = if has(&exports, "mcs:tools/tools") {
        Some(Role::Tool)
    } else if has(&exports, "mcs:auth/credential-provider") {
        Some(Role::Provider)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "component: {}", args.path.display())?;
    writeln!(
        out,
        "kind:      {}",
        match role {
            Some(Role::Tool) => "tool (mcs:tools/tool-component)",
            Some(Role::Provider) => "credential provider (mcs:auth/auth-provider)",
            None => "neither a tool nor a credential provider: this host would not run it",
        }
    )?;
    writeln!(out, "\nimports:")?;
    let mut refused = Vec::new();
    for import in &imports {
        let ok = role.is_none_or(|r| is_allowed(import, r));
        if !ok {
            refused.push(import.as_str());
        }
        writeln!(out, "  {} {import}", if ok { " " } else { "✗" })?;
    }
    writeln!(out, "\nexports:")?;
    for export in &exports {
        writeln!(out, "    {export}")?;
    }
    writeln!(out, "\nwhat its configuration must grant:")?;
    if has(&imports, "wasi:http/outgoing-handler") {
        writeln!(
            out,
            "  - allowed_outbound_hosts: the origins it may reach (none by default)"
        )?;
    }
    if has(&imports, "wasi:keyvalue/") {
        writeln!(
            out,
            "  - key-value buckets it may open (\"default\" by default)"
        )?;
    }
    if has(&imports, "wasi:config/") {
        writeln!(out, "  - its settings (wasi:config values)")?;
    }
    if has(&imports, "mcs:auth/credential-provider") {
        writeln!(
            out,
            "  - a credential provider, and for each scope the origins its token may be sent to"
        )?;
    }
    if refused.is_empty() {
        Ok(Exit::Success)
    } else {
        writeln!(
            out,
            "\nrefused: this host does not provide {}",
            refused.join(", ")
        )?;
        Ok(Exit::Error)
    }
}
