//! The `mcs` command line: argument definitions and dispatch to one module per subcommand.

pub mod auth;
pub mod call;
pub mod demo;
pub mod exit;
pub mod inspect;
pub mod logging;
pub mod mcp;
pub mod sandbox;
pub mod tools;
pub mod wait;

use clap::{ArgAction, Parser, Subcommand};

use exit::Exit;
pub use mcs_host::engine::Workload;

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
    /// See, start or forget the sign-in (status, login, logout)
    Auth(auth::Args),
    /// Show a component's imports and exports, and what it would need to be granted
    Inspect(inspect::Args),
    /// Serve the tools over MCP (stdio, or streamable HTTP with --http)
    #[command(long_about = mcp::LONG_ABOUT)]
    Mcp(mcp::Args),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Tools(args) => block_on(tools::run(args)),
        Command::Call(args) => block_on(call::run(args)),
        Command::Auth(args) => block_on(auth::run(args)),
        Command::Inspect(args) => block_on(inspect::run(args)),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Sandbox(args) => block_on(sandbox::run(args)),
        // The MCP server builds its own multi-threaded runtime.
        Command::Mcp(args) => mcp::run(args),
    }
}

/// Runs one command on a current-thread Tokio runtime.
fn block_on(command: impl Future<Output = anyhow::Result<Exit>>) -> anyhow::Result<Exit> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(command)
}

/// Where state goes: durable (encrypted SQLite under the state directory) or in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Survives the process (tokens, sign-in progress).
    Durable,
    /// Gone when the process exits (the demo, listing tools).
    InMemory,
}

/// Where `mcs.toml` is: `MCS_CONFIG` if set (it must exist), else `./mcs.toml`, else
/// `$MCS_HOME/mcs.toml` (or the default state directory's), when present.
fn config_path() -> anyhow::Result<Option<std::path::PathBuf>> {
    if let Some(path) = std::env::var_os("MCS_CONFIG") {
        let path = std::path::PathBuf::from(path);
        anyhow::ensure!(
            path.is_file(),
            "MCS_CONFIG={} does not name a file",
            path.display()
        );
        return Ok(Some(path));
    }
    let candidates = [
        Some(std::path::PathBuf::from("mcs.toml")),
        mcs_host::kv::default_state_dir().map(|d| d.join("mcs.toml")),
    ];
    Ok(candidates.into_iter().flatten().find(|p| p.is_file()))
}

/// The settings: the environment (and `.env`, already loaded into it) over `mcs.toml`.
pub fn settings() -> anyhow::Result<(
    mcs_host::config::Settings,
    mcs_host::config::file::FileConfig,
)> {
    use anyhow::Context as _;
    let file = match config_path()? {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            mcs_host::config::file::FileConfig::parse(&path, &text)?
        }
        None => mcs_host::config::file::FileConfig::default(),
    };
    let mut vars = file.to_vars();
    vars.extend(std::env::vars());
    Ok((mcs_host::config::Settings::from_vars(vars)?, file))
}

/// Loads the shipped components, and the extra ones `mcs.toml` names, with the settings.
pub async fn load_runtime(state: State, workload: Workload) -> anyhow::Result<mcs_host::Runtime> {
    let (settings, file) = settings()?;
    build_runtime(&settings, file.components(), state, workload).await
}

/// Loads the shipped components with `settings`, plus `extra` tool components; denials are
/// reported on stderr. Compiled components are cached under the state directory when there
/// is one; `workload` picks the engine's instance allocator.
pub async fn build_runtime(
    settings: &mcs_host::config::Settings,
    extra: &[mcs_host::config::file::ComponentSection],
    state: State,
    workload: Workload,
) -> anyhow::Result<mcs_host::Runtime> {
    use anyhow::Context as _;
    let engine = mcs_host::engine::new_engine_for(workload).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut builder = mcs_host::Runtime::builder()
        .engine(engine)
        .provider(settings.auth_component())
        .tool(settings.mail_component())
        .on_denied(|denial: &mcs_host::egress::Denial| eprintln!("mcs: {denial}"));
    for c in extra {
        let wasm = std::fs::read(&c.path)
            .with_context(|| format!("component {:?}: cannot read {}", c.name, c.path.display()))?;
        let mut config = mcs_host::ComponentConfig::new(c.name.clone(), wasm);
        config.allowed_outbound_hosts = c.allowed_outbound_hosts.clone();
        config.settings = c.settings.clone().into_iter().collect();
        config.credentials = c.credentials.clone().into_iter().collect();
        if let Some(buckets) = &c.buckets {
            config.buckets = buckets.clone();
        }
        builder = builder.tool(config);
    }
    let state_dir = mcs_host::kv::default_state_dir();
    if let Some(dir) = &state_dir {
        match mcs_host::engine::cache::ComponentCache::new(dir.join("cache")) {
            Ok(cache) => builder = builder.cache(cache),
            Err(e) => tracing::warn!("not caching compiled components: {e}"),
        }
    }
    if state == State::Durable {
        let dir = state_dir
            .context("no directory for the state: set MCS_HOME (or XDG_DATA_HOME, or HOME)")?;
        let key = std::env::var(mcs_host::kv::STATE_KEY_ENV).ok();
        let kv = mcs_host::kv::open_default(&dir, key.as_deref())?;
        builder = builder.kv_backend(std::sync::Arc::new(kv));
    }
    Ok(builder.build().await?)
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
    fn auth_login_flags_parse() {
        let cli = Cli::try_parse_from([
            "mcs",
            "auth",
            "login",
            "--wait",
            "--timeout",
            "30",
            "--scope",
            "github",
        ])
        .unwrap();
        let Command::Auth(auth::Args {
            command: auth::AuthCommand::Login(login),
        }) = cli.command
        else {
            panic!("not auth login");
        };
        assert!(login.wait && !login.json);
        assert_eq!((login.timeout, login.scope.as_str()), (30, "github"));
        assert!(Cli::try_parse_from(["mcs", "auth", "login", "--timeout", "soon"]).is_err());
    }

    #[test]
    fn verbose_counts_and_is_global() {
        let cli = Cli::try_parse_from(["mcs", "call", "-vv", "list_folders"]).unwrap();
        assert_eq!(cli.verbose, 2);
    }
}
