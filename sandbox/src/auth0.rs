//! A fake Auth0 tenant: login, refresh tokens, the Token Vault exchange and Connected Accounts.
//!
//! It serves, with Auth0's wire shapes and error bodies, for one user:
//! - `GET /authorize`: consents at once and redirects with a one-time code (PKCE S256 optional);
//! - `POST /oauth/token`: the `authorization_code` and `refresh_token` grants (including the
//!   Multi-Resource Refresh Token exchange for the My Account API, audience `https://{domain}/me/`,
//!   and optional rotation) and the Token Vault grant (federated-connection access token).
//!   Bodies may be JSON or form-encoded; the client authenticates with its secret in the body or
//!   with HTTP Basic;
//! - the My Account API's `POST /me/v1/connected-accounts/{connect,complete}` and the browser step
//!   between them, `GET /connect?ticket=…`, which consents at once.
//!
//! Left out: signatures (the id token is an unsigned JWT, other tokens are opaque), expiry of
//! codes, tickets and tokens, refresh-token reuse detection, several users, organisations, the
//! Management API, `/userinfo`, `/.well-known`, logout, listing or deleting connected accounts,
//! and checking redirect URIs against a list of allowed callbacks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::server::{RecordedRequest, Server};

/// The Token Vault grant type.
const TOKEN_VAULT_GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
/// The only `subject_token_type` the Token Vault grant accepts.
const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// The only `requested_token_type` the Token Vault grant accepts.
const FEDERATED_TOKEN_TYPE: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";
/// The My Account API scope that `/connect` and `/complete` require.
const CREATE_CONNECTED_ACCOUNTS: &str = "create:me:connected_accounts";
/// The scope of refresh tokens made by [`FakeAuth0::issue_refresh_token`].
const DEFAULT_LOGIN_SCOPE: &str = "openid profile offline_access";

/// Settings of a FakeAuth0.
#[derive(Debug, Clone)]
pub struct Auth0Config {
    /// Tenant domain, e.g. `tenant.auth0.test`; the My Account audience is `https://{domain}/me/`.
    pub domain: String,
    /// The one client (application) the tenant knows.
    pub client_id: String,
    /// That client's secret.
    pub client_secret: String,
    /// API audience used at login (informational; any audience is accepted).
    pub audience: String,
    /// The Google token every successful Token Vault exchange returns.
    pub google_access_token: String,
    /// `expires_in` of that exchange, in seconds.
    pub google_expires_in: u64,
    /// Refresh-token grants return a new refresh token and revoke the presented one.
    pub rotate_refresh_tokens: bool,
    /// False: the Token Vault grant gets 403 `unauthorized_client`.
    pub allow_token_vault_grant: bool,
}

impl Default for Auth0Config {
    fn default() -> Self {
        Self {
            domain: "tenant.auth0.test".into(),
            client_id: "sandbox-client".into(),
            client_secret: "sandbox-secret".into(),
            audience: "https://api.sandbox.test".into(),
            google_access_token: "ya29.sandbox-google-token".into(),
            google_expires_in: 3600,
            rotate_refresh_tokens: false,
            allow_token_vault_grant: true,
        }
    }
}

/// What `/authorize` remembers about a code until `/oauth/token` redeems it.
struct Login {
    redirect_uri: String,
    scope: String,
    code_challenge: Option<String>,
}

/// A Connected Accounts flow between `/connect` and `/complete`.
struct ConnectSession {
    connection: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
    scopes: Vec<String>,
}

/// The tenant's mutable state.
#[derive(Default)]
struct Tenant {
    /// Valid refresh token → the scope it was granted.
    refresh_tokens: HashMap<String, String>,
    /// Authorization code → its login.
    codes: HashMap<String, Login>,
    /// My Account API access token → its scopes.
    my_account_tokens: HashMap<String, Vec<String>>,
    /// Connect ticket → auth_session.
    tickets: HashMap<String, String>,
    /// auth_session → its flow.
    sessions: HashMap<String, ConnectSession>,
    /// connect_code → auth_session.
    connect_codes: HashMap<String, String>,
    /// Connections with a connected account (an upstream refresh token in the vault).
    connected: HashSet<String>,
    /// `/complete` succeeds without connecting (inverse of `set_complete_connects`).
    complete_skips_connect: bool,
    /// The response the next request gets, whatever it is: (status, content type, body).
    fail_next: Option<(u16, String, String)>,
}

struct Shared {
    config: Auth0Config,
    /// Set right after the server is bound; `/connect` answers with it.
    base_url: OnceLock<String>,
    tenant: Mutex<Tenant>,
}

impl Shared {
    fn tenant(&self) -> MutexGuard<'_, Tenant> {
        self.tenant.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake Auth0 tenant; stops when dropped.
pub struct FakeAuth0 {
    shared: Arc<Shared>,
    server: Server,
}

impl fmt::Debug for FakeAuth0 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAuth0")
            .field("base_url", &self.base_url())
            .field("domain", &self.shared.config.domain)
            .field("client_id", &self.shared.config.client_id)
            .finish_non_exhaustive()
    }
}

