//! OAuth through the broker: `GET /v1/oauth/authorize/{code}` starts standard mode (authorization
//! code + PKCE against a configured provider) or passthrough mode (the agent's
//! `custom_authorize_url`); `GET /v1/oauth/callback` finishes either, exchanging the code
//! (standard) or collecting `custom_callback_params` (passthrough), and stores the result
//! encrypted in the broker's Python serialization.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::loopback::{http_client, is_loopback_url};
use super::ordered::Ordered;
use super::{Ctx, OAuthProvider, Session, Shared, Status, live, with_session_by_code};
use crate::envelope::{self, ALGORITHM, Serialization};
use crate::wire::{
    form_encode, found, pkce_challenge, problem, random_token, unix_now, with_query,
};

type QueryPairs = Query<Vec<(String, String)>>;

pub(super) async fn authorize(
    State(shared): Ctx,
    Path(code): Path<String>,
    Query(query): QueryPairs,
) -> Response {
    with_session_by_code(&shared, &code, |session| {
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
        let verifier = random_token("", 64);
        let redirect_uri = callback_url(&shared);
        let (scopes, extra) = (&session.scopes, &session.extra_params);
        let url = authorize_url(
            provider,
            &redirect_uri,
            scopes,
            &session.id,
            &verifier,
            extra,
        );
        session.verifier = Some(verifier);
        found(&url)
    })
}

/// What the callback needs of a started flow, taken out of the lock.
struct Flow {
    id: String,
    code: String,
    public_key: String,
    /// The names to collect, in passthrough mode.
    passthrough: Option<Vec<String>>,
    provider: Option<String>,
    verifier: String,
}

pub(super) async fn callback(
    State(shared): Ctx,
    Query(query): QueryPairs,
) -> Result<Response, Response> {
    let get = |name: &str| param(&query, name);
    if get("error").is_some() {
        if let Some(state) = get("state")
            && let Some(session) = flow_for(&mut shared.state().sessions, state)
        {
            session.verifier = None;
        }
        let detail = "Authorization was not completed.";
        return Err(problem(400, "OAuth Authorization Failed", detail));
    }
    let Some(state) = get("state") else {
        return Err(problem(
            400,
            "Invalid Callback",
            "Missing state or code parameter.",
        ));
    };
    let Some(flow) = flow_for(&mut shared.state().sessions, state).map(take_flow) else {
        let detail = "OAuth state parameter not recognized. Session may have expired.";
        return Err(problem(400, "Invalid State", detail));
    };
    let pairs = match &flow.passthrough {
        Some(names) => passthrough_pairs(names, get),
        None => {
            let Some(auth_code) = get("code") else {
                return Err(problem(400, "Invalid Callback", "Missing code parameter."));
            };
            let Some(provider) = shared.provider(flow.provider.as_deref()) else {
                let detail = "The session's OAuth provider is not configured.";
                return Err(problem(400, "OAuth Provider Error", detail));
            };
            let redirect_uri = callback_url(&shared);
            exchange_code(provider, &redirect_uri, auth_code, &flow.verifier)
                .await
                .map_err(|e| problem(400, "OAuth Authorization Failed", &e))?
        }
    };
    Ok(deliver(&shared, &flow, &pairs))
}

/// The flow's data; its verifier is spent.
fn take_flow(s: &mut Session) -> Flow {
    let passthrough = s
        .custom_authorize_url
        .as_ref()
        .map(|_| s.custom_callback_params.clone());
    let verifier = s.verifier.take().unwrap_or_default();
    Flow {
        id: s.id.clone(),
        code: s.code.clone(),
        public_key: s.public_key.clone(),
        passthrough,
        provider: s.provider.clone(),
        verifier,
    }
}

/// Passthrough mode's plaintext: each named callback parameter (`""` when absent), plus `code`
/// when all of them are empty.
fn passthrough_pairs<'q>(
    names: &[String],
    get: impl Fn(&str) -> Option<&'q str>,
) -> Vec<(String, Value)> {
    let value = |name: &str| Value::from(get(name).unwrap_or_default());
    let mut pairs: Vec<(String, Value)> = names.iter().map(|n| (n.clone(), value(n))).collect();
    if pairs.iter().all(|(_, v)| v == "") {
        pairs.push(("code".into(), value("code")));
    }
    pairs
}

