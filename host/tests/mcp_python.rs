//! `mcs mcp` with a client we did not write: the official MCP Python SDK, driven by
//! `host/tests/python/mcp_client.py`, over stdio (the SDK starts `mcs` itself) and streamable
//! HTTP; and URL-mode elicitation through the whole Token Vault first run.
//!
//! Python comes from `$MCS_TEST_PYTHON`, else `<workspace>/target/mcp-venv/bin/python`, which
//! `.ci/run` creates (see [`python`]). `MCS_SKIP_PYTHON_TESTS=1` skips these tests.

use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mcs_sandbox::{Auth0Config, BrokerConfig, FakeAuth0, FakeBroker, FakeGmail, Mailbox};
use serde_json::{Value, json};

const TOKEN: &str = "ya29.mcp-python-test-token";
/// Every tool the mail component offers, in the order `tools/list` gives them.
const TOOL_NAMES: &[&str] = &[
    "list_folders",
    "list_messages",
    "fetch_message",
    "search_messages",
    "move_message",
    "set_flags",
    "create_folder",
    "send_message",
    "send_html_message",
    "trash_message",
    "reply_message",
];
/// Generous: a whole run, including compiling the components in a fresh `MCS_HOME`.
const WAIT: Duration = Duration::from_secs(120);

/// The Python that has the MCP SDK, or `None` when these tests are to be skipped.
fn python() -> Option<PathBuf> {
    if std::env::var_os("MCS_SKIP_PYTHON_TESTS").is_some_and(|v| v == "1") {
        eprintln!("MCS_SKIP_PYTHON_TESTS=1: skipping the MCP Python SDK test");
        return None;
    }
    let (python, from) = match std::env::var_os("MCS_TEST_PYTHON") {
        Some(path) => (PathBuf::from(path), "$MCS_TEST_PYTHON"),
        None => (
            workspace().join("target/mcp-venv/bin/python"),
            "the default",
        ),
    };
    assert!(
        python.exists(),
        "no Python with the MCP SDK at {python:?} ({from}). Create it as .ci/run does:\n  \
         python3 -m venv target/mcp-venv && \
         target/mcp-venv/bin/pip install -r host/tests/python/requirements.txt\n\
         or point MCS_TEST_PYTHON at such a Python, or set MCS_SKIP_PYTHON_TESTS=1 to skip"
    );
    Some(python)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds host/")
        .to_owned()
}

/// The fakes `mcs` talks to, its state directory, and the environment that wires them up.
struct Sandbox {
    gmail: FakeGmail,
    /// With Token Vault: the tenant and the broker; without, a static Gmail token.
    token_vault: Option<(FakeAuth0, FakeBroker)>,
    home: tempfile::TempDir,
}

