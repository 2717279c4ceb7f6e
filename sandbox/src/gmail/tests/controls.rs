//! Authentication, latency, canned failures and the inspection helpers.

use std::time::{Duration, Instant};

use super::{TOKEN, envelope, get, gmail, url};

#[tokio::test]
async fn requests_without_the_right_token_get_gmails_401() {
    let g = gmail();
    let client = reqwest::Client::new();
    for auth in [None, Some("Bearer ya29.wrong"), Some(TOKEN)] {
        let mut request = client.get(url(&g, "labels"));
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(body["error"]["errors"][0]["reason"], "authError");
    }
    let recorded = g.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[1].line(), "GET /gmail/v1/users/me/labels");
    assert_eq!(
        recorded[1].authorization.as_deref(),
        Some("Bearer ya29.wrong")
    );
}

#[tokio::test]
async fn latency_delays_every_request_but_requests_overlap() {
    let g = gmail();
    g.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    let client = reqwest::Client::new();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let request = client.get(url(&g, "labels")).bearer_auth(TOKEN);
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(600),
        "served one by one: {elapsed:?}"
    );
    g.set_latency(Duration::ZERO);
    let started = Instant::now();
    get(&g, "profile").await;
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn fail_next_answers_exactly_once_with_the_canned_response() {
    let g = gmail();
    let body = envelope(
        429,
        "RESOURCE_EXHAUSTED",
        "Too many requests",
        "rateLimitExceeded",
    );
    let text = body.to_string();
    g.fail_next(
        429,
        &[("Retry-After", "1"), ("Content-Type", "application/json")],
        &text,
    );
    let response = reqwest::Client::new()
        .get(url(&g, "labels"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429, "even without a token");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.unwrap(), text);
    assert_eq!(get(&g, "labels").await.0, 200);

    g.fail_next(503, &[], "");
    g.fail_next(500, &[], "oops");
    let response = reqwest::Client::new()
        .get(url(&g, "profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().get("content-type").is_none());
    let response = reqwest::Client::new()
        .get(url(&g, "labels"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500, "calls queue up");
    assert_eq!(response.text().await.unwrap(), "oops");
    assert_eq!(get(&g, "profile").await.0, 200);
}

#[tokio::test]
async fn inspection_helpers_report_the_mailbox() {
    let g = gmail();
    assert_eq!(g.message_count(), 32);
    assert_eq!(g.labels_of("18c0000000000009").unwrap(), ["SPAM", "UNREAD"]);
    assert_eq!(g.labels_of("nope"), None);
    assert!(g.sent().is_empty());
    let debug = format!("{g:?}");
    assert!(
        debug.contains(&g.base_url()) && !debug.contains(TOKEN),
        "{debug}"
    );
}
