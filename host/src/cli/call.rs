//! `mcs call`: one tool call, one process; the result goes to stdout as JSON.

use std::io::Write;

use std::time::{Duration, Instant};

use mcs_host::{AuthError, CallError, ToolError};

use super::exit::Exit;
use super::wait::Progress;

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

    /// If the user must sign in first, show the URL and code and keep trying until they have
    /// (or --timeout passes), then run the tool
    #[arg(long)]
    pub wait: bool,

    /// With --wait: give up after this many seconds (default 600, the broker's session life)
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
}

/// Runs `mcs call`.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let runtime = super::load_runtime(super::State::Durable, super::Workload::OneShot).await?;
    let arguments = args.arguments.as_deref().unwrap_or("{}");
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut progress = Progress::default();
    loop {
        let result = runtime.call_tool(&args.tool, arguments).await;
        let Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) = &result else {
            progress.end_line();
            return report(result);
        };
        if !args.wait || Instant::now() >= deadline {
            return report(result);
        }
        if progress.is_new(c) {
            eprintln!("{}", c.message);
        }
        progress.tick().await;
    }
}

/// Prints a call's outcome (result on stdout, errors on stderr) and picks the exit code.
pub fn report(result: Result<String, CallError>) -> anyhow::Result<Exit> {
    match result {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")?;
            Ok(Exit::Success)
        }
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(challenge)))) => {
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
