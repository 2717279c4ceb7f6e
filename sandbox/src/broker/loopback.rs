//! The broker's outbound HTTP: a client that never follows redirects nor uses a proxy, and the
//! rule that only loopback URLs are ever contacted (the fake never reaches further).

use std::time::Duration;

/// A client that never follows redirects nor uses a proxy.
pub(super) fn http_client(timeout_secs: u64) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let builder = builder
        .no_proxy()
        .timeout(Duration::from_secs(timeout_secs));
    builder
        .build()
        .map_err(|e| format!("building an HTTP client: {e}"))
}

/// Only `http(s)://127.0.0.1` and `http(s)://localhost` URLs are ever contacted.
pub(super) fn is_loopback_url(url: &str) -> bool {
    let loopback = |u: reqwest::Url| {
        matches!(u.scheme(), "http" | "https")
            && matches!(u.host_str(), Some("127.0.0.1" | "localhost"))
    };
    reqwest::Url::parse(url).is_ok_and(loopback)
}
