//! `mcs call`: one tool call, one process; the result goes to stdout as JSON.

use std::io::Write;

use mcs_host::{CallError, ToolError};

use super::exit::Exit;

/// Arguments of `mcs call`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    mcs call list_folders\n  \
    MCS_GMAIL_BASE_URL=http://127.0.0.1:8080 MCS_TOKEN_GMAIL=t mcs call list_folders")]
pub struct Args {
    /// The tool to call (see `mcs tools`)
    #[arg(value_name = "TOOL")]
    pub tool: String,

    /// The arguments as one JSON object, e.g. '{"limit": 5}' (default: none)
    #[arg(value_name = "JSON")]
    pub arguments: Option<String>,
}

/// Runs `mcs call`.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let runtime = super::load_runtime(super::State::Durable).await?;
    let arguments = args.arguments.as_deref().unwrap_or("{}");
    report(runtime.call_tool(&args.tool, arguments).await)
}

/// Prints a call's outcome (result on stdout, errors on stderr) and picks the exit code.
pub fn report(result: Result<String, CallError>) -> anyhow::Result<Exit> {
    match result {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")?;
            Ok(Exit::Success)
        }
        Err(CallError::Tool(ToolError::Auth(mcs_host::AuthError::Challenge(challenge)))) => {
            eprintln!("mcs: {}", challenge.message);
            writeln!(std::io::stdout().lock(), "{}", challenge.to_llm_json())?;
            Ok(Exit::AuthRequired)
        }
        Err(CallError::Tool(e)) => {
            eprintln!("mcs: {e}");
            Ok(Exit::ToolFailed)
        }
        Err(e) => Err(e.into()),
    }
}