impl FakeAuth0 {
    /// Binds a loopback port and serves the tenant described by `config`.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub fn start(config: Auth0Config) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            config,
            base_url: OnceLock::new(),
            tenant: Mutex::default(),
        });
        let only = |route: MethodRouter<Arc<Shared>>| route.fallback(not_found);
        let router = Router::new()
            .route("/authorize", only(get(authorize)))
            .route("/oauth/token", only(post(token)))
            .route("/me/v1/connected-accounts/connect", only(post(connect)))
            .route("/connect", only(get(connect_page)))
            .route("/me/v1/connected-accounts/complete", only(post(complete)))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(Arc::clone(&shared), canned))
            .with_state(Arc::clone(&shared));
        let server = Server::start("auth0", router)?;
        let _ = shared.base_url.set(server.base_url());
        Ok(Self { shared, server })
    }

    /// `http://127.0.0.1:PORT`; clients use it in place of `https://{domain}`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The settings the tenant was started with.
    pub fn config(&self) -> &Auth0Config {
        &self.shared.config
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// A valid refresh token, as if the user had logged in with `offline_access`.
    pub fn issue_refresh_token(&self) -> String {
        let token = random("rt_");
        let scope = DEFAULT_LOGIN_SCOPE.to_owned();
        self.shared
            .tenant()
            .refresh_tokens
            .insert(token.clone(), scope);
        token
    }

    /// Revokes every refresh token issued so far; presenting one then gets `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.tenant().refresh_tokens.clear();
    }

    /// Marks `connection` connected, as after a finished Connected Accounts flow.
    pub fn connect_account(&self, connection: &str) {
        self.shared.tenant().connected.insert(connection.to_owned());
    }

    /// Forgets the connected account of `connection`.
    pub fn disconnect_account(&self, connection: &str) {
        self.shared.tenant().connected.remove(connection);
    }

    /// Whether the Token Vault holds a connected account for `connection`.
    pub fn is_connected(&self, connection: &str) -> bool {
        self.shared.tenant().connected.contains(connection)
    }

    /// False: `/complete` answers 201 but does not connect (a connection without Token Vault).
    pub fn set_complete_connects(&self, yes: bool) {
        self.shared.tenant().complete_skips_connect = !yes;
    }

    /// The next request to any endpoint gets exactly this response, then all is normal again.
    pub fn fail_next(&self, status: u16, content_type: &str, body: &str) {
        let canned = (status, content_type.to_owned(), body.to_owned());
        self.shared.tenant().fail_next = Some(canned);
    }
}

