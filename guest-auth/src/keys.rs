//! The agent's RSA key: generated once, when the first broker session needs it, then kept in
//! the store (`linkauth:privkey`, PKCS#8 DER in base64; the host encrypts values at rest).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::random::WasiRng;
use crate::state::State;

/// Store key of the private key.
const KEY: &str = "linkauth:privkey";

/// Key size the broker requires at least (and clients use).
const BITS: usize = 2048;

/// The agent's key, generated and stored on first use.
pub fn agent_key(state: &State) -> Result<RsaPrivateKey, AuthError> {
    if let Some(stored) = state.get_text(KEY)? {
        return STANDARD
            .decode(stored.trim())
            .ok()
            .and_then(|der| RsaPrivateKey::from_pkcs8_der(&der).ok())
            .ok_or_else(|| {
                AuthError::Upstream(format!(
                    "stored value {KEY:?} is not a private key; remove it (mcs auth logout) to start over"
                ))
            });
    }
    let key = RsaPrivateKey::new(&mut WasiRng, BITS)
        .map_err(|e| AuthError::Upstream(format!("could not generate the agent key: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| AuthError::Upstream(format!("could not encode the agent key: {e}")))?;
    state.set_text(KEY, &STANDARD.encode(der.as_bytes()))?;
    Ok(key)
}

/// The public key as the broker takes it: standard base64 of the DER SubjectPublicKeyInfo.
pub fn public_key_b64(key: &RsaPrivateKey) -> Result<String, AuthError> {
    let der = RsaPublicKey::from(key)
        .to_public_key_der()
        .map_err(|e| AuthError::Upstream(format!("could not encode the public key: {e}")))?;
    Ok(STANDARD.encode(der.as_bytes()))
}
