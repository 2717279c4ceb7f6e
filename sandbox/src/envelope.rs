//! The LinkAuth envelope "RSA-OAEP-256+AES-256-GCM" as the broker's browser page and the broker produce it.
//!
//! Layout (linkauth-broker.md §3): a random AES-256 key encrypts the plaintext with AES-GCM (12-byte
//! IV, 16-byte tag appended, no AAD); RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) wraps the AES
//! key to the agent's public key; the JSON object `{wrapped_key, iv, ciphertext}` (each std base64
//! with padding) is std-base64-encoded once more into the transport string. The page writes that
//! JSON compactly (`JSON.stringify`), the broker itself with Python's `json.dumps` spacing.
//!
//! Also here: the broker's check of an agent public key (RSA SPKI, at least 2048 bits), with its
//! exact 400 details, since sealing to a key starts with it.

use std::fmt::Write as _;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore};
use rsa::pkcs8::DecodePrivateKey;
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::{BigUint, Oaep, RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

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
}
