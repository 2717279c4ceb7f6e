//! `mcs mcp` as MCP clients use it: the real binary over stdio (JSON-RPC lines) and over
//! streamable HTTP (JSON-RPC POSTs to /mcp, answers as JSON or SSE).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mcs_sandbox::{FakeGmail, Mailbox};
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
    fn start(args: &[&str], home: &tempfile::TempDir) -> Self {
        let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).expect("fake Gmail");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcs"));
        cmd.arg("mcp")
            .args(args)
            .env_clear()
            .env("MCS_HOME", home.path())
            .env("MCS_GMAIL_BASE_URL", gmail.base_url())
            .env("MCS_TOKEN_GMAIL", TOKEN)
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
    request(
        id,
        "initialize",
        json!({
            "protocolVersion": PROTOCOL,
            "capabilities": {},
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

    /// The response to request `id`; every line on stdout must be a JSON-RPC message.
    fn response(&self, id: u64) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no response to request {id}: {e}"));
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if message["id"] == id {
                return message;
            }
        }
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

#[tokio::test(flavor = "multi_thread")]
async fn http_lists_and_calls_tools() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let home = tempfile::tempdir().expect("temp dir");
    let _server = Server::start(&["--http", &addr], &home);
    let mut http = Http {
        client: reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("client"),
        url: format!("http://{addr}/mcp"),
        session: None,
    };

    // The server listens once the components are loaded: retry until it answers.
    let started = Instant::now();
    let deadline = started + WAIT;
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "mcs mcp --http never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
