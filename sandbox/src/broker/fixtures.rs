//! What the broker's tests share: the agent's key pair, a broker with a quick poll interval, a
//! tiny IdP, and requests as the agent and the page send them.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::OsRng;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use serde_json::Value;

use super::loopback::http_client;
use super::{BrokerConfig, FakeBroker, OAuthProvider};
use crate::envelope;
use crate::server::Server;
use crate::wire::{form_encode, found, respond};

pub(super) struct AgentKey {
    pub(super) public_key: String,
    pub(super) private_der: Vec<u8>,
}

/// One RSA-2048 agent key per test binary.
pub(super) fn agent() -> &'static AgentKey {
    static KEY: OnceLock<AgentKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA-2048 generates");
        let public = key
            .to_public_key()
            .to_public_key_der()
            .expect("SPKI encodes");
        AgentKey {
            public_key: STANDARD.encode(public.as_bytes()),
            private_der: key
                .to_pkcs8_der()
                .expect("PKCS#8 encodes")
                .as_bytes()
                .to_vec(),
        }
    })
}

pub(super) fn decrypt(transport: &str) -> String {
    let plain = envelope::open(&agent().private_der, transport).expect("the envelope opens");
    String::from_utf8(plain).expect("UTF-8 plaintext")
}

/// The plaintext of the ciphertext a ready poll delivered.
pub(super) fn delivered(ready: &Value) -> String {
    decrypt(ready["ciphertext"].as_str().expect("a ciphertext"))
}

pub(super) fn client() -> reqwest::Client {
    http_client(30).expect("client builds")
}

pub(super) fn start(config: BrokerConfig) -> FakeBroker {
    FakeBroker::start(config).expect("the broker starts")
}

pub(super) fn quick() -> BrokerConfig {
    BrokerConfig {
        poll_interval: 0,
        ..BrokerConfig::default()
    }
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

pub(super) async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("the request is answered");
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Reply {
        status: response.status().as_u16(),
        content_type,
        headers,
        body: response.text().await.expect("a body"),
    }
}

pub(super) struct Created {
    pub(super) session_id: String,
    pub(super) code: String,
    pub(super) poll_token: String,
    pub(super) body: String,
}

/// POSTs `body` as JSON to `url`.
pub(super) async fn post_json(url: &str, body: &Value) -> Reply {
    send(client().post(url).json(body)).await
}

/// POST /v1/sessions with the agent key added to `fields`.
pub(super) async fn create(broker: &FakeBroker, mut fields: Value) -> Reply {
    fields["public_key"] = Value::from(agent().public_key.clone());
    post_json(&format!("{}/v1/sessions", broker.base_url()), &fields).await
}

pub(super) async fn create_ok(broker: &FakeBroker, fields: Value) -> Created {
    let reply = create(broker, fields).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let v = reply.json();
    let text = |k: &str| v[k].as_str().expect("a string").to_owned();
    Created {
        session_id: text("session_id"),
        code: text("code"),
        poll_token: text("poll_token"),
        body: reply.body,
    }
}

pub(super) async fn poll(broker: &FakeBroker, session: &Created) -> Reply {
    let url = format!("{}/v1/sessions/{}", broker.base_url(), session.session_id);
    send(client().get(url).bearer_auth(&session.poll_token)).await
}

/// GET /v1/connect/{code}, as the page does first.
pub(super) async fn connect_info(broker: &FakeBroker, code: &str) -> Reply {
    send(client().get(format!("{}/v1/connect/{code}", broker.base_url()))).await
}

/// POST /v1/connect/{code}/confirm.
pub(super) async fn confirm(broker: &FakeBroker, code: &str) -> Reply {
    let url = format!("{}/v1/connect/{code}/confirm", broker.base_url());
    send(client().post(url)).await
}

/// Confirms the session with this code; its connect token.
pub(super) async fn connect_token(broker: &FakeBroker, code: &str) -> String {
    let confirmed = confirm(broker, code).await;
    confirmed.json()["connect_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// [`FakeBroker::approve`], which must succeed.
pub(super) async fn approve(broker: &FakeBroker, code: &str, form_values: Option<Value>) {
    broker.approve(code, form_values).await.expect("approved");
}

pub(super) fn problem_body(title: &str, status: u16, detail: &str) -> String {
    format!(r#"{{"type":"about:blank","title":"{title}","status":{status},"detail":"{detail}"}}"#)
}

const TOKEN_JSON: &str = r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt_x","scope":"openid offline_access"}"#;

/// A 302 back to `q[back]` with `name` = `value` and the request's `state`.
fn redirect_back(
    q: &HashMap<String, String>,
    back: &str,
    name: &str,
    value: &str,
) -> axum::response::Response {
    let query = form_encode(&[(name, value), ("state", &q["state"])]);
    found(&format!("{}?{query}", q[back]))
}

/// A tiny IdP: `/authorize`, `/token` (client_secret_basic) and a passthrough `/consent`.
pub(super) fn idp() -> Server {
    type Q = Query<HashMap<String, String>>;
    let router = Router::new()
        .route(
            "/authorize",
            get(|Query(q): Q| async move { redirect_back(&q, "redirect_uri", "code", "AUTHCODE") }),
        )
        .route(
            "/token",
            post(|headers: HeaderMap| async move {
                let expected = format!("Basic {}", STANDARD.encode("client-1:secret-1"));
                match headers.get(header::AUTHORIZATION) {
                    Some(v) if v.as_bytes() == expected.as_bytes() => {
                        respond(200, "application/json", TOKEN_JSON)
                    }
                    _ => respond(401, "application/json", r#"{"error":"invalid_client"}"#),
                }
            }),
        )
        .route(
            "/consent",
            get(|Query(q): Q| async move { redirect_back(&q, "redirect", "connect_code", "cc_1") }),
        );
    Server::start("idp", router).expect("the IdP starts")
}

pub(super) fn with_idp(idp: &Server) -> BrokerConfig {
    let base = idp.base_url();
    let provider = OAuthProvider {
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        client_id: "client-1".into(),
        client_secret: "secret-1".into(),
    };
    BrokerConfig {
        providers: vec![("auth0".into(), provider)],
        ..quick()
    }
}

pub(super) fn query_param(path_and_query: &str, name: &str) -> String {
    let url = reqwest::Url::parse(&format!("http://x{path_and_query}")).expect("a URL");
    let found = url.query_pairs().find(|(k, _)| k == name);
    found.map(|(_, v)| v.into_owned()).unwrap_or_default()
}
