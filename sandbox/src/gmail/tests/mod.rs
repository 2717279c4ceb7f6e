//! The fake over HTTP, against the sample mailbox: listing and search, reading, changing and
//! sending, and the test controls.

mod controls;
mod list;
mod read;
mod write;

use serde_json::Value;

use super::mailbox::sample_id;
use super::{FakeGmail, Mailbox};
use crate::wire::percent_encode;

/// The token the fake accepts in these tests.
const TOKEN: &str = "ya29.sandbox-test";

fn gmail() -> FakeGmail {
    FakeGmail::start(Mailbox::sample(), TOKEN).unwrap()
}

/// The ids of sample messages `ns`.
fn ids(ns: impl IntoIterator<Item = u32>) -> Vec<String> {
    ns.into_iter().map(sample_id).collect()
}

fn url(g: &FakeGmail, path: &str) -> String {
    format!("{}/gmail/v1/users/me/{path}", g.base_url())
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

async fn get(g: &FakeGmail, path: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    answer(
        client
            .get(url(g, path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post(g: &FakeGmail, path: &str, body: &Value) -> (u16, Value) {
    let request = reqwest::Client::new().post(url(g, path)).bearer_auth(TOKEN);
    answer(request.json(body).send().await.unwrap()).await
}

/// `GET messages?{query}` (which must succeed): the listed ids and the whole answer.
async fn list(g: &FakeGmail, query: &str) -> (Vec<String>, Value) {
    let (status, body) = get(g, &format!("messages?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let listed = body["messages"].as_array().cloned().unwrap_or_default();
    let ids = listed
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, body)
}

/// The ids `q` finds with the default list settings.
async fn search(g: &FakeGmail, q: &str) -> Vec<String> {
    list(g, &format!("q={}", percent_encode(q))).await.0
}

/// Gmail's error envelope for `code`/`status` with `message` and `reason`.
fn envelope(code: u16, status: &str, message: &str, reason: &str) -> Value {
    serde_json::json!({
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": status,
        }
    })
}
