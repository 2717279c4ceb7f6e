//! A fake LinkAuth broker (linkauth-broker.md): what agents and the browser page see on the wire.
//!
//! Faked, with the broker's status codes, JSON key orders and error bodies: the agent API
//! (`POST /v1/sessions`, `GET /v1/sessions/{id}` with slow_down and one-time retrieval,
//! `POST /v1/proxy` to loopback targets only), the page API (`/v1/connect/{code}`, `…/confirm`,
//! `…/complete`), OAuth standard mode (authorization code + PKCE against a configured provider,
//! the token dict encrypted in the broker's Python serialization) and passthrough mode
//! (`custom_authorize_url` / `custom_callback_params` / `custom_state`, as Auth0 Connected
//! Accounts uses it), and the browser page at `/connect/{code}` that drives the page API (in
//! the person's real browser, or headless Chromium in tests). [`FakeBroker::approve`] plays the
//! person in the browser over real HTTP without it.
//!
//! Left out: outbound callbacks (`callback_secret` is always null), the webhook relay
//! (`webhook_url` is always null), the connect rate limiter, OIDC discovery and registry URLs
//! (providers are configured explicitly), the built-in OAuth templates (`google_mail`, …), the
//! cleanup loop (a consumed session stays `consumed` until its TTL) and persistence. Unlike the
//! real broker, tokens are compared in constant time, a consumed (emptied) connect token never
//! completes a session (weak point W1), and the page loads nothing from a CDN and carries a strict
//! Content-Security-Policy.
//!
//! This module holds the broker's settings, its sessions and the router; the endpoints live in
//! `sessions` (agent API), `connect` (page API), `page` (the HTML, script and style the person's
//! browser loads), `oauth` (standard and passthrough modes) and `proxy`; `browser` is what
//! [`FakeBroker::approve`] does as the person's browser.

mod browser;
mod codes;
mod connect;
mod fastapi;
#[cfg(test)]
mod fixtures;
mod loopback;
mod oauth;
mod ordered;
mod page;
mod proxy;
mod sessions;
mod templates;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use crate::server::{RecordedRequest, Server};
use crate::wire::{problem, respond};
use templates::Field;

/// An OAuth provider the broker runs the authorization-code flow against (client_secret_basic).
#[derive(Debug, Clone)]
pub struct OAuthProvider {
    /// The provider's authorization endpoint.
    pub authorize_url: String,
    /// The provider's token endpoint (loopback only).
    pub token_url: String,
    /// The broker's client id at the provider.
    pub client_id: String,
    /// The broker's client secret at the provider.
    pub client_secret: String,
}

/// Settings of a [`FakeBroker`].
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Required as `X-API-Key` on sessions, poll and proxy when set.
    pub api_key: Option<String>,
    /// Seconds; returned as `interval`; polls closer than this get a slow_down 429.
    pub poll_interval: u64,
    /// Providers by id, e.g. `("auth0", …)`; an OAuth session must name one of these.
    pub providers: Vec<(String, OAuthProvider)>,
    /// Whether `POST /v1/proxy` relays (else 403 "Proxy Disabled").
    pub proxy_enabled: bool,
    /// Default session TTL in seconds.
    pub ttl_secs: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            poll_interval: 5,
            providers: Vec::new(),
            proxy_enabled: true,
            ttl_secs: 600,
        }
    }
}

impl BrokerConfig {
    /// A broker whose provider `auth0` is `tenant` (its `/authorize` and `/oauth/token`, its
    /// client), polling without waiting (interval 0), as tests and the demo need it.
    pub fn for_tenant(tenant: &crate::FakeAuth0) -> Self {
        let cfg = tenant.config();
        Self {
            poll_interval: 0,
            providers: vec![(
                "auth0".into(),
                OAuthProvider {
                    authorize_url: format!("{}/authorize", tenant.base_url()),
                    token_url: format!("{}/oauth/token", tenant.base_url()),
                    client_id: cfg.client_id.clone(),
                    client_secret: cfg.client_secret.clone(),
                },
            )],
            ..Self::default()
        }
    }
}

