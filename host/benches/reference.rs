//! mcs against the reference Python stack (modelcontextstandard/python-sdk), in one run, on the
//! same loopback fake Gmail: `cargo bench -p mcs-host --bench reference`.
//!
//! Benchmarks are not tests: this measures and prints figures and ratios, it asserts only
//! that both sides answered. The reference side runs from `target/ref-venv` (override with
//! `MCS_BENCH_PYTHON`), which `bash bench/reference/setup.sh` creates; without it the
//! reference parts are skipped and only the mcs figures are printed. The Python drivers are
//! in `bench/reference/` and read the same `MCS_GMAIL_BASE_URL` and `MCS_TOKEN_GMAIL` as `mcs`.
//!
//! 1. Warm `list_messages(limit=20)` with 5 ms injected per request at the fake: mcs through
//!    `mcs_host::Runtime` in this process (as `host.rs` does), the reference in one long-lived
//!    Python process timing each `execute_tool` call itself (`list_messages_loop.py`); each
//!    side's timer wraps only the tool call, and this binary takes the percentiles of both.
//! 2. A cold process making one `list_folders` call: the release `mcs call list_folders` with
//!    a warm compile cache against `python list_folders.py`, run alternately; wall time
//!    around `/usr/bin/time -f %M` (spawn to exit, interpreter start-up included) and peak RSS.
//! 3. MCP over stdio: `mcs mcp` against `mcp_server.py` (the MCP Python SDK's `MCPServer`
//!    around the reference's tools). Time to first answer is spawn to the `initialize`
//!    response; CPU per call is the server's utime+stime from `/proc/<pid>/stat` across
//!    `MCP_CALLS` sequential `tools/call list_folders`, divided by the number of calls.
//!
//! The sides run one after the other, never at the same time (the machine has two cores).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mcs_host::{ComponentConfig, Runtime, guests};
use mcs_sandbox::{FakeGmail, Mailbox};
use serde_json::{Value, json};

const TOKEN: &str = "ya29.bench-token";
/// The upstream latency of the `list_messages` target.
const LATENCY: Duration = Duration::from_millis(5);
/// Timed `list_messages` calls per side (after `WARMUP` untimed ones).
const LIST_CALLS: usize = 100;
const WARMUP: usize = 5;
/// Timed cold processes per side (after one untimed run each, which fills the caches).
const COLD_RUNS: usize = 20;
/// Spawns per side for time to first answer (after one untimed spawn each).
const READY_RUNS: usize = 10;
/// Sequential `tools/call` per server for CPU per call. At 100 Hz clock ticks, 1000 calls of
/// 0.3 ms CPU each are 30 ticks, so the figure is good to a few percent.
const MCP_CALLS: usize = 1000;
/// How long to wait for any one MCP message before giving up.
const MCP_WAIT: Duration = Duration::from_secs(60);

/// The goals this bench checks, from the project guide.
const TARGET_LIST_MESSAGES_SPEEDUP: f64 = 8.0;
const TARGET_COLD_SPEEDUP: f64 = 12.0;
const TARGET_COLD_RSS_MB: f64 = 25.0;
const TARGET_MCP_CPU_RATIO: f64 = 20.0;
const TARGET_MCP_READY_MS: f64 = 50.0;

fn main() {
    let python = reference_python();
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).expect("fake Gmail starts");
    let base = gmail.base_url();
    println!("fake Gmail at {base}");

    // mcs's state and compile cache, filled by the first process that runs.
    let home = tempfile::tempdir().expect("temp dir");
    // The reference's bytecode cache, outside the source tree (a first run fills it).
    let pycache = tempfile::tempdir().expect("temp dir");
    let env = Env {
        base: &base,
        home: home.path(),
        pycache: pycache.path(),
    };

    gmail.set_latency(LATENCY);
    list_messages(&env, python.as_deref());
    gmail.set_latency(Duration::ZERO);

    cold_process(&env, python.as_deref());
    mcp(&env, python.as_deref());
}

/// The venv's Python, or `None` (with instructions printed) when it is missing.
fn reference_python() -> Option<PathBuf> {
    let python = match std::env::var_os("MCS_BENCH_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => workspace().join("target/ref-venv/bin/python"),
    };
    if python.exists() {
        println!("reference: {}", python.display());
        Some(python)
    } else {
        println!(
            "reference: no Python at {} — skipping the reference parts. Create it with\n  \
             bash bench/reference/setup.sh\n(or point MCS_BENCH_PYTHON at a Python that has \
             bench/reference/requirements.txt installed)",
            python.display()
        );
        None
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds host/")
        .to_owned()
}

/// What the child processes share: where Gmail is, mcs's state, the reference's pycache.
struct Env<'a> {
    base: &'a str,
    home: &'a Path,
    pycache: &'a Path,
}

