//! The credential provider in Token Vault mode, through the host and both components, against
//! the fake Auth0 tenant and the fake LinkAuth broker. Every call runs in a new runtime with
//! only the key-value store shared, as separate processes would. Request sequences are checked
//! against reference/mcs-python-sdk.md §1.5, as corrected by issue 4.

use mcs_host::{AuthError, CallError, ToolError};
use mcs_sandbox::Auth0Config;
use mcs_sandbox::envelope::{self, Serialization};
use mcs_tests::sandbox::{DOMAIN, Sandbox, Seen};

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn first_run_signs_in_connects_then_serves_tokens_without_auth0() {
    let sb = Sandbox::start();
    // No seeded key: this test covers generating the agent key inside the guest.

    // 1. No refresh token: a LinkAuth session for the Auth0 login.
    let mark = sb.mark();
    let login = sb.challenge().await;
    assert_eq!(login.scope, "gmail");
    assert!(
        login
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with(&sb.broker.base_url()))
    );
    assert!(
        login.message.contains(login.code.as_deref().unwrap()),
        "{}",
        login.message
    );
    assert_eq!(
        sb.since(mark),
        Seen {
            broker: lines(&["POST /v1/sessions"]),
            ..Seen::default()
        }
    );
    assert!(
        sb.stored("linkauth:privkey").is_some(),
        "the agent key is kept"
    );

    // 2. Signed in: the exchange finds no connected account, so Connected Accounts starts.
    sb.approve(&login).await;
    let mark = sb.mark();
    let connect = sb.challenge().await;
    assert_eq!(connect.scope, "gmail:connect");
    assert_ne!(connect.code, login.code);
    assert_eq!(
        sb.since(mark),
        Seen {
            auth0: lines(&[
                "A exchange",
                "B my-account",
                "POST /me/v1/connected-accounts/connect"
            ]),
            broker: lines(&["GET /v1/sessions/{id}", "POST /v1/sessions"]),
            gmail: vec![],
        }
    );
    assert!(sb.stored(&format!("rt:{DOMAIN}")).is_some());
    assert!(
        sb.stored("ca:pending:gmail").is_some(),
        "the connect step is persisted"
    );

    // 3. Consent given: /complete, the exchange, then Gmail.
    sb.approve(&connect).await;
    let mark = sb.mark();
    let out = sb.call().await.expect("the tool runs");
    assert!(out.contains("\"Work\""), "{out}");
    assert_eq!(
        sb.since(mark),
        Seen {
            auth0: lines(&["POST /me/v1/connected-accounts/complete", "A exchange"]),
            broker: lines(&["GET /v1/sessions/{id}"]),
            gmail: lines(&["GET /gmail/v1/users/me/labels"]),
        }
    );
    assert!(sb.stored("ca:pending:gmail").is_none());

    // 4. Warm: the cached token serves, Auth0 and the broker hear nothing.
    let mark = sb.mark();
    sb.call().await.expect("warm call");
    assert_eq!(
        sb.since(mark),
        Seen {
            gmail: lines(&["GET /gmail/v1/users/me/labels"]),
            ..Seen::default()
        }
    );
}

#[tokio::test]
async fn a_token_near_expiry_is_exchanged_again() {
    // expires_in 60 leaves no cacheable lifetime after the 60 s margin.
    let sb = Sandbox::start_with(
        Auth0Config {
            google_expires_in: 60,
            ..Auth0Config::default()
        },
        |_| {},
    );
    sb.signed_in();
    for _ in 0..2 {
        let mark = sb.mark();
        sb.call().await.expect("call");
        assert_eq!(sb.since(mark).auth0, lines(&["A exchange"]));
    }
    assert!(sb.stored("at:gmail").is_none());
}

