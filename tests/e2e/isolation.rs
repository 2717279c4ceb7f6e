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

/// `mcs call` and the other one-shot commands allocate instances on demand rather than from
/// the pool; the store's limiter alone must then hold the memory limit.
#[tokio::test]
async fn a_memory_bomb_is_stopped_on_a_one_shot_engine_too() {
    let engine = mcs_host::engine::new_engine_for(mcs_host::engine::Workload::OneShot).unwrap();
    let rt = builder()
        .engine(engine)
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

/// Linear memories allocated through [`scan::ScanningMemories`] are registered while they
/// live, so a test can scan them at the moment that matters: while the tool is suspended in
/// the middle of its call, holding whatever credential it was given.
mod scan {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

    /// Live memories: id → (base address, length).
    #[derive(Default)]
    pub struct Registry {
        live: Mutex<HashMap<u64, (usize, usize)>>,
        next: AtomicU64,
    }

    impl Registry {
        /// For each live memory: does it contain `needle`?
        pub fn scan(&self, needle: &[u8]) -> Vec<bool> {
            let live = self.live.lock().unwrap();
            live.values()
                .map(|&(base, len)| {
                    // SAFETY: the memory is registered only while its buffer is alive and at
                    // least `len` bytes long, and the guest is suspended in a host call while
                    // this runs (the server handler runs before the response returns).
                    #[expect(unsafe_code, reason = "reading a suspended guest's linear memory")]
                    let bytes = unsafe { std::slice::from_raw_parts(base as *const u8, len) };
                    bytes.windows(needle.len()).any(|w| w == needle)
                })
                .collect()
        }
    }

    pub struct ScanningMemories(pub Arc<Registry>);

    struct VecMemory {
        id: u64,
        data: Vec<u8>,
        maximum: Option<usize>,
        registry: Arc<Registry>,
    }

    impl VecMemory {
        fn register(&self) {
            let entry = (self.data.as_ptr() as usize, self.data.len());
            self.registry.live.lock().unwrap().insert(self.id, entry);
        }
    }

    impl Drop for VecMemory {
        fn drop(&mut self) {
            self.registry.live.lock().unwrap().remove(&self.id);
        }
    }

    // SAFETY: the memory is a plain heap buffer; `as_ptr` points at `byte_size` initialised
    // bytes, and growth may move it (the engine is configured with `memory_may_move`).
    #[expect(unsafe_code, reason = "Wasmtime's host-memory hook is an unsafe trait")]
    unsafe impl LinearMemory for VecMemory {
        fn byte_size(&self) -> usize {
            self.data.len()
        }

        fn byte_capacity(&self) -> usize {
            self.data.capacity()
        }

        fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
            if self.maximum.is_some_and(|m| new_size > m) {
                wasmtime::bail!("beyond the memory's maximum");
            }
            self.data.resize(new_size, 0);
            self.register();
            Ok(())
        }

        fn as_ptr(&self) -> *mut u8 {
            self.data.as_ptr().cast_mut()
        }
    }

    // SAFETY: memories are created with no reservation and no guard region, as the engine
    // configuration asks (explicit bounds checks), so a growable Vec satisfies the contract.
    #[expect(unsafe_code, reason = "Wasmtime's host-memory hook is an unsafe trait")]
    unsafe impl MemoryCreator for ScanningMemories {
        fn new_memory(
            &self,
            _ty: MemoryType,
            minimum: usize,
            maximum: Option<usize>,
            reserved: Option<usize>,
            guard: usize,
        ) -> Result<Box<dyn LinearMemory>, String> {
            if reserved.is_some_and(|r| r > 0) || guard > 0 {
                return Err(format!(
                    "unexpected reservation {reserved:?} / guard {guard}"
                ));
            }
            let memory = VecMemory {
                id: self.0.next.fetch_add(1, Ordering::Relaxed),
                data: vec![0; minimum],
                maximum,
                registry: Arc::clone(&self.0),
            };
            memory.register();
            Ok(Box::new(memory))
        }
    }
}

/// A Gmail stand-in that, when the tool's request arrives, scans every live linear memory for
/// the token and for a credential handle, then answers.
async fn scanning_gmail(
    registry: std::sync::Arc<scan::Registry>,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(Option<String>, Vec<bool>, Vec<bool>)>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 16 << 10];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let auth = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                })
                .map(|v| v.trim().to_owned());
            let token_seen = registry.scan(GMAIL_TOKEN.as_bytes());
            let handle_seen = registry.scan(b"mcs-sealed-");
            let _ = tx.send((auth, token_seen, handle_seen));
            let body = r#"{"labels":[{"id":"INBOX","name":"INBOX","type":"system"}]}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    (base, rx)
}

#[tokio::test]
async fn while_its_request_is_in_flight_the_tools_memory_holds_a_handle_not_the_token() {
    use std::sync::Arc;

    let registry = Arc::new(scan::Registry::default());
    let mut config = mcs_host::engine::base_config();
    config
        .with_host_memory(Arc::new(scan::ScanningMemories(Arc::clone(&registry))))
        .memory_reservation(0)
        .memory_guard_size(0)
        .memory_reservation_for_growth(0)
        .memory_may_move(true)
        .guard_before_linear_memory(false)
        .memory_init_cow(false);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let (base, mut seen) = scanning_gmail(Arc::clone(&registry)).await;
    let mail = mcs_host::ComponentConfig::new("mail", mcs_host::guests::GUEST_MAIL_COMPONENT_BYTES)
        .allow(base.clone())
        .credential("gmail", [base.clone()])
        .setting("gmail-base-url", base);
    let rt = mcs_host::Runtime::builder()
        .engine(engine)
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(mail)
        .build()
        .await
        .unwrap();
    rt.call_tool("list_folders", "{}").await.unwrap();

    let (auth, token_seen, handle_seen) = seen.recv().await.unwrap();
    assert_eq!(
        auth.as_deref(),
        Some(format!("Bearer {GMAIL_TOKEN}").as_str()),
        "the real token was on the wire"
    );
    assert!(
        !token_seen.is_empty(),
        "the tool's memory was live during the request"
    );
    assert!(
        handle_seen.iter().any(|&h| h),
        "control: the scan sees the handle the tool holds"
    );
    assert!(
        token_seen.iter().all(|&t| !t),
        "a live tool memory held the token: {token_seen:?}"
    );
}

#[tokio::test]
async fn forbidden_headers_cannot_be_set_by_a_tool() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let g = gmail.base_url();
    for (name, value) in [
        ("host", "evil.test"),
        ("connection", "upgrade"),
        ("transfer-encoding", "chunked"),
        ("proxy-authorization", "Basic eA=="),
    ] {
        let rt = builder()
            .provider(auth_component(Some(GMAIL_TOKEN)))
            .tool(hostile_component(&[&g], &g))
            .build()
            .await
            .unwrap();
        let args =
            json!({"url": format!("{g}/gmail/v1/users/me/labels"), "headers": {name: value}});
        match rt.call_tool("fetch", &args.to_string()).await {
            Err(CallError::Tool(ToolError::Upstream(msg))) => {
                assert!(msg.contains("invalid header"), "{name}: {msg}")
            }
            other => panic!("{name}: expected a refused header, got {other:?}"),
        }
    }
    assert!(gmail.requests().is_empty(), "no request left the host");
}
