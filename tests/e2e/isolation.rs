//! What a hostile tool component cannot do: run forever, eat memory, see a token, or reach a
//! host (or send a credential) its policy does not allow.

use std::time::{Duration, Instant};

use mcs_host::egress::DenialReason;
use mcs_host::{CallError, Limits, ToolError};
use mcs_sandbox::{FakeGmail, Mailbox};
use mcs_tests::{Denials, GMAIL_TOKEN, auth_component, builder, hostile_component};
use serde_json::json;

const GMAIL: &str = "https://gmail.googleapis.com";

#[tokio::test]
async fn a_looping_tool_is_stopped_near_its_deadline() {
    let rt = builder()
        .tool(hostile_component(&[], GMAIL))
        .limits(Limits {
            call_timeout: Duration::from_millis(500),
            ..Limits::default()
        })
        .build()
        .await
        .unwrap();
    let started = Instant::now();
    let err = rt.call_tool("spin", "{}").await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("did not finish within"), "{err}");
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_with_a_clear_error_and_the_next_call_works() {
    let rt = builder()
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(hostile_component(&[], GMAIL))
        .limits(Limits {
            memory: 32 << 20,
            ..Limits::default()
        })
        .build()
        .await
        .unwrap();
    let err = rt.call_tool("bomb", "{}").await.unwrap_err();
    let chain = error_chain(&err);
    assert!(matches!(err, CallError::Trap { .. }), "{chain}");
    assert!(
        chain.contains("memory limit exceeded") && chain.contains("32 MiB"),
        "{chain}"
    );
    let handle = rt
        .call_tool("token", "{}")
        .await
        .expect("a fresh instance works");
    assert!(handle.starts_with("mcs-sealed-"), "{handle}");
}

#[tokio::test]
async fn the_tool_holds_a_handle_never_the_token() {
    let rt = builder()
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(hostile_component(&[], GMAIL))
        .build()
        .await
        .unwrap();
    let a = rt.call_tool("token", "{}").await.unwrap();
    let b = rt.call_tool("token", "{}").await.unwrap();
    assert!(
        a.starts_with("mcs-sealed-") && !a.contains(GMAIL_TOKEN),
        "{a}"
    );
    assert_ne!(a, b, "handles are per call");
}

/// Runs the hostile `fetch` with `args`; returns the tool error text and the denials.
async fn fetch(
    allowed: &[&str],
    token_to: &str,
    args: serde_json::Value,
) -> (String, Vec<mcs_host::egress::Denial>) {
    let denials = Denials::default();
    let rt = builder()
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(hostile_component(allowed, token_to))
        .on_denied(denials.handler())
        .build()
        .await
        .unwrap();
    let out = match rt.call_tool("fetch", &args.to_string()).await {
        Err(CallError::Tool(ToolError::Upstream(msg))) => msg,
        other => panic!("{args}: expected a refused request, got {other:?}"),
    };
    (out, denials.all())
}

#[tokio::test]
async fn egress_tricks_are_refused_and_reported() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let base = gmail.base_url();
    let port = base.rsplit(':').next().unwrap().to_owned();
    let other_port = if port == "1" { "2" } else { "1" };
    // The hostile tool may reach only the real Gmail; every trick points at the fake instead.
    let tricks = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://user:pw@127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://gmail.googleapis.com@127.0.0.1:{port}/"),
        format!("https://gmail.googleapis.com:{other_port}/"),
        "http://gmail.googleapis.com/".to_owned(),
    ];
    for url in &tricks {
        let (msg, denials) = fetch(&[GMAIL], GMAIL, json!({ "url": url })).await;
        assert!(msg.contains("egress policy"), "{url}: {msg}");
        assert_eq!(denials.len(), 1, "{url}: {denials:?}");
        assert_eq!(denials[0].reason, DenialReason::NotAllowed, "{url}");
        assert!(
            !denials[0].destination.contains("pw"),
            "no userinfo in reports"
        );
    }
    assert!(gmail.requests().is_empty(), "nothing reached the fake");
}

#[tokio::test]
async fn credentials_go_only_where_their_scope_allows() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let other = FakeGmail::start(Mailbox::sample(), "other").unwrap();
    let (g, o) = (gmail.base_url(), other.base_url());

    // The handle toward a reachable host that is not the scope's destination.
    let (_, denials) = fetch(
        &[&g, &o],
        &g,
        json!({"url": format!("{o}/steal"), "with_token": true}),
    )
    .await;
    assert_eq!(
        denials[0].reason,
        DenialReason::CredentialMisdirected {
            scope: "gmail".into()
        }
    );

    // A forged or smuggled Authorization toward the scope's destination.
    for value in [
        "Bearer ya29.guessed",
        "Bearer mcs-sealed-0123456789abcdef",
        "Basic Zm9vOmJhcg==",
    ] {
        let (_, denials) = fetch(&[&g], &g, json!({"url": format!("{g}/gmail/v1/users/me/labels"), "headers": {"authorization": value}})).await;
        assert_eq!(denials[0].reason, DenialReason::ForgedCredential, "{value}");
    }
    assert!(gmail.requests().is_empty() && other.requests().is_empty());

    // The genuine path still works: the fake sees the real token.
    let denials = Denials::default();
    let rt = builder()
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(hostile_component(&[&g], &g))
        .on_denied(denials.handler())
        .build()
        .await
        .unwrap();
    let out = rt
        .call_tool(
            "fetch",
            &json!({"url": format!("{g}/gmail/v1/users/me/labels"), "with_token": true})
                .to_string(),
        )
        .await
        .unwrap();
    assert_eq!(out, r#"{"status":200}"#);
    assert_eq!(
        gmail.requests()[0].authorization.as_deref(),
        Some(format!("Bearer {GMAIL_TOKEN}").as_str())
    );
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
