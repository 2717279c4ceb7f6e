//! A fake LinkAuth broker (linkauth-broker.md): what agents and the browser page see on the wire.
//!
//! Faked, with the broker's status codes, JSON key orders and error bodies: the agent API
//! (`POST /v1/sessions`, `GET /v1/sessions/{id}` with slow_down and one-time retrieval,
//! `POST /v1/proxy` to loopback targets only), the page API (`/v1/connect/{code}`, `…/confirm`,
//! `…/complete`), OAuth standard mode (authorization code + PKCE against a configured provider,
//! the token dict encrypted in the broker's Python serialization) and passthrough mode
//! (`custom_authorize_url` / `custom_callback_params` / `custom_state`, as Auth0 Connected
//! Accounts uses it). [`FakeBroker::approve`] plays the person in the browser over real HTTP.
//!
//! Left out: outbound callbacks (`callback_secret` is always null), the webhook relay
//! (`webhook_url` is always null), the connect rate limiter, OIDC discovery and registry URLs
//! (providers are configured explicitly), the built-in OAuth templates (`google_mail`, …), the
//! cleanup loop (a consumed session stays `consumed` until its TTL), persistence, and the real page
//! (`/connect/{code}` is a placeholder). Unlike the real broker, tokens are compared in constant
//! time and a consumed (emptied) connect token never completes a session (weak point W1).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::{
    self, ALGORITHM, Field, Ordered, Serialization, api_key_denied, constant_time_eq as same,
    found, json, parse_body, problem, problem_json, respond, unprocessable,
};
use crate::server::{RecordedRequest, Server};

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
        !token.is_empty() && same(token.as_bytes(), given.as_bytes())
    }
}

/// The live session with this id.
fn live<'a>(sessions: &'a mut [Session], id: &str) -> Option<&'a mut Session> {
    sessions.iter_mut().find(|s| s.id == id && s.live())
}

/// The live session a browser-side path code names (hyphens and case do not matter).
fn by_code<'a>(sessions: &'a mut [Session], code: &str) -> Option<&'a mut Session> {
    live(sessions, &envelope::session_id(code))
}

/// The session an OAuth callback `state` names: by session id, else the newest passthrough
/// session with that custom_state (weak point W2 kept: custom_state is the agent's choice).
fn flow_for<'a>(sessions: &'a mut [Session], state: &str) -> Option<&'a mut Session> {
    let started = |s: &Session| s.live() && s.verifier.is_some();
    let index = (sessions.iter().position(|s| s.id == state && started(s))).or_else(|| {
        sessions.iter().rposition(|s| {
            s.custom_state.as_deref() == Some(state)
                && s.custom_authorize_url.is_some()
                && started(s)
        })
    })?;
    sessions.get_mut(index)
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
            .route("/v1/sessions", post(create_session))
            .route("/v1/sessions/{session_id}", get(poll))
            .route("/v1/proxy", post(proxy))
            .route("/v1/connect/{code}", get(connect_info))
            .route("/v1/connect/{code}/confirm", post(confirm))
            .route("/v1/connect/{code}/complete", post(complete))
            .route("/v1/oauth/authorize/{code}", get(authorize))
            .route("/v1/oauth/callback", get(callback))
            .route("/connect/{code}", get(page))
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
        envelope::act_in_browser(&self.base_url(), code, form_values).await
    }

    /// The session with this code is gone: polls and the page get 404 from now on.
    pub fn expire(&self, code: &str) {
        let id = envelope::session_id(code);
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

// ---------------------------------------------------------------------------------------------
// Agent API

#[derive(Deserialize)]
struct CreateRequest {
    public_key: String,
    template: Option<String>,
    display_name: Option<String>,
    fields: Option<Vec<Field>>,
    oauth_provider: Option<String>,
    oauth_scopes: Option<Vec<String>>,
    oauth_extra_params: Option<Ordered<String>>,
    ttl: Option<i64>,
    custom_authorize_url: Option<String>,
    custom_callback_params: Option<Vec<String>>,
    custom_state: Option<String>,
}

#[derive(Serialize)]
struct CreateResponse<'a> {
    session_id: &'a str,
    code: &'a str,
    url: String,
    poll_token: &'a str,
    expires_at: String,
    interval: u64,
    callback_secret: Option<String>,
    webhook_url: Option<String>,
}