impl Sandbox {
    /// Gmail with a static token (`MCS_TOKEN_GMAIL`): tools run at once.
    fn with_token() -> Self {
        Self {
            gmail: FakeGmail::start(Mailbox::sample(), TOKEN).expect("fake Gmail"),
            token_vault: None,
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Auth0 Token Vault through a LinkAuth broker: the first call needs a sign-in.
    fn with_token_vault() -> Self {
        let auth0 = FakeAuth0::start(Auth0Config::default()).expect("fake Auth0");
        let broker = FakeBroker::start(BrokerConfig::for_tenant(&auth0)).expect("fake broker");
        let google_token = auth0.config().google_access_token.clone();
        Self {
            gmail: FakeGmail::start(Mailbox::sample(), &google_token).expect("fake Gmail"),
            token_vault: Some((auth0, broker)),
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn broker(&self) -> &FakeBroker {
        &self.token_vault.as_ref().expect("a Token Vault sandbox").1
    }

    /// The environment of `mcs mcp` (and nothing else: `mcs` reads `.env` from its working
    /// directory, which is `home`).
    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("MCS_HOME".into(), self.home.path().display().to_string()),
            ("MCS_GMAIL_BASE_URL".into(), self.gmail.base_url()),
        ];
        match &self.token_vault {
            None => env.push(("MCS_TOKEN_GMAIL".into(), TOKEN.into())),
            Some((auth0, broker)) => {
                let cfg = auth0.config();
                env.extend([
                    ("AUTH0_DOMAIN".into(), cfg.domain.clone()),
                    ("MCS_AUTH0_BASE_URL".into(), auth0.base_url()),
                    ("AUTH0_CLIENT_ID".into(), cfg.client_id.clone()),
                    ("AUTH0_CLIENT_SECRET".into(), cfg.client_secret.clone()),
                    ("AUTH0_AUDIENCE".into(), cfg.audience.clone()),
                    ("LINKAUTH_BROKER_URL".into(), broker.base_url()),
                ]);
            }
        }
        env
    }

    /// Does the person's part in the browser for the pending broker session that `elicitation`
    /// shows, and returns its code; fails if the elicitation names no pending session. The
    /// person takes their time: the server has polled the session once more meanwhile.
    fn approve(&self, elicitation: &Value) -> String {
        let broker = self.broker();
        let polled = polls(broker);
        let deadline = Instant::now() + Duration::from_secs(30);
        while polls(broker) <= polled {
            assert!(
                Instant::now() < deadline,
                "the server did not poll the broker while the person was on the page"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let sessions = broker.sessions();
        let session = sessions
            .iter()
            .find(|s| s.status == "pending" && elicitation["url"] == url_of(broker, &s.code))
            .unwrap_or_else(|| {
                panic!("the elicitation names no pending session: {elicitation:#}\n{sessions:#?}")
            });
        let message = elicitation["message"].as_str().unwrap_or_default();
        assert!(message.contains(&session.code), "{elicitation:#}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(broker.approve(&session.code, None))
            .unwrap_or_else(|e| panic!("approving {}: {e}", session.code));
        session.code.clone()
    }
}

/// How often the broker's sessions have been polled.
fn polls(broker: &FakeBroker) -> usize {
    let requests = broker.requests();
    let is_poll = |r: &&mcs_sandbox::RecordedRequest| {
        r.method == "GET" && r.path_and_query.starts_with("/v1/sessions/")
    };
    requests.iter().filter(is_poll).count()
}

fn url_of(broker: &FakeBroker, code: &str) -> String {
    format!("{}/connect/{code}", broker.base_url())
}

/// Everything a child process wrote on stderr, read on a thread so the pipe never fills.
fn drain(stderr: ChildStderr) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    })
}

/// `mcs mcp --http 127.0.0.1:0`, started by the test, at the address it reports.
struct HttpServer {
    child: Child,
    url: String,
    stderr: Option<JoinHandle<String>>,
}

impl HttpServer {
    fn start(sandbox: &Sandbox) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcs"))
            .args(["mcp", "--http", "127.0.0.1:0"])
            .current_dir(sandbox.home.path())
            .env_clear()
            .envs(sandbox.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mcs starts");
        // "mcs: serving MCP at http://127.0.0.1:PORT/mcp; Ctrl-C stops"
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).expect("read stderr") == 0 {
                let _ = child.kill();
                panic!("mcs mcp --http ended before listening:\n{seen}");
            }
            seen.push_str(&line);
            if let Some(rest) = line.split("serving MCP at ").nth(1) {
                break rest.split(';').next().unwrap_or_default().trim().to_owned();
            }
        };
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let stderr = drain(stderr.into_inner());
        Self {
            child,
            url,
            stderr: Some(stderr),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(stderr) = self.stderr.take().and_then(|h| h.join().ok())
            && !stderr.is_empty()
        {
            eprintln!("--- mcs mcp --http stderr ---\n{stderr}");
        }
    }
}

enum Transport<'a> {
    /// The SDK starts `mcs mcp` and speaks over its stdin and stdout.
    Stdio,
    /// The SDK connects to this streamable HTTP endpoint.
    Http(&'a str),
}

/// A run of `mcp_client.py`: its JSON lines as they come, and its stderr (which also holds the
/// stderr of an `mcs` it started).
struct PythonClient {
    child: Child,
    command: String,
    lines: mpsc::Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl PythonClient {
    /// Starts the client; `elicit` is how it answers elicitations (`None`: it declares no
    /// elicitation capability).
    fn start(
        python: &Path,
        sandbox: &Sandbox,
        transport: Transport<'_>,
        elicit: Option<&str>,
        calls: &[(&str, Value)],
    ) -> Self {
        let script = workspace().join("host/tests/python/mcp_client.py");
        let mut args: Vec<String> = vec![script.display().to_string()];
        for (name, arguments) in calls {
            args.extend(["--call".into(), (*name).into(), arguments.to_string()]);
        }
        if let Some(answer) = elicit {
            args.extend(["--elicit".into(), answer.into()]);
        }
        match transport {
            Transport::Stdio => {
                args.extend(["stdio".into(), "--cwd".into()]);
                args.push(sandbox.home.path().display().to_string());
                for (key, value) in sandbox.env() {
                    args.extend(["--env".into(), format!("{key}={value}")]);
                }
                args.extend(["--".into(), env!("CARGO_BIN_EXE_mcs").into(), "mcp".into()]);
            }
            Transport::Http(url) => args.extend(["http".into(), url.into()]),
        }
        let mut cmd = Command::new(python);
        cmd.args(&args)
            .current_dir(sandbox.home.path())
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let command = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Some(drain(child.stderr.take().expect("stderr")));
        Self {
            child,
            command,
            lines,
            stderr,
        }
    }

    /// The next JSON line; panics with the command and its stderr if there is none in time.
    fn next(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| self.fail(&format!("stdout line is not JSON ({e}): {line}"))),
            Err(e) => self.fail(&format!("no output ({e})")),
        }
    }

