//! `mcs demo`: the whole first run, offline. Starts the sandbox (a fake Auth0 tenant, a
//! LinkAuth-compatible broker and a fake Gmail, all on 127.0.0.1) and runs the tools through
//! the host and both components exactly as users run them: the Auth0 sign-in, the Connected
//! Accounts consent, then mail; then a second round, served from the cached token.
//!
//! The sandbox plays the person in the browser (it approves each code as it appears), so the
//! demo needs no accounts and no interaction.

use std::time::Instant;

use mcs_host::config::Settings;
use mcs_host::{AuthError, CallError, Runtime, ToolError};
use mcs_sandbox::{Auth0Config, BrokerConfig, FakeAuth0, FakeBroker, FakeGmail, Mailbox};
use serde_json::Value;

use super::exit::Exit;

/// Arguments of `mcs demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  mcs demo")]
pub struct Args {}

/// Runs `mcs demo`.
pub async fn run(_args: Args) -> anyhow::Result<Exit> {
    let auth0 = FakeAuth0::start(Auth0Config::default())?;
    let broker = FakeBroker::start(BrokerConfig::for_tenant(&auth0))?;
    let cfg = auth0.config().clone();
    let gmail = FakeGmail::start(Mailbox::sample(), &cfg.google_access_token)?;
    println!(
        "Sandbox on 127.0.0.1: Auth0 tenant {}, LinkAuth broker {}, Gmail {}\n",
        auth0.base_url(),
        broker.base_url(),
        gmail.base_url()
    );
    let settings = Settings::from_vars([
        ("AUTH0_DOMAIN".to_owned(), cfg.domain.clone()),
        ("MCS_AUTH0_BASE_URL".to_owned(), auth0.base_url()),
        ("AUTH0_CLIENT_ID".to_owned(), cfg.client_id.clone()),
        ("AUTH0_CLIENT_SECRET".to_owned(), cfg.client_secret.clone()),
        ("AUTH0_AUDIENCE".to_owned(), cfg.audience.clone()),
        ("LINKAUTH_BROKER_URL".to_owned(), broker.base_url()),
        ("MCS_GMAIL_BASE_URL".to_owned(), gmail.base_url()),
    ])?;

    let started = Instant::now();
    let runtime = super::build_runtime(&settings, &[], super::State::InMemory).await?;
    println!(
        "Loaded the Gmail tools and the Token Vault provider in {:.0} ms ({} tools).\n",
        ms(started),
        runtime.tools().count()
    );

    // First run: every call until the tool runs, approving each browser step as it appears.
    let mut step = 1;
    let folders = loop {
        let started = Instant::now();
        match runtime.call_tool("list_folders", "{}").await {
            Ok(json) => {
                println!("{step}. list_folders ran ({:.1} ms).", ms(started));
                break json;
            }
            Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => {
                println!("{step}. The agent is told: {}", c.message);
                println!("   (as JSON for an LLM: {})", c.to_llm_json());
                let code = c.code.as_deref().unwrap_or_default();
                broker
                    .approve(code, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("the sandbox could not approve {code}: {e}"))?;
                println!("   The person opens the page, sees {code}, and approves.\n");
            }
            Err(e) => return Err(e.into()),
        }
        step += 1;
        if step > 5 {
            anyhow::bail!("the first run did not finish in 4 steps");
        }
    };
    let folders: Vec<Value> = serde_json::from_str(&folders)?;
    let names: Vec<&str> = folders.iter().filter_map(|f| f["name"].as_str()).collect();
    println!("   {} folders: {}\n", names.len(), names.join(", "));

    // Second round: the host's cached grant serves; Auth0 and the broker hear nothing.
    let auth0_before = auth0.requests().len();
    show_inbox(&runtime).await?;
    println!(
        "\nAuth0 requests during the second round: {} (the token was cached by the host).",
        auth0.requests().len() - auth0_before
    );
    println!(
        "The mail component never held the Google token: it got an opaque handle, and the host \
         put the real token on the wire to gmail only."
    );
    Ok(Exit::Success)
}

/// Lists the inbox and reads the newest message.
async fn show_inbox(runtime: &Runtime) -> anyhow::Result<()> {
    let started = Instant::now();
    let page: Value = serde_json::from_str(
        &runtime
            .call_tool("list_messages", r#"{"limit": 5}"#)
            .await?,
    )?;
    println!("list_messages (5 newest in INBOX, {:.1} ms):", ms(started));
    let messages = page["messages"].as_array().cloned().unwrap_or_default();
    for m in &messages {
        println!("  {:<28} {}", text(&m["from"], 28), text(&m["subject"], 40));
    }
    if let Some(uid) = messages.first().and_then(|m| m["uid"].as_str()) {
        let started = Instant::now();
        let args = serde_json::json!({"uid": uid, "max_chars": 200}).to_string();
        let message: Value =
            serde_json::from_str(&runtime.call_tool("fetch_message", &args).await?)?;
        println!(
            "\nfetch_message \"{}\" ({:.1} ms):",
            text(&message["subject"], 60),
            ms(started)
        );
        for line in message["body"].as_str().unwrap_or_default().lines().take(4) {
            println!("  {line}");
        }
    }
    Ok(())
}

fn text(v: &Value, width: usize) -> String {
    let s = v.as_str().unwrap_or_default();
    if s.chars().count() > width {
        format!("{}…", s.chars().take(width - 1).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
