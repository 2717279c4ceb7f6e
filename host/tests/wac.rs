//! The wac mode: guest-mail with guest-auth plugged into its `credential-provider` import
//! (what `wac plug guest-mail.wasm --plug guest-auth.wasm` does), composed with the
//! `wac-graph` crate, loaded in our host as one tool component, and run against the fake
//! Gmail.
//!
//! The test also pins down what this mode gives up: the composite fetches the token itself,
//! so the real token reaches the tool's code and the host has no handle to swap.

use mcs_host::{ComponentConfig, Runtime, guests};
use mcs_sandbox::{FakeGmail, Mailbox};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

const TOKEN: &str = "ya29.wac-composite-token";

/// guest-mail with guest-auth plugged in, as `wac plug` builds it (the same function).
fn compose() -> Vec<u8> {
    let mut graph = CompositionGraph::new();
    let mut register = |name: &str, bytes: &[u8]| {
        let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())
            .unwrap_or_else(|e| panic!("{name} parses as a component: {e:?}"));
        graph.register_package(package).expect("registers")
    };
    let mail = register("mcs:guest-mail", guests::GUEST_MAIL_COMPONENT_BYTES);
    let auth = register("mcs:guest-auth", guests::GUEST_AUTH_COMPONENT_BYTES);
    wac_graph::plug(&mut graph, vec![auth], mail).expect("guest-auth plugs into guest-mail");
    graph
        .encode(EncodeOptions::default())
        .expect("a valid component")
}

#[tokio::test]
async fn the_composite_loads_as_one_tool_and_runs_against_gmail() {
    let composite = compose();
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).expect("fake Gmail");

    // One component: one policy, one settings namespace and one key-value namespace for both.
    let config = ComponentConfig::new("gmail-composite", composite)
        .allow(gmail.base_url())
        .setting("mode", "static")
        .setting("token.gmail", TOKEN)
        .setting("gmail-base-url", gmail.base_url());
    let runtime = Runtime::builder()
        .tool(config)
        .build()
        .await
        .expect("the composite loads as a tool component");
    assert!(runtime.tools().any(|t| t.name == "list_messages"));

    let page = runtime
        .call_tool("list_messages", r#"{"limit": 3}"#)
        .await
        .expect("list_messages runs");
    let page: serde_json::Value = serde_json::from_str(&page).expect("JSON");
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(3), "{page}");

    // The isolation given up: the composite put the real token on the wire itself.
    let requests = gmail.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(
            r.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
    }
}

#[tokio::test]
async fn the_composite_no_longer_imports_the_credential_provider() {
    let engine = wasmtime::Engine::default();
    let composite = wasmtime::component::Component::new(&engine, compose()).expect("compiles");
    let ty = composite.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_owned()).collect();
    assert!(
        !imports.iter().any(|i| i.starts_with("mcs:auth/")),
        "the provider was not plugged in: {imports:?}"
    );
    for wanted in [
        "wasi:keyvalue/store",
        "wasi:config/store",
        "wasi:http/outgoing-handler",
    ] {
        assert!(
            imports.iter().any(|i| i.starts_with(wanted)),
            "{wanted} missing from {imports:?}"
        );
    }
    for wanted in ["mcs:tools/tools", "mcs:mail/mailbox"] {
        assert!(
            exports.iter().any(|e| e.starts_with(wanted)),
            "{wanted} missing from {exports:?}"
        );
    }
}
