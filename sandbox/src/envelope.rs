//! The LinkAuth envelope "RSA-OAEP-256+AES-256-GCM" as the broker's browser page and the broker produce it.
//!
//! Layout (linkauth-broker.md §3): a random AES-256 key encrypts the plaintext with AES-GCM (12-byte
//! IV, 16-byte tag appended, no AAD); RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) wraps the AES
//! key to the agent's public key; the JSON object `{wrapped_key, iv, ciphertext}` (each std base64
//! with padding) is std-base64-encoded once more into the transport string. The page writes that
//! JSON compactly (`JSON.stringify`), the broker itself with Python's `json.dumps` spacing.
//!
//! Also here, crate-internal: the wire helpers of the fake broker (`crate::broker`): public-key
//! validation with the broker's exact messages, order-preserving JSON objects, Python-style
//! timestamps, tokens and form encoding, the broker's response shapes (problem+json, FastAPI's
//! API-key and 422 bodies), its built-in form templates, and its loopback-only HTTP client side
//! (the OAuth code exchange and the page's steps).

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use rsa::pkcs8::DecodePrivateKey;
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::{BigUint, Oaep, RsaPrivateKey, RsaPublicKey};
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::broker::OAuthProvider;

/// The `algorithm` value the broker stores and echoes with every ciphertext.
pub const ALGORITHM: &str = "RSA-OAEP-256+AES-256-GCM";

/// How the envelope JSON is written (a decoder must accept both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serialization {
    /// `JSON.stringify`, as the browser page writes it: compact.
    Browser,
    /// Python `json.dumps` defaults, as the broker writes it: `", "` and `": "` separators.
    Python,
}

/// Encrypts `plaintext` to `public_key` (std base64 of DER SPKI, as sent to POST /v1/sessions);
/// returns the transport string (std base64 of the envelope JSON).
///
/// # Errors
///
/// When the public key is not one the broker accepts (the text is the broker's 400 detail).
pub fn seal(public_key: &str, plaintext: &[u8], style: Serialization) -> Result<String, String> {
    let mut aes_key = [0u8; 32];
    let mut iv = [0u8; 12];
    OsRng.fill_bytes(&mut aes_key);
    OsRng.fill_bytes(&mut iv);
    seal_with(public_key, plaintext, &aes_key, &iv, style)
}

/// Same as [`seal`] with a fixed AES key and IV (for the worked test vector); the OAEP wrap
/// stays randomized.
///
/// # Errors
///
/// When the public key is not one the broker accepts, or encryption fails.
pub fn seal_with(
    public_key: &str,
    plaintext: &[u8],
    aes_key: &[u8; 32],
    iv: &[u8; 12],
    style: Serialization,
) -> Result<String, String> {
    let key = parse_public_key(public_key)?;
    let cipher = Aes256Gcm::new_from_slice(aes_key).map_err(|_| "AES-256 key rejected")?;
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(iv), plaintext)
        .map_err(|_| "AES-GCM encryption failed")?;
    let wrapped = key
        .encrypt(&mut OsRng, Oaep::new::<Sha256>(), aes_key)
        .map_err(|e| format!("RSA-OAEP key wrap failed: {e}"))?;
    let (wrapped, iv, ciphertext) = (
        STANDARD.encode(wrapped),
        STANDARD.encode(iv),
        STANDARD.encode(ciphertext),
    );
    let json = match style {
        Serialization::Browser => {
            format!(r#"{{"wrapped_key":"{wrapped}","iv":"{iv}","ciphertext":"{ciphertext}"}}"#)
        }
        Serialization::Python => python_json(&[
            ("wrapped_key", Value::String(wrapped)),
            ("iv", Value::String(iv)),
            ("ciphertext", Value::String(ciphertext)),
        ]),
    };
    Ok(STANDARD.encode(json))
}