#[tokio::test]
async fn invalid_grant_forgets_the_login_and_starts_a_fresh_one() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    sb.signed_in();
    sb.call().await.expect("first call works");
    sb.store("ca:pending:other", "{}");
    sb.auth0.revoke_refresh_tokens();
    sb.store(
        "at:gmail",
        r#"{"token":"ya29.expired-in-cache","expires_at":1}"#,
    );

    let mark = sb.mark();
    let challenge = sb.challenge().await;
    assert_eq!(challenge.scope, "gmail");
    let seen = sb.since(mark);
    assert_eq!(
        seen.auth0,
        lines(&["A exchange"]),
        "one failed exchange, no loop"
    );
    assert_eq!(seen.broker, lines(&["POST /v1/sessions"]));
    assert!(
        sb.stored(&format!("rt:{DOMAIN}")).is_none(),
        "the dead refresh token is gone"
    );
    assert!(
        sb.stored("ca:pending:other").is_none(),
        "pending steps are gone"
    );
    assert!(
        sb.stored("linkauth:privkey").is_some(),
        "the agent key stays"
    );

    // The new sign-in works and the account is still connected.
    sb.approve(&challenge).await;
    sb.call().await.expect("signed in again");
}

#[tokio::test]
async fn a_rotated_refresh_token_replaces_the_stored_one() {
    let sb = Sandbox::start_with(
        Auth0Config {
            rotate_refresh_tokens: true,
            ..Auth0Config::default()
        },
        |_| {},
    );
    sb.seed_agent_key();
    let old = sb.auth0.issue_refresh_token();
    sb.store(&format!("rt:{DOMAIN}"), &old);

    // Not connected yet: the My Account exchange rotates the refresh token.
    let connect = sb.challenge().await;
    let new = sb.stored(&format!("rt:{DOMAIN}")).expect("refresh token");
    assert_ne!(new, old, "rotation was kept");
    sb.approve(&connect).await;
    sb.call()
        .await
        .expect("the rotated token works all the way through");
}

#[tokio::test]
async fn an_expired_broker_session_gives_one_new_challenge() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let first = sb.challenge().await;
    sb.broker.expire(first.code.as_deref().unwrap());

    let mark = sb.mark();
    let second = sb.challenge().await;
    assert_ne!(second.code, first.code);
    assert_eq!(
        sb.since(mark).broker,
        lines(&["GET /v1/sessions/{id}", "POST /v1/sessions"])
    );
    sb.approve(&second).await;
    sb.auth0.connect_account("google-oauth2");
    sb.call().await.expect("the new session completes");
}

#[tokio::test]
async fn proxy_mode_sends_every_auth0_call_through_the_broker() {
    let mut sb = Sandbox::start();
    sb.via_proxy = true;
    sb.seed_agent_key();
    let login = sb.challenge().await;
    sb.approve(&login).await;
    let connect = sb.challenge().await;
    sb.approve(&connect).await;
    let mark = sb.mark();
    sb.call().await.expect("the tool runs");
    let seen = sb.since(mark);
    assert_eq!(
        seen.broker,
        lines(&["GET /v1/sessions/{id}", "POST /v1/proxy", "POST /v1/proxy"])
    );
    assert_eq!(
        seen.auth0,
        lines(&["POST /me/v1/connected-accounts/complete", "A exchange"]),
        "Auth0 heard the same calls, relayed by the broker"
    );
}

#[tokio::test]
async fn a_connect_flow_that_leaves_token_vault_empty_names_the_toggles() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    sb.auth0.set_complete_connects(false);
    let rt = sb.auth0.issue_refresh_token();
    sb.store(&format!("rt:{DOMAIN}"), &rt);
    let connect = sb.challenge().await;
    sb.approve(&connect).await;
    match sb.call().await {
        Err(CallError::Tool(ToolError::Auth(AuthError::Misconfigured(msg)))) => {
            assert!(msg.contains("Connected Accounts"), "{msg}");
            assert!(msg.contains("Token Vault"), "{msg}");
        }
        other => panic!("expected a setup error, got {other:?}"),
    }
}