async fn create_session(State(shared): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    let config = &shared.config;
    if let Some(denied) = api_key_denied(config.api_key.as_deref(), &headers) {
        return denied;
    }
    let req: CreateRequest = match parse_body(&body) {
        Ok(req) => req,
        Err(msg) => return unprocessable(&msg),
    };
    if let Err(detail) = envelope::parse_public_key(&req.public_key) {
        return problem(400, "Invalid Public Key", &detail);
    }
    if let Some(provider) = req.oauth_provider.as_deref()
        && shared.provider(Some(provider)).is_none()
    {
        let p = provider.to_uppercase();
        let detail = format!(
            "OAuth provider '{provider}' is not configured. \
             Set OAUTH_{p}_CLIENT_ID and OAUTH_{p}_CLIENT_SECRET environment variables."
        );
        return problem(400, "OAuth Provider Error", &detail);
    }
    let (template, name) = (req.template.as_deref(), req.display_name.as_deref());
    let resolved = envelope::resolve_template(template, name, &req.fields, &req.oauth_provider);
    let (display_name, oauth, fields) = match resolved {
        Ok(template) => template,
        Err(detail) => return problem(400, "Invalid Template", &detail),
    };
    // min(ttl or default, max) with no lower bound: a negative TTL makes a dead session.
    let default_ttl = i64::try_from(config.ttl_secs).unwrap_or(i64::MAX);
    let ttl = req
        .ttl
        .filter(|t| *t != 0)
        .unwrap_or(default_ttl)
        .min(default_ttl.max(900));
    let (now, offset) = (SystemTime::now(), Duration::from_secs(ttl.unsigned_abs()));
    let expires_at = if ttl >= 0 {
        now + offset
    } else {
        now.checked_sub(offset).unwrap_or(UNIX_EPOCH)
    };
    let mut state = shared.state();
    let code = loop {
        let code = envelope::random_code();
        if !state.sessions.iter().any(|s| s.code == code) {
            break code;
        }
    };
    let session = Session {
        id: envelope::session_id(&code),
        code,
        public_key: req.public_key,
        display_name,
        oauth,
        fields,
        provider: req.oauth_provider,
        scopes: req.oauth_scopes.unwrap_or_default(),
        extra_params: req.oauth_extra_params.map(|p| p.0).unwrap_or_default(),
        custom_authorize_url: req.custom_authorize_url,
        custom_callback_params: req.custom_callback_params.unwrap_or_default(),
        custom_state: req.custom_state,
        status: Status::Pending,
        poll_token: envelope::random_token("pt_", 32),
        connect_token: None,
        verifier: None,
        ciphertext: None,
        algorithm: None,
        expires_at,
        last_poll: None,
    };
    let response = CreateResponse {
        session_id: &session.id,
        code: &session.code,
        url: format!("{}/connect/{}", shared.base(), session.code),
        poll_token: &session.poll_token,
        expires_at: envelope::isoformat(expires_at),
        interval: config.poll_interval,
        callback_secret: None,
        webhook_url: None,
    };
    let response = json(201, &response);
    state.sessions.push(session);
    response
}

#[derive(Serialize)]
struct PollResponse<'a> {
    status: &'a str,
    expires_at: String,
    interval: Option<u64>,
    ciphertext: Option<String>,
    algorithm: Option<String>,
}

async fn poll(State(shared): Ctx, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut guard = shared.state();
    let state = &mut *guard;
    if let Some((status, content_type, body)) = state.canned_poll.take() {
        return respond(status, &content_type, body);
    }
    if let Some(denied) = api_key_denied(shared.config.api_key.as_deref(), &headers) {
        return denied;
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")) else {
        let detail = "Missing or invalid Authorization header. Use: Bearer <poll_token>";
        let mut response = problem(401, "Unauthorized", detail);
        let bearer = header::HeaderValue::from_static("Bearer");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, bearer);
        return response;
    };
    let Some(session) = live(&mut state.sessions, &id) else {
        return session_not_found();
    };
    if !same(session.poll_token.as_bytes(), token.as_bytes()) {
        return problem(403, "Forbidden", "Invalid poll_token.");
    }
    let interval = shared.config.poll_interval;
    if session
        .last_poll
        .is_some_and(|t| t.elapsed() < Duration::from_secs(interval))
    {
        let detail = "Polling too frequently. Increase your polling interval.";
        let extra = format!(r#","interval":{}"#, interval + 5);
        let kind = "urn:ietf:params:oauth:error:slow_down";
        let body = problem_json(kind, "Slow Down", 429, detail, &extra);
        return respond(429, "application/problem+json", body);
    }
    session.last_poll = Some(Instant::now());
    let mut body = PollResponse {
        status: session.status.as_str(),
        expires_at: envelope::isoformat(session.expires_at),
        interval: Some(interval),
        ciphertext: None,
        algorithm: None,
    };
    if session.status == Status::Ready {
        session.status = Status::Consumed;
        session.last_poll = None;
        body.interval = None;
        let replacement = state.next_ciphertext.take();
        body.ciphertext = replacement.or_else(|| session.ciphertext.clone());
        let algorithm = session.algorithm.clone();
        body.algorithm = algorithm.or_else(|| Some(ALGORITHM.into()));
    }
    json(200, &body)
}

#[derive(Deserialize)]
struct ProxyRequest {
    method: String,
    url: String,
    headers: Option<Ordered<String>>,
    body: Option<String>,
    timeout: Option<i64>,
}