impl Env<'_> {
    /// `mcs ARGS` against the fake, with a static token and the compile cache in `home`.
    fn mcs(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcs"));
        cmd.args(args)
            .env("MCS_HOME", self.home)
            .env("MCS_GMAIL_BASE_URL", self.base)
            .env("MCS_TOKEN_GMAIL", TOKEN);
        cmd
    }

    /// `python bench/reference/SCRIPT ARGS` against the fake, with a static token, as a
    /// user's Python runs it: bytecode caching on and stdout buffered.
    fn python(&self, python: &Path, script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(python);
        cmd.arg(workspace().join("bench/reference").join(script))
            .args(args)
            .env("MCS_GMAIL_BASE_URL", self.base)
            .env("MCS_TOKEN_GMAIL", TOKEN)
            .env("PYTHONPYCACHEPREFIX", self.pycache)
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .env_remove("PYTHONUNBUFFERED");
        cmd
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// 1. Warm `list_messages(limit=20)`; the caller sets the fake's latency.
fn list_messages(env: &Env<'_>, python: Option<&Path>) {
    let base = env.base;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (mcs, count) = runtime.block_on(async {
        let rt = Runtime::builder()
            .provider(
                ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES)
                    .setting("token.gmail", TOKEN),
            )
            .tool(
                ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES)
                    .allow(base.to_owned())
                    .credential("gmail", [base.to_owned()])
                    .setting("gmail-base-url", base.to_owned()),
            )
            .build()
            .await
            .expect("runtime builds");
        let mut samples = Vec::new();
        let mut last = String::new();
        for i in 0..WARMUP + LIST_CALLS {
            let t = Instant::now();
            last = rt
                .call_tool("list_messages", r#"{"limit": 20}"#)
                .await
                .expect("list_messages");
            if i >= WARMUP {
                samples.push(t.elapsed());
            }
        }
        let result: Value = serde_json::from_str(&last).expect("mcs list_messages is JSON");
        (samples, result["messages"].as_array().map_or(0, Vec::len))
    });
    let (m50, m99) = percentiles(mcs);
    println!(
        "\nlist_messages(limit=20) at {} ms upstream latency, warm, {LIST_CALLS} calls",
        LATENCY.as_millis()
    );
    println!(
        "  mcs:       p50 {:7.2} ms, p99 {:7.2} ms ({count} messages)",
        ms(m50),
        ms(m99)
    );
    let Some(python) = python else { return };
    let out = env
        .python(
            python,
            "list_messages_loop.py",
            &[&LIST_CALLS.to_string(), &WARMUP.to_string()],
        )
        .stderr(Stdio::inherit())
        .output()
        .expect("python starts");
    assert!(out.status.success(), "list_messages_loop.py failed");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the driver prints JSON");
    let samples: Vec<Duration> = report["samples_ns"]
        .as_array()
        .expect("samples_ns")
        .iter()
        .map(|n| Duration::from_nanos(n.as_u64().expect("nanoseconds")))
        .collect();
    let (r50, r99) = percentiles(samples);
    println!(
        "  reference: p50 {:7.2} ms, p99 {:7.2} ms ({} messages)",
        ms(r50),
        ms(r99),
        report["messages"]
    );
    let speedup = r50.as_secs_f64() / m50.as_secs_f64();
    println!(
        "  mcs is {speedup:.1}x faster at p50, {:.1}x at p99; target >= {TARGET_LIST_MESSAGES_SPEEDUP}x: {}",
        r99.as_secs_f64() / m99.as_secs_f64(),
        verdict(speedup >= TARGET_LIST_MESSAGES_SPEEDUP)
    );
}

/// Runs `cmd` under `/usr/bin/time -f %M`: wall time and peak RSS in KiB, or `None` when
/// `/usr/bin/time` is missing. Panics if the command fails.
fn timed(cmd: &Command) -> Option<(Duration, u64)> {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    let t = Instant::now();
    let out = timed.output().ok()?;
    let wall = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && out.stdout.windows(5).any(|w| w == b"INBOX"),
        "{cmd:?} failed: {stderr}"
    );
    let kib = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Some((wall, kib))
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// 2. A cold process that makes one `list_folders` call and exits.
fn cold_process(env: &Env<'_>, python: Option<&Path>) {
    let mcs = env.mcs(&["call", "list_folders"]);
    let reference = python.map(|p| env.python(p, "list_folders.py", &[]));
    // One untimed run each: mcs compiles the components into its cache, Python writes pyc.
    if timed(&mcs).is_none() {
        println!("\ncold process: /usr/bin/time is not installed; skipped");
        return;
    }
    if let Some(cmd) = &reference {
        timed(cmd);
    }
    let (mut mcs_runs, mut ref_runs) = (Vec::new(), Vec::new());
    for _ in 0..COLD_RUNS {
        mcs_runs.push(timed(&mcs).expect("/usr/bin/time"));
        if let Some(cmd) = &reference {
            ref_runs.push(timed(cmd).expect("/usr/bin/time"));
        }
    }
    let summary = |runs: Vec<(Duration, u64)>| {
        let (walls, rss): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
        let (p50, _) = percentiles(walls);
        (p50, median(rss))
    };
    let (m50, m_rss) = summary(mcs_runs);
    println!("\ncold process, one list_folders call, {COLD_RUNS} runs each (alternating)");
    println!(
        "  mcs call list_folders (compile cache warm): wall p50 {:6.1} ms, peak RSS median {:5.1} MB",
        ms(m50),
        mib(m_rss)
    );
    if reference.is_none() {
        return;
    }
    let (r50, r_rss) = summary(ref_runs);
    println!(
        "  python list_folders.py:                     wall p50 {:6.1} ms, peak RSS median {:5.1} MB",
        ms(r50),
        mib(r_rss)
    );
    let speedup = r50.as_secs_f64() / m50.as_secs_f64();
    println!(
        "  mcs is {speedup:.1}x faster, {:.1}x less memory; target >= {TARGET_COLD_SPEEDUP}x in <= {TARGET_COLD_RSS_MB} MB: {} / {}",
        r_rss as f64 / m_rss as f64,
        verdict(speedup >= TARGET_COLD_SPEEDUP),
        verdict(mib(m_rss) <= TARGET_COLD_RSS_MB)
    );
}