/// Serves the response queued by [`FakeAuth0::fail_next`], if any.
async fn canned(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let canned = shared.tenant().fail_next.take();
    let Some((status, content_type, body)) = canned else {
        return next.run(req).await;
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(&content_type) {
        Ok(value) => headers.insert(header::CONTENT_TYPE, value),
        Err(_) => headers.remove(header::CONTENT_TYPE),
    };
    response
}

async fn not_found() -> Failure {
    oauth(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

// ---- The browser's side: /authorize and /connect --------------------------------------------

async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let query = parse_form(query.as_deref().unwrap_or_default());
    if param(&query, "client_id") != Some(shared.config.client_id.as_str()) {
        return Err(Failure::Page("Unknown client."));
    }
    if param(&query, "response_type") != Some("code") {
        return Err(Failure::Page("Unsupported response_type."));
    }
    let redirect_uri =
        param(&query, "redirect_uri").ok_or(Failure::Page("Missing redirect_uri."))?;
    let code_challenge = param(&query, "code_challenge");
    if code_challenge.is_some() && param(&query, "code_challenge_method") != Some("S256") {
        return Err(Failure::Page("Unsupported code_challenge_method."));
    }
    let code = random("code_");
    let login = Login {
        redirect_uri: redirect_uri.to_owned(),
        scope: param(&query, "scope").unwrap_or_default().to_owned(),
        code_challenge: code_challenge.map(str::to_owned),
    };
    shared.tenant().codes.insert(code.clone(), login);
    let mut params = vec![("code", code.as_str())];
    params.extend(param(&query, "state").map(|state| ("state", state)));
    redirect(redirect_uri, &params)
}

async fn connect_page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let query = parse_form(query.as_deref().unwrap_or_default());
    let mut tenant = shared.tenant();
    let auth_session = param(&query, "ticket").and_then(|t| tenant.tickets.remove(t));
    let (redirect_uri, state) = auth_session
        .as_ref()
        .and_then(|s| tenant.sessions.get(s))
        .map(|s| (s.redirect_uri.clone(), s.state.clone()))
        .ok_or(Failure::Page("Invalid or expired ticket."))?;
    let connect_code = random("cc_");
    if let Some(auth_session) = auth_session {
        tenant
            .connect_codes
            .insert(connect_code.clone(), auth_session);
    }
    drop(tenant);
    redirect(
        &redirect_uri,
        &[("connect_code", &connect_code), ("state", &state)],
    )
}

// ---- /oauth/token ---------------------------------------------------------------------------

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Failure> {
    let params = parse_token_body(&headers, &body)?;
    if !client_authenticated(&shared.config, &headers, &params) {
        return Err(oauth(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "Unauthorized",
        ));
    }
    match required_param(&params, "grant_type")? {
        "authorization_code" => authorization_code_grant(&shared, &params),
        "refresh_token" => refresh_token_grant(&shared, &params),
        TOKEN_VAULT_GRANT => token_vault_grant(&shared, &params),
        other => Err(oauth(
            StatusCode::FORBIDDEN,
            "unsupported_grant_type",
            format!("Unsupported grant type: {other}"),
        )),
    }
    .map(Json)
}

fn authorization_code_grant(shared: &Shared, params: &Params) -> Result<Value, Failure> {
    let code = required_param(params, "code")?;
    // Codes are one-time: a failed attempt spends the code too.
    let login = shared.tenant().codes.remove(code);
    let login = login.ok_or_else(|| invalid_grant("Invalid authorization code"))?;
    if param(params, "redirect_uri") != Some(login.redirect_uri.as_str()) {
        return Err(invalid_grant("Invalid redirect_uri"));
    }
    if let Some(challenge) = &login.code_challenge
        && param(params, "code_verifier").map(s256).as_ref() != Some(challenge)
    {
        return Err(invalid_grant("Failed to verify code verifier"));
    }
    let mut body = json!({
        "access_token": random("at_"),
        "id_token": id_token(&shared.config),
        "scope": login.scope,
        "expires_in": 86400,
        "token_type": "Bearer",
    });
    let offline = login
        .scope
        .split_whitespace()
        .any(|s| s == "offline_access");
    if offline {
        let refresh_token = random("rt_");
        let mut tenant = shared.tenant();
        tenant
            .refresh_tokens
            .insert(refresh_token.clone(), login.scope);
        body["refresh_token"] = json!(refresh_token);
    }
    Ok(body)
}

fn refresh_token_grant(shared: &Shared, params: &Params) -> Result<Value, Failure> {
    let presented = required_param(params, "refresh_token")?;
    let mut tenant = shared.tenant();
    let granted = tenant.refresh_tokens.get(presented).cloned();
    let granted = granted.ok_or_else(invalid_refresh_token)?;
    let requested = param(params, "scope");
    let my_account = format!("https://{}/me/", shared.config.domain);
    let mut body = if param(params, "audience") == Some(my_account.as_str()) {
        let scope = requested.unwrap_or_default();
        let token = random("ma_");
        let scopes = scope.split_whitespace().map(str::to_owned).collect();
        tenant.my_account_tokens.insert(token.clone(), scopes);
        json!({"access_token": token, "expires_in": 600, "scope": scope, "token_type": "Bearer"})
    } else {
        let scope = requested.unwrap_or(&granted);
        let token = random("at_");
        json!({"access_token": token, "expires_in": 86400, "scope": scope, "token_type": "Bearer"})
    };
    if shared.config.rotate_refresh_tokens {
        tenant.refresh_tokens.remove(presented);
        let rotated = random("rt_");
        tenant.refresh_tokens.insert(rotated.clone(), granted);
        body["refresh_token"] = json!(rotated);
    }
    Ok(body)
}

fn token_vault_grant(shared: &Shared, params: &Params) -> Result<Value, Failure> {
    if !shared.config.allow_token_vault_grant {
        let description = format!("Grant type '{TOKEN_VAULT_GRANT}' not allowed for the client.");
        return Err(oauth(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            description,
        ));
    }
    if param(params, "subject_token_type") != Some(REFRESH_TOKEN_TYPE) {
        return Err(invalid_request("Invalid subject_token_type"));
    }
    if param(params, "requested_token_type") != Some(FEDERATED_TOKEN_TYPE) {
        return Err(invalid_request("Invalid requested_token_type"));
    }
    let subject_token = required_param(params, "subject_token")?;
    let connection = required_param(params, "connection")?;
    let tenant = shared.tenant();
    if !tenant.refresh_tokens.contains_key(subject_token) {
        return Err(invalid_refresh_token());
    }
    if !tenant.connected.contains(connection) {
        return Err(oauth(
            StatusCode::UNAUTHORIZED,
            "federated_connection_refresh_token_not_found",
            "Federated connection Refresh Token not found.",
        ));
    }
    Ok(json!({
        "access_token": shared.config.google_access_token,
        "expires_in": shared.config.google_expires_in,
        "scope": "https://mail.google.com/ openid",
        "token_type": "Bearer",
        "issued_token_type": FEDERATED_TOKEN_TYPE,
    }))
}

/// Checks `client_secret_post` (id and secret in the body) or `client_secret_basic`.
fn client_authenticated(config: &Auth0Config, headers: &HeaderMap, params: &Params) -> bool {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let body_id = param(params, "client_id");
    let (id, secret) = match &basic {
        // With Basic, a client_id in the body must name the same client.
        Some((id, _)) if body_id.is_some_and(|body_id| body_id != id) => return false,
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (body_id, param(params, "client_secret")),
    };
    id == Some(config.client_id.as_str()) && secret == Some(config.client_secret.as_str())
}

/// `Basic base64(urlencode(id):urlencode(secret))` → `(id, secret)`.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id), percent_decode(secret)))
}