/// Decrypts a transport string with a PKCS#8 DER private key; accepts both serializations.
///
/// # Errors
///
/// A sentence naming what is wrong (key, base64, JSON, unwrap, authentication); never key material.
pub fn open(private_key_pkcs8_der: &[u8], transport: &str) -> Result<Vec<u8>, String> {
    #[derive(Deserialize)]
    struct Envelope {
        wrapped_key: String,
        iv: String,
        ciphertext: String,
    }
    let key = RsaPrivateKey::from_pkcs8_der(private_key_pkcs8_der)
        .map_err(|_| "the private key is not PKCS#8 DER RSA")?;
    let outer = STANDARD
        .decode(transport)
        .map_err(|_| "the transport string is not base64")?;
    let envelope: Envelope =
        serde_json::from_slice(&outer).map_err(|_| "the envelope is not the expected JSON")?;
    let decode = |field: &str, v: &str| {
        STANDARD
            .decode(v)
            .map_err(|_| format!("envelope field {field:?} is not base64"))
    };
    let wrapped = decode("wrapped_key", &envelope.wrapped_key)?;
    let iv = decode("iv", &envelope.iv)?;
    let ciphertext = decode("ciphertext", &envelope.ciphertext)?;
    if iv.len() != 12 {
        return Err("the envelope's IV is not 12 bytes".into());
    }
    let aes_key = key
        .decrypt(Oaep::new::<Sha256>(), &wrapped)
        .map_err(|_| "the wrapped key does not open with this private key")?;
    let cipher =
        Aes256Gcm::new_from_slice(&aes_key).map_err(|_| "the wrapped key is not an AES-256 key")?;
    cipher
        .decrypt(Nonce::from_slice(&iv), ciphertext.as_ref())
        .map_err(|_| "the ciphertext fails authentication (tampered or truncated)".into())
}

/// Python `json.dumps(value)` with default settings, keys in the order given: `", "` / `": "`,
/// non-ASCII as `\uXXXX` (surrogate pairs above U+FFFF).
///
/// Nested objects come out in `serde_json`'s (sorted) key order; floats in Rust's shortest form.
pub fn python_json(pairs: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        python_str(&mut out, key);
        out.push_str(": ");
        python_value(&mut out, value);
    }
    out.push('}');
    out
}

fn python_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => python_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_str(out, key);
                out.push_str(": ");
                python_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A string as Python's `ensure_ascii` encoder writes it (everything outside `' '..='~'` escaped).
fn python_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Parses and checks an agent public key as `POST /v1/sessions` does; errors are the broker's
/// exact 400 details.
pub(crate) fn parse_public_key(b64: &str) -> Result<RsaPublicKey, String> {
    const INVALID: &str =
        "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format.";
    if b64.trim().is_empty() {
        return Err("public_key is required and must not be empty.".into());
    }
    let der = STANDARD.decode(b64).map_err(
        |_| "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo).",
    )?;
    let spki = SubjectPublicKeyInfoRef::from_der(&der).map_err(|_| INVALID)?;
    // Python `cryptography` class names of the other key types the broker would load.
    let other = match spki.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => None,
        "1.2.840.10045.2.1" => Some("ECPublicKey"),
        "1.3.101.112" => Some("Ed25519PublicKey"),
        "1.3.101.113" => Some("Ed448PublicKey"),
        "1.3.101.110" => Some("X25519PublicKey"),
        "1.3.101.111" => Some("X448PublicKey"),
        "1.2.840.10040.4.1" => Some("DSAPublicKey"),
        _ => return Err(INVALID.into()),
    };
    if let Some(class) = other {
        return Err(format!("public_key must be an RSA key, got {class}."));
    }
    let rsa = rsa::pkcs1::RsaPublicKey::from_der(spki.subject_public_key.raw_bytes())
        .map_err(|_| INVALID)?;
    let n = BigUint::from_bytes_be(rsa.modulus.as_bytes());
    let e = BigUint::from_bytes_be(rsa.public_exponent.as_bytes());
    let bits = n.bits();
    if bits < 2048 {
        return Err(format!(
            "RSA key too small ({bits} bits). Minimum is 2048 bits."
        ));
    }
    RsaPublicKey::new_with_max_size(n, e, 16384).map_err(|_| INVALID.into())
}

/// A JSON object read and written with its keys in document order (`serde_json::Map` sorts them).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Ordered<V>(pub(crate) Vec<(String, V)>);

impl<V> Ordered<V> {
    /// The first value under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, V>()? {
                    pairs.push(pair);
                }
                Ok(Ordered(pairs))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `prefix` + Python `secrets.token_urlsafe(n)`: `n` random bytes as unpadded base64url.
pub(crate) fn random_token(prefix: &str, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A user code: 8 characters from `A-Z0-9`, displayed `XXXX-XXXX`.
pub(crate) fn random_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut code = String::with_capacity(9);
    while code.len() < 9 {
        let mut byte = [0u8; 1];
        OsRng.fill_bytes(&mut byte);
        // 252 = 7 * 36: reject the tail so every symbol is equally likely.
        if byte[0] < 252 {
            if code.len() == 4 {
                code.push('-');
            }
            code.push(char::from(ALPHABET[usize::from(byte[0] % 36)]));
        }
    }
    code
}

