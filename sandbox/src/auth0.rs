//! A fake Auth0 tenant (placeholder; being written).

/// Settings of a [`FakeAuth0`].
#[derive(Debug, Clone)]
pub struct Auth0Config;

/// A running fake Auth0 tenant.
#[derive(Debug)]
pub struct FakeAuth0;
