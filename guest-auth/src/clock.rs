//! Wall-clock time from `wasi:clocks`.

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    wasip2::clocks::wall_clock::now().seconds
}