/// Each bad reply gives a clear error and leaves the stored state as it was.
#[tokio::test]
async fn bad_auth0_replies_are_clear_errors_and_keep_the_stored_state() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let rt = sb.signed_in();
    let cases = [
        (
            500,
            "application/json",
            r#"{"error":"server_error","error_description":"boom"}"#,
            "boom",
        ),
        (
            502,
            "text/html",
            "<html><body>Bad Gateway</body></html>",
            "HTTP 502",
        ),
        (
            200,
            "application/json",
            r#"{"access_token": "ya29.trunc"#,
            "unreadable",
        ),
        (
            200,
            "application/json",
            r#"{"token_type":"Bearer"}"#,
            "no access_token",
        ),
    ];
    for (status, content_type, body, want) in cases {
        sb.auth0.fail_next(status, content_type, body);
        match sb.call().await {
            Err(CallError::Tool(ToolError::Auth(e))) => {
                let text = format!("{e}");
                assert!(text.contains(want), "{status} {body}: {text}");
            }
            other => panic!("{status} {body}: expected an auth error, got {other:?}"),
        }
        assert_eq!(
            sb.stored(&format!("rt:{DOMAIN}")).as_deref(),
            Some(rt.as_str())
        );
        assert!(sb.stored("at:gmail").is_none());
    }
    sb.call().await.expect("recovers once Auth0 behaves");
}

#[tokio::test]
async fn bad_broker_replies_are_clear_errors_and_keep_the_stored_state() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let key = sb.stored("linkauth:privkey").unwrap();

    // Garbage, a credential encrypted to another key, and a truncated envelope.
    let other_key = {
        use base64::Engine as _;
        use rsa::pkcs8::EncodePublicKey;
        let k = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
        base64::engine::general_purpose::STANDARD.encode(
            rsa::RsaPublicKey::from(&k)
                .to_public_key_der()
                .unwrap()
                .as_bytes(),
        )
    };
    let wrong_key = envelope::seal(
        &other_key,
        br#"{"refresh_token":"rt"}"#,
        Serialization::Browser,
    )
    .unwrap();
    let truncated = &wrong_key[..wrong_key.len() / 2];
    for ciphertext in ["not even base64 !!", wrong_key.as_str(), truncated] {
        let challenge = sb.challenge().await;
        sb.broker.replace_next_ciphertext(ciphertext);
        sb.approve(&challenge).await;
        match sb.call().await {
            Err(CallError::Tool(ToolError::Auth(AuthError::Upstream(msg)))) => {
                assert!(msg.contains("could not read the credential"), "{msg}");
            }
            other => panic!("expected an upstream error, got {other:?}"),
        }
        assert_eq!(sb.stored("linkauth:privkey").as_deref(), Some(key.as_str()));
        assert!(sb.stored(&format!("rt:{DOMAIN}")).is_none());
    }

    // A 500, an HTML page and a rejected poll token.
    let challenge = sb.challenge().await;
    sb.broker
        .fail_next_poll(500, "text/plain", "Internal Server Error");
    let err = sb.call().await.unwrap_err();
    assert!(format!("{err}").contains("HTTP 500"), "{err}");
    assert!(
        sb.stored("linkauth:session:login").is_some(),
        "a 500 keeps the session"
    );
    sb.broker.fail_next_poll(
        403,
        "application/problem+json",
        r#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"Invalid poll_token."}"#,
    );
    let err = sb.call().await.unwrap_err();
    assert!(
        format!("{err}").contains("Invalid poll_token"),
        "a 403 is an error, not pending: {err}"
    );
    assert!(
        sb.stored("linkauth:session:login").is_none(),
        "an unusable session is dropped"
    );
    let next = sb.challenge().await;
    assert_ne!(
        next.code, challenge.code,
        "the next call starts a new session"
    );
}

