//! What the tenant's tests share: a started tenant, requests as clients and browsers send them,
//! and the login and Connected Accounts steps that many tests go through.

use axum::http::header;
use serde_json::{Value, json};

use super::token::{FEDERATED_TOKEN_TYPE, REFRESH_TOKEN_TYPE, TOKEN_VAULT_GRANT};
use super::{Auth0Config, FakeAuth0, Params};
use crate::wire::{parse_form, pkce_challenge, query_encode};

pub(super) const MY_ACCOUNT_SCOPE: &str = "openid profile offline_access create:me:connected_accounts \
                                           read:me:connected_accounts delete:me:connected_accounts";
pub(super) const CALLBACK: &str = "http://127.0.0.1:9/callback";
/// The connection the tests connect and exchange for.
pub(super) const GOOGLE: &str = "google-oauth2";
const COMPLETE_PATH: &str = "/me/v1/connected-accounts/complete";

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A tenant with the default settings.
pub(super) fn tenant() -> FakeAuth0 {
    tenant_with(|_| {})
}

/// A tenant with the default settings as `adjust` changes them.
pub(super) fn tenant_with(adjust: impl FnOnce(&mut Auth0Config)) -> FakeAuth0 {
    let mut config = Auth0Config::default();
    adjust(&mut config);
    FakeAuth0::start(config).unwrap()
}

/// Connects [`GOOGLE`] and issues a refresh token, so that the Token Vault exchange works.
pub(super) fn connected_refresh_token(fake: &FakeAuth0) -> String {
    fake.connect_account(GOOGLE);
    fake.issue_refresh_token()
}

/// `(status, content type, JSON body or Null)`.
pub(super) async fn read(response: reqwest::Response) -> (u16, String, Value) {
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

/// POST /oauth/token with this content type and body, without client credentials.
pub(super) fn token_request(
    fake: &FakeAuth0,
    content_type: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}/oauth/token", fake.base_url()))
        .header(header::CONTENT_TYPE, content_type)
        .body(body.to_owned())
}

/// POSTs `fields` plus the client credentials to `/oauth/token` as JSON.
pub(super) async fn token_json(fake: &FakeAuth0, fields: Value) -> (u16, Value) {
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

/// The `authorization_code` grant for `code` with this verifier.
pub(super) async fn redeem(fake: &FakeAuth0, code: &str, verifier: &str) -> (u16, Value) {
    let request = json!({"grant_type": "authorization_code", "code": code,
                         "redirect_uri": CALLBACK, "code_verifier": verifier});
    token_json(fake, request).await
}

/// The plain `refresh_token` grant.
pub(super) async fn refresh(fake: &FakeAuth0, refresh_token: &str) -> (u16, Value) {
    let request = json!({"grant_type": "refresh_token", "refresh_token": refresh_token});
    token_json(fake, request).await
}

/// The Token Vault exchange of `refresh_token` for [`GOOGLE`]'s access token.
pub(super) async fn exchange(fake: &FakeAuth0, refresh_token: &str) -> (u16, Value) {
    token_json(fake, exchange_request(refresh_token, GOOGLE)).await
}

pub(super) async fn post_bearer(
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
pub(super) async fn follow(url: &str) -> (String, Params) {
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
pub(super) async fn authorize_code(fake: &FakeAuth0, scope: &str) -> (String, String) {
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    let url = format!(
        "{}/authorize?{}",
        fake.base_url(),
        query_encode(&[
            ("response_type", "code"),
            ("client_id", &fake.config().client_id),
            ("redirect_uri", CALLBACK),
            ("scope", scope),
            ("state", "st&te=1"),
            ("code_challenge", &pkce_challenge(verifier)),
            ("code_challenge_method", "S256"),
            ("audience", &fake.config().audience),
        ])
    );
    let (base, query) = follow(&url).await;
    assert_eq!(base, CALLBACK);
    assert_eq!(query["state"], "st&te=1");
    (query["code"].clone(), verifier.to_owned())
}

pub(super) fn exchange_request(refresh_token: &str, connection: &str) -> Value {
    json!({
        "grant_type": TOKEN_VAULT_GRANT,
        "subject_token": refresh_token,
        "subject_token_type": REFRESH_TOKEN_TYPE,
        "requested_token_type": FEDERATED_TOKEN_TYPE,
        "connection": connection,
    })
}

pub(super) async fn my_account_token(fake: &FakeAuth0, refresh_token: &str, scope: &str) -> String {
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
pub(super) async fn start_connect(fake: &FakeAuth0, verifier: &str) -> (String, String, String) {
    let refresh_token = fake.issue_refresh_token();
    let ma = my_account_token(fake, &refresh_token, MY_ACCOUNT_SCOPE).await;
    let (status, _, body) = post_bearer(
        fake,
        "/me/v1/connected-accounts/connect",
        &ma,
        json!({
            "connection": GOOGLE,
            "redirect_uri": CALLBACK,
            "state": "connect-state",
            "scopes": ["https://mail.google.com/"],
            "code_challenge": pkce_challenge(verifier),
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

/// POST …/complete with the MA token `ma` for the flow `auth_session`.
pub(super) async fn complete(
    fake: &FakeAuth0,
    ma: &str,
    auth_session: &str,
    connect_code: &str,
    verifier: &str,
) -> (u16, String, Value) {
    let body = json!({"auth_session": auth_session, "connect_code": connect_code,
                      "redirect_uri": CALLBACK, "code_verifier": verifier});
    post_bearer(fake, COMPLETE_PATH, ma, body).await
}
