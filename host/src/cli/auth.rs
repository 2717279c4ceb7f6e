//! `mcs auth`: see, start and forget the sign-in, without calling a tool.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mcs_host::AuthError;
use mcs_host::kv::{Backend, Location};
use serde_json::Value;

use super::exit::Exit;
use super::wait::Progress;

/// Namespace and bucket of the credential provider's state.
const NAMESPACE: &str = "auth";
const BUCKET: &str = "default";

/// State the provider keeps for a sign-in (everything but its RSA key).
const SIGN_IN_PREFIXES: &[&str] = &["rt:", "at:", "linkauth:session:", "ca:pending:", "cred:"];

/// Arguments of `mcs auth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AuthCommand,
}

/// The `mcs auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Show the credential settings (secrets redacted) and the sign-in state
    Status,
    /// Sign in for a scope (Token Vault: Auth0 login, then Connected Accounts)
    ///
    /// Without --wait, prints the URL and code to open and exits with code 3; run it again
    /// (or with --wait) once done. With --wait, keeps checking until the sign-in finishes.
    #[command(
        after_help = "Examples:\n  mcs auth login --wait\n  mcs auth login --scope gmail --json"
    )]
    Login(LoginArgs),
    /// Forget the refresh token, cached tokens and any sign-in in progress
    ///
    /// The agent's RSA key stays. Tokens already issued stay valid at Auth0 until they expire;
    /// revoke the refresh token in the Auth0 dashboard to end the grant there too.
    Logout,
}

/// Arguments of `mcs auth login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The scope to sign in for
    #[arg(long, default_value = "gmail", value_name = "SCOPE")]
    pub scope: String,
    /// Keep checking until the sign-in is finished (or --timeout passes)
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (default 600, the broker's session life)
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub timeout: u64,
    /// Print the challenge as JSON ({"auth_required":true,"message","url","code","scope"})
    #[arg(long)]
    pub json: bool,
}

/// Runs `mcs auth`.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    match args.command {
        AuthCommand::Status => status(),
        AuthCommand::Login(args) => login(args).await,
        AuthCommand::Logout => logout(),
    }
}

fn open_state() -> anyhow::Result<(std::path::PathBuf, impl Backend)> {
    let dir = mcs_host::kv::default_state_dir()
        .context("no directory for the state: set MCS_HOME (or XDG_DATA_HOME, or HOME)")?;
    let key = std::env::var(mcs_host::kv::STATE_KEY_ENV).ok();
    let kv = mcs_host::kv::open_default(&dir, key.as_deref())?;
    Ok((dir, kv))
}

fn keys(kv: &impl Backend) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    loop {
        let page = kv.list_keys(NAMESPACE, BUCKET, all.len() as u64, 1000)?;
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

fn get_json(kv: &impl Backend, key: &str) -> Option<Value> {
    let at = Location {
        namespace: NAMESPACE,
        bucket: BUCKET,
        key,
    };
    kv.get(at)
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_slice(&v).ok())
}

fn status() -> anyhow::Result<Exit> {
    let (settings, _) = super::settings()?;
    let mut out = std::io::stdout().lock();
    let set = |present: bool| {
        if present {
            "set (not shown)"
        } else {
            "not set"
        }
    };
    match &settings.token_vault {
        Some(tv) => {
            writeln!(out, "mode:           Auth0 Token Vault")?;
            writeln!(out, "auth0 domain:   {}", tv.domain)?;
            writeln!(out, "client id:      {}", tv.client_id)?;
            writeln!(out, "client secret:  {}", set(!tv.client_secret.is_empty()))?;
            writeln!(
                out,
                "audience:       {}",
                tv.audience.as_deref().unwrap_or("not set")
            )?;
            let broker = tv.broker_url.as_ref().map_or("not set", url::Url::as_str);
            writeln!(
                out,
                "linkauth:       {broker}{}",
                if tv.via_proxy {
                    " (Auth0 via its proxy)"
                } else {
                    ""
                }
            )?;
            writeln!(out, "linkauth key:   {}", set(tv.broker_api_key.is_some()))?;
        }
        None => {
            let scopes: Vec<&str> = settings
                .static_tokens
                .iter()
                .map(|(s, _)| s.as_str())
                .collect();
            writeln!(out, "mode:           static tokens")?;
            let listed = if scopes.is_empty() {
                "none (set MCS_TOKEN_<SCOPE>)".to_owned()
            } else {
                scopes.join(", ")
            };
            writeln!(out, "tokens for:     {listed} (values not shown)")?;
            return Ok(Exit::Success);
        }
    }
    let (dir, kv) = open_state()?;
    let keys = keys(&kv)?;
    writeln!(out, "state:          {}", dir.display())?;
    let signed_in = keys.iter().any(|k| k.starts_with("rt:"));
    writeln!(
        out,
        "signed in:      {}",
        if signed_in {
            "yes (refresh token stored)"
        } else {
            "no"
        }
    )?;
    for key in &keys {
        if let Some(purpose) = key.strip_prefix("linkauth:session:")
            && let Some(s) = get_json(&kv, key)
        {
            let url = s["url"].as_str().unwrap_or_default();
            let code = s["code"].as_str().unwrap_or_default();
            writeln!(
                out,
                "waiting for:    {purpose}: open {url} and check code {code}"
            )?;
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for key in &keys {
        if let Some(scope) = key.strip_prefix("at:")
            && let Some(t) = get_json(&kv, key)
        {
            let left = t["expires_at"].as_u64().unwrap_or(0).saturating_sub(now);
            writeln!(
                out,
                "token cached:   {scope} (valid for {} more min)",
                left / 60
            )?;
        }
    }
    Ok(Exit::Success)
}

fn logout() -> anyhow::Result<Exit> {
    let (_, kv) = open_state()?;
    let mut removed = 0;
    for key in keys(&kv)? {
        if SIGN_IN_PREFIXES.iter().any(|p| key.starts_with(p)) {
            kv.delete(Location {
                namespace: NAMESPACE,
                bucket: BUCKET,
                key: &key,
            })?;
            removed += 1;
        }
    }
    println!("Signed out: removed {removed} stored item(s).");
    Ok(Exit::Success)
}

async fn login(args: LoginArgs) -> anyhow::Result<Exit> {
    let runtime = super::load_runtime(super::State::Durable, super::Workload::OneShot).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut progress = Progress::default();
    loop {
        match runtime.authorize(&args.scope).await {
            Ok(()) => {
                progress.end_line();
                println!("Signed in: a token for '{}' is available.", args.scope);
                return Ok(Exit::Success);
            }
            Err(AuthError::Challenge(c)) => {
                if progress.is_new(&c) {
                    if args.json {
                        println!("{}", c.to_llm_json());
                    } else {
                        println!("{}", c.message);
                    }
                }
                if !args.wait {
                    return Ok(Exit::AuthRequired);
                }
                if Instant::now() >= deadline {
                    eprintln!(
                        "\nmcs: still not signed in after {} s; run `mcs auth login --wait` again",
                        args.timeout
                    );
                    return Ok(Exit::AuthRequired);
                }
                progress.tick().await;
            }
            Err(e) => {
                eprintln!("mcs: {e}");
                return Ok(Exit::Error);
            }
        }
    }
}
