//! `mcs tools`: list the tools with their descriptions (or their full specs as JSON).

use std::io::Write;

use super::exit::Exit;

/// Arguments of `mcs tools`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  mcs tools --json | jq '.[].name'")]
pub struct Args {
    /// Print every tool's name, description and JSON Schema as one JSON array
    #[arg(long)]
    pub json: bool,
}

/// Runs `mcs tools`.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let runtime = super::load_runtime(super::State::InMemory, super::Workload::OneShot).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let specs: Vec<_> = runtime.tools().collect();
        serde_json::to_writer_pretty(&mut out, &specs)?;
        writeln!(out)?;
    } else {
        for spec in runtime.tools() {
            writeln!(out, "{:<20} {}", spec.name, spec.description)?;
        }
    }
    Ok(Exit::Success)
}
