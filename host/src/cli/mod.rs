//! The `mcs` command line: argument definitions and dispatch to one module per subcommand.

pub mod call;
pub mod demo;
pub mod exit;
pub mod logging;
pub mod sandbox;
pub mod tools;

use clap::{ArgAction, Parser, Subcommand};

use exit::Exit;

/// Run agent tools (Gmail) in WebAssembly sandboxes that never see a secret
#[derive(Debug, Parser)]
#[command(name = "mcs", version, after_long_help = exit::EXIT_CODES_HELP)]
pub struct Cli {
    /// More logging on stderr (-v: each tool call, -vv: debug); RUST_LOG overrides
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the tools the loaded components offer
    Tools(tools::Args),
    /// Call one tool and print its JSON result
    Call(call::Args),
    /// Run the tools against the built-in sandbox: no accounts, no network
    Demo(demo::Args),
    /// Serve the sandbox's fake services on 127.0.0.1 until interrupted
    Sandbox(sandbox::Args),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Tools(args) => tools::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Sandbox(args) => sandbox::run(args).await,
        }
    })
}

/// Loads the shipped components with settings from the environment.
pub async fn load_runtime() -> anyhow::Result<mcs_host::Runtime> {
    let settings = mcs_host::config::Settings::from_vars(std::env::vars())?;
    build_runtime(&settings).await
}

/// Loads the shipped components with `settings`; denials are reported on stderr.
pub async fn build_runtime(
    settings: &mcs_host::config::Settings,
) -> anyhow::Result<mcs_host::Runtime> {
    let runtime = mcs_host::Runtime::builder()
        .provider(settings.auth_component())
        .tool(settings.mail_component())
        .on_denied(|denial: &mcs_host::egress::Denial| eprintln!("mcs: {denial}"))
        .build()
        .await?;
    Ok(runtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn verbose_counts_and_is_global() {
        let cli = Cli::try_parse_from(["mcs", "call", "-vv", "list_folders"]).unwrap();
        assert_eq!(cli.verbose, 2);
    }
}
