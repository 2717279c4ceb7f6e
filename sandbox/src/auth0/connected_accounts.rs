//! The My Account API's Connected Accounts flow: `POST /me/v1/connected-accounts/connect` (a
//! ticket for the browser step) and `POST …/complete` (checks the connect code, redirect URI and
//! PKCE verifier, then connects the account in the Token Vault), both behind a My Account token
//! with the `create:me:connected_accounts` scope.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::failure::{Failure, bad_request};
use super::{ConnectSession, Ctx, Shared, opaque};
use crate::wire::pkce_challenge;

/// The My Account API scope that `/connect` and `/complete` require.
const CREATE_CONNECTED_ACCOUNTS: &str = "create:me:connected_accounts";

/// A `201 Created` with a JSON body, or the API's problem+json.
type Created = Result<(StatusCode, Json<Value>), Failure>;

pub(super) async fn connect(State(shared): Ctx, headers: HeaderMap, body: Bytes) -> Created {
    let body = authorized_body(&shared, &headers, &body)?;
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
    let (ticket, auth_session) = (opaque("tkt_"), opaque("as_"));
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

pub(super) async fn complete(State(shared): Ctx, headers: HeaderMap, body: Bytes) -> Created {
    let body = authorized_body(&shared, &headers, &body)?;
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
    if pkce_challenge(code_verifier) != session.code_challenge {
        return Err(bad_request("Invalid code_verifier"));
    }
    let session = tenant.sessions.remove(auth_session);
    let session = session.ok_or_else(|| bad_request("Invalid auth_session"))?;
    if !tenant.complete_skips_connect {
        tenant.connected.insert(session.connection.clone());
    }
    drop(tenant);
    let body = json!({
        "id": opaque("cac_"),
        "connection": session.connection,
        "access_type": "offline",
        "scopes": session.scopes,
        "created_at": "2026-01-01T00:00:00.000Z",
    });
    Ok((StatusCode::CREATED, Json(body)))
}

/// The JSON object body of a request whose bearer may create connected accounts.
fn authorized_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Failure> {
    check_my_account_token(shared, headers)?;
    json_object(body)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{
        CALLBACK, GOOGLE, MY_ACCOUNT_SCOPE, complete, exchange, follow, my_account_token,
        post_bearer, start_connect, tenant, tenant_with,
    };
    use super::super::token::FEDERATED_TOKEN_TYPE;

    #[tokio::test]
    async fn a_full_connected_accounts_round_trip_enables_the_exchange() {
        let fake = tenant_with(|config| {
            config.google_access_token = "ya29.round-trip".into();
            config.google_expires_in = 1234;
        });
        let verifier = "connect-verifier-0123456789-0123456789-0123456789";
        let (ma, auth_session, connect_url) = start_connect(&fake, verifier).await;

        let (base, query) = follow(&connect_url).await;
        assert_eq!(base, CALLBACK);
        assert_eq!(query["state"], "connect-state");
        let connect_code = &query["connect_code"];

        let (status, _, body) = complete(&fake, &ma, &auth_session, connect_code, verifier).await;
        assert_eq!(status, 201, "{body}");
        assert!(body["id"].as_str().unwrap().starts_with("cac_"));
        assert_eq!(body["connection"], GOOGLE);
        assert_eq!(body["access_type"], "offline");
        assert_eq!(body["scopes"], json!(["https://mail.google.com/"]));
        assert!(fake.is_connected(GOOGLE));

        let refresh_token = fake.issue_refresh_token();
        let (status, body) = exchange(&fake, &refresh_token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["access_token"], "ya29.round-trip");
        assert_eq!(body["expires_in"], 1234);
        assert_eq!(body["issued_token_type"], FEDERATED_TOKEN_TYPE);
    }

    #[tokio::test]
    async fn complete_with_a_wrong_verifier_is_a_problem_json_400() {
        let fake = tenant();
        let (ma, auth_session, connect_url) = start_connect(&fake, "the-right-verifier").await;
        let (_, query) = follow(&connect_url).await;
        let connect_code = &query["connect_code"];
        let (status, content_type, body) = complete(
            &fake,
            &ma,
            &auth_session,
            connect_code,
            "the-wrong-verifier",
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], 400);
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(body["detail"], "Invalid code_verifier");
        assert!(!fake.is_connected(GOOGLE));
    }

    #[tokio::test]
    async fn complete_without_token_vault_answers_201_but_does_not_connect() {
        let fake = tenant();
        fake.set_complete_connects(false);
        let verifier = "verifier-for-a-tenant-without-token-vault";
        let (ma, auth_session, connect_url) = start_connect(&fake, verifier).await;
        let (_, query) = follow(&connect_url).await;
        let connect_code = &query["connect_code"];
        let (status, _, _) = complete(&fake, &ma, &auth_session, connect_code, verifier).await;
        assert_eq!(status, 201);
        assert!(!fake.is_connected(GOOGLE));
        let (status, _, body) = complete(&fake, &ma, &auth_session, connect_code, verifier).await;
        assert_eq!(status, 400, "codes are one-time");
        assert_eq!(body["detail"], "Invalid auth_session");
    }

    #[tokio::test]
    async fn connect_needs_a_my_account_token_with_the_create_scope() {
        let fake = tenant();
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
}
