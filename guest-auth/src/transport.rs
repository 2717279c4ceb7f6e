//! How the provider reaches Auth0: directly (the default, so the broker never sees a secret),
//! or through the LinkAuth broker's `/v1/proxy` (for sandboxes that cannot reach Auth0).

use guest_http::Request;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::settings::Broker;

/// An HTTP reply, however it travelled.
#[derive(Debug)]
pub struct Reply {
    /// Status code (inside the proxy envelope when proxied).
    pub status: u16,
    /// Content type, lowercased.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The route to Auth0.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Straight to the tenant.
    Direct,
    /// Through the broker's `/v1/proxy`.
    Proxy(Broker),
}

impl Transport {
    /// POSTs `body` as JSON to `url`, with a bearer token when given.
    pub fn post_json(
        &self,
        url: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<Reply, AuthError> {
        match self {
            Transport::Direct => {
                let mut req = Request::post(url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .body(body.to_string());
                if let Some(token) = bearer {
                    req = req.header("authorization", format!("Bearer {token}"));
                }
                let resp = guest_http::send(req).map_err(|e| AuthError::Upstream(e.to_string()))?;
                Ok(Reply {
                    status: resp.status,
                    content_type: resp
                        .header("content-type")
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                    body: resp.body,
                })
            }
            Transport::Proxy(broker) => proxy(broker, url, bearer, body),
        }
    }
}

fn proxy(
    broker: &Broker,
    url: &str,
    bearer: Option<&str>,
    body: &Value,
) -> Result<Reply, AuthError> {
    let mut headers = json!({"Content-Type": "application/json", "Accept": "application/json"});
    if let Some(token) = bearer {
        headers["Authorization"] = Value::String(format!("Bearer {token}"));
    }
    let envelope = json!({
        "method": "POST",
        "url": url,
        "headers": headers,
        "body": body.to_string(),
        "timeout": 30,
    });
    let mut req = Request::post(format!("{}/v1/proxy", broker.url))
        .header("content-type", "application/json")
        .body(envelope.to_string());
    if let Some(key) = &broker.api_key {
        req = req.header("x-api-key", key.clone());
    }
    let resp = guest_http::send(req).map_err(|e| AuthError::Upstream(e.to_string()))?;
    if !resp.is_success() {
        let what = crate::linkauth::problem_text(&resp.body);
        return Err(match resp.status {
            401 | 403 => AuthError::Misconfigured(format!(
                "the LinkAuth broker's proxy refused the request to Auth0 (HTTP {}: {what}); check \
                 linkauth-api-key and that the broker allows the Auth0 domain",
                resp.status
            )),
            _ => AuthError::Upstream(format!(
                "the LinkAuth broker's proxy failed (HTTP {}: {what})",
                resp.status
            )),
        });
    }
    #[derive(Deserialize)]
    struct Envelope {
        status_code: u16,
        #[serde(default)]
        headers: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        body: String,
    }
    let env: Envelope = serde_json::from_slice(&resp.body).map_err(|_| {
        AuthError::Upstream("the LinkAuth broker's proxy sent an unreadable reply".into())
    })?;
    let content_type = env
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(Reply {
        status: env.status_code,
        content_type,
        body: env.body.into_bytes(),
    })
}