/// Parses a token request by its Content-Type: JSON or form-encoded.
fn parse_token_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, Failure> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match content_type.as_deref() {
        Some("application/json") => match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => Ok(object
                .into_iter()
                .filter_map(|(name, value)| match value {
                    Value::Null => None,
                    Value::String(s) => Some((name, s)),
                    other => Some((name, other.to_string())),
                })
                .collect()),
            _ => Err(invalid_request("Invalid JSON body")),
        },
        Some("application/x-www-form-urlencoded") => std::str::from_utf8(body)
            .map(parse_form)
            .map_err(|_| invalid_request("Invalid form body")),
        _ => Err(invalid_request(
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        )),
    }
}

/// An unsigned JWT standing in for the id token.
fn id_token(config: &Auth0Config) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = json!({"alg": "none", "typ": "JWT"});
    let claims = json!({
        "iss": format!("https://{}/", config.domain),
        "sub": "auth0|sandbox-user",
        "aud": config.client_id,
        "iat": now,
        "exp": now + 36000,
        "email": "user@sandbox.test",
    });
    let encode = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", encode(header), encode(claims))
}

// ---- My Account API: Connected Accounts -----------------------------------------------------

async fn connect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), Failure> {
    check_my_account_token(&shared, &headers)?;
    let body = json_object(&body)?;
    if required_field(&body, "code_challenge_method")? != "S256" {
        return Err(bad_request("code_challenge_method must be S256"));
    }
    let scopes = match body.get("scopes") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect(),
        Some(_) => None,
    };
    let session = ConnectSession {
        connection: required_field(&body, "connection")?.to_owned(),
        redirect_uri: required_field(&body, "redirect_uri")?.to_owned(),
        state: required_field(&body, "state")?.to_owned(),
        code_challenge: required_field(&body, "code_challenge")?.to_owned(),
        scopes: scopes.ok_or_else(|| bad_request("scopes must be an array of strings"))?,
    };
    let (ticket, auth_session) = (random("tkt_"), random("as_"));
    let mut tenant = shared.tenant();
    tenant.tickets.insert(ticket.clone(), auth_session.clone());
    tenant.sessions.insert(auth_session.clone(), session);
    drop(tenant);
    let base_url = shared.base_url.get().cloned().unwrap_or_default();
    let body = json!({
        "connect_uri": format!("{base_url}/connect"),
        "connect_params": {"ticket": ticket},
        "auth_session": auth_session,
        "expires_in": 300,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

async fn complete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), Failure> {
    check_my_account_token(&shared, &headers)?;
    let body = json_object(&body)?;
    let auth_session = required_field(&body, "auth_session")?;
    let connect_code = required_field(&body, "connect_code")?;
    let redirect_uri = required_field(&body, "redirect_uri")?;
    let code_verifier = required_field(&body, "code_verifier")?;
    let mut tenant = shared.tenant();
    // Connect codes are one-time: a failed attempt spends the code too.
    let code_session = tenant.connect_codes.remove(connect_code);
    let session = tenant.sessions.get(auth_session);
    let session = session.ok_or_else(|| bad_request("Invalid auth_session"))?;
    if code_session.as_deref() != Some(auth_session) {
        return Err(bad_request("Invalid connect_code"));
    }
    if session.redirect_uri != redirect_uri {
        return Err(bad_request("Invalid redirect_uri"));
    }
    if s256(code_verifier) != session.code_challenge {
        return Err(bad_request("Invalid code_verifier"));
    }
    let session = tenant.sessions.remove(auth_session);
    let session = session.ok_or_else(|| bad_request("Invalid auth_session"))?;
    if !tenant.complete_skips_connect {
        tenant.connected.insert(session.connection.clone());
    }
    drop(tenant);
    let body = json!({
        "id": random("cac_"),
        "connection": session.connection,
        "access_type": "offline",
        "scopes": session.scopes,
        "created_at": "2026-01-01T00:00:00.000Z",
    });
    Ok((StatusCode::CREATED, Json(body)))
}

/// Accepts a My Account API token that may create connected accounts.
fn check_my_account_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Failure> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let tenant = shared.tenant();
    match token.and_then(|t| tenant.my_account_tokens.get(t)) {
        None => Err(Failure::Problem(
            StatusCode::UNAUTHORIZED,
            "Invalid token".into(),
        )),
        Some(scopes) if scopes.iter().any(|s| s == CREATE_CONNECTED_ACCOUNTS) => Ok(()),
        Some(_) => Err(Failure::Problem(
            StatusCode::FORBIDDEN,
            "Insufficient scope".into(),
        )),
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(bad_request("Invalid request payload JSON format")),
    }
}

