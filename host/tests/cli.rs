//! The `mcs` binary as users run it: one process per command, exit codes, stdout and stderr.
//! (These live in the host package because only it can name its binary, `CARGO_BIN_EXE_mcs`.)

use std::process::{Command, Output};

use mcs_sandbox::{FakeGmail, Mailbox};

const TOKEN: &str = "ya29.cli-test-token";

/// Runs `mcs` with `args` and a clean environment plus `env`; the state lives in a fresh
/// temporary `MCS_HOME` unless `env` names one.
fn mcs(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcs"));
    cmd.args(args).env_clear().env("MCS_HOME", home.path());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("mcs runs")
}

/// Panics with everything needed to see why (secrets redacted).
fn explain(args: &[&str], out: &Output) -> String {
    format!(
        "mcs {args:?}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(TOKEN, "<token>"),
        String::from_utf8_lossy(&out.stderr).replace(TOKEN, "<token>"),
    )
}

fn assert_exit(args: &[&str], out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", explain(args, out));
}

/// On a terminal and without `--auto-approve`, the demo prints each page and code and waits;
/// here the test is the person's browser, over HTTP against the printed URLs (`script` gives
/// the demo the terminal a person would have).
#[tokio::test]
async fn the_interactive_demo_waits_for_the_person_in_the_browser() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let home = tempfile::tempdir().expect("temp dir");
    let command = format!("{} demo", env!("CARGO_BIN_EXE_mcs"));
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_clear()
        .env("MCS_HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("`script` (util-linux) runs the demo on a pseudo-terminal");
    let (lines, seen) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line.replace('\r', "")).is_err() {
                break;
            }
        }
    });

    let mut transcript = String::new();
    let mut approved = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while let Ok(line) =
        seen.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        transcript.push_str(&line);
        transcript.push('\n');
        let Some(rest) = line.trim_start().strip_prefix("Open ") else {
            continue;
        };
        let url = rest
            .split_whitespace()
            .next()
            .expect("a URL after \"Open\"");
        approve_in_browser(url).await;
        approved += 1;
    }
    let status = child.wait().expect("the demo ends");
    assert!(status.success(), "{status:?}\n{transcript}");
    assert_eq!(approved, 2, "sign-in and consent:\n{transcript}");
    assert!(!transcript.contains("in-process"), "{transcript}");
    for want in ["list_folders ran", "Quarterly report", "second round: 0"] {
        assert!(transcript.contains(want), "{want:?} missing:\n{transcript}");
    }
}

/// What the person does on the broker's page at `url`: confirm the code, then follow the
/// sign-in (or consent) redirects back to the page's success view.
async fn approve_in_browser(url: &str) {
    let (base, code) = url.split_once("/connect/").expect("a broker page URL");
    let client = reqwest::Client::new();
    let page = client.get(url).send().await.expect("the page loads");
    assert_eq!(page.status(), 200, "{url}");
    let confirmed: serde_json::Value = client
        .post(format!("{base}/v1/connect/{code}/confirm"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("confirm")
        .json()
        .await
        .expect("JSON");
    let token = confirmed["connect_token"].as_str().expect("connect_token");
    let done = client
        .get(format!(
            "{base}/v1/oauth/authorize/{code}?connect_token={token}"
        ))
        .send()
        .await
        .expect("the redirects lead back");
    assert!(
        done.url().as_str().ends_with("status=success"),
        "{}",
        done.url()
    );
}

#[test]
fn demo_walks_the_first_run_with_no_setup() {
    let args = ["demo"];
    let out = mcs(&args, &[]);
    assert_exit(&args, &out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Approving each browser step in-process",
        "Sign-in required for 'gmail'",
        "\"auth_required\":true",
        "One more step for 'gmail'",
        "list_folders ran",
        "Reisen/Zürich",
        "Quarterly report",
        "Auth0 requests during the second round: 0",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing\n{}",
            explain(&args, &out)
        );
    }
}

#[test]
fn call_prints_json_from_the_configured_gmail() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let args = ["call", "list_folders"];
    let out = mcs(
        &args,
        &[("MCS_GMAIL_BASE_URL", &base), ("MCS_TOKEN_GMAIL", TOKEN)],
    );
    assert_exit(&args, &out, 0);
    let folders: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}", explain(&args, &out)));
    assert!(
        folders
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "Work"))
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(TOKEN));
}

#[test]
fn tool_errors_exit_1_with_the_reason_on_stderr() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let env = [
        ("MCS_GMAIL_BASE_URL", base.as_str()),
        ("MCS_TOKEN_GMAIL", TOKEN),
    ];
    let cases: [(&[&str], &str); 3] = [
        (&["call", "no_such_tool"], "no tool named \"no_such_tool\""),
        (&["call", "list_folders", "{oops"], "not valid JSON"),
        (&["call", "list_folders", "{\"x\":1}"], "takes no arguments"),
    ];
    for (args, want) in cases {
        let out = mcs(args, &env);
        assert_exit(args, &out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{}",
            explain(args, &out)
        );
        assert!(out.stdout.is_empty(), "{}", explain(args, &out));
    }
}

