//! Opening the LinkAuth envelope "RSA-OAEP-256+AES-256-GCM" (linkauth-broker.md §3): std
//! base64 of a JSON object `{wrapped_key, iv, ciphertext}` (each std base64), the AES-256 key
//! wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256, empty label), the content AES-256-GCM with a
//! 12-byte IV, the tag appended and no AAD. The JSON is parsed, not compared, so both the
//! browser's compact serialization and the broker's Python one are accepted.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::{Oaep, RsaPrivateKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

/// Why an envelope could not be opened. The text never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError(pub String);

/// Decrypts `transport` with `key` and returns the plaintext.
pub fn open(key: &RsaPrivateKey, transport: &str) -> Result<Vec<u8>, EnvelopeError> {
    #[derive(Deserialize)]
    struct Envelope {
        wrapped_key: String,
        iv: String,
        ciphertext: String,
    }
    let err = |m: &str| EnvelopeError(m.to_owned());
    let outer = STANDARD
        .decode(transport.trim())
        .map_err(|_| err("the ciphertext is not base64"))?;
    let env: Envelope =
        serde_json::from_slice(&outer).map_err(|_| err("the envelope is not the expected JSON"))?;
    let decode = |field: &str, v: &str| {
        STANDARD
            .decode(v)
            .map_err(|_| EnvelopeError(format!("envelope field {field:?} is not base64")))
    };
    let wrapped = decode("wrapped_key", &env.wrapped_key)?;
    let iv = decode("iv", &env.iv)?;
    let ciphertext = decode("ciphertext", &env.ciphertext)?;
    if iv.len() != 12 {
        return Err(err("the envelope's IV is not 12 bytes"));
    }
    let aes_key = key.decrypt(Oaep::new::<Sha256>(), &wrapped).map_err(|_| {
        err("the wrapped key does not open with this agent's key (encrypted to another key?)")
    })?;
    let cipher = Aes256Gcm::new_from_slice(&aes_key)
        .map_err(|_| err("the wrapped key is not an AES-256 key"))?;
    cipher
        .decrypt(Nonce::from_slice(&iv), ciphertext.as_ref())
        .map_err(|_| err("the ciphertext fails authentication (tampered or truncated)"))
}

/// Decrypts and parses the plaintext as a JSON object.
pub fn open_json(
    key: &RsaPrivateKey,
    transport: &str,
) -> Result<Map<String, Value>, EnvelopeError> {
    let plain = open(key, transport)?;
    match serde_json::from_slice(&plain) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(EnvelopeError(
            "the decrypted credential is not a JSON object".into(),
        )),
    }
}