/// A non-empty string field of a My Account API request.
fn required_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, Failure> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request(format!("Invalid request payload: '{name}' is required")))
}

// ---- Errors ---------------------------------------------------------------------------------

/// An error answer, in the shape of the endpoint that gives it.
#[derive(Debug)]
enum Failure {
    /// The token endpoint's `{"error", "error_description"}`.
    OAuth(StatusCode, &'static str, String),
    /// The My Account API's `application/problem+json`.
    Problem(StatusCode, String),
    /// A plain-text 400 page, as the browser endpoints show.
    Page(&'static str),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::OAuth(status, error, description) => {
                let body = json!({"error": error, "error_description": description});
                (status, Json(body)).into_response()
            }
            Self::Problem(status, detail) => {
                let body = json!({
                    "type": format!("https://auth0.com/api-errors/A0E-{}-0001", status.as_u16()),
                    "status": status.as_u16(),
                    "title": status.canonical_reason().unwrap_or("Error"),
                    "detail": detail,
                });
                let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
                (status, content_type, body.to_string()).into_response()
            }
            Self::Page(text) => (StatusCode::BAD_REQUEST, text).into_response(),
        }
    }
}

fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Failure {
    Failure::OAuth(status, error, description.into())
}

fn invalid_request(description: impl Into<String>) -> Failure {
    oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: &str) -> Failure {
    oauth(StatusCode::FORBIDDEN, "invalid_grant", description)
}

fn invalid_refresh_token() -> Failure {
    invalid_grant("Unknown or invalid refresh token.")
}

fn bad_request(detail: impl Into<String>) -> Failure {
    Failure::Problem(StatusCode::BAD_REQUEST, detail.into())
}

// ---- Small helpers --------------------------------------------------------------------------

/// Request parameters by name (the last occurrence wins).
type Params = HashMap<String, String>;

/// A parameter's value, if present and not empty.
fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// A parameter the token endpoint requires.
fn required_param<'a>(params: &'a Params, name: &str) -> Result<&'a str, Failure> {
    param(params, name)
        .ok_or_else(|| invalid_request(format!("Missing required parameter: {name}")))
}

