//! `POST /v1/proxy`: the broker relays an agent's HTTP request (to loopback targets only) and
//! wraps the answer as `{"status_code","headers","body"}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::Ctx;
use super::fastapi::{check_api_key, parse_body, unprocessable};
use super::loopback::{http_client, is_loopback_url};
use super::ordered::Ordered;
use crate::wire::{json, problem};

#[derive(Deserialize)]
struct ProxyRequest {
    method: String,
    url: String,
    headers: Option<Ordered<String>>,
    body: Option<String>,
    timeout: Option<i64>,
}

pub(super) async fn proxy(
    State(shared): Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    check_api_key(shared.config.api_key.as_deref(), &headers)?;
    let req: ProxyRequest = parse_body(&body)?;
    let timeout = req.timeout.unwrap_or(30);
    if !METHODS.contains(&req.method.as_str()) || !(1..=120).contains(&timeout) {
        return Err(unprocessable(
            "method must be GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS, timeout 1..120",
        ));
    }
    if !shared.config.proxy_enabled {
        let detail = "The HTTP proxy endpoint is disabled on this broker.";
        return Err(problem(403, "Proxy Disabled", detail));
    }
    let headers = req.headers.map(|h| h.0).unwrap_or_default();
    let timeout = timeout.clamp(1, 60);
    Ok(forward(&req.method, &req.url, headers, req.body, timeout).await)
}

#[derive(Serialize)]
struct ProxyResponse {
    status_code: u16,
    headers: Ordered<String>,
    body: String,
}

/// The proxy's relay: sends the request (no redirects) and wraps the answer as
/// `{"status_code","headers","body"}`; 403 for a target that is not loopback (checked before any
/// connection: the fake never reaches further), 502/504 when the upstream fails.
async fn forward(
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<String>,
    timeout: i64,
) -> Response {
    if !is_loopback_url(url) {
        let detail = "The target domain is not on the proxy allowlist.";
        return problem(403, "Domain Not Allowed", detail);
    }
    let upstream_error = |e: reqwest::Error| {
        if e.is_timeout() {
            let detail = format!("The upstream server did not respond within {timeout}s.");
            return problem(504, "Gateway Timeout", &detail);
        }
        problem(
            502,
            "Bad Gateway",
            &format!("Failed to reach upstream: {e}"),
        )
    };
    let client = match http_client(timeout.unsigned_abs()) {
        Ok(client) => client,
        Err(e) => return problem(502, "Bad Gateway", &e),
    };
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default();
    let mut outbound = client.request(method, url);
    for (name, value) in headers {
        outbound = outbound.header(name, value);
    }
    if let Some(body) = body {
        outbound = outbound.body(body);
    }
    let upstream = match outbound.send().await {
        Ok(upstream) => upstream,
        Err(e) => return upstream_error(e),
    };
    let status_code = upstream.status().as_u16();
    // httpx merges repeated headers with ", ".
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in upstream.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        match merged.iter_mut().find(|(n, _)| n == name.as_str()) {
            Some((_, existing)) => *existing = format!("{existing}, {value}"),
            None => merged.push((name.as_str().to_owned(), value.into_owned())),
        }
    }
    let body = match upstream.bytes().await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return upstream_error(e),
    };
    let headers = Ordered(merged);
    json(
        200,
        &ProxyResponse {
            status_code,
            headers,
            body,
        },
    )
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::header;
    use axum::routing::post;
    use serde_json::json;

    use super::super::BrokerConfig;
    use super::super::fixtures::{post_json, problem_body, quick, start};
    use crate::server::Server;
    use crate::wire::respond;

    /// An upstream whose `POST /echo` answers 201 `{"got": body}` with an `x-upstream` header.
    fn echo_upstream() -> Server {
        let echo = post(|body: String| async move {
            let mut response = respond(201, "application/json", format!(r#"{{"got":"{body}"}}"#));
            response
                .headers_mut()
                .insert("x-upstream", header::HeaderValue::from_static("yes"));
            response
        });
        Server::start("upstream", Router::new().route("/echo", echo)).expect("upstream starts")
    }

    #[tokio::test]
    async fn the_proxy_forwards_to_loopback_and_refuses_other_hosts() {
        let upstream = echo_upstream();
        let broker = start(quick());
        let url = format!("{}/v1/proxy", broker.base_url());
        let request = json!({
            "method": "POST", "url": format!("{}/echo", upstream.base_url()),
            "headers": {"X-Test": "1", "Content-Type": "text/plain"}, "body": "hello",
        });
        let reply = post_json(&url, &request).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v = reply.json();
        assert_eq!(v["status_code"], 201);
        assert_eq!(v["body"], r#"{"got":"hello"}"#);
        assert_eq!(v["headers"]["x-upstream"], "yes");
        assert_eq!(v["headers"]["content-type"], "application/json");
        assert!(reply.body.starts_with(r#"{"status_code":201,"headers":{"#));
        let seen = upstream.requests();
        assert_eq!((seen.len(), seen[0].body.as_str()), (1, "hello"));

        let outside = json!({"method": "GET", "url": "https://example.com/"});
        let reply = post_json(&url, &outside).await;
        let detail = "The target domain is not on the proxy allowlist.";
        assert_eq!(
            (reply.status, reply.body),
            (403, problem_body("Domain Not Allowed", 403, detail))
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = closed.local_addr().expect("an address").port();
        drop(closed);
        let unreachable = json!({"method": "GET", "url": format!("http://127.0.0.1:{port}/")});
        let reply = post_json(&url, &unreachable).await;
        assert_eq!(reply.status, 502);
        assert_eq!(reply.json()["title"], "Bad Gateway");

        let bad_method = json!({"method": "TRACE", "url": format!("{}/echo", upstream.base_url())});
        assert_eq!(post_json(&url, &bad_method).await.status, 422);

        let disabled = start(BrokerConfig {
            proxy_enabled: false,
            ..quick()
        });
        let reply = post_json(&format!("{}/v1/proxy", disabled.base_url()), &request).await;
        let detail = "The HTTP proxy endpoint is disabled on this broker.";
        assert_eq!(
            (reply.status, reply.body),
            (403, problem_body("Proxy Disabled", 403, detail))
        );
    }
}
