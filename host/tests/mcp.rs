//! `mcs mcp` as MCP clients use it: the real binary over stdio (JSON-RPC lines) and over
//! streamable HTTP (JSON-RPC POSTs to /mcp, answers as JSON or SSE), message by message; and
//! URL-mode elicitation of a sign-in on the wire. `mcp_python.rs` runs a real client.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mcs_sandbox::{Auth0Config, BrokerConfig, FakeAuth0, FakeBroker, FakeGmail, Mailbox};
use serde_json::{Value, json};

const TOKEN: &str = "ya29.mcp-test-token";
const PROTOCOL: &str = "2025-06-18";
/// Generous: the first call in a fresh `MCS_HOME` compiles the components.
const WAIT: Duration = Duration::from_secs(120);

/// A running `mcs mcp` with its state in `home`, pointed at a fake Gmail.
struct Server {
    child: Child,
    _gmail: FakeGmail,
}

impl Server {
    /// With a static Gmail token: tools run at once.
    fn start(args: &[&str], home: &tempfile::TempDir) -> Self {
        let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).expect("fake Gmail");
        Self::start_with(
            args,
            home,
            gmail,
            &[("MCS_TOKEN_GMAIL".into(), TOKEN.into())],
        )
    }

    /// With `gmail` and the rest of the configuration in `env`.
    fn start_with(
        args: &[&str],
        home: &tempfile::TempDir,
        gmail: FakeGmail,
        env: &[(String, String)],
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcs"));
        cmd.arg("mcp")
            .args(args)
            .current_dir(home.path())
            .env_clear()
            .env("MCS_HOME", home.path())
            .env("MCS_GMAIL_BASE_URL", gmail.base_url())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let child = cmd.spawn().expect("mcs starts");
        Self {
            child,
            _gmail: gmail,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn initialize(id: u64) -> Value {
    initialize_with(id, PROTOCOL, json!({}))
}

fn initialize_with(id: u64, protocol: &str, capabilities: Value) -> Value {
    request(
        id,
        "initialize",
        json!({
            "protocolVersion": protocol,
            "capabilities": capabilities,
            "clientInfo": {"name": "mcs-test", "version": "0"}
        }),
    )
}

fn initialized() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

fn call(id: u64, name: &str, arguments: Value) -> Value {
    request(
        id,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

fn check_initialize(response: &Value) {
    let result = &response["result"];
    assert_eq!(result["serverInfo"]["name"], "mcs", "{response}");
    assert_eq!(
        result["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{response}"
    );
    assert_eq!(result["protocolVersion"], PROTOCOL, "{response}");
    assert!(result["capabilities"]["tools"].is_object(), "{response}");
}

fn check_tools_list(response: &Value) {
    let tools = response["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {response}"));
    let folders = tools
        .iter()
        .find(|t| t["name"] == "list_folders")
        .unwrap_or_else(|| panic!("no list_folders: {response}"));
    assert!(
        folders["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(folders["inputSchema"]["type"], "object", "{response}");
}

fn check_list_folders(response: &Value) {
    let result = &response["result"];
    assert_eq!(result["isError"], false, "{response}");
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {response}"));
    let folders: Value = serde_json::from_str(text).expect("the text is the tool's JSON");
    assert!(
        folders
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "Work")),
        "{response}"
    );
}

fn check_unknown_tool(response: &Value) {
    let result = &response["result"];
    assert_eq!(result["isError"], true, "{response}");
    assert!(
        result["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("no tool named \"no_such_tool\"")),
        "{response}"
    );
}

/// JSON-RPC over the child's stdin and stdout, one message per line.
struct StdioClient {
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl StdioClient {
    fn new(child: &mut Child) -> Self {
        let stdin = child.stdin.take().expect("stdin");
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
        Self { stdin, lines }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write to mcs");
        self.stdin.flush().expect("flush");
    }

    /// The response to request `id`, skipping other messages.
    fn response(&self, id: u64) -> Value {
        loop {
            let message = self.next(&format!("response to request {id}"));
            if message["id"] == id && message.get("method").is_none() {
                return message;
            }
        }
    }

    /// The next message; every line on stdout must be a JSON-RPC message.
    fn next(&self, what: &str) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no {what}: {e}"));
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        message
    }
}

/// Starts `mcs mcp` on stdio in `home` and returns it once it has answered `initialize`,
/// printing how long that took.
fn start_stdio(home: &tempfile::TempDir, what: &str) -> (Server, StdioClient) {
    let started = Instant::now();
    let mut server = Server::start(&[], home);
    let mut io = StdioClient::new(&mut server.child);
    io.send(&initialize(1));
    let response = io.response(1);
    eprintln!(
        "mcs mcp (stdio, {what}) answered initialize {:?} after spawn",
        started.elapsed()
    );
    check_initialize(&response);
    (server, io)
}

#[test]
fn stdio_lists_and_calls_tools() {
    let home = tempfile::tempdir().expect("temp dir");
    let (mut server, mut io) = start_stdio(&home, "components not cached yet");
    io.send(&initialized());

    io.send(&request(2, "tools/list", json!({})));
    check_tools_list(&io.response(2));

    io.send(&call(3, "list_folders", json!({})));
    check_list_folders(&io.response(3));

    io.send(&call(4, "no_such_tool", json!({})));
    check_unknown_tool(&io.response(4));

    // Closing stdin ends the session and the process.
    drop(io);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "mcs mcp did not exit on EOF");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Started again on the same state directory, the compiled components are reused.
    let (_server, mut io) = start_stdio(&home, "components cached");
    io.send(&initialized());
    io.send(&call(2, "list_folders", json!({})));
    check_list_folders(&io.response(2));
}

/// Reads an `elicitation/create` for `broker`'s page of a code, with the code in the message,
/// and answers it with `action`; returns the code and the elicitation id.
fn answer_elicitation(io: &mut StdioClient, broker: &FakeBroker, action: &str) -> (String, String) {
    let request = io.next("elicitation/create");
    assert_eq!(request["method"], "elicitation/create", "{request}");
    let params = &request["params"];
    assert_eq!(params["mode"], "url", "{request}");
    let url = params["url"].as_str().expect("url");
    let code = url.rsplit('/').next().expect("a code").to_owned();
    assert_eq!(url, format!("{}/connect/{code}", broker.base_url()));
    assert!(
        params["message"]
            .as_str()
            .is_some_and(|m| m.contains(&code) && m.contains("list_folders")),
        "{request}"
    );
    let id = params["elicitationId"].as_str().expect("an id").to_owned();
    io.send(&json!({"jsonrpc": "2.0", "id": request["id"], "result": {"action": action}}));
    (code, id)
}

/// How often the broker's sessions have been polled.
fn polls(broker: &FakeBroker) -> usize {
    let requests = broker.requests();
    let is_poll = |r: &&mcs_sandbox::RecordedRequest| {
        r.method == "GET" && r.path_and_query.starts_with("/v1/sessions/")
    };
    requests.iter().filter(is_poll).count()
}

/// Waits until the broker's sessions have been polled `n` times.
fn wait_for_polls(broker: &FakeBroker, n: usize) {
    // The server retries every second; 30 s is plenty even on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    while polls(broker) < n {
        assert!(
            Instant::now() < deadline,
            "the server stopped polling the broker before {n} polls (elicited again instead?)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client that declared URL-mode elicitation (MCP 2025-11-25), against the Token Vault
/// sandbox: an accepted page is followed until the step is done, then the next is elicited;
/// a declined one gives its challenge as the result; accepted again, the call returns the
/// folders.
#[test]
fn stdio_url_elicitation_on_the_wire() {
    let auth0 = FakeAuth0::start(Auth0Config::default()).expect("fake Auth0");
    let broker = FakeBroker::start(BrokerConfig::for_tenant(&auth0)).expect("fake broker");
    let cfg = auth0.config().clone();
    let gmail = FakeGmail::start(Mailbox::sample(), &cfg.google_access_token).expect("Gmail");
    let env = [
        ("AUTH0_DOMAIN", cfg.domain.clone()),
        ("MCS_AUTH0_BASE_URL", auth0.base_url()),
        ("AUTH0_CLIENT_ID", cfg.client_id.clone()),
        ("AUTH0_CLIENT_SECRET", cfg.client_secret.clone()),
        ("AUTH0_AUDIENCE", cfg.audience.clone()),
        ("LINKAUTH_BROKER_URL", broker.base_url()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let home = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start_with(&[], &home, gmail, &env);
    let mut io = StdioClient::new(&mut server.child);
    let url_mode = json!({"elicitation": {"url": {}}});
    io.send(&initialize_with(1, "2025-11-25", url_mode));
    assert_eq!(io.response(1)["result"]["protocolVersion"], "2025-11-25");
    io.send(&initialized());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let approve = |code: &str| {
        rt.block_on(broker.approve(code, None))
            .unwrap_or_else(|e| panic!("approving {code}: {e}"));
    };
    let completed = |io: &StdioClient, id: &str| {
        let done = io.next("notifications/elicitation/complete");
        assert_eq!(
            done["method"], "notifications/elicitation/complete",
            "{done}"
        );
        assert_eq!(done["params"]["elicitationId"], id, "{done}");
    };

    // The sign-in page, accepted. The person takes their time: while the server retries
    // ("Still waiting"), nothing is elicited again and nothing is complete.
    io.send(&call(2, "list_folders", json!({})));
    let polled = polls(&broker);
    let (sign_in, id) = answer_elicitation(&mut io, &broker, "accept");
    wait_for_polls(&broker, polled + 2);
    approve(&sign_in);
    completed(&io, &id);

    // The consent page, declined: the result is that challenge, as without elicitation.
    let (consent, _) = answer_elicitation(&mut io, &broker, "decline");
    assert_ne!(consent, sign_in);
    let response = io.response(2);
    let text = response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let challenge: Value = serde_json::from_str(text).expect("the decorator JSON");
    assert_eq!(challenge["auth_required"], true, "{response}");
    assert_eq!(challenge["code"], consent.as_str(), "{response}");
    assert_eq!(challenge["scope"], "gmail:connect", "{response}");

    // Called again: the same consent page, accepted and done; the call returns the folders.
    io.send(&call(3, "list_folders", json!({})));
    let (again, id) = answer_elicitation(&mut io, &broker, "accept");
    assert_eq!(again, consent, "the declined step is resumed");
    approve(&again);
    completed(&io, &id);
    check_list_folders(&io.response(3));
}

/// A streamable HTTP client session.
struct Http {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
}

impl Http {
    /// POSTs one message; returns the HTTP status and the JSON-RPC response, if any (a plain
    /// JSON body, or the first `data:` event of an SSE body that carries one).
    async fn post(&mut self, message: &Value) -> (reqwest::StatusCode, Option<Value>) {
        let mut request = self
            .client
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .header("MCP-Protocol-Version", PROTOCOL)
            .body(message.to_string());
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("POST in time")
            .expect("POST");
        let status = response.status();
        if let Some(session) = response.headers().get("mcp-session-id") {
            self.session = Some(session.to_str().expect("session id").to_owned());
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = tokio::time::timeout(WAIT, response.text())
            .await
            .expect("body in time")
            .expect("body");
        let message = if content_type.starts_with("text/event-stream") {
            body.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .find_map(|d| serde_json::from_str::<Value>(d).ok())
        } else if body.trim().is_empty() {
            None
        } else {
            Some(serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
        };
        (status, message)
    }

    async fn ask(&mut self, message: &Value) -> Value {
        let (status, response) = self.post(message).await;
        assert!(status.is_success(), "{status} for {message}");
        let response = response.unwrap_or_else(|| panic!("no response to {message}"));
        assert_eq!(response["id"], message["id"], "{response}");
        response
    }
}

/// `mcs mcp --http` on a free loopback port with `extra` arguments, once it listens; its
/// address and when it was started.
async fn start_http(home: &tempfile::TempDir, extra: &[&str]) -> (Server, String, Instant) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["--http", &addr];
    args.extend_from_slice(extra);
    let server = Server::start(&args, home);
    // The server listens once the components are loaded: retry until it answers.
    let started = Instant::now();
    let deadline = started + WAIT;
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "mcs mcp --http never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (server, addr, started)
}

#[tokio::test(flavor = "multi_thread")]
async fn http_accepts_only_loopback_or_allowed_host_names() {
    let home = tempfile::tempdir().expect("temp dir");
    let (_server, addr, _) = start_http(&home, &["--allow-host", "mcs.internal"]).await;
    let port = addr.rsplit(':').next().expect("port");
    let client = reqwest::Client::new();
    let status_for = |host: String| {
        let request = client
            .post(format!("http://{addr}/mcp"))
            .header("Host", host)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .body(initialize(1).to_string());
        async move { request.send().await.expect("POST").status() }
    };
    assert!(
        status_for(format!("mcs.internal:{port}"))
            .await
            .is_success()
    );
    assert!(status_for(format!("localhost:{port}")).await.is_success());
    let refused = status_for(format!("attacker.example:{port}")).await;
    assert!(refused.is_client_error(), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_lists_and_calls_tools() {
    let home = tempfile::tempdir().expect("temp dir");
    let (_server, addr, started) = start_http(&home, &[]).await;
    let mut http = Http {
        client: reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("client"),
        url: format!("http://{addr}/mcp"),
        session: None,
    };
    let response = http.ask(&initialize(1)).await;
    eprintln!(
        "mcs mcp --http answered initialize {:?} after start",
        started.elapsed()
    );
    check_initialize(&response);
    assert!(http.session.is_some(), "no Mcp-Session-Id");

    let (status, body) = http.post(&initialized()).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body:?}");

    check_tools_list(&http.ask(&request(2, "tools/list", json!({}))).await);
    check_list_folders(&http.ask(&call(3, "list_folders", json!({}))).await);
    check_unknown_tool(&http.ask(&call(4, "no_such_tool", json!({}))).await);
}