/// `session_id` of a code: lowercase hex SHA-256 of the code without `-`, uppercased.
pub(crate) fn session_id(code: &str) -> String {
    let normal = code.replace('-', "").to_uppercase();
    Sha256::digest(normal.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
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

/// Python `datetime.isoformat()` of an aware UTC time, `2026-11-22T17:39:37.406881+00:00`
/// (without the fraction when it is 0).
pub(crate) fn isoformat(t: SystemTime) -> String {
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

/// The page's `JSON.stringify({name: value…})`: every field named in `fields` (the page's field
/// list) in order, `""` where `values` lacks it, then any other keys of `values`.
pub(crate) fn form_plaintext(fields: &Value, values: Option<Value>) -> Result<String, String> {
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

/// Byte equality in time independent of where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `application/x-www-form-urlencoded` of the pairs, as Python's `urlencode` writes it.
pub(crate) fn form_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        for (j, part) in [key.as_ref(), value.as_ref()].into_iter().enumerate() {
            if j == 1 {
                out.push('=');
            }
            for &b in part.as_bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        out.push(char::from(b));
                    }
                    b' ' => out.push('+'),
                    _ => {
                        let _ = write!(out, "%{b:02X}");
                    }
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The fake broker's responses

/// A response with this status, content type and body.
pub(crate) fn respond(status: u16, content_type: &str, body: impl Into<Body>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = [(header::CONTENT_TYPE, content_type.to_owned())];
    (status, content_type, body.into()).into_response()
}

/// Compact JSON in the struct's declared key order (null fields present).
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
    respond(status, "application/problem+json", body)
}

/// FastAPI's 422 for a body that does not validate (simplified to one entry).
pub(crate) fn unprocessable(msg: &str) -> Response {
    let msg = Value::from(msg);
    let item = format!(r#"{{"type":"value_error","loc":["body"],"msg":{msg},"input":null}}"#);
    respond(422, "application/json", format!(r#"{{"detail":[{item}]}}"#))
}

/// A JSON request body, or the text of why it does not parse.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// A 302 to `location`.
pub(crate) fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// FastAPI's wrapped 401/403 when a key is `expected` and `X-API-Key` is missing or wrong.
pub(crate) fn api_key_denied(expected: Option<&str>, headers: &HeaderMap) -> Option<Response> {
    let expected = expected?;
    let (status, title, detail) = match headers.get("x-api-key").map(|v| v.as_bytes()) {
        Some(given) if !given.is_empty() && constant_time_eq(given, expected.as_bytes()) => {
            return None;
        }
        None | Some(b"") => (
            401,
            "API Key Required",
            "Missing X-API-Key header. Provide a valid API key to access this endpoint.",
        ),
        Some(_) => (403, "Invalid API Key", "The provided API key is not valid."),
    };
    let body = problem_json("about:blank", title, status, detail, "");
    Some(respond(
        status,
        "application/json",
        format!(r#"{{"detail":{body}}}"#),
    ))
}

/// A form field row: name, label, type, required.
type FieldRow = (&'static str, &'static str, &'static str, bool);

/// The broker's built-in form templates: id, display name, fields.
const BUILTIN_FORMS: [(&str, &str, &[FieldRow]); 5] = [
    (
        "api_key",
        "API Key",
        &[("api_key", "API Key", "password", true)],
    ),
    (
        "basic_auth",
        "Login Credentials",
        &[
            ("username", "Username", "text", true),
            ("password", "Password", "password", true),
        ],
    ),
    (
        "aws",
        "AWS Credentials",
        &[
            ("access_key_id", "Access Key ID", "text", true),
            ("secret_access_key", "Secret Access Key", "password", true),
            ("region", "Region", "text", false),
        ],
    ),
    (
        "openai",
        "OpenAI",
        &[("api_key", "OpenAI API Key", "password", true)],
    ),
    (
        "anthropic",
        "Anthropic",
        &[("api_key", "Anthropic API Key", "password", true)],
    ),
];

/// A form field, as sent in `fields` and served to the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Field {
    name: String,
    label: String,
    #[serde(rename = "type", default = "text")]
    kind: String,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    options: Option<Vec<String>>,
}

fn text() -> String {
    "text".into()
}

fn yes() -> bool {
    true
}

/// Template resolution (linkauth-broker.md §4): display name, OAuth or not, fields; or the
/// "Invalid Template" detail. (The caller has checked that a named provider is configured.)
pub(crate) fn resolve_template(
    template: Option<&str>,
    display_name: Option<&str>,
    fields: &Option<Vec<Field>>,
    provider: &Option<String>,
) -> Result<(String, bool, Vec<Field>), String> {
    let name = |default: &str| display_name.unwrap_or(default).to_owned();
    if let Some(provider) = provider {
        return Ok((name(&format!("OAuth ({provider})")), true, Vec::new()));
    }
    if let Some((_, display_name, rows)) = BUILTIN_FORMS.iter().find(|t| Some(t.0) == template) {
        let fields = rows.iter().map(|&(name, label, kind, required)| Field {
            name: name.into(),
            label: label.into(),
            kind: kind.into(),
            required,
            options: None,
        });
        return Ok((name(display_name), false, fields.collect()));
    }
    match fields {
        Some(fields) if !fields.is_empty() => {
            Ok((name("Custom Credentials"), false, fields.clone()))
        }
        _ => {
            let id = template.unwrap_or("None");
            Err(format!(
                "Unknown template '{id}' and no custom fields or OAuth provider provided"
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fake broker's HTTP client side (loopback only)

/// A client that never follows redirects nor uses a proxy.
pub(crate) fn http_client(timeout_secs: u64) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let builder = builder
        .no_proxy()
        .timeout(Duration::from_secs(timeout_secs));
    builder
        .build()
        .map_err(|e| format!("building an HTTP client: {e}"))
}

/// Only `http(s)://127.0.0.1` and `http(s)://localhost` URLs are ever contacted.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let loopback = |u: reqwest::Url| {
        matches!(u.scheme(), "http" | "https")
            && matches!(u.host_str(), Some("127.0.0.1" | "localhost"))
    };
    reqwest::Url::parse(url).is_ok_and(loopback)
}

/// Sends `request`: its JSON body (`null` if none) when the status is `want`, else an error
/// naming `step`.
pub(crate) async fn fetch(
    step: &str,
    request: reqwest::RequestBuilder,
    want: u16,
) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| format!("{step}: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{step}: {e}"))?;
    if status.as_u16() != want {
        return Err(format!("{step}: expected {want}, got {status}: {body}"));
    }
    Ok(serde_json::from_str(&body).unwrap_or_default())
}

/// The provider authorization URL of standard mode, query in the broker's order:
/// `response_type, client_id, redirect_uri, scope, state, code_challenge (S256 of the verifier),
/// code_challenge_method`, then the agent's extra parameters.
pub(crate) fn authorize_url(
    provider: &OAuthProvider,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    verifier: &str,
    extra: &[(String, String)],
) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &provider.client_id),
        ("redirect_uri", redirect_uri),
    ];
    let (scope, challenge) = (scopes.join(" "), pkce_challenge(verifier));
    if !scopes.is_empty() {
        params.push(("scope", &scope));
    }
    params.extend([("state", state), ("code_challenge", &challenge)]);
    params.push(("code_challenge_method", "S256"));
    params.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let separator = if provider.authorize_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{separator}{}",
        provider.authorize_url,
        form_encode(&params)
    )
}

/// The code exchange as authlib's `fetch_token` does it (client_secret_basic): the token object
/// in the provider's key order, plus `expires_at` (now + `expires_in`) when absent.
pub(crate) async fn exchange_code(
    provider: &OAuthProvider,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> Result<Vec<(String, Value)>, String> {
    if !is_loopback_url(&provider.token_url) {
        return Err("The token endpoint is not on loopback.".into());
    }
    let basic = STANDARD.encode(format!("{}:{}", provider.client_id, provider.client_secret));
    let form = form_encode(&[
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
        ("code", code),
        ("code_verifier", verifier),
    ]);
    let form_type = "application/x-www-form-urlencoded;charset=UTF-8";
    let request = http_client(30)?.post(&provider.token_url).body(form);
    let request = request.header(header::AUTHORIZATION, format!("Basic {basic}"));
    let request = request.header(header::ACCEPT, "application/json");
    let response = request.header(header::CONTENT_TYPE, form_type).send().await;
    let response = response.map_err(|e| format!("Token exchange failed: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let mut token = match serde_json::from_str::<Ordered<Value>>(&text) {
        Ok(token) if status.is_success() && token.get("error").is_none() => token.0,
        _ => return Err(format!("Token exchange failed: {status}: {text}")),
    };
    let has = |key: &str| token.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let expires_in =
        has("expires_in").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
    if let Some(secs) = expires_in.filter(|s| *s != 0 && has("expires_at").is_none()) {
        let now = i64::try_from(unix_now()).unwrap_or_default();
        token.push(("expires_at".into(), Value::from(now + secs)));
    }
    Ok(token)
}

/// The person's steps in the browser (see `FakeBroker::approve`) against the broker at `base`.
pub(crate) async fn act_in_browser(
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
        return fetch("POST /v1/connect/{code}/complete", complete, 204)
            .await
            .map(drop);
    }
    let query = form_encode(&[("connect_token", token)]);
    let mut url = format!("{base}/v1/oauth/authorize/{code}?{query}");
    for _ in 0..10 {
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
    Err("following the OAuth redirects: more than 10 redirects".into())
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
pub(crate) async fn forward(
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
    use super::*;

    const VECTOR_PRIVATE_KEY: &str = "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCbOsIJsV8X+8Uzs47oRoYFMXJEjfw5YBcysDeLpvCcC0c0wv0TKDG94VJC1kC0OTO1R2s6I51PNkUip7NQYK6s0lOo0UkX6WLVWWhh9ExtcNZ5vs4EtumKoNstvyZ6h9TlJI1Z10o9/442PuBcuZ0iv5kleG+cl3LjsBANaCUXoJ6LZIDP6535GzNvzz8NWB+sIxWq4J6zos07yDJDzivGE4Cj2rZtNTsQnzXyFB6C5y4gXOD2fEUhxHkQ7uH2X8Nept5Pbtpws4ZyTPta9ygxxgSf5Oe5UDgZlZxEEllKEplC6CjhriDSIBGGwta0xItsrNzQ1kdOYiIa2TijdYJhAgMBAAECggEAAcKfparTExC3Upfu1G0hou3Fx8eREc4oT9pWCZQ0i/MddRiK9HcoYpNWB/eprIGDjRgzZpQ1z0qka7lZcV1kowVljndabADTrpYAzC+QLaOHGG1UpRK1QO2vCUHu0UU4tvp8TIWs9q6vBv1yijVOoLC/L1YXdJVLvQ+SNwdfIvlE794fj4iJPkw6UnNj/+mEkfzzM0c0yKGnoWUQvbx/cjf7BQUdlej8aBFgHdb9m5qET9RcOFGtQ46tBg+BI2BGaodvC8vNIOfH/8EPgyRo0UYwp/8HYtHZt13TAmE6ynAatw2k3sm8wYcKxpQvVLKCe47ggcZ/3GYoRLsbNeY4GQKBgQDWWpnBCNDTwlaaJBhavOCtLbk+X4Y6Up9Y4sljoU1KgCDDuealc9d7HCO0I1IN9OAovHDglO7g+7es1cY04hAi33pZLVdOtYx9qEfYhWl3GQEL5APay2tr+F5JtQV7sv4DFAQ/ozXN1VGswp86yZJWUcTWPfORNvHA3daTkQrpTQKBgQC5Y3dL+zON0PyIwcuFFBArTQg7r8yBfD95f2TWvaJnMr2MvrumwMpvu2AO2iVnyd174ldYRkJ/VrLc20VtriXJq9Wv8NPiEJzRuAeSB1tMRoYv17eycVfWrR149FuExgWqDQIi2gT35ffpsM4J9e3/WBk0kNEJ8rBk1h0hxNHTZQKBgQCURnvRMd3yfZ4WZh2KttjcMqLPaJibQ4gCnm4cwvmKLXN8sN3BWY6XFHIGK+CY0uk0hJW4ZI2Rh84Yeo/vCOmMlfY2Nc0NHzydt4hrWG4J+nvk08du1APs3hOq/NNcLAbV7kS6GJYhWgxzavVmXwUhPNLiOFyB+PXmKg5CabSYiQKBgQCoI4U8PV2ZntSbeCCM1xB/JUN1VtFFExpCqH8doCpeLI/rycVJzQsNYUUS01kfk980D6mmXzrKYSih1KFYg5y0FwwcoXCaVPTV5HHBSLjOKhxj4eMyjUfcZXAYlo82kZ7rhxbL4y6kY0eBBKEqOYmckBt0KG/e9OR04BjV2rtvXQKBgQDR4ylpmGI7axGqWwzohm2NWsQRv+zvybSZ5o3hQIEMk4xnp8ul9uCCmDJJW6rSCcHwsHA6UUHQ+S/HoOTRN6tUnDWpVvZM/m1Y0ezrTq5E/Cn6KUvKQBTyWGkkx91qUKrc34/wIr5RMqqdzlSo81Mig81iSa6Sx7A1C3tpWayMTQ==";
    const VECTOR_PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmzrCCbFfF/vFM7OO6EaGBTFyRI38OWAXMrA3i6bwnAtHNML9EygxveFSQtZAtDkztUdrOiOdTzZFIqezUGCurNJTqNFJF+li1VloYfRMbXDWeb7OBLbpiqDbLb8meofU5SSNWddKPf+ONj7gXLmdIr+ZJXhvnJdy47AQDWglF6Cei2SAz+ud+Rszb88/DVgfrCMVquCes6LNO8gyQ84rxhOAo9q2bTU7EJ818hQegucuIFzg9nxFIcR5EO7h9l/DXqbeT27acLOGckz7WvcoMcYEn+TnuVA4GZWcRBJZShKZQugo4a4g0iARhsLWtMSLbKzc0NZHTmIiGtk4o3WCYQIDAQAB";
    const VECTOR_TRANSPORT: &str = "eyJ3cmFwcGVkX2tleSI6IlFBME1oWnFCQW9JbTlKb1RwOVIrZWRjWng1aHB2QTZ3c1RRRjZVOWF3c3Q4THkzV0NMc1pBTXN3cG1XSFNjTUJtTk5uSTExVVZYQW41ZnAzNUoyZ3l5N3VBemZxNUtoSE1yajBRbDkvVXRKeFZVSDNQZ0hhM2x3ZXpXNDdxUWtZUXRkT1d3eDFOaU1BNmlONTFuTmdmaVZVVVRnUFY2a0REWUlEWHdTMmdMd3JobTd5M3RuK1llbjVZczgzR2ZCUWtCRHdPWFpMekxRWXJ0RWZtOGxQUVFvYzB5UWE1WFAySU9pK0pZOFE1c216ZlErK0crVFpFSnlsMnY4Y21KWXlaTWg5NGdVeTJVWDZsS0piQS9IcWRhdmhuL2lZOVlPT3UrNWhGNEIrdEJKQmZEaHRLRFRkSi94MmNqOU9SQitDRzA1cmpZVjNLYVlaaGdrTDB0aWFKQT09IiwiaXYiOiJBQUVDQXdRRkJnY0lDUW9MIiwiY2lwaGVydGV4dCI6IlBDQzNhNnk2cVg3MFk2MnB3b0pWR2VhbDh4bkJTV3hlUlFZdHBVUmgrdHJvZ2EyNkNnZmZidEk9In0=";

    fn vector_key() -> Vec<u8> {
        STANDARD
            .decode(VECTOR_PRIVATE_KEY)
            .expect("the vector key is base64")
    }

    fn vector_aes() -> ([u8; 32], [u8; 12]) {
        let mut key = [0u8; 32];
        let mut iv = [0u8; 12];
        for (i, b) in key.iter_mut().enumerate() {
            *b = i as u8;
        }
        for (i, b) in iv.iter_mut().enumerate() {
            *b = i as u8;
        }
        (key, iv)
    }

    fn envelope_json(transport: &str) -> String {
        String::from_utf8(STANDARD.decode(transport).expect("transport is base64"))
            .expect("envelope is UTF-8")
    }

    #[test]
    fn the_worked_test_vector_opens_to_the_api_key() {
        let plain = open(&vector_key(), VECTOR_TRANSPORT).expect("the vector opens");
        assert_eq!(plain, br#"{"api_key":"sk-test-123"}"#);
    }

    #[test]
    fn seal_with_the_vector_key_and_iv_reproduces_the_vector_ciphertext() {
        let (key, iv) = vector_aes();
        let plain = br#"{"api_key":"sk-test-123"}"#;
        let transport = seal_with(VECTOR_PUBLIC_KEY, plain, &key, &iv, Serialization::Browser)
            .expect("sealing works");
        let json = envelope_json(&transport);
        assert!(json.starts_with(r#"{"wrapped_key":""#), "{json}");
        assert!(
            json.ends_with(
                r#"","iv":"AAECAwQFBgcICQoL","ciphertext":"PCC3a6y6qX70Y62pwoJVGeal8xnBSWxeRQYtpURh+troga26CgffbtI="}"#
            ),
            "{json}"
        );
        assert!(transport.starts_with("eyJ3cmFwcGVkX2tleSI6"));
        assert_eq!(open(&vector_key(), &transport).expect("opens"), plain);
    }

    #[test]
    fn both_serializations_round_trip() {
        let plain = "{\"username\":\"alice\",\"password\":\"S3cr3t-ä\"}".as_bytes();
        let browser = seal(VECTOR_PUBLIC_KEY, plain, Serialization::Browser).expect("browser seal");
        let python = seal(VECTOR_PUBLIC_KEY, plain, Serialization::Python).expect("python seal");
        assert!(envelope_json(&browser).starts_with(r#"{"wrapped_key":""#));
        let python_envelope = envelope_json(&python);
        assert!(
            python_envelope.contains(r#""wrapped_key": ""#),
            "{python_envelope}"
        );
        assert!(
            python_envelope.contains(r#"", "iv": ""#),
            "{python_envelope}"
        );
        assert_eq!(open(&vector_key(), &browser).expect("browser opens"), plain);
        assert_eq!(open(&vector_key(), &python).expect("python opens"), plain);
    }

    #[test]
    fn open_refuses_garbage_and_tampering() {
        let key = vector_key();
        assert!(open(&key, "not base64 !!").is_err());
        assert!(open(&key, &STANDARD.encode("{}")).is_err());
        let truncated = &VECTOR_TRANSPORT[..VECTOR_TRANSPORT.len() - 8];
        assert!(open(&key, truncated).is_err());
        let mut json = envelope_json(VECTOR_TRANSPORT);
        json = json.replace("PCC3", "QCC3");
        let err = open(&key, &STANDARD.encode(json)).expect_err("tampered");
        assert!(err.contains("authentication"), "{err}");
    }

    #[test]
    fn python_json_escapes_like_json_dumps() {
        let text = python_json(&[
            ("name", Value::String("Zürich 😀 \"q\"\n\u{7f}".into())),
            ("n", serde_json::json!(3600)),
            ("list", serde_json::json!([1, "a", null, true])),
            ("nested", serde_json::json!({"k": "v"})),
        ]);
        assert_eq!(
            text,
            r#"{"name": "Z\u00fcrich \ud83d\ude00 \"q\"\n\u007f", "n": 3600, "list": [1, "a", null, true], "nested": {"k": "v"}}"#
        );
        assert_eq!(
            python_json(&[("a", Value::String("ä".into()))]),
            r#"{"a": "\u00e4"}"#
        );
    }

    #[test]
    fn public_key_errors_carry_the_brokers_exact_details() {
        assert!(parse_public_key(VECTOR_PUBLIC_KEY).is_ok());
        assert_eq!(
            parse_public_key("").expect_err("empty"),
            "public_key is required and must not be empty."
        );
        assert_eq!(
            parse_public_key("not base64!").expect_err("not base64"),
            "public_key is not valid base64. Expected base64-encoded DER (SubjectPublicKeyInfo)."
        );
        assert_eq!(
            parse_public_key("AAAA").expect_err("not DER"),
            "public_key is not a valid public key. Expected RSA SubjectPublicKeyInfo in DER format."
        );
    }

    #[test]
    fn helpers_match_the_brokers_formats() {
        assert_eq!(
            session_id("KQM0-L2OW"),
            "091f5b4686bb9e3f1db14d3cfadb49c10d752a8327591830391b71ca3c9d7aa3"
        );
        assert_eq!(session_id("kqm0l2ow"), session_id("KQM0-L2OW"));
        let code = random_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(
            code.chars()
                .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(random_token("pt_", 32).len(), 46);
        assert_eq!(random_token("", 64).len(), 86);
        let t = UNIX_EPOCH + Duration::from_micros(1_795_372_198_406_881);
        assert_eq!(isoformat(t), "2026-11-22T18:29:58.406881+00:00");
        assert_eq!(
            isoformat(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00+00:00"
        );
        assert_eq!(
            form_encode(&[
                ("redirect_uri", "http://127.0.0.1:1/v1/cb"),
                ("scope", "read write")
            ]),
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fv1%2Fcb&scope=read+write"
        );
    }
}
