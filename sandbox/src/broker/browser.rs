//! What [`FakeBroker::approve`](super::FakeBroker::approve) does as the person's browser, over
//! real HTTP against the broker: read the session, confirm it, then either encrypt and submit the
//! form as the page does, or start the OAuth flow and follow every redirect (loopback only) to the
//! broker's success page.

use axum::http::header;
use serde_json::Value;

use super::loopback::{http_client, is_loopback_url};
use crate::envelope::{ALGORITHM, Serialization, seal};
use crate::wire::form_encode;

/// Redirects followed at most before giving up.
const MAX_REDIRECTS: usize = 10;

/// The person's steps in the browser (see `FakeBroker::approve`) against the broker at `base`.
pub(super) async fn act_in_browser(
    base: &str,
    code: &str,
    form_values: Option<Value>,
) -> Result<(), String> {
    let client = http_client(30)?;
    let info = client.get(format!("{base}/v1/connect/{code}"));
    let info = fetch("GET /v1/connect/{code}", info, 200).await?;
    let confirm = client.post(format!("{base}/v1/connect/{code}/confirm"));
    let confirmed = fetch("POST /v1/connect/{code}/confirm", confirm, 200).await?;
    let token = confirmed["connect_token"].as_str().unwrap_or_default();
    if info["template_type"] == "form" {
        return submit_form(&client, base, code, &info, token, form_values).await;
    }
    let query = form_encode(&[("connect_token", token)]);
    let url = format!("{base}/v1/oauth/authorize/{code}?{query}");
    follow_to_success(&client, base, url).await
}

/// Encrypts the form values to the session's key (Browser serialization) and POSTs …/complete.
async fn submit_form(
    client: &reqwest::Client,
    base: &str,
    code: &str,
    info: &Value,
    token: &str,
    form_values: Option<Value>,
) -> Result<(), String> {
    let plaintext = form_plaintext(&info["fields"], form_values)?;
    let public_key = info["public_key"].as_str().unwrap_or_default();
    let ciphertext = seal(public_key, plaintext.as_bytes(), Serialization::Browser)
        .map_err(|e| format!("encrypting the form values: {e}"))?;
    let body = serde_json::json!({
        "ciphertext": ciphertext, "algorithm": ALGORITHM, "connect_token": token,
    });
    let complete = client
        .post(format!("{base}/v1/connect/{code}/complete"))
        .json(&body);
    fetch("POST /v1/connect/{code}/complete", complete, 204)
        .await
        .map(drop)
}

/// GETs `url` and follows the redirects (loopback only) until the broker's success page.
async fn follow_to_success(
    client: &reqwest::Client,
    base: &str,
    mut url: String,
) -> Result<(), String> {
    for _ in 0..MAX_REDIRECTS {
        let step = format!("following the OAuth redirects: GET {url}");
        if !is_loopback_url(&url) {
            return Err(format!("{step}: not a loopback URL"));
        }
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{step}: {e}"))?;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok());
        if let Some(location) = location.filter(|_| status.is_redirection()) {
            let next = reqwest::Url::parse(&url).and_then(|u| u.join(location));
            url = next
                .map_err(|e| format!("{step}: bad Location {location:?}: {e}"))?
                .into();
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        let done = url.starts_with(&format!("{base}/connect/")) && url.contains("status=success");
        if status.is_success() && done {
            return Ok(());
        }
        return Err(format!("{step}: answered {status}: {body}"));
    }
    Err(format!(
        "following the OAuth redirects: more than {MAX_REDIRECTS} redirects"
    ))
}

/// Sends `request`: its JSON body (`null` if none) when the status is `want`, else an error
/// naming `step`.
async fn fetch(step: &str, request: reqwest::RequestBuilder, want: u16) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| format!("{step}: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{step}: {e}"))?;
    if status.as_u16() != want {
        return Err(format!("{step}: expected {want}, got {status}: {body}"));
    }
    Ok(serde_json::from_str(&body).unwrap_or_default())
}

/// The page's `JSON.stringify({name: value…})`: every field named in `fields` (the page's field
/// list) in order, `""` where `values` lacks it, then any other keys of `values`.
fn form_plaintext(fields: &Value, values: Option<Value>) -> Result<String, String> {
    let values = match values {
        None => serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("form_values must be a JSON object, not {other}")),
    };
    let listed = fields.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut names: Vec<&str> = listed
        .iter()
        .filter_map(|f| f.get("name")?.as_str())
        .collect();
    let extra: Vec<&str> = values
        .keys()
        .map(String::as_str)
        .filter(|k| !names.contains(k))
        .collect();
    names.extend(extra);
    let entries: Vec<String> = names
        .iter()
        .map(|name| {
            let value = values
                .get(*name)
                .cloned()
                .unwrap_or_else(|| Value::from(""));
            format!("{}:{value}", Value::from(*name))
        })
        .collect();
    Ok(format!("{{{}}}", entries.join(",")))
}
