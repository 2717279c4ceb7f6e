//! Embedding mcs in your own Wasmtime host.
//!
//! This program is a host of its own: its `Engine`, its store data (`MyState`), its
//! `Linker<MyState>`. From mcs it mounts three pieces, each the `wasmtime-wasi-http` way (a
//! view trait on the store data plus an `add_to_linker`):
//!
//! - the egress policy, as the `wasi:http` hooks ([`EgressHooks`]);
//! - the credential linking ([`credentials::add_to_linker`]): the tool's `get-token` gets an
//!   opaque handle, and the hooks put the real token on the wire, toward Gmail only;
//! - where the tool needs it, the key-value store (`mcs_host::kv::add_to_linker`; guest-mail
//!   does not import it, so it is left out here).
//!
//! Tokens come from an mcs [`Runtime`] that holds only the credential-provider component
//! (here in static mode; Token Vault is a matter of its settings). The tool component is
//! guest-mail, run against the sandbox's fake Gmail on 127.0.0.1.
//!
//! Run it with `cargo run -p embed-example`.

use std::sync::Arc;

use mcs_host::bindings::tool::ToolComponentPre;
use mcs_host::credentials::sealed::ScopePolicies;
use mcs_host::credentials::{self, CredentialCtxView, CredentialLink, CredentialView};
use mcs_host::egress::{
    self, Denial, EgressHooks, EgressPolicy, SystemResolver, Timeouts, Transport,
};
use mcs_host::{ComponentConfig, Runtime, guests};
use mcs_sandbox::{FakeGmail, Mailbox};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The token the fake Gmail accepts; only the provider and the host ever see it.
const GMAIL_TOKEN: &str = "ya29.embed-example-token";

/// The embedder's store data: WASI, `wasi:http` with mcs's egress hooks, mcs's credential
/// link, settings, and whatever else the embedder keeps per store.
struct MyState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    egress: EgressHooks,
    credentials: CredentialLink,
    config: WasiConfigVariables,
}

impl WasiView for MyState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for MyState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl CredentialView for MyState {
    fn credentials(&mut self) -> CredentialCtxView<'_> {
        CredentialCtxView {
            link: Some(&self.credentials),
        }
    }
}

#[tokio::main]
async fn main() -> wasmtime::Result<()> {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN)?;
    let gmail_origin = gmail.base_url();

    // The credential provider, in an mcs runtime of its own (its own store, policy and state).
    let provider = ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES)
        .setting("mode", "static")
        .setting("token.gmail", GMAIL_TOKEN);
    let tokens = Runtime::builder()
        .provider(provider)
        .build()
        .await
        .map_err(|e| wasmtime::format_err!("loading the credential provider: {e}"))?;

    // The embedder's own engine and linker.
    let engine = Engine::default();
    let mut linker: Linker<MyState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    egress::add_to_linker(&mut linker)?;
    credentials::add_to_linker(&mut linker)?;
    wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut MyState| {
        WasiConfig::from(&s.config)
    })?;

    let component = Component::new(&engine, guests::GUEST_MAIL_COMPONENT_BYTES)?;
    let pre = ToolComponentPre::new(linker.instantiate_pre(&component)?)?;

    // Per store: the tool may reach the fake Gmail, and the gmail token may go there only.
    let policy = Arc::new(EgressPolicy::parse(&[&gmail_origin])?);
    let scopes = Arc::new(ScopePolicies::new(vec![(
        "gmail".into(),
        (*policy).clone(),
    )]));
    let transport = Arc::new(Transport::new(
        Timeouts::default(),
        Arc::new(SystemResolver),
    ));
    let on_denied = Arc::new(|d: &Denial| eprintln!("refused: {d}"));
    let credentials = CredentialLink::new(tokens.credential_source(), scopes);
    let state = MyState {
        table: ResourceTable::new(),
        wasi: WasiCtx::builder().build(),
        http: WasiHttpCtx::new(),
        egress: EgressHooks::new(
            "mail".into(),
            policy,
            Timeouts::default(),
            on_denied,
            Some(Arc::clone(&credentials.sealed)),
            transport,
        ),
        credentials,
        config: WasiConfigVariables::from_iter([("gmail-base-url", gmail_origin.as_str())]),
    };

    let mut store = Store::new(&engine, state);
    let tool = pre.instantiate_async(&mut store).await?;
    let folders = tool
        .mcs_tools_tools()
        .call_call_tool(&mut store, "list_folders", "{}")
        .await?
        .map_err(|e| wasmtime::format_err!("list_folders failed: {e:?}"))?;
    let folders: Vec<serde_json::Value> = serde_json::from_str(&folders)?;
    let names: Vec<&str> = folders.iter().filter_map(|f| f["name"].as_str()).collect();
    println!(
        "list_folders through an embedder's Linker<MyState>: {}",
        names.join(", ")
    );

    let seen = gmail.requests();
    let authorized = seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {GMAIL_TOKEN}")));
    println!(
        "Gmail saw {} request(s), each with the real token: {authorized}",
        seen.len()
    );
    wasmtime::ensure!(authorized, "a request reached Gmail without the real token");
    Ok(())
}
