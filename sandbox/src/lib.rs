//! Loopback fakes of the services the components talk to, for tests and `mcs demo`.
//!
//! Each fake binds `127.0.0.1:0` (never a fixed port, never another address), serves on a
//! thread of its own (so it works from sync and async callers alike), records every request it
//! receives for later assertions, and shuts down when dropped. The fakes follow the real
//! services' wire contracts, including their error shapes.

#![deny(missing_docs)]

pub mod auth0;
pub mod broker;
pub mod envelope;
mod github;
mod gmail;
mod server;
mod wire;

pub use auth0::{Auth0Config, FakeAuth0};
pub use broker::{BrokerConfig, FakeBroker};
pub use github::{ApiHeaders, CreatedIssue, FakeGitHub};
pub use gmail::{FakeGmail, Label, MailMessage, Mailbox, SentMessage};
pub use server::RecordedRequest;
