//! `mcs demo`: the whole first run, offline. Starts the sandbox (a fake Auth0 tenant, a
//! LinkAuth-compatible broker and a fake Gmail, all on 127.0.0.1) and runs the tools through
//! the host and both components exactly as users run them: the Auth0 sign-in, the Connected
//! Accounts consent, then mail; then a second round, served from the cached token.
//!
//! The person's part happens in a real browser: the demo prints the broker's URL and code, the
//! person opens the page, checks the code and approves (the page encrypts what it sends with
//! WebCrypto, as the real broker's page does), and the demo notices and goes on. With
//! `--auto-approve`, or when stdin is not a terminal, the sandbox plays the browser itself
//! over the same HTTP endpoints, so the demo needs no accounts and no interaction.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use mcs_host::config::Settings;
use mcs_host::{AuthError, CallError, Runtime, ToolError};
use mcs_sandbox::{Auth0Config, BrokerConfig, FakeAuth0, FakeBroker, FakeGmail, Mailbox};
use serde_json::Value;

use super::exit::Exit;
use super::wait::Progress;

/// How long the demo waits for the person to approve one step in the browser.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

/// Arguments of `mcs demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    mcs demo                  # you approve each step in your browser\n  \
    mcs demo --auto-approve   # the sandbox approves for you (no browser)")]
pub struct Args {
    /// Approve each sign-in step in-process instead of waiting for you to do it in a browser
    /// (also the behaviour when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
}

/// Runs `mcs demo`.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    let auto_approve = args.auto_approve || !std::io::stdin().is_terminal();
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
    let runtime = super::build_runtime(
        &settings,
        &[],
        super::State::InMemory,
        super::Workload::Server,
    )
    .await?;
    println!(
        "Loaded the Gmail tools and the Token Vault provider in {:.0} ms ({} tools).\n",
        ms(started),
        runtime.tools().count()
    );

    // First run: every call until the tool runs; each browser step is shown once, then
    // approved by the person (or, with --auto-approve, by the sandbox).
    if auto_approve {
        println!("Approving each browser step in-process (--auto-approve).\n");
    }
    let mut progress = Progress::default();
    let mut steps = 0;
    let mut step_started = Instant::now();
    let folders = loop {
        let started = Instant::now();
        match runtime.call_tool("list_folders", "{}").await {
            Ok(json) => {
                progress.end_line();
                println!("list_folders ran ({:.1} ms).", ms(started));
                break json;
            }
            Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => {
                if !progress.is_new(&c) {
                    if step_started.elapsed() > APPROVAL_TIMEOUT {
                        anyhow::bail!("no approval for {:?} in {APPROVAL_TIMEOUT:?}", c.code);
                    }
                    progress.tick().await;
                    continue;
                }
                steps += 1;
                step_started = Instant::now();
                if steps > 4 {
                    anyhow::bail!("the first run did not finish in 4 browser steps");
                }
                println!("{steps}. The agent is told: {}", c.message);
                println!("   (as JSON for an LLM: {})", c.to_llm_json());
                let code = c.code.as_deref().unwrap_or_default();
                if auto_approve {
                    broker.approve(code, None).await.map_err(|e| {
                        anyhow::anyhow!("the sandbox could not approve {code}: {e}")
                    })?;
                    println!("   The sandbox opens the page, sees {code}, and approves.");
                } else {
                    let url = c.url.as_deref().unwrap_or_default();
                    println!(
                        "   Open {url} in your browser, check that it shows {code}, and approve."
                    );
                    eprint!("   Waiting for you");
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    let folders: Vec<Value> = serde_json::from_str(&folders)?;
    let names: Vec<&str> = folders.iter().filter_map(|f| f["name"].as_str()).collect();
    println!("{} folders: {}\n", names.len(), names.join(", "));

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
