//! The agent API: `POST /v1/sessions` (key check, template resolution, TTL, code and poll token)
//! and `GET /v1/sessions/{id}` (poll-token check, slow_down, one-time retrieval of the
//! ciphertext), with the broker's Python-style timestamps.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::codes::{constant_time_eq, random_code, session_id};
use super::fastapi::{check_api_key, parse_body};
use super::ordered::Ordered;
use super::templates::{Field, resolve_template};
use super::{BrokerState, Ctx, Session, Status, live, session_not_found};
use crate::envelope::{self, ALGORITHM};
use crate::wire::{PROBLEM_JSON, json, problem, problem_json, random_token, respond};

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

pub(super) async fn create_session(
    State(shared): Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let config = &shared.config;
    check_api_key(config.api_key.as_deref(), &headers)?;
    let req: CreateRequest = parse_body(&body)?;
    if let Err(detail) = envelope::parse_public_key(&req.public_key) {
        return Err(problem(400, "Invalid Public Key", &detail));
    }
    if let Some(provider) = req.oauth_provider.as_deref()
        && shared.provider(Some(provider)).is_none()
    {
        let p = provider.to_uppercase();
        let detail = format!(
            "OAuth provider '{provider}' is not configured. \
             Set OAUTH_{p}_CLIENT_ID and OAUTH_{p}_CLIENT_SECRET environment variables."
        );
        return Err(problem(400, "OAuth Provider Error", &detail));
    }
    let (template, name) = (req.template.as_deref(), req.display_name.as_deref());
    let resolved = resolve_template(template, name, &req.fields, &req.oauth_provider);
    let (display_name, oauth, fields) =
        resolved.map_err(|detail| problem(400, "Invalid Template", &detail))?;
    let expires_at = expiry(req.ttl, config.ttl_secs);
    let mut state = shared.state();
    let code = unused_code(&state);
    let session = Session {
        id: session_id(&code),
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
        poll_token: random_token("pt_", 32),
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
        expires_at: isoformat(expires_at),
        interval: config.poll_interval,
        callback_secret: None,
        webhook_url: None,
    };
    let response = json(201, &response);
    state.sessions.push(session);
    Ok(response)
}

/// When a session asking for `ttl` seconds expires: min(ttl or the default, max(default, 900)),
/// with no lower bound (a negative TTL makes a dead session).
fn expiry(ttl: Option<i64>, default_secs: u64) -> SystemTime {
    let default_ttl = i64::try_from(default_secs).unwrap_or(i64::MAX);
    let ttl = ttl
        .filter(|t| *t != 0)
        .unwrap_or(default_ttl)
        .min(default_ttl.max(900));
    let (now, offset) = (SystemTime::now(), Duration::from_secs(ttl.unsigned_abs()));
    if ttl >= 0 {
        now + offset
    } else {
        now.checked_sub(offset).unwrap_or(UNIX_EPOCH)
    }
}

/// A fresh user code no session in `state` has.
fn unused_code(state: &BrokerState) -> String {
    loop {
        let code = random_code();
        if !state.sessions.iter().any(|s| s.code == code) {
            return code;
        }
    }
}

#[derive(Serialize)]
struct PollResponse<'a> {
    status: &'a str,
    expires_at: String,
    interval: Option<u64>,
    ciphertext: Option<String>,
    algorithm: Option<String>,
}

pub(super) async fn poll(
    State(shared): Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let mut guard = shared.state();
    let state = &mut *guard;
    if let Some((status, content_type, body)) = state.canned_poll.take() {
        return Ok(respond(status, &content_type, body));
    }
    check_api_key(shared.config.api_key.as_deref(), &headers)?;
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
        return Err(response);
    };
    let session = live(&mut state.sessions, &id).ok_or_else(session_not_found)?;
    if !constant_time_eq(session.poll_token.as_bytes(), token.as_bytes()) {
        return Err(problem(403, "Forbidden", "Invalid poll_token."));
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
        return Err(respond(429, PROBLEM_JSON, body));
    }
    session.last_poll = Some(Instant::now());
    let mut body = PollResponse {
        status: session.status.as_str(),
        expires_at: isoformat(session.expires_at),
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
    Ok(json(200, &body))
}

/// Python `datetime.isoformat()` of an aware UTC time, `2026-11-22T17:39:37.406881+00:00`
/// (without the fraction when it is 0).
fn isoformat(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, micros) = (d.as_secs(), d.subsec_micros());
    // Days to civil date (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rem = secs % 86_400;
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out.push_str("+00:00");
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use rand_core::OsRng;
    use rsa::pkcs8::EncodePublicKey;
    use serde_json::json;

    use super::super::BrokerConfig;
    use super::super::fixtures::{
        client, connect_info, create, create_ok, poll, problem_body, quick, send, start,
    };
    use super::*;

    #[test]
    fn isoformat_writes_pythons_datetime_format() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_372_198_406_881);
        assert_eq!(isoformat(t), "2026-11-22T18:29:58.406881+00:00");
        assert_eq!(
            isoformat(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00+00:00"
        );
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

    /// An SPKI naming an EC P-256 key (the point itself is not checked).
    fn ec_public_key() -> Vec<u8> {
        let mut ec = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        ];
        ec.extend([
            0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ]);
        ec.extend([0x6b; 64]);
        ec
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
                STANDARD.encode(ec_public_key()),
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
        let info = connect_info(&broker, &custom.code).await;
        assert_eq!(
            info.json()["fields"],
            json!([{"name": "token", "label": "Token", "type": "text", "required": true, "options": null}])
        );
        assert_eq!(info.json()["display_name"], "X");
    }
}
