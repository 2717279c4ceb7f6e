//! The LinkAuth encryption envelope (placeholder; being written).