#[test]
fn a_missing_token_says_which_variable_to_set() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let args = ["call", "list_folders"];
    let out = mcs(&args, &[("MCS_GMAIL_BASE_URL", &base)]);
    assert_exit(&args, &out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MCS_TOKEN_GMAIL"),
        "{}",
        explain(&args, &out)
    );
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let args = ["call", "list_folders"];
    let out = mcs(&args, &[("MCS_GMAIL_BASE_URL", "ftp://nope")]);
    assert_exit(&args, &out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("mcs: MCS_GMAIL_BASE_URL"),
        "{}",
        explain(&args, &out)
    );
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let out = mcs(&["call"], &[]);
    assert_exit(&["call"], &out, 2);
    let out = mcs(&["--help"], &[]);
    assert_exit(&["--help"], &out, 0);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("3  authorization required"),
        "{help}"
    );
}

#[test]
fn call_keeps_its_state_private_and_encrypted() {
    use std::os::unix::fs::MetadataExt;
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    let args = ["call", "list_folders"];
    let out = mcs(
        &args,
        &[
            ("MCS_GMAIL_BASE_URL", &base),
            ("MCS_TOKEN_GMAIL", TOKEN),
            ("MCS_HOME", home_str),
        ],
    );
    assert_exit(&args, &out, 0);
    for name in ["state.db", "state.key"] {
        let meta =
            std::fs::metadata(home.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(meta.mode() & 0o077, 0, "{name} is private");
    }
    assert_eq!(
        std::fs::metadata(home.path().join("cache")).unwrap().mode() & 0o077,
        0
    );
    assert!(
        std::fs::read_dir(home.path().join("cache"))
            .unwrap()
            .count()
            >= 2,
        "components cached"
    );
}

#[test]
fn tools_lists_names_and_json_schemas() {
    let args = ["tools", "--json"];
    let out = mcs(&args, &[]);
    assert_exit(&args, &out, 0);
    let specs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(specs[0]["name"], "list_folders", "{}", explain(&args, &out));
    assert_eq!(specs[0]["input_schema"]["type"], "object");
}

/// Fake Auth0, broker and Gmail wired together, and the environment that points `mcs` at them.
struct TokenVaultSandbox {
    auth0: mcs_sandbox::FakeAuth0,
    broker: mcs_sandbox::FakeBroker,
    gmail: FakeGmail,
    home: tempfile::TempDir,
}

impl TokenVaultSandbox {
    fn start() -> Self {
        use mcs_sandbox::{Auth0Config, BrokerConfig, FakeAuth0, FakeBroker};
        let auth0 = FakeAuth0::start(Auth0Config::default()).unwrap();
        let cfg = auth0.config().clone();
        let broker = FakeBroker::start(BrokerConfig::for_tenant(&auth0)).unwrap();
        let gmail = FakeGmail::start(Mailbox::sample(), &cfg.google_access_token).unwrap();
        Self {
            auth0,
            broker,
            gmail,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let cfg = self.auth0.config();
        vec![
            ("MCS_HOME", self.home.path().to_str().unwrap().to_owned()),
            ("AUTH0_DOMAIN", cfg.domain.clone()),
            ("MCS_AUTH0_BASE_URL", self.auth0.base_url()),
            ("AUTH0_CLIENT_ID", cfg.client_id.clone()),
            ("AUTH0_CLIENT_SECRET", cfg.client_secret.clone()),
            ("LINKAUTH_BROKER_URL", self.broker.base_url()),
            ("MCS_GMAIL_BASE_URL", self.gmail.base_url()),
        ]
    }

    /// Does the person's part for `code` in the browser.
    fn approve(&self, code: &str) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(self.broker.approve(code, None)).unwrap();
    }
}

/// The whole Token Vault first run with one process per command, as a skill runner does it.
#[test]
fn token_vault_first_run_through_one_shot_processes() {
    let sb = TokenVaultSandbox::start();
    let owned = sb.env();
    let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let env = env.as_slice();
    let cfg = sb.auth0.config().clone();
    let approve = |code: &str| sb.approve(code);

    // 1. The tool call needs a sign-in: exit 3, the decorator JSON on stdout.
    let args = ["call", "list_folders"];
    let out = mcs(&args, env);
    assert_exit(&args, &out, 3);
    let challenge: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(challenge["auth_required"], true, "{}", explain(&args, &out));
    let code = challenge["code"].as_str().unwrap().to_owned();

    let args = ["auth", "status"];
    let out = mcs(&args, env);
    assert_exit(&args, &out, 0);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains("signed in:      no") && status.contains(&code),
        "{status}"
    );
    assert!(
        !status.contains(&cfg.client_secret),
        "secrets are never printed"
    );

    // 2. Signed in at Auth0; the login command reports the Connected Accounts step.
    approve(&code);
    let args = ["auth", "login", "--json"];
    let out = mcs(&args, env);
    assert_exit(&args, &out, 3);
    let connect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        connect["scope"],
        "gmail:connect",
        "{}",
        explain(&args, &out)
    );

    // 3. Consent given: login finishes, then the tool runs.
    approve(connect["code"].as_str().unwrap());
    let args = ["auth", "login"];
    let out = mcs(&args, env);
    assert_exit(&args, &out, 0);
    let args = ["call", "list_folders"];
    let out = mcs(&args, env);
    assert_exit(&args, &out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Work"));

    let args = ["auth", "status"];
    let status = String::from_utf8_lossy(&mcs(&args, env).stdout).to_string();
    assert!(
        status.contains("signed in:      yes") && status.contains("token cached:   gmail"),
        "{status}"
    );

    // 4. Logout forgets it all; the next call asks to sign in again.
    let args = ["auth", "logout"];
    let out = mcs(&args, env);
    assert_exit(&args, &out, 0);
    let args = ["call", "list_folders"];
    assert_exit(&args, &mcs(&args, env), 3);
}

