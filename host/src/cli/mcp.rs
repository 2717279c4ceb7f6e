//! `mcs mcp`: the tools as an MCP server, over stdio (default) or streamable HTTP.

use std::net::SocketAddr;

use super::exit::Exit;

/// The long description shown by `mcs mcp --help`.
pub const LONG_ABOUT: &str = "Serve every tool of the loaded components over MCP (Model Context Protocol).\n\n\
        By default MCP goes over stdin and stdout, for a client that starts `mcs mcp` itself; \
        stdout carries only protocol messages and logs go to stderr. With --http, it is served \
        as streamable HTTP at http://ADDR/mcp until Ctrl-C.\n\n\
        State is durable, as with `mcs call`: a sign-in started over MCP resumes on the next call.";

/// Arguments of `mcs mcp`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
        mcs mcp                           # stdio\n  \
        mcs mcp --http 127.0.0.1:8765     # streamable HTTP at http://127.0.0.1:8765/mcp\n  \
        mcs mcp --http 0.0.0.0:8765 --allow-host mcs   # in a container reached as http://mcs:8765\n\n\
        In an MCP client's configuration (e.g. Claude Desktop, Cursor):\n  \
        {\"mcpServers\": {\"mcs\": {\"command\": \"mcs\", \"args\": [\"mcp\"]}}}\n\
        or, for the HTTP server:\n  \
        {\"mcpServers\": {\"mcs\": {\"url\": \"http://127.0.0.1:8765/mcp\"}}}")]
pub struct Args {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio, e.g. 127.0.0.1:8765
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// With --http, also accept requests whose Host header is NAME (or NAME:PORT), e.g. the
    /// service name clients use to reach a container; repeatable. Loopback names and the bound
    /// address are always accepted; others are refused against DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME", requires = "http")]
    pub allow_hosts: Vec<String>,
}

/// Runs `mcs mcp` on a Tokio runtime of its own. Over stdio there is one client, and one
/// thread serves it with the least CPU per call (no cross-thread wake-ups; concurrent calls
/// still interleave at every await); over HTTP, with any number of clients, one worker per core.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let mut builder = if args.http.is_some() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder.enable_all().build()?;
    runtime.block_on(serve(args))?;
    Ok(Exit::Success)
}

async fn serve(args: Args) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let runtime = super::load_runtime(super::State::Durable, super::Workload::Server).await?;
    match args.http {
        None => mcs_host::mcp::serve_stdio(runtime).await?,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("could not listen on {addr}"))?;
            let local = listener.local_addr()?;
            eprintln!(
                "mcs: serving MCP at http://{local}{}; Ctrl-C stops",
                mcs_host::mcp::HTTP_PATH
            );
            let shutdown = async {
                if let Err(e) = tokio::signal::ctrl_c().await {
                    tracing::warn!("cannot wait for Ctrl-C: {e}");
                    std::future::pending::<()>().await;
                }
            };
            mcs_host::mcp::serve_http(runtime, listener, &args.allow_hosts, shutdown).await?;
        }
    }
    Ok(())
}
