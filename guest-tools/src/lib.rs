//! What every tool component repeats: a table of tools and their parameters, the JSON Schema
//! of each tool's arguments, and the checks of a call's JSON arguments against that table, with
//! messages an LLM can act on (`"limit" of "list_messages" must be an integer from 1 to 100,
//! got 0`).
//!
//! The schemas and the checks both come from one [`Param`] table, so they cannot drift apart.
//! This crate knows no WIT: it returns its own [`Error`], which each component maps to its
//! generated `tool-error` in one `From` impl. What is particular to one service (Gmail's
//! folders and flags, GitHub's owner and repository names) stays in that component; a
//! component adds its own string check with [`Kind::Checked`].

mod args;
mod error;
mod tool;

pub use args::Args;
pub use error::Error;
pub use tool::{Kind, Param, Tool, find, schema};
