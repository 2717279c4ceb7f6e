//! A fake LinkAuth broker (placeholder; being written).

/// Settings of a [`FakeBroker`].
#[derive(Debug, Clone)]
pub struct BrokerConfig;

/// A running fake LinkAuth broker.
#[derive(Debug)]
pub struct FakeBroker;