#[test]
fn call_wait_shows_the_challenge_then_runs_the_tool_once_the_user_is_done() {
    use std::io::Read as _;
    use std::time::{Duration, Instant};

    let sb = TokenVaultSandbox::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcs"))
        .args(["call", "list_folders", "--wait", "--timeout", "60"])
        .env_clear()
        .envs(sb.env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Act as the person: approve each new session as it appears (sign-in, then consent).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut approved = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "mcs call --wait did not finish");
        for s in sb.broker.sessions() {
            if s.status == "pending" && !approved.contains(&s.code) {
                sb.approve(&s.code);
                approved.push(s.code);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(approved.len(), 2, "a sign-in and a consent");
    assert!(stdout.contains("Work"), "{stdout}");
    assert!(
        stderr.contains("Sign-in required") && stderr.contains("One more step"),
        "{stderr}"
    );
}

#[test]
fn inspect_shows_imports_exports_and_what_to_grant() {
    let path = mcs_host::guests::GUEST_MAIL_COMPONENT;
    let args = ["inspect", path];
    let out = mcs(&args, &[]);
    assert_exit(&args, &out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "tool (mcs:tools/tool-component)",
        "mcs:auth/credential-provider",
        "mcs:tools/tools",
        "allowed_outbound_hosts",
    ] {
        assert!(
            text.contains(want),
            "{want:?} missing\n{}",
            explain(&args, &out)
        );
    }
    let args = ["inspect", "Cargo.toml"];
    let out = mcs(&args, &[]);
    assert_exit(&args, &out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a WebAssembly component"));
}

#[test]
fn a_dot_env_file_configures_and_the_environment_wins() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "MCS_GMAIL_BASE_URL={}\nMCS_TOKEN_GMAIL=wrong-token\n",
            gmail.base_url()
        ),
    )
    .unwrap();
    let run = |env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_mcs"))
            .args(["call", "list_folders"])
            .current_dir(dir.path())
            .env_clear()
            .env("MCS_HOME", dir.path().join("home"))
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    // From .env alone: the right Gmail, the wrong token.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&["call"], &out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    // The real environment overrides .env.
    let out = run(&[("MCS_TOKEN_GMAIL", TOKEN)]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&["call"], &out));
}

/// Runs `mcs` in `dir` with only `env` (plus `MCS_HOME` under `dir`).
fn mcs_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcs"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("MCS_HOME", dir.join("home"))
        .envs(env.iter().copied())
        .output()
        .expect("mcs runs")
}

#[test]
fn mcs_toml_configures_names_bad_keys_and_loads_extra_components() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[gmail]\nbase_url = \"{}\"\n\n[tokens]\ngmail = \"{TOKEN}\"\n",
        gmail.base_url()
    );
    std::fs::write(dir.path().join("mcs.toml"), &toml).unwrap();
    let args = ["call", "list_folders"];
    let out = mcs_in(dir.path(), &args, &[]);
    assert_exit(&args, &out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Work"));

    // A typo is an error naming the key and its line, not a silently ignored setting.
    std::fs::write(
        dir.path().join("mcs.toml"),
        format!("{toml}\n[gmail2]\nbase_url = \"x\"\n"),
    )
    .unwrap();
    let out = mcs_in(dir.path(), &args, &[]);
    assert_exit(&args, &out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mcs.toml") && err.contains("gmail2"), "{err}");

    // An extra component is loaded: a second copy of the mail tools clashes by tool name.
    let extra = format!(
        "{toml}\n[[component]]\nname = \"mail-again\"\npath = \"{}\"\n",
        mcs_host::guests::GUEST_MAIL_COMPONENT
    );
    std::fs::write(dir.path().join("mcs.toml"), extra).unwrap();
    let out = mcs_in(dir.path(), &args, &[]);
    assert_exit(&args, &out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("offered by two components"),
        "{}",
        explain(&args, &out)
    );
}