/// A JSON-RPC peer on a child's stdin and stdout (newline-delimited, as MCP's stdio is).
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write to the server");
        self.stdin.flush().expect("flush");
    }

    /// The response to request `id`, skipping notifications and server requests.
    fn response(&self, id: u64) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(MCP_WAIT)
                .unwrap_or_else(|e| panic!("no response to request {id}: {e}"));
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if message["id"] == id && message.get("method").is_none() {
                assert!(message.get("error").is_none(), "request {id}: {message}");
                return message;
            }
        }
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(id)
    }

    /// Spawns `cmd` and initializes; returns the peer and the time from spawn to the answer.
    fn ready(cmd: Command) -> (Self, Duration) {
        let t = Instant::now();
        let mut peer = Self::spawn(cmd);
        let params = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "mcs-reference-bench", "version": "0"}
        });
        peer.request(1, "initialize", params);
        let ready = t.elapsed();
        peer.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        (peer, ready)
    }

    /// The server's user + system CPU time so far (all threads), from `/proc/<pid>/stat`.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/<pid>/stat");
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// What one server did in the MCP measurements.
struct McpFigures {
    ready_p50: Duration,
    cpu_per_call: Duration,
    call_p50: Duration,
    peak_rss: u64,
}

/// Spawn-to-`initialize` p50 over `READY_RUNS`, then `MCP_CALLS` calls on one server.
fn mcp_figures(make: &dyn Fn() -> Command) -> McpFigures {
    drop(Peer::ready(make())); // untimed: caches
    let mut readies = Vec::new();
    for _ in 0..READY_RUNS {
        readies.push(Peer::ready(make()).1);
    }
    let (ready_p50, _) = percentiles(readies);

    let (mut peer, _) = Peer::ready(make());
    let call = json!({"name": "list_folders", "arguments": {}});
    let mut id = 2;
    for _ in 0..20 {
        peer.request(id, "tools/call", call.clone());
        id += 1;
    }
    let before = peer.cpu();
    let mut walls = Vec::new();
    for _ in 0..MCP_CALLS {
        let t = Instant::now();
        let response = peer.request(id, "tools/call", call.clone());
        walls.push(t.elapsed());
        assert_ne!(response["result"]["isError"], true, "{response}");
        id += 1;
    }
    let cpu_per_call = (peer.cpu() - before) / MCP_CALLS as u32;
    let (call_p50, _) = percentiles(walls);
    McpFigures {
        ready_p50,
        cpu_per_call,
        call_p50,
        peak_rss: peer.peak_rss(),
    }
}

/// 3. `mcs mcp` and the Python MCP wrapper over stdio.
fn mcp(env: &Env<'_>, python: Option<&Path>) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let line = |name: &str, f: &McpFigures| {
        println!(
            "  {name}: ready p50 {:6.1} ms; CPU/call {:7.1} µs; call round trip p50 {:7.1} µs; peak RSS {:5.1} MB",
            ms(f.ready_p50),
            us(f.cpu_per_call),
            us(f.call_p50),
            mib(f.peak_rss)
        );
    };
    println!(
        "\nMCP over stdio: time to first answer (spawn -> initialize response, {READY_RUNS} spawns), \
         then {MCP_CALLS} sequential tools/call list_folders"
    );
    let mcs = mcp_figures(&|| env.mcs(&["mcp"]));
    line("mcs mcp      ", &mcs);
    let Some(python) = python else { return };
    let reference = mcp_figures(&|| env.python(python, "mcp_server.py", &[]));
    line("mcp_server.py", &reference);
    let cpu_ratio = reference.cpu_per_call.as_secs_f64() / mcs.cpu_per_call.as_secs_f64();
    println!(
        "  mcs uses {cpu_ratio:.1}x less CPU per call (target >= {TARGET_MCP_CPU_RATIO}x: {}); \
         ready {:.1}x sooner (target <= {TARGET_MCP_READY_MS} ms: {})",
        verdict(cpu_ratio >= TARGET_MCP_CPU_RATIO),
        reference.ready_p50.as_secs_f64() / mcs.ready_p50.as_secs_f64(),
        verdict(ms(mcs.ready_p50) <= TARGET_MCP_READY_MS)
    );
}