/// What [`FakeBroker::sessions`] reports about one live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Hex SHA-256 of the normalised code.
    pub session_id: String,
    /// The code as displayed, `XXXX-XXXX`.
    pub code: String,
    /// `pending`, `confirmed`, `ready` or `consumed`.
    pub status: String,
    /// The OAuth provider id, for OAuth and passthrough sessions.
    pub oauth_provider: Option<String>,
    /// The agent's passthrough `custom_state`.
    pub custom_state: Option<String>,
    /// The agent's passthrough `custom_authorize_url`.
    pub custom_authorize_url: Option<String>,
}

/// A running fake LinkAuth broker; stops when dropped.
pub struct FakeBroker {
    server: Server,
    shared: Arc<Shared>,
}

impl fmt::Debug for FakeBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sessions = self.shared.state().sessions.len();
        write!(
            f,
            "FakeBroker {{ base_url: {:?}, sessions: {sessions} }}",
            self.base_url()
        )
    }
}

struct Shared {
    config: BrokerConfig,
    base_url: OnceLock<String>,
    state: Mutex<BrokerState>,
}

type Ctx = State<Arc<Shared>>;

impl Shared {
    fn state(&self) -> MutexGuard<'_, BrokerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn base(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or_default()
    }

    fn provider(&self, id: Option<&str>) -> Option<&OAuthProvider> {
        let found = self
            .config
            .providers
            .iter()
            .find(|(name, _)| Some(name.as_str()) == id);
        found.map(|(_, p)| p)
    }
}

#[derive(Default)]
struct BrokerState {
    /// Oldest first.
    sessions: Vec<Session>,
    canned_poll: Option<(u16, String, String)>,
    next_ciphertext: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Confirmed,
    Ready,
    Consumed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Ready => "ready",
            Self::Consumed => "consumed",
        }
    }
}

struct Session {
    id: String,
    code: String,
    public_key: String,
    display_name: String,
    oauth: bool,
    fields: Vec<Field>,
    provider: Option<String>,
    scopes: Vec<String>,
    extra_params: Vec<(String, String)>,
    custom_authorize_url: Option<String>,
    custom_callback_params: Vec<String>,
    custom_state: Option<String>,
    status: Status,
    poll_token: String,
    /// `None` before confirm and once an OAuth redirect consumed it.
    connect_token: Option<String>,
    /// `Some` while an OAuth flow is under way (`""` in passthrough mode).
    verifier: Option<String>,
    ciphertext: Option<String>,
    algorithm: Option<String>,
    expires_at: SystemTime,
    last_poll: Option<Instant>,
}

impl Session {
    fn live(&self) -> bool {
        self.expires_at > SystemTime::now()
    }

    /// Whether `given` is this session's (unconsumed, non-empty) connect token.
    fn connect_token_is(&self, given: &str) -> bool {
        let token = self.connect_token.as_deref().unwrap_or_default();
        !token.is_empty() && codes::constant_time_eq(token.as_bytes(), given.as_bytes())
    }
}

/// The live session with this id.
fn live<'a>(sessions: &'a mut [Session], id: &str) -> Option<&'a mut Session> {
    sessions.iter_mut().find(|s| s.id == id && s.live())
}

/// `f`'s answer for the live session a browser-side path code names (hyphens and case do not
/// matter), else the 404.
fn with_session_by_code(
    shared: &Shared,
    code: &str,
    f: impl FnOnce(&mut Session) -> Response,
) -> Response {
    let mut state = shared.state();
    match live(&mut state.sessions, &codes::session_id(code)) {
        Some(session) => f(session),
        None => session_not_found(),
    }
}

fn session_not_found() -> Response {
    problem(404, "Session Not Found", "Session not found or expired.")
}

