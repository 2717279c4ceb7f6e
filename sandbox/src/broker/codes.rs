//! Session codes and what guards them: the `XXXX-XXXX` user code, the session id derived from it,
//! and the constant-time comparison the fake uses for every token it checks.

use std::fmt::Write as _;

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A user code: 8 characters from `A-Z0-9`, displayed `XXXX-XXXX`.
pub(super) fn random_code() -> String {
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
pub(super) fn session_id(code: &str) -> String {
    let normal = code.replace('-', "").to_uppercase();
    Sha256::digest(normal.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Byte equality in time independent of where the inputs differ.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_session_ids_match_the_brokers_formats() {
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
    }
}
