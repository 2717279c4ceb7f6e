//! A fake Auth0 tenant: login, refresh tokens, the Token Vault exchange and Connected Accounts.
//!
//! It serves, with Auth0's wire shapes and error bodies, for one user:
//! - `GET /authorize`: consents at once and redirects with a one-time code (PKCE S256 optional);
//! - `POST /oauth/token`: the `authorization_code` and `refresh_token` grants (including the
//!   Multi-Resource Refresh Token exchange for the My Account API, audience `https://{domain}/me/`,
//!   and optional rotation) and the Token Vault grant (federated-connection access token, one
//!   per connection: [`Auth0Config::access_token`]).
//!   Bodies may be JSON or form-encoded; the client authenticates with its secret in the body or
//!   with HTTP Basic;
//! - the My Account API's `POST /me/v1/connected-accounts/{connect,complete}` and the browser step
//!   between them, `GET /connect?ticket=…`, which consents at once.
//!
//! Left out: signatures (the id token is an unsigned JWT, other tokens are opaque), expiry of
//! codes, tickets and tokens, refresh-token reuse detection, several users, organisations, the
//! Management API, `/userinfo`, `/.well-known`, logout, listing or deleting connected accounts,
//! and checking redirect URIs against a list of allowed callbacks.
//!
//! This module holds the tenant's settings and state, the router and the browser endpoints;
//! `token` serves `/oauth/token`, `connected_accounts` the My Account API, and `failure` the
//! error answers in each endpoint's shape.

mod connected_accounts;
mod failure;
#[cfg(test)]
mod fixtures;
mod token;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::server::{RecordedRequest, Server};
use crate::wire::{found, parse_form, query_encode, random_token, with_query};
use failure::{Failure, invalid_request, oauth};

/// The scope of refresh tokens made by [`FakeAuth0::issue_refresh_token`].
const DEFAULT_LOGIN_SCOPE: &str = "openid profile offline_access";

/// Auth0's Google connection, whose exchanges return [`Auth0Config::google_access_token`].
pub const GOOGLE_CONNECTION: &str = "google-oauth2";

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
    /// The token a Token Vault exchange for connection [`GOOGLE_CONNECTION`] returns.
    pub google_access_token: String,
    /// `expires_in` of every Token Vault exchange, whatever the connection, in seconds.
    pub google_expires_in: u64,
    /// The tokens Token Vault exchanges for other connections return, by connection name
    /// (default: `github` → `gho_sandbox-github-token`). A connection listed nowhere gets
    /// `sandbox-{connection}-token`: each connection always gets a token of its own.
    pub connection_tokens: BTreeMap<String, String>,
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
            connection_tokens: BTreeMap::from([(
                "github".to_owned(),
                "gho_sandbox-github-token".to_owned(),
            )]),
            rotate_refresh_tokens: false,
            allow_token_vault_grant: true,
        }
    }
}

impl Auth0Config {
    /// The access token a Token Vault exchange for `connection` returns.
    pub fn access_token(&self, connection: &str) -> String {
        if connection == GOOGLE_CONNECTION {
            return self.google_access_token.clone();
        }
        self.connection_tokens
            .get(connection)
            .cloned()
            .unwrap_or_else(|| format!("sandbox-{connection}-token"))
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

/// The handlers' view of the tenant.
type Ctx = State<Arc<Shared>>;

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
            .route("/oauth/token", only(post(token::token)))
            .route(
                "/me/v1/connected-accounts/connect",
                only(post(connected_accounts::connect)),
            )
            .route("/connect", only(get(connect_page)))
            .route(
                "/me/v1/connected-accounts/complete",
                only(post(connected_accounts::complete)),
            )
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
        let token = opaque("rt_");
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
async fn canned(State(shared): Ctx, req: Request, next: Next) -> Response {
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

async fn authorize(State(shared): Ctx, RawQuery(query): RawQuery) -> Result<Response, Failure> {
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
    let code = opaque("code_");
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

async fn connect_page(State(shared): Ctx, RawQuery(query): RawQuery) -> Result<Response, Failure> {
    let query = parse_form(query.as_deref().unwrap_or_default());
    let mut tenant = shared.tenant();
    let auth_session = param(&query, "ticket").and_then(|t| tenant.tickets.remove(t));
    let (redirect_uri, state) = auth_session
        .as_ref()
        .and_then(|s| tenant.sessions.get(s))
        .map(|s| (s.redirect_uri.clone(), s.state.clone()))
        .ok_or(Failure::Page("Invalid or expired ticket."))?;
    let connect_code = opaque("cc_");
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

/// 302 to `target` with `params` appended to its query.
fn redirect(target: &str, params: &[(&str, &str)]) -> Result<Response, Failure> {
    let url = with_query(target, &query_encode(params));
    HeaderValue::from_str(&url).map_err(|_| Failure::Page("Invalid redirect_uri."))?;
    Ok(found(&url))
}

// ---- Opaque values and request parameters ---------------------------------------------------

/// An opaque token, code or id: `prefix` + 18 random bytes, base64url without padding.
fn opaque(prefix: &str) -> String {
    random_token(prefix, 18)
}

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

#[cfg(test)]
mod tests {
    use super::fixtures::{
        CALLBACK, GOOGLE, client, connected_refresh_token, exchange, exchange_request, tenant,
    };
    use super::*;
    use crate::wire::percent_encode;

    #[tokio::test]
    async fn an_unknown_client_at_authorize_gets_a_plain_400_page() {
        let fake = tenant();
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
    async fn fail_next_serves_the_canned_response_once() {
        let fake = tenant();
        let refresh_token = connected_refresh_token(&fake);
        fake.fail_next(502, "text/html", "<html>Bad Gateway</html>");
        let response = client()
            .post(format!("{}/oauth/token", fake.base_url()))
            .json(&exchange_request(&refresh_token, GOOGLE))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 502);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(response.text().await.unwrap(), "<html>Bad Gateway</html>");

        let (status, body) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 200, "{body}");
    }

    #[tokio::test]
    async fn requests_records_bodies_and_debug_hides_tokens() {
        let fake = tenant();
        let refresh_token = fake.issue_refresh_token();
        exchange(&fake, &refresh_token).await;
        let requests = fake.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].line(), "POST /oauth/token");
        assert_eq!(
            requests[0].content_type.as_deref(),
            Some("application/json")
        );
        let body = requests[0].json().unwrap();
        assert_eq!(body["subject_token"], refresh_token.as_str());
        assert_eq!(body["connection"], GOOGLE);

        let debug = format!("{fake:?}");
        assert!(debug.contains(&fake.base_url()));
        assert!(
            !debug.contains("sandbox-secret") && !debug.contains("ya29"),
            "{debug}"
        );
    }
}