/// Picks the token out of a decrypted credential (reference/mcs-python-sdk.md §3.1): the
/// `token_field` if set and present, else the first of `preferred`, else the only field.
pub fn extract(
    credential: &Map<String, Value>,
    token_field: Option<&str>,
    preferred: &[&str],
) -> Option<String> {
    let text = |k: &str| {
        credential
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(field) = token_field {
        return text(field).map(str::to_owned);
    }
    if let Some(v) = preferred.iter().find_map(|k| text(k)) {
        return Some(v.to_owned());
    }
    match credential.values().collect::<Vec<_>>().as_slice() {
        [Value::String(only)] if !only.is_empty() => Some(only.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;

    // The worked test vector of linkauth-broker.md §3.1.
    const KEY: &str = "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCbOsIJsV8X+8Uzs47oRoYFMXJEjfw5YBcysDeLpvCcC0c0wv0TKDG94VJC1kC0OTO1R2s6I51PNkUip7NQYK6s0lOo0UkX6WLVWWhh9ExtcNZ5vs4EtumKoNstvyZ6h9TlJI1Z10o9/442PuBcuZ0iv5kleG+cl3LjsBANaCUXoJ6LZIDP6535GzNvzz8NWB+sIxWq4J6zos07yDJDzivGE4Cj2rZtNTsQnzXyFB6C5y4gXOD2fEUhxHkQ7uH2X8Nept5Pbtpws4ZyTPta9ygxxgSf5Oe5UDgZlZxEEllKEplC6CjhriDSIBGGwta0xItsrNzQ1kdOYiIa2TijdYJhAgMBAAECggEAAcKfparTExC3Upfu1G0hou3Fx8eREc4oT9pWCZQ0i/MddRiK9HcoYpNWB/eprIGDjRgzZpQ1z0qka7lZcV1kowVljndabADTrpYAzC+QLaOHGG1UpRK1QO2vCUHu0UU4tvp8TIWs9q6vBv1yijVOoLC/L1YXdJVLvQ+SNwdfIvlE794fj4iJPkw6UnNj/+mEkfzzM0c0yKGnoWUQvbx/cjf7BQUdlej8aBFgHdb9m5qET9RcOFGtQ46tBg+BI2BGaodvC8vNIOfH/8EPgyRo0UYwp/8HYtHZt13TAmE6ynAatw2k3sm8wYcKxpQvVLKCe47ggcZ/3GYoRLsbNeY4GQKBgQDWWpnBCNDTwlaaJBhavOCtLbk+X4Y6Up9Y4sljoU1KgCDDuealc9d7HCO0I1IN9OAovHDglO7g+7es1cY04hAi33pZLVdOtYx9qEfYhWl3GQEL5APay2tr+F5JtQV7sv4DFAQ/ozXN1VGswp86yZJWUcTWPfORNvHA3daTkQrpTQKBgQC5Y3dL+zON0PyIwcuFFBArTQg7r8yBfD95f2TWvaJnMr2MvrumwMpvu2AO2iVnyd174ldYRkJ/VrLc20VtriXJq9Wv8NPiEJzRuAeSB1tMRoYv17eycVfWrR149FuExgWqDQIi2gT35ffpsM4J9e3/WBk0kNEJ8rBk1h0hxNHTZQKBgQCURnvRMd3yfZ4WZh2KttjcMqLPaJibQ4gCnm4cwvmKLXN8sN3BWY6XFHIGK+CY0uk0hJW4ZI2Rh84Yeo/vCOmMlfY2Nc0NHzydt4hrWG4J+nvk08du1APs3hOq/NNcLAbV7kS6GJYhWgxzavVmXwUhPNLiOFyB+PXmKg5CabSYiQKBgQCoI4U8PV2ZntSbeCCM1xB/JUN1VtFFExpCqH8doCpeLI/rycVJzQsNYUUS01kfk980D6mmXzrKYSih1KFYg5y0FwwcoXCaVPTV5HHBSLjOKhxj4eMyjUfcZXAYlo82kZ7rhxbL4y6kY0eBBKEqOYmckBt0KG/e9OR04BjV2rtvXQKBgQDR4ylpmGI7axGqWwzohm2NWsQRv+zvybSZ5o3hQIEMk4xnp8ul9uCCmDJJW6rSCcHwsHA6UUHQ+S/HoOTRN6tUnDWpVvZM/m1Y0ezrTq5E/Cn6KUvKQBTyWGkkx91qUKrc34/wIr5RMqqdzlSo81Mig81iSa6Sx7A1C3tpWayMTQ==";
    const TRANSPORT: &str = "eyJ3cmFwcGVkX2tleSI6IlFBME1oWnFCQW9JbTlKb1RwOVIrZWRjWng1aHB2QTZ3c1RRRjZVOWF3c3Q4THkzV0NMc1pBTXN3cG1XSFNjTUJtTk5uSTExVVZYQW41ZnAzNUoyZ3l5N3VBemZxNUtoSE1yajBRbDkvVXRKeFZVSDNQZ0hhM2x3ZXpXNDdxUWtZUXRkT1d3eDFOaU1BNmlONTFuTmdmaVZVVVRnUFY2a0REWUlEWHdTMmdMd3JobTd5M3RuK1llbjVZczgzR2ZCUWtCRHdPWFpMekxRWXJ0RWZtOGxQUVFvYzB5UWE1WFAySU9pK0pZOFE1c216ZlErK0crVFpFSnlsMnY4Y21KWXlaTWg5NGdVeTJVWDZsS0piQS9IcWRhdmhuL2lZOVlPT3UrNWhGNEIrdEJKQmZEaHRLRFRkSi94MmNqOU9SQitDRzA1cmpZVjNLYVlaaGdrTDB0aWFKQT09IiwiaXYiOiJBQUVDQXdRRkJnY0lDUW9MIiwiY2lwaGVydGV4dCI6IlBDQzNhNnk2cVg3MFk2MnB3b0pWR2VhbDh4bkJTV3hlUlFZdHBVUmgrdHJvZ2EyNkNnZmZidEk9In0=";

    fn key() -> RsaPrivateKey {
        RsaPrivateKey::from_pkcs8_der(&STANDARD.decode(KEY).unwrap()).unwrap()
    }

    #[test]
    fn opens_the_worked_test_vector() {
        assert_eq!(
            open(&key(), TRANSPORT).unwrap(),
            br#"{"api_key":"sk-test-123"}"#
        );
    }

    #[test]
    fn accepts_the_python_serialization_too() {
        let inner = STANDARD.decode(TRANSPORT).unwrap();
        let spaced = String::from_utf8(inner)
            .unwrap()
            .replace("\":\"", "\": \"")
            .replace("\",\"", "\", \"");
        assert!(spaced.contains("\"wrapped_key\": \""));
        let transport = STANDARD.encode(spaced);
        let cred = open_json(&key(), &transport).unwrap();
        assert_eq!(
            extract(&cred, None, &["api_key"]).as_deref(),
            Some("sk-test-123")
        );
    }

    #[test]
    fn tampering_and_garbage_are_clear_errors() {
        let mut bad = STANDARD.decode(TRANSPORT).unwrap();
        let n = bad.len();
        bad[n - 8] ^= 1; // inside the ciphertext field's base64
        let err = open(&key(), &STANDARD.encode(bad)).unwrap_err();
        assert!(!err.0.is_empty());
        assert_eq!(
            open(&key(), "not base64 !!").unwrap_err().0,
            "the ciphertext is not base64"
        );
        let truncated = &TRANSPORT[..TRANSPORT.len() / 2];
        assert!(open(&key(), truncated).is_err());
    }

    #[test]
    fn extraction_follows_field_then_preference_then_single_field() {
        let cred: Map<String, Value> =
            serde_json::from_str(r#"{"access_token":"at","refresh_token":"rt","x":"y"}"#).unwrap();
        assert_eq!(
            extract(&cred, None, &["refresh_token", "access_token"]).as_deref(),
            Some("rt")
        );
        assert_eq!(
            extract(&cred, Some("access_token"), &["refresh_token"]).as_deref(),
            Some("at")
        );
        assert_eq!(extract(&cred, Some("missing"), &["refresh_token"]), None);
        let single: Map<String, Value> = serde_json::from_str(r#"{"connect_code":"cc"}"#).unwrap();
        assert_eq!(
            extract(&single, None, &["refresh_token"]).as_deref(),
            Some("cc")
        );
    }
}
