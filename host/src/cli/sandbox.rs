//! `mcs sandbox`: the fake services on 127.0.0.1, for trying `mcs call` by hand.

use mcs_sandbox::{FakeGmail, Mailbox};

use super::exit::Exit;

/// The bearer token the sandbox's fake Gmail accepts.
pub const SANDBOX_TOKEN: &str = "sandbox-gmail-token";

/// Arguments of `mcs sandbox`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  mcs sandbox    # then, in another shell, paste the printed \
                        exports and run: mcs call list_folders"
)]
pub struct Args {}

/// Runs `mcs sandbox` until Ctrl-C.
pub async fn run(_args: Args) -> anyhow::Result<Exit> {
    let gmail = FakeGmail::start(Mailbox::sample(), SANDBOX_TOKEN)?;
    println!("Fake Gmail is listening on {}", gmail.base_url());
    println!("In another shell:\n");
    println!("  export MCS_GMAIL_BASE_URL={}", gmail.base_url());
    println!("  export MCS_TOKEN_GMAIL={SANDBOX_TOKEN}");
    println!("  mcs call list_folders\n");
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    Ok(Exit::Success)
}