#[tokio::test]
async fn the_poll_interval_and_slow_down_are_honoured_and_remembered() {
    let sb = Sandbox::start_with(Auth0Config::default(), |b| b.poll_interval = 2);
    sb.seed_agent_key();
    let first = sb.challenge().await;
    sb.challenge().await; // the first poll: pending, interval 2
    let mark = sb.mark();
    let again = sb.challenge().await;
    assert_eq!(again.code, first.code);
    assert!(
        sb.since(mark).broker.is_empty(),
        "no poll inside the interval"
    );

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    sb.broker.fail_next_poll(
        429,
        "application/problem+json",
        r#"{"type":"urn:ietf:params:oauth:error:slow_down","title":"Slow Down","status":429,"detail":"Polling too frequently. Increase your polling interval.","interval":7}"#,
    );
    let mark = sb.mark();
    let slowed = sb.challenge().await;
    assert_eq!(slowed.code, first.code, "slow_down is not an error");
    assert_eq!(sb.since(mark).broker, lines(&["GET /v1/sessions/{id}"]));
    let stored = sb.stored("linkauth:session:login").unwrap();
    assert!(
        stored.contains("\"interval\":7"),
        "the new interval is persisted: {stored}"
    );
}

#[tokio::test]
async fn in_direct_mode_the_broker_never_sees_a_secret_or_token() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let login = sb.challenge().await;
    sb.approve(&login).await;
    let connect = sb.challenge().await;
    sb.approve(&connect).await;
    sb.call().await.expect("the tool runs");

    let cfg = sb.auth0.config();
    let rt = sb.stored(&format!("rt:{DOMAIN}")).unwrap();
    let agent_requests: Vec<_> = sb
        .broker
        .requests()
        .into_iter()
        .filter(|r| r.line() == "POST /v1/sessions" || r.line().starts_with("GET /v1/sessions/"))
        .collect();
    assert!(!agent_requests.is_empty());
    for r in &agent_requests {
        for secret in [&cfg.client_secret, &cfg.google_access_token, &rt] {
            assert!(
                !r.body.contains(secret.as_str()),
                "{} carried a secret",
                r.line()
            );
        }
    }
    assert!(
        !sb.broker
            .requests()
            .iter()
            .any(|r| r.line() == "POST /v1/proxy"),
        "no proxy use in direct mode"
    );
}