/// Encrypts `pairs` (Python serialization) to the flow's key, makes the session ready and sends
/// the browser to the success page.
fn deliver(shared: &Shared, flow: &Flow, pairs: &[(String, Value)]) -> Response {
    let pairs: Vec<(&str, Value)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let plaintext = envelope::python_json(&pairs);
    let sealed = envelope::seal(
        &flow.public_key,
        plaintext.as_bytes(),
        Serialization::Python,
    );
    let ciphertext = match sealed {
        Ok(ciphertext) => ciphertext,
        Err(e) => {
            let detail = format!("Failed to encrypt credentials: {e}");
            return problem(500, "Encryption Failed", &detail);
        }
    };
    match live(&mut shared.state().sessions, &flow.id) {
        Some(session) if session.status != Status::Consumed => {
            session.ciphertext = Some(ciphertext);
            session.algorithm = Some(ALGORITHM.into());
            session.status = Status::Ready;
        }
        _ => {
            let detail = "Failed to store encrypted credentials.";
            return problem(500, "Storage Error", detail);
        }
    }
    let code = &flow.code;
    found(&format!("{}/connect/{code}?status=success", shared.base()))
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

/// The broker's OAuth redirect URI.
fn callback_url(shared: &Shared) -> String {
    format!("{}/v1/oauth/callback", shared.base())
}

/// The first value of the query parameter `name`.
fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The provider authorization URL of standard mode, query in the broker's order:
/// `response_type, client_id, redirect_uri, scope, state, code_challenge (S256 of the verifier),
/// code_challenge_method`, then the agent's extra parameters.
fn authorize_url(
    provider: &OAuthProvider,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    verifier: &str,
    extra: &[(String, String)],
) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &provider.client_id),
        ("redirect_uri", redirect_uri),
    ];
    let (scope, challenge) = (scopes.join(" "), pkce_challenge(verifier));
    if !scopes.is_empty() {
        params.push(("scope", &scope));
    }
    params.extend([("state", state), ("code_challenge", &challenge)]);
    params.push(("code_challenge_method", "S256"));
    params.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    with_query(&provider.authorize_url, &form_encode(&params))
}

/// The code exchange as authlib's `fetch_token` does it (client_secret_basic): the token object
/// in the provider's key order, plus `expires_at` (now + `expires_in`) when absent.
async fn exchange_code(
    provider: &OAuthProvider,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> Result<Vec<(String, Value)>, String> {
    if !is_loopback_url(&provider.token_url) {
        return Err("The token endpoint is not on loopback.".into());
    }
    let basic = STANDARD.encode(format!("{}:{}", provider.client_id, provider.client_secret));
    let form = form_encode(&[
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
        ("code", code),
        ("code_verifier", verifier),
    ]);
    let form_type = "application/x-www-form-urlencoded;charset=UTF-8";
    let request = http_client(30)?.post(&provider.token_url).body(form);
    let request = request.header(header::AUTHORIZATION, format!("Basic {basic}"));
    let request = request.header(header::ACCEPT, "application/json");
    let response = request.header(header::CONTENT_TYPE, form_type).send().await;
    let response = response.map_err(|e| format!("Token exchange failed: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let mut token = match serde_json::from_str::<Ordered<Value>>(&text) {
        Ok(token) if status.is_success() && token.get("error").is_none() => token.0,
        _ => return Err(format!("Token exchange failed: {status}: {text}")),
    };
    let has = |key: &str| token.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let expires_in =
        has("expires_in").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
    if let Some(secs) = expires_in.filter(|s| *s != 0 && has("expires_at").is_none()) {
        let now = i64::try_from(unix_now()).unwrap_or_default();
        token.push(("expires_at".into(), Value::from(now + secs)));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::{Value, json};

    use super::super::fixtures::{
        approve, client, connect_info, create_ok, delivered, idp, poll, problem_body, query_param,
        send, start, with_idp,
    };
    use crate::wire::{form_encode, pkce_challenge, unix_now};

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
        let info = connect_info(&broker, &session.code).await.json();
        assert_eq!(info["template_type"], "oauth");
        assert_eq!(info["display_name"], "OAuth (auth0)");
        assert_eq!(info["fields"], json!([]));

        approve(&broker, &session.code, None).await;
        let plain = delivered(&poll(&broker, &session).await.json());
        let start = r#"{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt_x", "scope": "openid offline_access", "expires_at": "#;
        assert!(plain.starts_with(start), "{plain}");
        let token: Value = serde_json::from_str(&plain).expect("JSON");
        let expires_at = token["expires_at"].as_u64().expect("an integer");
        assert!(expires_at.abs_diff(unix_now() + 3600) < 10);

        let seen = idp.requests();
        let seen_line = |line: &str| {
            let found = seen.iter().find(|r| r.line() == line);
            found.expect("the IdP saw the request").clone()
        };
        let authorize = seen_line("GET /authorize");
        let redirect = format!("{}/v1/oauth/callback", broker.base_url());
        let expected = format!(
            "/authorize?response_type=code&client_id=client-1&{}&scope=openid+offline_access&state={}&code_challenge=",
            form_encode(&[("redirect_uri", &redirect)]),
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
        let token_request = seen_line("POST /token");
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
            pkce_challenge(&verifier),
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
            form_encode(&[("redirect", callback.as_str()), ("state", "st-42")])
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

        approve(&broker, &session.code, None).await;
        let ready = poll(&broker, &session).await.json();
        assert_eq!(delivered(&ready), r#"{"connect_code": "cc_1"}"#);
        let transport = ready["ciphertext"].as_str().expect("a ciphertext");
        let outer = STANDARD.decode(transport).expect("base64");
        let outer = String::from_utf8(outer).expect("UTF-8");
        assert!(outer.starts_with(r#"{"wrapped_key": ""#), "{outer}");
        assert!(!idp.requests().iter().any(|r| r.line() == "POST /token"));
    }
}