    /// Reads events until the summary, handing each elicitation to `on_elicit`; checks that
    /// the client exits successfully.
    fn summary(mut self, mut on_elicit: impl FnMut(&Value)) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let event = self.next(deadline);
            match event["event"].as_str() {
                Some("elicitation") => on_elicit(&event),
                Some("summary") => {
                    let status = self.child.wait().expect("wait");
                    if !status.success() {
                        self.fail(&format!("exited with {status}"));
                    }
                    eprintln!("{}", self.stderr());
                    return event;
                }
                _ => self.fail(&format!("unexpected output: {event}")),
            }
        }
    }

    fn stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    fn fail(&mut self, what: &str) -> ! {
        let stderr = self.stderr();
        panic!("{what}\ncommand: {}\nstderr:\n{stderr}", self.command)
    }
}

impl Drop for PythonClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The texts of call `index` in `summary`, and whether it was an error.
fn call(summary: &Value, index: usize) -> (&Value, Vec<&str>) {
    let call = &summary["calls"][index];
    let texts = call["texts"]
        .as_array()
        .unwrap_or_else(|| panic!("no call {index}: {summary:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (&call["is_error"], texts)
}

/// The tool's JSON result of call `index`, which must have succeeded.
fn result_of(summary: &Value, index: usize) -> Value {
    let (is_error, texts) = call(summary, index);
    assert_eq!(is_error, false, "call {index}: {summary:#}");
    assert_eq!(texts.len(), 1, "call {index}: {summary:#}");
    serde_json::from_str(texts[0]).unwrap_or_else(|e| panic!("{e}: {}", texts[0]))
}

fn assert_has_work_folder(summary: &Value, index: usize) {
    let folders = result_of(summary, index);
    assert!(
        folders
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "Work")),
        "call {index}: {summary:#}"
    );
}

/// The auth challenge call `index` returned (the AuthDecorator JSON and the sentence).
fn challenge_of(summary: &Value, index: usize) -> Value {
    let (is_error, texts) = call(summary, index);
    assert_eq!(is_error, false, "a challenge is no error: {summary:#}");
    assert_eq!(texts.len(), 2, "call {index}: {summary:#}");
    let challenge: Value = serde_json::from_str(texts[0]).expect("the decorator JSON");
    assert_eq!(challenge["auth_required"], true, "{summary:#}");
    assert!(
        texts[1].starts_with("Authorization needed: open "),
        "{summary:#}"
    );
    challenge
}