async fn proxy(State(shared): Ctx, headers: HeaderMap, body: Bytes) -> Response {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    if let Some(denied) = api_key_denied(shared.config.api_key.as_deref(), &headers) {
        return denied;
    }
    let req: ProxyRequest = match parse_body(&body) {
        Ok(req) => req,
        Err(msg) => return unprocessable(&msg),
    };
    let timeout = req.timeout.unwrap_or(30);
    if !METHODS.contains(&req.method.as_str()) || !(1..=120).contains(&timeout) {
        return unprocessable(
            "method must be GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS, timeout 1..120",
        );
    }
    if !shared.config.proxy_enabled {
        let detail = "The HTTP proxy endpoint is disabled on this broker.";
        return problem(403, "Proxy Disabled", detail);
    }
    let headers = req.headers.map(|h| h.0).unwrap_or_default();
    envelope::forward(
        &req.method,
        &req.url,
        headers,
        req.body,
        timeout.clamp(1, 60),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Browser side

#[derive(Serialize)]
struct ConnectInfo<'a> {
    status: &'a str,
    display_name: &'a str,
    template_type: &'a str,
    code: &'a str,
    fields: &'a [Field],
    public_key: &'a str,
    security: Security,
    oauth_url: Option<String>,
}

#[derive(Serialize)]
struct Security {
    secure: bool,
    mode: &'static str,
    message: &'static str,
}

async fn connect_info(State(shared): Ctx, Path(code): Path<String>) -> Response {
    let mut state = shared.state();
    let Some(session) = by_code(&mut state.sessions, &code) else {
        return session_not_found();
    };
    match session.status {
        Status::Pending => {}
        Status::Confirmed => return session_not_found(),
        Status::Ready | Status::Consumed => {
            return problem(410, "Session Gone", "Session already completed.");
        }
    }
    // The fake only ever listens on 127.0.0.1 over plain HTTP.
    let message = "Development mode -- connection is not encrypted. Do not enter real credentials.";
    let security = Security {
        secure: false,
        mode: "development",
        message,
    };
    let body = ConnectInfo {
        status: "pending",
        display_name: &session.display_name,
        template_type: if session.oauth { "oauth" } else { "form" },
        code: &session.code,
        fields: &session.fields,
        public_key: &session.public_key,
        security,
        oauth_url: None,
    };
    json(200, &body)
}

async fn confirm(State(shared): Ctx, Path(code): Path<String>) -> Response {
    let mut state = shared.state();
    let Some(session) = by_code(&mut state.sessions, &code) else {
        return session_not_found();
    };
    if session.status != Status::Pending {
        let detail = "Session has already been confirmed.";
        return problem(409, "Already Confirmed", detail);
    }
    session.status = Status::Confirmed;
    let token = session
        .connect_token
        .insert(envelope::random_token("ct_", 32));
    let body = format!(r#"{{"connect_token":"{token}"}}"#);
    respond(200, "application/json", body)
}

#[derive(Deserialize)]
struct CompleteRequest {
    ciphertext: String,
    algorithm: Option<String>,
    connect_token: String,
}

async fn complete(State(shared): Ctx, Path(code): Path<String>, body: Bytes) -> Response {
    let req: CompleteRequest = match parse_body(&body) {
        Ok(req) => req,
        Err(msg) => return unprocessable(&msg),
    };
    let mut state = shared.state();
    let Some(session) = by_code(&mut state.sessions, &code) else {
        return session_not_found();
    };
    if session.status != Status::Confirmed {
        let detail = "Session is not in a completable state.";
        return problem(409, "Session Not Completable", detail);
    }
    // Unlike the real broker (W1), a consumed or empty token never matches.
    if !session.connect_token_is(&req.connect_token) {
        let detail = "Invalid connect_token. Re-confirm the session code.";
        return problem(403, "Invalid Connect Token", detail);
    }
    session.ciphertext = Some(req.ciphertext);
    session.algorithm = Some(req.algorithm.unwrap_or_else(|| ALGORITHM.into()));
    session.status = Status::Ready;
    respond(204, "application/json", Body::empty())
}

async fn authorize(
    State(shared): Ctx,
    Path(code): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let mut state = shared.state();
    let Some(session) = by_code(&mut state.sessions, &code) else {
        return session_not_found();
    };
    if session.status != Status::Confirmed {
        let detail = "Session code must be confirmed before starting OAuth flow.";
        return problem(409, "Code Not Confirmed", detail);
    }
    if !session.connect_token_is(param(&query, "connect_token").unwrap_or_default()) {
        let detail = "Invalid or missing connect_token. Re-confirm the session code.";
        return problem(403, "Invalid Connect Token", detail);
    }
    if !session.oauth {
        let detail = "This session does not use OAuth.";
        return problem(400, "Not an OAuth Session", detail);
    }
    if let Some(url) = &session.custom_authorize_url {
        // Passthrough: the flow is marked started; the connect token stays (as in the broker).
        session.verifier = Some(String::new());
        return found(url);
    }
    let Some(provider) = shared.provider(session.provider.as_deref()) else {
        let detail = "The session's OAuth provider is not configured.";
        return problem(503, "OAuth Provider Error", detail);
    };
    session.connect_token = None;
    let verifier = envelope::random_token("", 64);
    let redirect_uri = format!("{}/v1/oauth/callback", shared.base());
    let (scopes, extra) = (&session.scopes, &session.extra_params);
    let url = envelope::authorize_url(
        provider,
        &redirect_uri,
        scopes,
        &session.id,
        &verifier,
        extra,
    );
    session.verifier = Some(verifier);
    found(&url)
}

async fn callback(State(shared): Ctx, Query(query): Query<Vec<(String, String)>>) -> Response {
    let param = |name: &str| param(&query, name);
    if param("error").is_some() {
        if let Some(state) = param("state")
            && let Some(session) = flow_for(&mut shared.state().sessions, state)
        {
            session.verifier = None;
        }
        let detail = "Authorization was not completed.";
        return problem(400, "OAuth Authorization Failed", detail);
    }
    let Some(state) = param("state") else {
        return problem(400, "Invalid Callback", "Missing state or code parameter.");
    };
    // (id, code, public key, passthrough params, provider, verifier), taken out of the lock.
    let flow = flow_for(&mut shared.state().sessions, state).map(|s| {
        let passthrough = s
            .custom_authorize_url
            .as_ref()
            .map(|_| s.custom_callback_params.clone());
        let verifier = s.verifier.take().unwrap_or_default();
        (
            s.id.clone(),
            s.code.clone(),
            s.public_key.clone(),
            passthrough,
            s.provider.clone(),
            verifier,
        )
    });
    let Some((id, code, public_key, passthrough, provider, verifier)) = flow else {
        let detail = "OAuth state parameter not recognized. Session may have expired.";
        return problem(400, "Invalid State", detail);
    };
    let pairs: Vec<(String, Value)> = if let Some(names) = passthrough {
        let value = |name: &str| Value::from(param(name).unwrap_or_default());
        let mut pairs: Vec<(String, Value)> = names.iter().map(|n| (n.clone(), value(n))).collect();
        if pairs.iter().all(|(_, v)| v == "") {
            pairs.push(("code".into(), value("code")));
        }
        pairs
    } else {
        let Some(auth_code) = param("code") else {
            return problem(400, "Invalid Callback", "Missing code parameter.");
        };
        let Some(provider) = shared.provider(provider.as_deref()) else {
            let detail = "The session's OAuth provider is not configured.";
            return problem(400, "OAuth Provider Error", detail);
        };
        let redirect_uri = format!("{}/v1/oauth/callback", shared.base());
        match envelope::exchange_code(provider, &redirect_uri, auth_code, &verifier).await {
            Ok(token) => token,
            Err(e) => return problem(400, "OAuth Authorization Failed", &e),
        }
    };
    let pairs: Vec<(&str, Value)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let plaintext = envelope::python_json(&pairs);
    let ciphertext = match envelope::seal(&public_key, plaintext.as_bytes(), Serialization::Python)
    {
        Ok(ciphertext) => ciphertext,
        Err(e) => {
            let detail = format!("Failed to encrypt credentials: {e}");
            return problem(500, "Encryption Failed", &detail);
        }
    };
    match live(&mut shared.state().sessions, &id) {
        Some(session) if session.status != Status::Consumed => {
            session.ciphertext = Some(ciphertext);
            session.algorithm = Some(ALGORITHM.into());
            session.status = Status::Ready;
        }
        _ => {
            return problem(
                500,
                "Storage Error",
                "Failed to store encrypted credentials.",
            );
        }
    }
    found(&format!("{}/connect/{code}?status=success", shared.base()))
}

fn session_not_found() -> Response {
    problem(404, "Session Not Found", "Session not found or expired.")
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn page(Path(code): Path<String>) -> Response {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let html = format!("<html><body>LinkAuth sandbox: code {code}</body></html>");
    respond(200, "text/html; charset=utf-8", html)
}
#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use rand_core::OsRng;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    use serde_json::json;

    use super::*;

    struct AgentKey {
        public_key: String,
        private_der: Vec<u8>,
    }

    /// One RSA-2048 agent key per test binary.
    fn agent() -> &'static AgentKey {
        static KEY: OnceLock<AgentKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA-2048 generates");
            let public = key
                .to_public_key()
                .to_public_key_der()
                .expect("SPKI encodes");
            AgentKey {
                public_key: STANDARD.encode(public.as_bytes()),
                private_der: key
                    .to_pkcs8_der()
                    .expect("PKCS#8 encodes")
                    .as_bytes()
                    .to_vec(),
            }
        })
    }

    fn decrypt(transport: &str) -> String {
        let plain = envelope::open(&agent().private_der, transport).expect("the envelope opens");
        String::from_utf8(plain).expect("UTF-8 plaintext")
    }

    fn client() -> reqwest::Client {
        envelope::http_client(30).expect("client builds")
    }

    fn start(config: BrokerConfig) -> FakeBroker {
        FakeBroker::start(config).expect("the broker starts")
    }

    fn quick() -> BrokerConfig {
        BrokerConfig {
            poll_interval: 0,
            ..BrokerConfig::default()
        }
    }

    struct Reply {
        status: u16,
        content_type: String,
        headers: HeaderMap,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).expect("a JSON body")
        }
    }

    async fn send(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the request is answered");
        let headers = response.headers().clone();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Reply {
            status: response.status().as_u16(),
            content_type,
            headers,
            body: response.text().await.expect("a body"),
        }
    }

    struct Created {
        session_id: String,
        code: String,
        poll_token: String,
        body: String,
    }

    /// POST /v1/sessions with the agent key added to `fields`.
    async fn create(broker: &FakeBroker, mut fields: Value) -> Reply {
        fields["public_key"] = Value::from(agent().public_key.clone());
        let url = format!("{}/v1/sessions", broker.base_url());
        send(client().post(url).json(&fields)).await
    }

    async fn create_ok(broker: &FakeBroker, fields: Value) -> Created {
        let reply = create(broker, fields).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let v = reply.json();
        let text = |k: &str| v[k].as_str().expect("a string").to_owned();
        Created {
            session_id: text("session_id"),
            code: text("code"),
            poll_token: text("poll_token"),
            body: reply.body,
        }
    }

    async fn poll(broker: &FakeBroker, session: &Created) -> Reply {
        let url = format!("{}/v1/sessions/{}", broker.base_url(), session.session_id);
        send(client().get(url).bearer_auth(&session.poll_token)).await
    }

    fn problem_body(title: &str, status: u16, detail: &str) -> String {
        format!(
            r#"{{"type":"about:blank","title":"{title}","status":{status},"detail":"{detail}"}}"#
        )
    }

    const TOKEN_JSON: &str = r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt_x","scope":"openid offline_access"}"#;

    /// A tiny IdP: `/authorize`, `/token` (client_secret_basic) and a passthrough `/consent`.
    fn idp() -> Server {
        type Q = Query<HashMap<String, String>>;
        let router = Router::new()
            .route(
                "/authorize",
                get(|Query(q): Q| async move {
                    let back =
                        envelope::form_encode(&[("code", "AUTHCODE"), ("state", &q["state"])]);
                    found(&format!("{}?{back}", q["redirect_uri"]))
                }),
            )
            .route(
                "/token",
                post(|headers: HeaderMap| async move {
                    let expected = format!("Basic {}", STANDARD.encode("client-1:secret-1"));
                    match headers.get(header::AUTHORIZATION) {
                        Some(v) if v.as_bytes() == expected.as_bytes() => {
                            respond(200, "application/json", TOKEN_JSON)
                        }
                        _ => respond(401, "application/json", r#"{"error":"invalid_client"}"#),
                    }
                }),
            )
            .route(
                "/consent",
                get(|Query(q): Q| async move {
                    let back =
                        envelope::form_encode(&[("connect_code", "cc_1"), ("state", &q["state"])]);
                    found(&format!("{}?{back}", q["redirect"]))
                }),
            );
        Server::start("idp", router).expect("the IdP starts")
    }

    fn with_idp(idp: &Server) -> BrokerConfig {
        let base = idp.base_url();
        let provider = OAuthProvider {
            authorize_url: format!("{base}/authorize"),
            token_url: format!("{base}/token"),
            client_id: "client-1".into(),
            client_secret: "secret-1".into(),
        };
        BrokerConfig {
            providers: vec![("auth0".into(), provider)],
            ..quick()
        }
    }

    fn query_param(path_and_query: &str, name: &str) -> String {
        let url = reqwest::Url::parse(&format!("http://x{path_and_query}")).expect("a URL");
        let found = url.query_pairs().find(|(k, _)| k == name);
        found.map(|(_, v)| v.into_owned()).unwrap_or_default()
    }

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
        assert_eq!(session.session_id, envelope::session_id(&session.code));
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
        let info = send(client().get(format!("{base}/v1/connect/{lower}"))).await;
        let expected = format!(
            r#"{{"status":"pending","display_name":"Login Credentials","template_type":"form","code":"{}","fields":[{{"name":"username","label":"Username","type":"text","required":true,"options":null}},{{"name":"password","label":"Password","type":"password","required":true,"options":null}}],"public_key":"{}","security":{{"secure":false,"mode":"development","message":"Development mode -- connection is not encrypted. Do not enter real credentials."}},"oauth_url":null}}"#,
            session.code,
            agent().public_key
        );
        assert_eq!((info.status, info.body), (200, expected));

        let values = json!({"password": "S3cr3t-ä", "username": "alice@example.com"});
        broker
            .approve(&session.code, Some(values))
            .await
            .expect("approved");
        assert_eq!(broker.sessions()[0].status, "ready");
        let gone = send(client().get(format!("{base}/v1/connect/{}", session.code))).await;
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
        assert_eq!(v["algorithm"], ALGORITHM);
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
    async fn an_oauth_approval_delivers_the_token_dict_with_refresh_token_and_expires_at() {
        let idp = idp();
        let broker = start(with_idp(&idp));
        let session = create_ok(
            &broker,
            json!({
                "template": "auth0", "oauth_provider": "auth0",
                "oauth_scopes": ["openid", "offline_access"],
                "oauth_extra_params": {"audience": "https://api.example", "prompt": "consent"},
            }),
        )
        .await;
        let info =
            send(client().get(format!("{}/v1/connect/{}", broker.base_url(), session.code))).await;
        assert_eq!(info.json()["template_type"], "oauth");
        assert_eq!(info.json()["display_name"], "OAuth (auth0)");
        assert_eq!(info.json()["fields"], json!([]));

        broker.approve(&session.code, None).await.expect("approved");
        let ready = poll(&broker, &session).await.json();
        let plain = decrypt(ready["ciphertext"].as_str().expect("a ciphertext"));
        let start = r#"{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt_x", "scope": "openid offline_access", "expires_at": "#;
        assert!(plain.starts_with(start), "{plain}");
        let token: Value = serde_json::from_str(&plain).expect("JSON");
        let expires_at = token["expires_at"].as_u64().expect("an integer");
        assert!(expires_at.abs_diff(envelope::unix_now() + 3600) < 10);

        let seen = idp.requests();
        let authorize = seen
            .iter()
            .find(|r| r.line() == "GET /authorize")
            .expect("authorize");
        let redirect = format!("{}/v1/oauth/callback", broker.base_url());
        let expected = format!(
            "/authorize?response_type=code&client_id=client-1&{}&scope=openid+offline_access&state={}&code_challenge=",
            envelope::form_encode(&[("redirect_uri", &redirect)]),
            session.session_id
        );
        assert!(
            authorize.path_and_query.starts_with(&expected),
            "{}",
            authorize.path_and_query
        );
        assert!(authorize.path_and_query.ends_with(
            "&code_challenge_method=S256&audience=https%3A%2F%2Fapi.example&prompt=consent"
        ));
        let token_request = seen
            .iter()
            .find(|r| r.line() == "POST /token")
            .expect("token");
        assert_eq!(
            token_request.content_type.as_deref(),
            Some("application/x-www-form-urlencoded;charset=UTF-8")
        );
        let form = format!("/?{}", token_request.body);
        assert_eq!(query_param(&form, "grant_type"), "authorization_code");
        assert_eq!(query_param(&form, "code"), "AUTHCODE");
        assert_eq!(query_param(&form, "redirect_uri"), redirect);
        let verifier = query_param(&form, "code_verifier");
        assert_eq!(verifier.len(), 86);
        assert_eq!(
            envelope::pkce_challenge(&verifier),
            query_param(&authorize.path_and_query, "code_challenge")
        );

        let replay = format!("{redirect}?code=AUTHCODE&state={}", session.session_id);
        let replayed = send(client().get(replay)).await;
        assert_eq!(replayed.status, 400);
        let detail = "OAuth state parameter not recognized. Session may have expired.";
        assert_eq!(replayed.body, problem_body("Invalid State", 400, detail));
    }

    #[tokio::test]
    async fn a_passthrough_approval_delivers_the_connect_code() {
        let idp = idp();
        let broker = start(with_idp(&idp));
        let callback = format!("{}/v1/oauth/callback", broker.base_url());
        let consent = format!(
            "{}/consent?{}",
            idp.base_url(),
            envelope::form_encode(&[("redirect", callback.as_str()), ("state", "st-42")])
        );
        let session = create_ok(
            &broker,
            json!({
                "oauth_provider": "auth0", "custom_authorize_url": consent,
                "custom_callback_params": ["connect_code"], "custom_state": "st-42",
            }),
        )
        .await;
        let info = &broker.sessions()[0];
        assert_eq!(info.custom_state.as_deref(), Some("st-42"));
        assert_eq!(info.custom_authorize_url.as_deref(), Some(consent.as_str()));
        assert_eq!(info.oauth_provider.as_deref(), Some("auth0"));

        broker.approve(&session.code, None).await.expect("approved");
        let ready = poll(&broker, &session).await.json();
        let transport = ready["ciphertext"].as_str().expect("a ciphertext");
        assert_eq!(decrypt(transport), r#"{"connect_code": "cc_1"}"#);
        let outer = STANDARD.decode(transport).expect("base64");
        let outer = String::from_utf8(outer).expect("UTF-8");
        assert!(outer.starts_with(r#"{"wrapped_key": ""#), "{outer}");
        assert!(!idp.requests().iter().any(|r| r.line() == "POST /token"));
    }

    #[tokio::test]
    async fn polling_faster_than_the_interval_gets_slow_down() {
        let broker = start(BrokerConfig {
            poll_interval: 1,
            ..BrokerConfig::default()
        });
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        let first = poll(&broker, &session).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.json()["interval"], 1);
        let second = poll(&broker, &session).await;
        assert_eq!(second.status, 429);
        assert_eq!(second.content_type, "application/problem+json");
        assert_eq!(
            second.body,
            r#"{"type":"urn:ietf:params:oauth:error:slow_down","title":"Slow Down","status":429,"detail":"Polling too frequently. Increase your polling interval.","interval":6}"#
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(poll(&broker, &session).await.status, 200);
    }

    #[tokio::test]
    async fn poll_errors_have_the_brokers_exact_bodies() {
        let broker = start(quick());
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        let url = format!("{}/v1/sessions/{}", broker.base_url(), session.session_id);
        let unauthorized = problem_body(
            "Unauthorized",
            401,
            "Missing or invalid Authorization header. Use: Bearer <poll_token>",
        );
        for request in [
            client().get(&url),
            client()
                .get(&url)
                .header("authorization", format!("bearer {}", session.poll_token)),
        ] {
            let reply = send(request).await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (401, unauthorized.as_str())
            );
            assert_eq!(reply.content_type, "application/problem+json");
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
        }
        let unknown = format!("{}/v1/sessions/{}", broker.base_url(), "0".repeat(64));
        let reply = send(client().get(unknown).bearer_auth(&session.poll_token)).await;
        let not_found = problem_body("Session Not Found", 404, "Session not found or expired.");
        assert_eq!((reply.status, reply.body), (404, not_found));
        let reply = send(client().get(&url).bearer_auth("pt_wrong")).await;
        let forbidden = problem_body("Forbidden", 403, "Invalid poll_token.");
        assert_eq!((reply.status, reply.body), (403, forbidden));
    }

    #[tokio::test]
    async fn the_api_key_is_required_when_configured() {
        let broker = start(BrokerConfig {
            api_key: Some("key-1".into()),
            ..quick()
        });
        assert!(!format!("{broker:?}").contains("key-1"));
        let base = broker.base_url();
        let body = json!({"public_key": agent().public_key, "template": "api_key"});
        let missing = send(client().post(format!("{base}/v1/sessions")).json(&body)).await;
        assert_eq!(missing.status, 401);
        assert_eq!(missing.content_type, "application/json");
        assert_eq!(
            missing.body,
            r#"{"detail":{"type":"about:blank","title":"API Key Required","status":401,"detail":"Missing X-API-Key header. Provide a valid API key to access this endpoint."}}"#
        );
        let wrong = client()
            .post(format!("{base}/v1/sessions"))
            .header("x-api-key", "nope");
        let wrong = send(wrong.json(&body)).await;
        assert_eq!(wrong.status, 403);
        assert_eq!(
            wrong.body,
            r#"{"detail":{"type":"about:blank","title":"Invalid API Key","status":403,"detail":"The provided API key is not valid."}}"#
        );
        let right = client()
            .post(format!("{base}/v1/sessions"))
            .header("x-api-key", "key-1");
        let created = send(right.json(&body)).await;
        assert_eq!(created.status, 201);
        let id = created.json()["session_id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let poll = send(
            client()
                .get(format!("{base}/v1/sessions/{id}"))
                .bearer_auth("pt_x"),
        )
        .await;
        assert_eq!(poll.status, 401);
        let proxy = json!({"method": "GET", "url": format!("{base}/health")});
        let proxied = send(client().post(format!("{base}/v1/proxy")).json(&proxy)).await;
        assert_eq!(proxied.status, 401);
    }

    #[tokio::test]
    async fn invalid_public_keys_and_templates_are_refused_with_400() {
        let broker = start(quick());
        let url = format!("{}/v1/sessions", broker.base_url());
        let small = rsa::RsaPrivateKey::new(&mut OsRng, 1024).expect("RSA-1024 generates");
        let small = small
            .to_public_key()
            .to_public_key_der()
            .expect("SPKI encodes");
        // An SPKI naming an EC P-256 key (the point itself is not checked).
        let mut ec = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        ];
        ec.extend([
            0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ]);
        ec.extend([0x6b; 64]);
        let cases = [
            (
                String::new(),
                "public_key is required and must not be empty.",
            ),
            (
                "-----BEGIN PUBLIC KEY-----".into(),
                "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo).",
            ),
            (
                STANDARD.encode("not DER"),
                "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format.",
            ),
            (
                STANDARD.encode(ec),
                "public_key must be an RSA key, got ECPublicKey.",
            ),
            (
                STANDARD.encode(small.as_bytes()),
                "RSA key too small (1024 bits). Minimum is 2048 bits.",
            ),
        ];
        for (key, detail) in cases {
            let body = json!({"public_key": key, "template": "api_key"});
            let reply = send(client().post(&url).json(&body)).await;
            assert_eq!(reply.status, 400, "{key}");
            assert_eq!(reply.content_type, "application/problem+json");
            assert_eq!(reply.body, problem_body("Invalid Public Key", 400, detail));
        }
        let reply = create(&broker, json!({})).await;
        let detail = "Unknown template 'None' and no custom fields or OAuth provider provided";
        assert_eq!(
            (reply.status, reply.body),
            (400, problem_body("Invalid Template", 400, detail))
        );
        let reply = create(&broker, json!({"oauth_provider": "google"})).await;
        let detail = "OAuth provider 'google' is not configured. Set OAUTH_GOOGLE_CLIENT_ID and OAUTH_GOOGLE_CLIENT_SECRET environment variables.";
        assert_eq!(
            (reply.status, reply.body),
            (400, problem_body("OAuth Provider Error", 400, detail))
        );
        let reply = send(client().post(&url).json(&json!({"template": "api_key"}))).await;
        assert_eq!(reply.status, 422);
        let fields = json!({"fields": [{"name": "token", "label": "Token"}], "display_name": "X"});
        let custom = create_ok(&broker, fields).await;
        let info =
            send(client().get(format!("{}/v1/connect/{}", broker.base_url(), custom.code))).await;
        assert_eq!(
            info.json()["fields"],
            json!([{"name": "token", "label": "Token", "type": "text", "required": true, "options": null}])
        );
        assert_eq!(info.json()["display_name"], "X");
    }

    #[tokio::test]
    async fn an_expired_session_answers_404() {
        let broker = start(quick());
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        broker.expire(&session.code);
        let reply = poll(&broker, &session).await;
        assert_eq!(reply.status, 404);
        let connect = format!("{}/v1/connect/{}", broker.base_url(), session.code);
        assert_eq!(send(client().get(connect)).await.status, 404);
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
        broker
            .approve(&session.code, Some(json!({"api_key": "sk-1"})))
            .await
            .expect("approved");
        let ready = poll(&broker, &session).await.json();
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["ciphertext"], "garbage!");
        assert!(envelope::open(&agent().private_der, "garbage!").is_err());

        let again = create_ok(&broker, json!({"template": "api_key"})).await;
        broker
            .approve(&again.code, Some(json!({"api_key": "sk-2"})))
            .await
            .expect("approved");
        let ready = poll(&broker, &again).await.json();
        assert_eq!(
            decrypt(ready["ciphertext"].as_str().expect("a ciphertext")),
            r#"{"api_key":"sk-2"}"#
        );
    }

    #[tokio::test]
    async fn the_proxy_forwards_to_loopback_and_refuses_other_hosts() {
        let upstream = Server::start(
            "upstream",
            Router::new().route(
                "/echo",
                post(|body: String| async move {
                    let mut response =
                        respond(201, "application/json", format!(r#"{{"got":"{body}"}}"#));
                    response
                        .headers_mut()
                        .insert("x-upstream", header::HeaderValue::from_static("yes"));
                    response
                }),
            ),
        )
        .expect("upstream starts");
        let broker = start(quick());
        let url = format!("{}/v1/proxy", broker.base_url());
        let request = json!({
            "method": "POST", "url": format!("{}/echo", upstream.base_url()),
            "headers": {"X-Test": "1", "Content-Type": "text/plain"}, "body": "hello",
        });
        let reply = send(client().post(&url).json(&request)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v = reply.json();
        assert_eq!(v["status_code"], 201);
        assert_eq!(v["body"], r#"{"got":"hello"}"#);
        assert_eq!(v["headers"]["x-upstream"], "yes");
        assert_eq!(v["headers"]["content-type"], "application/json");
        assert!(reply.body.starts_with(r#"{"status_code":201,"headers":{"#));
        let seen = upstream.requests();
        assert_eq!((seen.len(), seen[0].body.as_str()), (1, "hello"));

        let outside = json!({"method": "GET", "url": "https://example.com/"});
        let reply = send(client().post(&url).json(&outside)).await;
        let detail = "The target domain is not on the proxy allowlist.";
        assert_eq!(
            (reply.status, reply.body),
            (403, problem_body("Domain Not Allowed", 403, detail))
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = closed.local_addr().expect("an address").port();
        drop(closed);
        let unreachable = json!({"method": "GET", "url": format!("http://127.0.0.1:{port}/")});
        let reply = send(client().post(&url).json(&unreachable)).await;
        assert_eq!(reply.status, 502);
        assert_eq!(reply.json()["title"], "Bad Gateway");

        let bad_method = json!({"method": "TRACE", "url": format!("{}/echo", upstream.base_url())});
        assert_eq!(
            send(client().post(&url).json(&bad_method)).await.status,
            422
        );

        let disabled = start(BrokerConfig {
            proxy_enabled: false,
            ..quick()
        });
        let reply = send(
            client()
                .post(format!("{}/v1/proxy", disabled.base_url()))
                .json(&request),
        )
        .await;
        let detail = "The HTTP proxy endpoint is disabled on this broker.";
        assert_eq!(
            (reply.status, reply.body),
            (403, problem_body("Proxy Disabled", 403, detail))
        );
    }

    #[tokio::test]
    async fn complete_refuses_an_empty_or_consumed_connect_token() {
        let broker = start(quick());
        let base = broker.base_url();
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        let complete_url = format!("{base}/v1/connect/{}/complete", session.code);
        let ciphertext =
            envelope::seal(&agent().public_key, b"{}", Serialization::Browser).expect("sealed");
        let body = |token: &str| json!({"ciphertext": ciphertext, "connect_token": token});
        let early = send(client().post(&complete_url).json(&body("ct_x"))).await;
        let detail = "Session is not in a completable state.";
        assert_eq!(
            (early.status, early.body),
            (409, problem_body("Session Not Completable", 409, detail))
        );
        let confirmed =
            send(client().post(format!("{base}/v1/connect/{}/confirm", session.code))).await;
        let token = confirmed.json()["connect_token"]
            .as_str()
            .expect("a token")
            .to_owned();
        assert!(token.starts_with("ct_") && token.len() == 46);
        let twice =
            send(client().post(format!("{base}/v1/connect/{}/confirm", session.code))).await;
        assert_eq!(twice.status, 409);
        let hidden = send(client().get(format!("{base}/v1/connect/{}", session.code))).await;
        assert_eq!(hidden.status, 404);
        let detail = "Invalid connect_token. Re-confirm the session code.";
        for wrong in ["", "ct_wrong"] {
            let reply = send(client().post(&complete_url).json(&body(wrong))).await;
            assert_eq!(
                (reply.status, reply.body),
                (403, problem_body("Invalid Connect Token", 403, detail))
            );
        }
        let done = send(client().post(&complete_url).json(&body(&token))).await;
        assert_eq!((done.status, done.body.as_str()), (204, ""));

        // W1: once the OAuth redirect consumed the connect token, nothing completes the session.
        let idp = idp();
        let broker = start(with_idp(&idp));
        let base = broker.base_url();
        let session = create_ok(&broker, json!({"oauth_provider": "auth0"})).await;
        let confirmed =
            send(client().post(format!("{base}/v1/connect/{}/confirm", session.code))).await;
        let token = confirmed.json()["connect_token"]
            .as_str()
            .expect("a token")
            .to_owned();
        let authorize = format!(
            "{base}/v1/oauth/authorize/{}?connect_token={token}",
            session.code
        );
        let redirect = send(client().get(&authorize)).await;
        assert_eq!(redirect.status, 302);
        let location = redirect.headers[header::LOCATION].to_str().expect("ASCII");
        assert!(location.starts_with(&format!("{}/authorize?response_type=code&", idp.base_url())));
        assert_eq!(send(client().get(&authorize)).await.status, 403);
        let complete_url = format!("{base}/v1/connect/{}/complete", session.code);
        for stolen in ["", token.as_str()] {
            let reply = send(client().post(&complete_url).json(&body(stolen))).await;
            assert_eq!(reply.status, 403);
        }
        assert_eq!(broker.sessions()[0].status, "confirmed");
    }
}