/// 302 to `target` with `params` appended to its query.
fn redirect(target: &str, params: &[(&str, &str)]) -> Result<Response, Failure> {
    let mut url = target.to_owned();
    for (i, (name, value)) in params.iter().enumerate() {
        let first = i == 0 && !target.contains('?');
        url.push(if first { '?' } else { '&' });
        url.push_str(&format!(
            "{}={}",
            percent_encode(name),
            percent_encode(value)
        ));
    }
    let location =
        HeaderValue::from_str(&url).map_err(|_| Failure::Page("Invalid redirect_uri."))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// `prefix` + 18 random bytes, base64url without padding.
fn random(prefix: &str) -> String {
    let mut bytes = [0u8; 18];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The PKCE S256 challenge of `verifier`.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Parses `a=1&b=2` (query strings and form bodies).
fn parse_form(text: &str) -> Params {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XX` and `+`; malformed escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.extend(u8::try_from(high * 16 + low));
                i += 2;
            }
            (b'+', ..) => out.push(b' '),
            (b, ..) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MY_ACCOUNT_SCOPE: &str = "openid profile offline_access create:me:connected_accounts \
                                    read:me:connected_accounts delete:me:connected_accounts";
    const CALLBACK: &str = "http://127.0.0.1:9/callback";

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `(status, content type, JSON body or Null)`.
    async fn read(response: reqwest::Response) -> (u16, String, Value) {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, content_type, body)
    }

    /// POSTs `fields` plus the client credentials to `/oauth/token` as JSON.
    async fn token_json(fake: &FakeAuth0, fields: Value) -> (u16, Value) {
        let mut body = fields;
        body["client_id"] = json!(fake.config().client_id);
        body["client_secret"] = json!(fake.config().client_secret);
        let response = client()
            .post(format!("{}/oauth/token", fake.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, _, body) = read(response).await;
        (status, body)
    }

    async fn post_bearer(
        fake: &FakeAuth0,
        path: &str,
        token: &str,
        body: Value,
    ) -> (u16, String, Value) {
        let response = client()
            .post(format!("{}{path}", fake.base_url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    /// GETs `url` and returns the 302's Location split into base and query parameters.
    async fn follow(url: &str) -> (String, Params) {
        let response = client().get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 302, "{url}");
        let location = response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let (base, query) = location.split_once('?').unwrap();
        (base.to_owned(), parse_form(query))
    }

    /// Logs in through `/authorize` with PKCE; returns the code and its verifier.
    async fn authorize_code(fake: &FakeAuth0, scope: &str) -> (String, String) {
        let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
        let url = format!(
            "{}/authorize?{}",
            fake.base_url(),
            form(&[
                ("response_type", "code"),
                ("client_id", &fake.config().client_id),
                ("redirect_uri", CALLBACK),
                ("scope", scope),
                ("state", "st&te=1"),
                ("code_challenge", &s256(verifier)),
                ("code_challenge_method", "S256"),
                ("audience", &fake.config().audience),
            ])
        );
        let (base, query) = follow(&url).await;
        assert_eq!(base, CALLBACK);
        assert_eq!(query["state"], "st&te=1");
        (query["code"].clone(), verifier.to_owned())
    }

    fn exchange_request(refresh_token: &str, connection: &str) -> Value {
        json!({
            "grant_type": TOKEN_VAULT_GRANT,
            "subject_token": refresh_token,
            "subject_token_type": REFRESH_TOKEN_TYPE,
            "requested_token_type": FEDERATED_TOKEN_TYPE,
            "connection": connection,
        })
    }

    async fn my_account_token(fake: &FakeAuth0, refresh_token: &str, scope: &str) -> String {
        let audience = format!("https://{}/me/", fake.config().domain);
        let (status, body) = token_json(
            fake,
            json!({"grant_type": "refresh_token", "refresh_token": refresh_token,
                   "audience": audience, "scope": scope}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["scope"], scope);
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Starts a Connected Accounts flow; returns (MA token, auth_session, connect URL).
    async fn start_connect(fake: &FakeAuth0, verifier: &str) -> (String, String, String) {
        let refresh_token = fake.issue_refresh_token();
        let ma = my_account_token(fake, &refresh_token, MY_ACCOUNT_SCOPE).await;
        let (status, _, body) = post_bearer(
            fake,
            "/me/v1/connected-accounts/connect",
            &ma,
            json!({
                "connection": "google-oauth2",
                "redirect_uri": CALLBACK,
                "state": "connect-state",
                "scopes": ["https://mail.google.com/"],
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
                "authorization_params": {"prompt": "consent"},
            }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["expires_in"], 300);
        let connect_uri = body["connect_uri"].as_str().unwrap();
        assert_eq!(connect_uri, format!("{}/connect", fake.base_url()));
        let url = format!(
            "{connect_uri}?ticket={}",
            body["connect_params"]["ticket"].as_str().unwrap()
        );
        (ma, body["auth_session"].as_str().unwrap().to_owned(), url)
    }

    #[tokio::test]
    async fn login_with_pkce_returns_a_refresh_token_only_with_offline_access() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let (code, verifier) = authorize_code(&fake, "openid profile offline_access").await;
        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "authorization_code", "code": code,
                   "redirect_uri": CALLBACK, "code_verifier": verifier}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 86400);
        assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
        let refresh_token = body["refresh_token"].as_str().unwrap();
        assert!(refresh_token.starts_with("rt_"));

        let (status, _) = token_json(&fake, exchange_request(refresh_token, "google-oauth2")).await;
        assert_eq!(
            status, 401,
            "the new RT is valid; only the connection is missing"
        );

        let (code, verifier) = authorize_code(&fake, "openid profile").await;
        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "authorization_code", "code": code,
                   "redirect_uri": CALLBACK, "code_verifier": verifier}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        assert!(body["access_token"].is_string());
    }

    #[tokio::test]
    async fn a_wrong_code_verifier_or_reused_code_is_refused() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let (code, _) = authorize_code(&fake, "openid offline_access").await;
        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "authorization_code", "code": code,
                   "redirect_uri": CALLBACK, "code_verifier": "not-the-verifier"}),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_description"], "Failed to verify code verifier");

        let (code, verifier) = authorize_code(&fake, "openid offline_access").await;
        let request = json!({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": CALLBACK, "code_verifier": verifier});
        assert_eq!(token_json(&fake, request.clone()).await.0, 200);
        let (status, body) = token_json(&fake, request).await;
        assert_eq!(status, 403);
        assert_eq!(body["error_description"], "Invalid authorization code");
    }

    #[tokio::test]
    async fn an_unknown_client_at_authorize_gets_a_plain_400_page() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let url = format!(
            "{}/authorize?response_type=code&client_id=someone-else&redirect_uri={}",
            fake.base_url(),
            percent_encode(CALLBACK)
        );
        let response = client().get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
    }

    #[tokio::test]
    async fn the_exchange_before_connecting_reports_federated_connection_refresh_token_not_found() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let refresh_token = fake.issue_refresh_token();
        let (status, body) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 401);
        assert_eq!(
            body["error"],
            "federated_connection_refresh_token_not_found"
        );
        assert_eq!(
            body["error_description"],
            "Federated connection Refresh Token not found."
        );

        fake.connect_account("google-oauth2");
        let (status, body) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 200, "{body}");
        fake.disconnect_account("google-oauth2");
        assert!(!fake.is_connected("google-oauth2"));
        let (status, _) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn a_full_connected_accounts_round_trip_enables_the_exchange() {
        let config = Auth0Config {
            google_access_token: "ya29.round-trip".into(),
            google_expires_in: 1234,
            ..Auth0Config::default()
        };
        let fake = FakeAuth0::start(config).unwrap();
        let verifier = "connect-verifier-0123456789-0123456789-0123456789";
        let (ma, auth_session, connect_url) = start_connect(&fake, verifier).await;

        let (base, query) = follow(&connect_url).await;
        assert_eq!(base, CALLBACK);
        assert_eq!(query["state"], "connect-state");
        let connect_code = &query["connect_code"];

        let (status, _, body) = post_bearer(
            &fake,
            "/me/v1/connected-accounts/complete",
            &ma,
            json!({"auth_session": auth_session, "connect_code": connect_code,
                   "redirect_uri": CALLBACK, "code_verifier": verifier}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert!(body["id"].as_str().unwrap().starts_with("cac_"));
        assert_eq!(body["connection"], "google-oauth2");
        assert_eq!(body["access_type"], "offline");
        assert_eq!(body["scopes"], json!(["https://mail.google.com/"]));
        assert!(fake.is_connected("google-oauth2"));

        let refresh_token = fake.issue_refresh_token();
        let (status, body) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["access_token"], "ya29.round-trip");
        assert_eq!(body["expires_in"], 1234);
        assert_eq!(body["issued_token_type"], FEDERATED_TOKEN_TYPE);
    }

    #[tokio::test]
    async fn complete_with_a_wrong_verifier_is_a_problem_json_400() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let (ma, auth_session, connect_url) = start_connect(&fake, "the-right-verifier").await;
        let (_, query) = follow(&connect_url).await;
        let (status, content_type, body) = post_bearer(
            &fake,
            "/me/v1/connected-accounts/complete",
            &ma,
            json!({"auth_session": auth_session, "connect_code": query["connect_code"],
                   "redirect_uri": CALLBACK, "code_verifier": "the-wrong-verifier"}),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 400);
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(body["detail"], "Invalid code_verifier");
        assert!(!fake.is_connected("google-oauth2"));
    }

    #[tokio::test]
    async fn complete_without_token_vault_answers_201_but_does_not_connect() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        fake.set_complete_connects(false);
        let verifier = "verifier-for-a-tenant-without-token-vault";
        let (ma, auth_session, connect_url) = start_connect(&fake, verifier).await;
        let (_, query) = follow(&connect_url).await;
        let complete = json!({"auth_session": auth_session, "connect_code": query["connect_code"],
                              "redirect_uri": CALLBACK, "code_verifier": verifier});
        let (status, _, _) = post_bearer(
            &fake,
            "/me/v1/connected-accounts/complete",
            &ma,
            complete.clone(),
        )
        .await;
        assert_eq!(status, 201);
        assert!(!fake.is_connected("google-oauth2"));
        let (status, _, body) =
            post_bearer(&fake, "/me/v1/connected-accounts/complete", &ma, complete).await;
        assert_eq!(status, 400, "codes are one-time");
        assert_eq!(body["detail"], "Invalid auth_session");
    }

    #[tokio::test]
    async fn connect_needs_a_my_account_token_with_the_create_scope() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let path = "/me/v1/connected-accounts/connect";
        let (status, content_type, body) = post_bearer(&fake, path, "not-a-token", json!({})).await;
        assert_eq!(
            (status, content_type.as_str()),
            (401, "application/problem+json")
        );
        assert_eq!(body["detail"], "Invalid token");
        assert_eq!(body["type"], "https://auth0.com/api-errors/A0E-401-0001");

        let refresh_token = fake.issue_refresh_token();
        let read_only = my_account_token(&fake, &refresh_token, "read:me:connected_accounts").await;
        let (status, _, body) = post_bearer(&fake, path, &read_only, json!({})).await;
        assert_eq!(status, 403);
        assert_eq!(body["detail"], "Insufficient scope");

        let ma = my_account_token(&fake, &refresh_token, MY_ACCOUNT_SCOPE).await;
        let (status, _, body) =
            post_bearer(&fake, path, &ma, json!({"code_challenge_method": "S256"})).await;
        assert_eq!(status, 400);
        assert!(
            body["detail"].as_str().unwrap().contains("'connection'"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_gets_invalid_grant() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let refresh_token = fake.issue_refresh_token();
        fake.connect_account("google-oauth2");
        fake.revoke_refresh_tokens();
        let (status, body) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(
            body["error_description"],
            "Unknown or invalid refresh token."
        );
        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "refresh_token", "refresh_token": refresh_token}),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant"))
        );
    }

    #[tokio::test]
    async fn rotation_returns_a_new_refresh_token_and_the_old_one_then_fails() {
        let config = Auth0Config {
            rotate_refresh_tokens: true,
            ..Auth0Config::default()
        };
        let fake = FakeAuth0::start(config).unwrap();
        let old = fake.issue_refresh_token();
        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "refresh_token", "refresh_token": old,
                   "audience": "https://tenant.auth0.test/me/", "scope": MY_ACCOUNT_SCOPE}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let new = body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(new, old);

        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "refresh_token", "refresh_token": old}),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant"))
        );
        let (status, body) = token_json(
            &fake,
            json!({"grant_type": "refresh_token", "refresh_token": new}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], DEFAULT_LOGIN_SCOPE);
    }

    #[tokio::test]
    async fn without_rotation_refresh_returns_no_new_refresh_token() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let refresh_token = fake.issue_refresh_token();
        let request = json!({"grant_type": "refresh_token", "refresh_token": refresh_token});
        let (status, body) = token_json(&fake, request.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        assert_eq!(token_json(&fake, request).await.0, 200);
    }

    #[tokio::test]
    async fn client_secret_basic_with_a_form_body_works_and_a_wrong_secret_does_not() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        fake.connect_account("google-oauth2");
        let refresh_token = fake.issue_refresh_token();
        let body = form(&[
            ("grant_type", TOKEN_VAULT_GRANT),
            ("subject_token", &refresh_token),
            ("subject_token_type", REFRESH_TOKEN_TYPE),
            ("requested_token_type", FEDERATED_TOKEN_TYPE),
            ("connection", "google-oauth2"),
        ]);
        let send = |secret: &'static str| {
            client()
                .post(format!("{}/oauth/token", fake.base_url()))
                .basic_auth("sandbox-client", Some(secret))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
        };
        let (status, _, json) = read(send("sandbox-secret").await.unwrap()).await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["access_token"], "ya29.sandbox-google-token");

        let (status, _, json) = read(send("wrong").await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(
            json,
            json!({"error": "access_denied", "error_description": "Unauthorized"})
        );

        let response = client()
            .post(format!("{}/oauth/token", fake.base_url()))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "no client authentication at all"
        );
    }

    #[tokio::test]
    async fn unparsable_bodies_and_unknown_grants_get_oauth_errors() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let response = client()
            .post(format!("{}/oauth/token", fake.base_url()))
            .header(header::CONTENT_TYPE, "application/json")
            .body("{\"grant_type\":")
            .send()
            .await
            .unwrap();
        let (status, _, body) = read(response).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );

        let (status, body) = token_json(&fake, json!({"grant_type": "password"})).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "unsupported_grant_type");
        assert_eq!(
            body["error_description"],
            "Unsupported grant type: password"
        );

        let mut wrong_type = exchange_request(&fake.issue_refresh_token(), "google-oauth2");
        wrong_type["subject_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
        let (status, body) = token_json(&fake, wrong_type).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );

        let response = client()
            .get(format!("{}/oauth/token", fake.base_url()))
            .send()
            .await
            .unwrap();
        let (status, _, body) = read(response).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error": "not_found", "error_description": "Not Found"})
        );
        let response = client()
            .get(format!("{}/nowhere", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404);
    }

    #[tokio::test]
    async fn fail_next_serves_the_canned_response_once() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        fake.connect_account("google-oauth2");
        let refresh_token = fake.issue_refresh_token();
        fake.fail_next(502, "text/html", "<html>Bad Gateway</html>");
        let response = client()
            .post(format!("{}/oauth/token", fake.base_url()))
            .json(&exchange_request(&refresh_token, "google-oauth2"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 502);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(response.text().await.unwrap(), "<html>Bad Gateway</html>");

        let (status, body) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 200, "{body}");
    }

    #[tokio::test]
    async fn the_exchange_is_unauthorized_client_when_the_grant_is_disabled() {
        let config = Auth0Config {
            allow_token_vault_grant: false,
            ..Auth0Config::default()
        };
        let fake = FakeAuth0::start(config).unwrap();
        fake.connect_account("google-oauth2");
        let refresh_token = fake.issue_refresh_token();
        let (status, body) =
            token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "unauthorized_client");
        assert_eq!(
            body["error_description"],
            format!("Grant type '{TOKEN_VAULT_GRANT}' not allowed for the client.")
        );
    }

    #[tokio::test]
    async fn requests_records_bodies_and_debug_hides_tokens() {
        let fake = FakeAuth0::start(Auth0Config::default()).unwrap();
        let refresh_token = fake.issue_refresh_token();
        token_json(&fake, exchange_request(&refresh_token, "google-oauth2")).await;
        let requests = fake.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].line(), "POST /oauth/token");
        assert_eq!(
            requests[0].content_type.as_deref(),
            Some("application/json")
        );
        let body = requests[0].json().unwrap();
        assert_eq!(body["subject_token"], refresh_token.as_str());
        assert_eq!(body["connection"], "google-oauth2");

        let debug = format!("{fake:?}");
        assert!(debug.contains(&fake.base_url()));
        assert!(
            !debug.contains("sandbox-secret") && !debug.contains("ya29"),
            "{debug}"
        );
    }

    #[test]
    fn form_encoding_round_trips() {
        let text = "a b&c=d/é%+";
        assert_eq!(percent_decode(&percent_encode(text)), text);
        assert_eq!(parse_form("x=1+2&y=%2&z")["x"], "1 2");
        assert_eq!(parse_form("x=1+2&y=%2&z")["y"], "%2");
    }
}
