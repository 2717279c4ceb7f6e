//! The `mcs` command: run agent tools in WebAssembly sandboxes that never see a secret.
//!
//! This file only parses, sets up logging and dispatches; each subcommand lives in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::exit::Exit;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // Settings from a `.env` file in the working directory; the real environment wins.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("mcs: .env: {e}");
        return Exit::Error.into();
    }
    cli::logging::init(args.verbose);
    match cli::run(args) {
        Ok(exit) => exit.into(),
        Err(err) if is_broken_pipe(&err) => Exit::Success.into(),
        Err(err) => {
            eprintln!("mcs: {err:#}");
            Exit::Error.into()
        }
    }
}

/// A closed stdout (e.g. `mcs tools | head -1`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
