//! The wire pieces the fakes share: random tokens, PKCE, the clock, form encoding and decoding,
//! and JSON, problem+json and redirect responses.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The content type of RFC 9457 problem details.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

// ---- Tokens and time ------------------------------------------------------------------------

/// `prefix` + Python `secrets.token_urlsafe(n)`: `n` random bytes as unpadded base64url.
pub(crate) fn random_token(prefix: &str, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// PKCE S256 challenge of a verifier: unpadded base64url of its SHA-256.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

// ---- Form encoding --------------------------------------------------------------------------

/// `text` with everything but RFC 3986 unreserved characters escaped as `%XX`, a space as
/// `space`.
fn escape(text: &str, space: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push_str(space),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `name=value&…` with both sides passed through `encode`.
fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(
    pairs: &[(K, V)],
    encode: impl Fn(&str) -> String,
) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key.as_ref()), encode(value.as_ref())))
        .collect();
    encoded.join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a space as `%20`).
pub(crate) fn percent_encode(text: &str) -> String {
    escape(text, "%20")
}

/// `application/x-www-form-urlencoded` of the pairs, as Python's `urlencode` writes it (a space
/// as `+`).
pub(crate) fn form_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    encode_pairs(pairs, |text| escape(text, "+"))
}

/// A query string of the pairs, each side [`percent_encode`]d.
pub(crate) fn query_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    encode_pairs(pairs, percent_encode)
}

/// `url` with `query` appended after `?`, or after `&` when `url` has a query already; `url`
/// itself when `query` is empty.
pub(crate) fn with_query(url: &str, query: &str) -> String {
    if query.is_empty() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// Parses `a=1&b=2` (query strings and form bodies); the last occurrence of a name wins.
pub(crate) fn parse_form(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XX` and `+`; malformed escapes are kept as they are.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.extend(u8::try_from(high * 16 + low));
                i += 2;
            }
            (b'+', ..) => out.push(b' '),
            (b, ..) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- Responses ------------------------------------------------------------------------------

/// A response with this status, content type and body.
pub(crate) fn respond(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = [(header::CONTENT_TYPE, content_type.to_owned())];
    (status, content_type, body.into()).into_response()
}

/// Compact JSON in the value's own key order (a struct's declared order, null fields present).
pub(crate) fn json<T: Serialize>(status: u16, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => respond(status, "application/json", text),
        Err(e) => respond(500, "text/plain", e.to_string()),
    }
}

/// An RFC 9457 body: `{"type","title","status","detail"}`, then the `extra` members.
pub(crate) fn problem_json(
    kind: &str,
    title: &str,
    status: u16,
    detail: &str,
    extra: &str,
) -> String {
    let (kind, title, detail) = (Value::from(kind), Value::from(title), Value::from(detail));
    format!(r#"{{"type":{kind},"title":{title},"status":{status},"detail":{detail}{extra}}}"#)
}

/// An `application/problem+json` response with type `about:blank`.
pub(crate) fn problem(status: u16, title: &str, detail: &str) -> Response {
    let body = problem_json("about:blank", title, status, detail, "");
    respond(status, PROBLEM_JSON, body)
}

/// A 302 to `location`.
pub(crate) fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_form_encoding_match_the_brokers_formats() {
        assert_eq!(random_token("pt_", 32).len(), 46);
        assert_eq!(random_token("", 64).len(), 86);
        assert_eq!(
            form_encode(&[
                ("redirect_uri", "http://127.0.0.1:1/v1/cb"),
                ("scope", "read write")
            ]),
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fv1%2Fcb&scope=read+write"
        );
    }

    #[test]
    fn form_encoding_round_trips() {
        let text = "a b&c=d/é%+";
        assert_eq!(percent_decode(&percent_encode(text)), text);
        assert_eq!(parse_form("x=1+2&y=%2&z")["x"], "1 2");
        assert_eq!(parse_form("x=1+2&y=%2&z")["y"], "%2");
    }
}
