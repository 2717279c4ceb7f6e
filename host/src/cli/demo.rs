//! `mcs demo`: the whole path, offline. Starts the sandbox's fake Gmail on 127.0.0.1 and
//! runs the tools through the host and both components, exactly as users run them.

use std::time::Instant;

use mcs_host::config::Settings;
use mcs_sandbox::{FakeGmail, Mailbox};
use serde::Deserialize;

use super::exit::Exit;
use super::sandbox::SANDBOX_TOKEN;

/// Arguments of `mcs demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  mcs demo")]
pub struct Args {}

/// Runs `mcs demo`.
pub async fn run(_args: Args) -> anyhow::Result<Exit> {
    let gmail = FakeGmail::start(Mailbox::sample(), SANDBOX_TOKEN)?;
    println!("Sandbox: fake Gmail on {}", gmail.base_url());
    let settings = Settings::from_vars([
        ("MCS_GMAIL_BASE_URL".to_owned(), gmail.base_url()),
        ("MCS_TOKEN_GMAIL".to_owned(), SANDBOX_TOKEN.to_owned()),
    ])?;

    let started = Instant::now();
    let runtime = super::build_runtime(&settings, super::State::InMemory).await?;
    println!(
        "Loaded the mail tools and the credential provider in {:.0} ms; tools: {}",
        started.elapsed().as_secs_f64() * 1000.0,
        runtime
            .tools()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let started = Instant::now();
    let json = runtime.call_tool("list_folders", "{}").await?;
    let elapsed = started.elapsed();

    #[derive(Deserialize)]
    struct Folder {
        name: String,
        id: String,
        system: bool,
    }
    let folders: Vec<Folder> = serde_json::from_str(&json)?;
    println!(
        "\nlist_folders → {} folders in {:.1} ms:",
        folders.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    for f in &folders {
        let kind = if f.system { "system" } else { "user" };
        println!("  {:<22} {:<20} {kind}", f.name, f.id);
    }
    println!(
        "\nThe mail component never held the token: it asked the host, which ran the \
         credential provider in a separate sandbox."
    );
    Ok(Exit::Success)
}
