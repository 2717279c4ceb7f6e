//! Randomness from the host's `wasi:random` (a CSPRNG), for keys, PKCE verifiers and states.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{CryptoRng, RngCore};

/// `rand_core` over `wasi:random/random.get-random-bytes`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasiRng;

impl RngCore for WasiRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let bytes = wasip2::random::random::get_random_bytes(dest.len() as u64);
        dest.copy_from_slice(&bytes[..dest.len()]);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for WasiRng {}

/// `n` random bytes as unpadded base64url (Python's `secrets.token_urlsafe(n)`).
pub fn token_urlsafe(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    WasiRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