/// The summary of listing tools and calling `list_folders` and `list_messages`.
fn check_tools_and_calls(summary: &Value) {
    assert_eq!(summary["server"]["name"], "mcs", "{summary:#}");
    assert_eq!(summary["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(summary["protocol_version"], "2025-11-25", "{summary:#}");
    assert!(summary["capabilities"]["tools"].is_object(), "{summary:#}");

    let tools = summary["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, TOOL_NAMES);
    for tool in tools {
        assert!(
            tool["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{tool:#}"
        );
        assert_eq!(tool["input_schema"]["type"], "object", "{tool:#}");
    }
    let limit = &tools[1]["input_schema"]["properties"]["limit"];
    assert_eq!(limit["type"], "integer", "{limit:#}");

    assert_has_work_folder(summary, 0);
    let page = result_of(summary, 1);
    let messages = page["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "limit 2: {page:#}");
    assert!(messages[0]["subject"].is_string(), "{page:#}");
    assert_eq!(summary["elicitations"], json!([]), "{summary:#}");
}

fn list_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("list_folders", json!({})),
        ("list_messages", json!({"limit": 2})),
    ]
}

#[test]
fn the_python_sdk_lists_and_calls_tools_over_stdio() {
    let Some(python) = python() else { return };
    let sandbox = Sandbox::with_token();
    let started = Instant::now();
    let client = PythonClient::start(&python, &sandbox, Transport::Stdio, None, &list_calls());
    check_tools_and_calls(&client.summary(|e| panic!("no elicitation expected: {e}")));
    eprintln!("stdio run took {:?}", started.elapsed());
}

#[test]
fn the_python_sdk_lists_and_calls_tools_over_http() {
    let Some(python) = python() else { return };
    let sandbox = Sandbox::with_token();
    let server = HttpServer::start(&sandbox);
    let started = Instant::now();
    let transport = Transport::Http(&server.url);
    let client = PythonClient::start(&python, &sandbox, transport, None, &list_calls());
    check_tools_and_calls(&client.summary(|e| panic!("no elicitation expected: {e}")));
    eprintln!("HTTP run took {:?}", started.elapsed());
}

/// The Token Vault first run in one `tools/call`: the person is sent to the sign-in page, then
/// to the consent page, and the call returns the folders. The next call needs neither.
fn first_run_through_url_elicitation(python: &Path, sandbox: &Sandbox, transport: Transport<'_>) {
    let started = Instant::now();
    let calls = list_calls();
    let client = PythonClient::start(python, sandbox, transport, Some("accept"), &calls);
    let mut approved = Vec::new();
    let summary = client.summary(|elicitation| approved.push(sandbox.approve(elicitation)));
    eprintln!("first run took {:?}", started.elapsed());

    assert_eq!(approved.len(), 2, "a sign-in and a consent: {summary:#}");
    let elicitations = summary["elicitations"].as_array().expect("elicitations");
    assert_eq!(elicitations.len(), 2, "{summary:#}");
    let broker = sandbox.broker();
    for (elicitation, code) in elicitations.iter().zip(&approved) {
        assert_eq!(elicitation["mode"], "url", "{elicitation:#}");
        assert_eq!(elicitation["url"], url_of(broker, code), "{elicitation:#}");
        assert!(
            elicitation["message"]
                .as_str()
                .is_some_and(|m| m.contains(code) && m.contains("list_folders")),
            "{elicitation:#}"
        );
    }
    let ids: Vec<&Value> = elicitations.iter().map(|e| &e["elicitationId"]).collect();
    assert!(ids[0].is_string() && ids[0] != ids[1], "{summary:#}");
    assert_eq!(
        summary["completed"].as_array().expect("completed"),
        &ids.into_iter().cloned().collect::<Vec<_>>(),
        "each finished step is announced: {summary:#}"
    );

    assert_has_work_folder(&summary, 0);
    let page = result_of(&summary, 1);
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));
    let sessions = broker.sessions();
    assert!(
        sessions.iter().all(|s| s.status != "pending"),
        "no step left open: {sessions:#?}"
    );
}

#[test]
fn url_elicitation_walks_the_token_vault_first_run_over_stdio() {
    let Some(python) = python() else { return };
    let sandbox = Sandbox::with_token_vault();
    first_run_through_url_elicitation(&python, &sandbox, Transport::Stdio);
}

#[test]
fn url_elicitation_walks_the_token_vault_first_run_over_http() {
    let Some(python) = python() else { return };
    let sandbox = Sandbox::with_token_vault();
    let server = HttpServer::start(&sandbox);
    first_run_through_url_elicitation(&python, &sandbox, Transport::Http(&server.url));
}

#[test]
fn without_url_elicitation_or_when_declined_the_challenge_is_the_result() {
    let Some(python) = python() else { return };
    let sandbox = Sandbox::with_token_vault();
    let calls = [("list_folders", json!({}))];

    // A client that declares no elicitation gets the challenge, as before.
    let client = PythonClient::start(&python, &sandbox, Transport::Stdio, None, &calls);
    let summary = client.summary(|e| panic!("no elicitation expected: {e}"));
    let challenge = challenge_of(&summary, 0);
    let code = challenge["code"].as_str().expect("a code");
    assert_eq!(challenge["url"], url_of(sandbox.broker(), code));

    // One that declines the page gets the same challenge (the same session, resumed).
    let client = PythonClient::start(&python, &sandbox, Transport::Stdio, Some("decline"), &calls);
    let summary = client.summary(|_| {});
    let again = challenge_of(&summary, 0);
    for key in ["url", "code", "scope"] {
        assert_eq!(again[key], challenge[key], "{key}: {again:#}");
    }
    let elicitations = summary["elicitations"].as_array().expect("elicitations");
    assert_eq!(elicitations.len(), 1, "{summary:#}");
    assert_eq!(elicitations[0]["url"], challenge["url"], "{summary:#}");
    assert_eq!(summary["completed"], json!([]), "{summary:#}");
    let sessions = sandbox.broker().sessions();
    assert!(
        sessions.len() == 1 && sessions[0].status == "pending",
        "{sessions:#?}"
    );
}