impl FakeBroker {
    /// Starts the broker on `127.0.0.1:0`.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub fn start(config: BrokerConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            base_url: OnceLock::new(),
            state: Mutex::default(),
        });
        let router = Router::new()
            .route(
                "/health",
                get(|| async { respond(200, "application/json", r#"{"status":"ok"}"#) }),
            )
            .route("/v1/sessions", post(sessions::create_session))
            .route("/v1/sessions/{session_id}", get(sessions::poll))
            .route("/v1/proxy", post(proxy::proxy))
            .route("/v1/connect/{code}", get(connect::connect_info))
            .route("/v1/connect/{code}/confirm", post(connect::confirm))
            .route("/v1/connect/{code}/complete", post(connect::complete))
            .route("/v1/oauth/authorize/{code}", get(oauth::authorize))
            .route("/v1/oauth/callback", get(oauth::callback))
            .route("/connect/{code}", get(page::index))
            .route("/static/connect.js", get(page::script))
            .route("/static/connect.css", get(page::style))
            .fallback(|| async { respond(404, "application/json", r#"{"detail":"Not Found"}"#) })
            .with_state(Arc::clone(&shared));
        let server = Server::start("broker", router)?;
        let _ = shared.base_url.set(server.base_url());
        Ok(Self { server, shared })
    }

    /// The broker URL agents are configured with, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The live sessions, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let state = self.shared.state();
        let live = state.sessions.iter().filter(|s| s.live());
        live.map(|s| SessionInfo {
            session_id: s.id.clone(),
            code: s.code.clone(),
            status: s.status.as_str().into(),
            oauth_provider: s.provider.clone(),
            custom_state: s.custom_state.clone(),
            custom_authorize_url: s.custom_authorize_url.clone(),
        })
        .collect()
    }

    /// Does what the person does in the browser for the session with this code:
    /// GET /v1/connect/{code}, POST …/confirm, then
    ///  - form session: encrypts `form_values` (a JSON object; Browser serialization) and POSTs
    ///    …/complete;
    ///  - OAuth or passthrough session: GET /v1/oauth/authorize/{code}?connect_token=… and
    ///    follows every redirect (loopback only) until the broker's success page.
    ///
    /// The form plaintext has every field in field order (`""` when `form_values` lacks it), then
    /// any extra keys of `form_values`, as the page's `JSON.stringify` writes it.
    ///
    /// # Errors
    ///
    /// A sentence naming the failing step.
    pub async fn approve(&self, code: &str, form_values: Option<Value>) -> Result<(), String> {
        browser::act_in_browser(&self.base_url(), code, form_values).await
    }

    /// The session with this code is gone: polls and the page get 404 from now on.
    pub fn expire(&self, code: &str) {
        let id = codes::session_id(code);
        self.shared.state().sessions.retain(|s| s.id != id);
    }

    /// The next poll gets exactly this status, content type and body (then polls are normal again).
    pub fn fail_next_poll(&self, status: u16, content_type: &str, body: &str) {
        self.shared.state().canned_poll = Some((status, content_type.into(), body.into()));
    }

    /// The next ready poll returns this ciphertext instead of the stored one.
    pub fn replace_next_ciphertext(&self, transport: &str) {
        self.shared.state().next_ciphertext = Some(transport.into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fixtures::{
        agent, approve, client, connect_info, create_ok, decrypt, delivered, poll, problem_body,
        quick, send, start,
    };
    use super::*;
    use crate::envelope;

    #[tokio::test]
    async fn health_answers_ok() {
        let broker = start(quick());
        let reply = send(client().get(format!("{}/health", broker.base_url()))).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, r#"{"status":"ok"}"#)
        );
    }

    #[tokio::test]
    async fn a_form_session_goes_from_pending_to_ready_to_consumed() {
        let broker = start(quick());
        let base = broker.base_url();
        let session = create_ok(&broker, json!({"template": "basic_auth"})).await;
        assert_eq!(session.session_id, codes::session_id(&session.code));
        assert_eq!(session.code.len(), 9);
        assert_eq!(session.poll_token.len(), 46);
        assert!(session.poll_token.starts_with("pt_"));
        let prefix = format!(
            r#"{{"session_id":"{}","code":"{}","url":"{base}/connect/{}","poll_token":"{}","expires_at":""#,
            session.session_id, session.code, session.code, session.poll_token
        );
        assert!(session.body.starts_with(&prefix), "{}", session.body);
        assert!(
            session
                .body
                .ends_with(r#"+00:00","interval":0,"callback_secret":null,"webhook_url":null}"#),
            "{}",
            session.body
        );

        let pending = poll(&broker, &session).await;
        assert_eq!(pending.status, 200);
        assert!(
            pending
                .body
                .starts_with(r#"{"status":"pending","expires_at":""#)
        );
        assert!(
            pending
                .body
                .ends_with(r#"","interval":0,"ciphertext":null,"algorithm":null}"#)
        );

        let lower = session.code.replace('-', "").to_lowercase();
        let info = connect_info(&broker, &lower).await;
        let expected = format!(
            r#"{{"status":"pending","display_name":"Login Credentials","template_type":"form","code":"{}","fields":[{{"name":"username","label":"Username","type":"text","required":true,"options":null}},{{"name":"password","label":"Password","type":"password","required":true,"options":null}}],"public_key":"{}","security":{{"secure":false,"mode":"development","message":"Development mode -- connection is not encrypted. Do not enter real credentials."}},"oauth_url":null}}"#,
            session.code,
            agent().public_key
        );
        assert_eq!((info.status, info.body), (200, expected));

        let values = json!({"password": "S3cr3t-ä", "username": "alice@example.com"});
        approve(&broker, &session.code, Some(values)).await;
        assert_eq!(broker.sessions()[0].status, "ready");
        let gone = connect_info(&broker, &session.code).await;
        assert_eq!(gone.status, 410);
        assert_eq!(
            gone.body,
            problem_body("Session Gone", 410, "Session already completed.")
        );

        let ready = poll(&broker, &session).await;
        let v = ready.json();
        assert_eq!(
            (v["status"].as_str(), v["interval"].is_null()),
            (Some("ready"), true)
        );
        assert_eq!(v["algorithm"], envelope::ALGORITHM);
        assert!(
            ready
                .body
                .starts_with(r#"{"status":"ready","expires_at":""#)
        );
        let transport = v["ciphertext"].as_str().expect("a ciphertext");
        assert!(transport.starts_with("eyJ3cmFwcGVkX2tleSI6"));
        assert_eq!(
            decrypt(transport),
            r#"{"username":"alice@example.com","password":"S3cr3t-ä"}"#
        );

        let consumed = poll(&broker, &session).await;
        assert_eq!(consumed.json()["status"], "consumed");
        assert!(consumed.json()["ciphertext"].is_null());
        let requests: Vec<String> = broker
            .requests()
            .iter()
            .map(RecordedRequest::line)
            .collect();
        assert!(requests.contains(&format!("POST /v1/connect/{}/complete", session.code)));
    }

    #[tokio::test]
    async fn an_expired_session_answers_404() {
        let broker = start(quick());
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        broker.expire(&session.code);
        let reply = poll(&broker, &session).await;
        assert_eq!(reply.status, 404);
        assert_eq!(connect_info(&broker, &session.code).await.status, 404);
        assert!(broker.sessions().is_empty());
        let dead = create_ok(&broker, json!({"template": "api_key", "ttl": -5})).await;
        assert_eq!(poll(&broker, &dead).await.status, 404);
    }

    #[tokio::test]
    async fn canned_polls_and_replaced_ciphertexts_are_served_once() {
        let broker = start(quick());
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        broker.fail_next_poll(503, "text/plain", "busy");
        let failed = poll(&broker, &session).await;
        assert_eq!(
            (
                failed.status,
                failed.content_type.as_str(),
                failed.body.as_str()
            ),
            (503, "text/plain", "busy")
        );
        assert_eq!(poll(&broker, &session).await.json()["status"], "pending");

        broker.replace_next_ciphertext("garbage!");
        assert!(poll(&broker, &session).await.json()["ciphertext"].is_null());
        approve(&broker, &session.code, Some(json!({"api_key": "sk-1"}))).await;
        let ready = poll(&broker, &session).await.json();
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["ciphertext"], "garbage!");
        assert!(envelope::open(&agent().private_der, "garbage!").is_err());

        let again = create_ok(&broker, json!({"template": "api_key"})).await;
        approve(&broker, &again.code, Some(json!({"api_key": "sk-2"}))).await;
        let ready = poll(&broker, &again).await.json();
        assert_eq!(delivered(&ready), r#"{"api_key":"sk-2"}"#);
    }
}
