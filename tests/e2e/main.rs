//! End-to-end tests: the real host, the real components, the sandbox fakes on 127.0.0.1.

mod auth_flow;
mod browser;
mod egress;
mod github;
mod isolation;
mod load;
mod mail_tools;
