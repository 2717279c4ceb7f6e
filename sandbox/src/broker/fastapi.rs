//! What FastAPI puts around the broker's handlers: the `X-API-Key` dependency with its wrapped
//! 401/403 bodies, and JSON request bodies with the 422 for one that does not validate.

use axum::http::HeaderMap;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::codes::constant_time_eq;
use crate::wire::{problem_json, respond};

/// Passes when no key is `expected` or `X-API-Key` carries it; else FastAPI's wrapped 401/403.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the response itself, returned from handlers with `?`"
)]
pub(super) fn check_api_key(expected: Option<&str>, headers: &HeaderMap) -> Result<(), Response> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let (status, title, detail) = match headers.get("x-api-key").map(|v| v.as_bytes()) {
        Some(given) if !given.is_empty() && constant_time_eq(given, expected.as_bytes()) => {
            return Ok(());
        }
        None | Some(b"") => (
            401,
            "API Key Required",
            "Missing X-API-Key header. Provide a valid API key to access this endpoint.",
        ),
        Some(_) => (403, "Invalid API Key", "The provided API key is not valid."),
    };
    let body = problem_json("about:blank", title, status, detail, "");
    Err(respond(
        status,
        "application/json",
        format!(r#"{{"detail":{body}}}"#),
    ))
}

/// A JSON request body, or the 422 saying why it does not parse.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the response itself, returned from handlers with `?`"
)]
pub(super) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| unprocessable(&e.to_string()))
}

/// FastAPI's 422 for a body that does not validate (simplified to one entry).
pub(super) fn unprocessable(msg: &str) -> Response {
    let msg = Value::from(msg);
    let item = format!(r#"{{"type":"value_error","loc":["body"],"msg":{msg},"input":null}}"#);
    respond(422, "application/json", format!(r#"{{"detail":[{item}]}}"#))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::BrokerConfig;
    use super::super::fixtures::{agent, client, quick, send, start};

    #[tokio::test]
    async fn the_api_key_is_required_when_configured() {
        let broker = start(BrokerConfig {
            api_key: Some("key-1".into()),
            ..quick()
        });
        assert!(!format!("{broker:?}").contains("key-1"));
        let base = broker.base_url();
        let sessions = format!("{base}/v1/sessions");
        let body = json!({"public_key": agent().public_key, "template": "api_key"});
        let missing = send(client().post(&sessions).json(&body)).await;
        assert_eq!(missing.status, 401);
        assert_eq!(missing.content_type, "application/json");
        assert_eq!(
            missing.body,
            r#"{"detail":{"type":"about:blank","title":"API Key Required","status":401,"detail":"Missing X-API-Key header. Provide a valid API key to access this endpoint."}}"#
        );
        let with_key = |key: &'static str| client().post(&sessions).header("x-api-key", key);
        let wrong = send(with_key("nope").json(&body)).await;
        assert_eq!(wrong.status, 403);
        assert_eq!(
            wrong.body,
            r#"{"detail":{"type":"about:blank","title":"Invalid API Key","status":403,"detail":"The provided API key is not valid."}}"#
        );
        let created = send(with_key("key-1").json(&body)).await;
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
}