#[tokio::test]
async fn a_gmail_401_on_a_cached_token_gets_a_fresh_exchange() {
    let sb = Sandbox::start();
    sb.signed_in();
    let far_future: u64 = 4_102_444_800; // 2100-01-01
    sb.store(
        "at:gmail",
        &format!(r#"{{"token":"ya29.revoked-upstream","expires_at":{far_future}}}"#),
    );
    let mark = sb.mark();
    sb.call().await.expect("recovers");
    let seen = sb.since(mark);
    assert_eq!(seen.auth0, lines(&["A exchange"]));
    assert_eq!(seen.gmail.len(), 2, "the rejected try and the retry");
    let cached = sb.stored("at:gmail").unwrap();
    assert!(cached.contains(&sb.auth0.config().google_access_token));
}

#[tokio::test]
async fn the_broker_api_key_is_sent_and_a_wrong_one_names_the_setting() {
    let sb = Sandbox::start_with(Auth0Config::default(), |b| {
        b.api_key = Some("right-key".into())
    });
    sb.seed_agent_key();
    let runtime_with_key = |key: &str| {
        let auth = sb.auth_component().setting("linkauth-api-key", key);
        mcs_tests::builder()
            .provider(auth)
            .tool(mcs_tests::mail_component(&sb.gmail))
            .kv_backend(std::sync::Arc::clone(&sb.kv) as _)
            .build()
    };
    let wrong = runtime_with_key("wrong-key").await.unwrap();
    match wrong.call_tool("list_folders", "{}").await {
        Err(CallError::Tool(ToolError::Auth(AuthError::Misconfigured(msg)))) => {
            assert!(msg.contains("linkauth-api-key"), "{msg}");
        }
        other => panic!("expected misconfigured, got {other:?}"),
    }
    let right = runtime_with_key("right-key").await.unwrap();
    match right.call_tool("list_folders", "{}").await {
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => {
            assert_eq!(c.scope, "gmail")
        }
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn linkauth_form_mode_serves_the_typed_credential_until_rejected() {
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let google = sb.auth0.config().google_access_token.clone();
    let auth = mcs_host::ComponentConfig::new("auth", mcs_host::guests::GUEST_AUTH_COMPONENT_BYTES)
        .setting("mode", "linkauth")
        .setting("linkauth-broker-url", sb.broker.base_url())
        .allow(sb.broker.base_url());
    let runtime = || {
        mcs_tests::builder()
            .provider(auth.clone())
            .tool(mcs_tests::mail_component(&sb.gmail))
            .kv_backend(std::sync::Arc::clone(&sb.kv) as _)
            .build()
    };
    let challenge = match runtime()
        .await
        .unwrap()
        .call_tool("list_folders", "{}")
        .await
    {
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => c,
        other => panic!("expected a challenge, got {other:?}"),
    };
    assert!(
        challenge.message.contains("Credentials required"),
        "{}",
        challenge.message
    );
    sb.broker
        .approve(
            challenge.code.as_deref().unwrap(),
            Some(serde_json::json!({"api_key": google})),
        )
        .await
        .unwrap();
    runtime()
        .await
        .unwrap()
        .call_tool("list_folders", "{}")
        .await
        .expect("typed key works");
    let mark = sb.mark();
    runtime()
        .await
        .unwrap()
        .call_tool("list_folders", "{}")
        .await
        .expect("kept");
    assert!(
        sb.since(mark).broker.is_empty(),
        "the stored credential serves"
    );
}

/// Counts reads of the provider's namespace: the provider reads its state on every run.
struct CountingKv {
    inner: std::sync::Arc<mcs_host::kv::MemoryBackend>,
    provider_reads: std::sync::atomic::AtomicUsize,
}

impl mcs_host::kv::Backend for CountingKv {
    fn get(
        &self,
        at: mcs_host::kv::Location<'_>,
    ) -> Result<Option<Vec<u8>>, mcs_host::kv::KvError> {
        if at.namespace == "auth" {
            self.provider_reads
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.get(at)
    }
    fn set(
        &self,
        at: mcs_host::kv::Location<'_>,
        value: &[u8],
    ) -> Result<(), mcs_host::kv::KvError> {
        self.inner.set(at, value)
    }
    fn delete(&self, at: mcs_host::kv::Location<'_>) -> Result<(), mcs_host::kv::KvError> {
        self.inner.delete(at)
    }
    fn list_keys(
        &self,
        ns: &str,
        bucket: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<String>, mcs_host::kv::KvError> {
        self.inner.list_keys(ns, bucket, start, limit)
    }
    fn increment(
        &self,
        at: mcs_host::kv::Location<'_>,
        delta: u64,
    ) -> Result<u64, mcs_host::kv::KvError> {
        self.inner.increment(at, delta)
    }
}

#[tokio::test]
async fn warm_calls_in_one_runtime_do_not_run_the_provider_until_the_token_expires() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    let sb = Sandbox::start();
    sb.signed_in();
    let kv = Arc::new(CountingKv {
        inner: Arc::clone(&sb.kv),
        provider_reads: Default::default(),
    });
    let rt = mcs_tests::builder()
        .provider(sb.auth_component())
        .tool(mcs_tests::mail_component(&sb.gmail))
        .kv_backend(Arc::clone(&kv) as _)
        .build()
        .await
        .unwrap();
    rt.call_tool("list_folders", "{}").await.unwrap();
    let after_first = kv.provider_reads.load(Ordering::SeqCst);
    assert!(after_first > 0, "the first call ran the provider");
    let mark = sb.mark();
    rt.call_tool("list_folders", "{}").await.unwrap();
    assert_eq!(
        kv.provider_reads.load(Ordering::SeqCst),
        after_first,
        "the host's grant cache served"
    );
    assert!(sb.since(mark).auth0.is_empty());
}
