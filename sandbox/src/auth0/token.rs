//! `POST /oauth/token`: client authentication (secret in the body or HTTP Basic), JSON or
//! form-encoded bodies, and the grants: `authorization_code` (with PKCE), `refresh_token`
//! (including the My Account API exchange and rotation) and the Token Vault exchange.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::failure::{Failure, invalid_grant, invalid_refresh_token, invalid_request, oauth};
use super::{Auth0Config, Ctx, GOOGLE_CONNECTION, Params, Shared, opaque, param, required_param};
use crate::wire::{parse_form, percent_decode, pkce_challenge, unix_now};

/// The Token Vault grant type.
pub(super) const TOKEN_VAULT_GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
/// The only `subject_token_type` the Token Vault grant accepts.
pub(super) const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// The only `requested_token_type` the Token Vault grant accepts.
pub(super) const FEDERATED_TOKEN_TYPE: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";

pub(super) async fn token(
    State(shared): Ctx,
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
        && param(params, "code_verifier").map(pkce_challenge).as_ref() != Some(challenge)
    {
        return Err(invalid_grant("Failed to verify code verifier"));
    }
    let mut body = json!({
        "access_token": opaque("at_"),
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
        let refresh_token = opaque("rt_");
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
        let token = opaque("ma_");
        let scopes = scope.split_whitespace().map(str::to_owned).collect();
        tenant.my_account_tokens.insert(token.clone(), scopes);
        json!({"access_token": token, "expires_in": 600, "scope": scope, "token_type": "Bearer"})
    } else {
        let scope = requested.unwrap_or(&granted);
        let token = opaque("at_");
        json!({"access_token": token, "expires_in": 86400, "scope": scope, "token_type": "Bearer"})
    };
    if shared.config.rotate_refresh_tokens {
        tenant.refresh_tokens.remove(presented);
        let rotated = opaque("rt_");
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
    let mut body = json!({
        "access_token": shared.config.access_token(connection),
        "expires_in": shared.config.google_expires_in,
        "token_type": "Bearer",
        "issued_token_type": FEDERATED_TOKEN_TYPE,
    });
    // Auth0 reports the upstream scopes the connection granted; the fake knows Google's only.
    if connection == GOOGLE_CONNECTION {
        body["scope"] = json!("https://mail.google.com/ openid");
    }
    Ok(body)
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
    let now = unix_now();
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::DEFAULT_LOGIN_SCOPE;
    use super::super::fixtures::{
        GOOGLE, MY_ACCOUNT_SCOPE, authorize_code, client, connected_refresh_token, exchange,
        exchange_request, read, redeem, refresh, tenant, tenant_with, token_json, token_request,
    };
    use super::*;
    use crate::wire::query_encode;

    const FORM: &str = "application/x-www-form-urlencoded";

    #[tokio::test]
    async fn login_with_pkce_returns_a_refresh_token_only_with_offline_access() {
        let fake = tenant();
        let (code, verifier) = authorize_code(&fake, "openid profile offline_access").await;
        let (status, body) = redeem(&fake, &code, &verifier).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 86400);
        assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
        let refresh_token = body["refresh_token"].as_str().unwrap();
        assert!(refresh_token.starts_with("rt_"));

        let (status, _) = exchange(&fake, refresh_token).await;
        assert_eq!(
            status, 401,
            "the new RT is valid; only the connection is missing"
        );

        let (code, verifier) = authorize_code(&fake, "openid profile").await;
        let (status, body) = redeem(&fake, &code, &verifier).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        assert!(body["access_token"].is_string());
    }

    #[tokio::test]
    async fn a_wrong_code_verifier_or_reused_code_is_refused() {
        let fake = tenant();
        let (code, _) = authorize_code(&fake, "openid offline_access").await;
        let (status, body) = redeem(&fake, &code, "not-the-verifier").await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_description"], "Failed to verify code verifier");

        let (code, verifier) = authorize_code(&fake, "openid offline_access").await;
        assert_eq!(redeem(&fake, &code, &verifier).await.0, 200);
        let (status, body) = redeem(&fake, &code, &verifier).await;
        assert_eq!(status, 403);
        assert_eq!(body["error_description"], "Invalid authorization code");
    }

    #[tokio::test]
    async fn the_exchange_before_connecting_reports_federated_connection_refresh_token_not_found() {
        let fake = tenant();
        let refresh_token = fake.issue_refresh_token();
        let (status, body) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 401);
        assert_eq!(
            body["error"],
            "federated_connection_refresh_token_not_found"
        );
        assert_eq!(
            body["error_description"],
            "Federated connection Refresh Token not found."
        );

        fake.connect_account(GOOGLE);
        let (status, body) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 200, "{body}");
        fake.disconnect_account(GOOGLE);
        assert!(!fake.is_connected(GOOGLE));
        let (status, _) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_gets_invalid_grant() {
        let fake = tenant();
        let refresh_token = connected_refresh_token(&fake);
        fake.revoke_refresh_tokens();
        let (status, body) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(
            body["error_description"],
            "Unknown or invalid refresh token."
        );
        let (status, body) = refresh(&fake, &refresh_token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant"))
        );
    }

    #[tokio::test]
    async fn rotation_returns_a_new_refresh_token_and_the_old_one_then_fails() {
        let fake = tenant_with(|config| config.rotate_refresh_tokens = true);
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

        let (status, body) = refresh(&fake, &old).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant"))
        );
        let (status, body) = refresh(&fake, &new).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], DEFAULT_LOGIN_SCOPE);
    }

    #[tokio::test]
    async fn without_rotation_refresh_returns_no_new_refresh_token() {
        let fake = tenant();
        let refresh_token = fake.issue_refresh_token();
        let (status, body) = refresh(&fake, &refresh_token).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        assert_eq!(refresh(&fake, &refresh_token).await.0, 200);
    }

    #[tokio::test]
    async fn client_secret_basic_with_a_form_body_works_and_a_wrong_secret_does_not() {
        let fake = tenant();
        let refresh_token = connected_refresh_token(&fake);
        let body = query_encode(&[
            ("grant_type", TOKEN_VAULT_GRANT),
            ("subject_token", &refresh_token),
            ("subject_token_type", REFRESH_TOKEN_TYPE),
            ("requested_token_type", FEDERATED_TOKEN_TYPE),
            ("connection", GOOGLE),
        ]);
        let send = |secret: &'static str| {
            token_request(&fake, FORM, &body)
                .basic_auth("sandbox-client", Some(secret))
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

        let response = token_request(&fake, FORM, &body).send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "no client authentication at all"
        );
    }

    #[tokio::test]
    async fn unparsable_bodies_and_unknown_grants_get_oauth_errors() {
        let fake = tenant();
        let response = token_request(&fake, "application/json", "{\"grant_type\":")
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

        let mut wrong_type = exchange_request(&fake.issue_refresh_token(), GOOGLE);
        wrong_type["subject_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
        let (status, body) = token_json(&fake, wrong_type).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );

        let get = |path: &str| client().get(format!("{}{path}", fake.base_url())).send();
        let (status, _, body) = read(get("/oauth/token").await.unwrap()).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error": "not_found", "error_description": "Not Found"})
        );
        let response = get("/nowhere").await.unwrap();
        assert_eq!(response.status().as_u16(), 404);
    }

    #[tokio::test]
    async fn each_connection_gets_its_own_token() {
        let fake = tenant_with(|config| {
            config
                .connection_tokens
                .insert("slack".into(), "xoxp-configured".into());
        });
        let refresh_token = connected_refresh_token(&fake);
        for connection in ["github", "slack", "windowslive"] {
            fake.connect_account(connection);
        }
        let token_for = |connection: &'static str| {
            let request = exchange_request(&refresh_token, connection);
            async { token_json(&fake, request).await }
        };
        let (status, google) = token_for(GOOGLE).await;
        assert_eq!(status, 200, "{google}");
        assert_eq!(google["access_token"], "ya29.sandbox-google-token");
        assert_eq!(google["scope"], "https://mail.google.com/ openid");
        let (status, github) = token_for("github").await;
        assert_eq!(status, 200, "{github}");
        assert_eq!(github["access_token"], "gho_sandbox-github-token");
        assert_eq!(github["expires_in"], 3600);
        assert!(github.get("scope").is_none(), "{github}");
        assert_eq!(
            token_for("slack").await.1["access_token"],
            "xoxp-configured"
        );
        let (_, other) = token_for("windowslive").await;
        assert_eq!(other["access_token"], "sandbox-windowslive-token");
        assert_eq!(
            fake.config().access_token("windowslive"),
            "sandbox-windowslive-token"
        );

        fake.disconnect_account("github");
        let (status, body) = token_for("github").await;
        assert_eq!(status, 401, "connections are connected one by one: {body}");
    }

    #[tokio::test]
    async fn the_exchange_is_unauthorized_client_when_the_grant_is_disabled() {
        let fake = tenant_with(|config| config.allow_token_vault_grant = false);
        let refresh_token = connected_refresh_token(&fake);
        let (status, body) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "unauthorized_client");
        assert_eq!(
            body["error_description"],
            format!("Grant type '{TOKEN_VAULT_GRANT}' not allowed for the client.")
        );
    }
}
