//! Host benchmarks (not tests): `cargo bench -p mcs-host --bench host`.
//!
//! Each figure is measured in this run and reported with its p50/p99, so ratios compare
//! like with like on the same machine. Results go to stdout; docs/benchmarks.md records them.
//!
//! - fresh instance per call: a tool call that the guest answers without any I/O (invalid
//!   arguments): store + instantiate + call + drop of the mail component, then the same split
//!   into its phases through `Runtime::call_tool_timed` (store creation, `instantiate_async`
//!   from the `InstancePre`, the call, the hand-off of the store to the reaper) and the
//!   deferred drop itself;
//! - warm host overhead: `list_folders` against a zero-latency fake Gmail (tool instance,
//!   sealed handle, egress hook, one HTTP round trip; the provider does not run, the host's
//!   grant cache answers) minus a direct keep-alive GET of the same URL, the same by phase, the
//!   CPU time of both, and the egress hook's transport alone against the direct GET;
//! - `list_messages(limit=20)` with 5 ms injected per-request latency at the fake Gmail (a
//!   list, then twenty metadata requests in flight at once);
//! - cold `mcs call list_folders` process, wall time and peak RSS, with and without the
//!   compiled-component cache.
//!
//! Between timed operations the loops yield once to the runtime (`settle`), as a server does
//! between calls, so the store a call left to the reaper is dropped outside the next figure.
//!
//! Arguments pick sections (`fresh`, `warm`, `fanout`, `cold`; all when none is given), so
//! `cargo bench -p mcs-host --bench host -- warm` runs one.
//!
//! # Profiling
//!
//! `profile-warm N`, `profile-direct N`, `profile-hook N` and `profile-fresh N` run N untimed
//! iterations of one loop (a warm call, a direct GET, the egress hook's transport, a call the
//! guest answers without I/O) and print nothing (`MCS_PRINT=1`: wall and CPU per iteration).
//! The instructions of one iteration are the difference between two runs of different N under
//! `valgrind --tool=callgrind`, which makes them independent of the machine's load. Components
//! are compiled once into a cache under the target directory. Two variables help:
//!
//! - `MCS_KNOBS`: engine settings to try, comma-separated (see [`knob_engine`]). Valgrind
//!   cannot map the address space of the runtime's 200-slot pool: use `MCS_KNOBS=pool=4`.
//! - `MCS_MAIL_WASM`: a guest-mail component file to load instead of the embedded one, e.g. a
//!   build without `strip`, so that `MCS_KNOBS=perfmap` names the guest's functions for
//!   `perf record` (`/tmp/perf-PID.map`).

use std::process::Command;
use std::time::{Duration, Instant};

use mcs_host::engine::cache::ComponentCache;
use mcs_host::{CallError, CallPhases, ComponentConfig, Runtime, ToolError, guests};
use mcs_sandbox::{FakeGmail, Mailbox};

const TOKEN: &str = "ya29.bench-token";

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median of `samples` in µs.
fn p50_us(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    us(sorted[(sorted.len() - 1) / 2])
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(mode) = args.first().and_then(|a| a.strip_prefix("profile-")) {
        let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
        return profile(mode, n);
    }
    let run = |section: &str| args.is_empty() || args.iter().any(|a| a == section);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    runtime.block_on(async {
        let rt = mail_runtime(&base, None).await;

        if run("fresh") {
            fresh(&rt).await;
        }
        if run("warm") {
            warm(&rt, &base).await;
        }
        if run("fanout") {
            // list_messages(limit=20) at 5 ms per upstream request.
            gmail.set_latency(Duration::from_millis(5));
            let mut samples = Vec::new();
            for i in 0..110 {
                let t = Instant::now();
                rt.call_tool("list_messages", r#"{"limit": 20}"#).await.unwrap();
                if i >= 10 {
                    samples.push(t.elapsed());
                }
            }
            let (p50, p99) = percentiles(samples);
            println!(
                "list_messages(limit=20) at 5 ms upstream latency: p50 {:.2} ms, p99 {:.2} ms (21 sequential requests would take at least 105 ms)",
                p50.as_secs_f64() * 1000.0,
                p99.as_secs_f64() * 1000.0
            );
            gmail.set_latency(Duration::ZERO);
        }
    });
    if run("cold") {
        cold(&base);
    }
}

/// The mail tool and the static credential provider, against the fake at `base`.
async fn mail_runtime(base: &str, cache: Option<ComponentCache>) -> Runtime {
    let mut builder = Runtime::builder();
    if let Some(engine) = knob_engine() {
        builder = builder.engine(engine);
    }
    if let Some(cache) = cache {
        builder = builder.cache(cache);
    }
    builder
        .provider(
            ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES)
                .setting("token.gmail", TOKEN),
        )
        .tool(
            ComponentConfig::new(
                "mail",
                match std::env::var("MCS_MAIL_WASM") {
                    Ok(path) => std::borrow::Cow::Owned(std::fs::read(path).unwrap()),
                    Err(_) => std::borrow::Cow::Borrowed(guests::GUEST_MAIL_COMPONENT_BYTES),
                },
            )
            .allow(base)
            .credential("gmail", [base])
            .setting("gmail-base-url", base),
        )
        .build()
        .await
        .unwrap()
}

/// The answer the fresh-instance loops expect: the guest refused the arguments (anything else,
/// e.g. an exhausted instance pool, would make the figures meaningless).
fn assert_bad_arguments(answer: Result<String, CallError>) {
    assert!(
        matches!(answer, Err(CallError::Tool(ToolError::InvalidArguments(_)))),
        "{answer:?}"
    );
}

/// Lets the runtime run what a call left queued (the task that drops its store), as a server
/// does between calls, so it is not timed as part of the next figure.
async fn settle() {
    tokio::task::yield_now().await;
}

/// A fresh instance per call, whole and by phase.
async fn fresh(rt: &Runtime) {
    let (mut whole, mut phases, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    let cpu = cpu_ns();
    for i in 0..2200 {
        // The old figure: call, then the drop the call left behind.
        let t = Instant::now();
        let answer = rt.call_tool("list_folders", "{not json").await;
        settle().await;
        let w = t.elapsed();
        assert_bad_arguments(answer);
        // By phase; the drop runs in the reaper's task, during `settle`.
        let (answer, p) = rt.call_tool_timed("list_folders", "{not json").await;
        assert_bad_arguments(answer);
        let t = Instant::now();
        settle().await;
        let d = t.elapsed();
        if i >= 200 {
            whole.push(w);
            phases.push(p);
            dropped.push(d);
        }
    }
    let cpu_per_call = (cpu_ns() - cpu) as f64 / 1000.0 / 4400.0;
    let (p50, p99) = percentiles(whole);
    println!(
        "fresh instance per call (store+instantiate+call+drop): p50 {:.1} µs, p99 {:.1} µs; CPU {:.1} µs per call (all threads)",
        us(p50),
        us(p99),
        cpu_per_call
    );
    let pick = |f: fn(&CallPhases) -> Duration| percentiles(phases.iter().map(f).collect());
    let (s50, s99) = pick(|p| p.store + p.instantiate);
    let (i50, _) = pick(|p| p.instantiate);
    let (c50, c99) = pick(|p| p.call);
    let (h50, h99) = pick(|p| p.drop);
    let (b50, b99) = pick(|p| p.store + p.instantiate + p.call + p.drop);
    let (d50, d99) = percentiles(dropped);
    println!(
        "  split: store+instantiate p50 {:.1} µs (instantiate alone {:.1}), p99 {:.1} µs; call p50 {:.1} µs, p99 {:.1} µs; hand-off to the reaper p50 {:.1} µs, p99 {:.1} µs",
        us(s50),
        us(i50),
        us(s99),
        us(c50),
        us(c99),
        us(h50),
        us(h99)
    );
    println!(
        "  as the caller waits (store+instantiate+call+hand-off): p50 {:.1} µs, p99 {:.1} µs; the deferred drop, after the answer: p50 {:.1} µs, p99 {:.1} µs",
        us(b50),
        us(b99),
        us(d50),
        us(d99)
    );
}

/// A warm tool call against a direct GET of the same URL, interleaved.
async fn warm(rt: &Runtime, base: &str) {
    let client = reqwest::Client::new();
    let url = format!("{base}/gmail/v1/users/me/labels");
    let (mut direct, mut tool, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    let mut phases: Vec<CallPhases> = Vec::new();
    for i in 0..1100 {
        settle().await;
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        r.bytes().await.unwrap();
        let d = t.elapsed();
        settle().await;
        let t = Instant::now();
        rt.call_tool("list_folders", "{}").await.unwrap();
        let w = t.elapsed();
        settle().await;
        let (result, p) = rt.call_tool_timed("list_folders", "{}").await;
        result.unwrap();
        let t = Instant::now();
        settle().await;
        let dr = t.elapsed();
        if i >= 100 {
            direct.push(d);
            tool.push(w);
            phases.push(p);
            dropped.push(dr);
        }
    }
    let d50 = p50_us(&direct);
    let (t50, t99) = percentiles(tool);
    println!(
        "warm list_folders: p50 {:.1} µs, p99 {:.1} µs; direct GET p50 {:.1} µs; host overhead p50 {:.1} µs",
        us(t50),
        us(t99),
        d50,
        us(t50) - d50
    );
    let store: Vec<Duration> = phases.iter().map(|p| p.store + p.instantiate).collect();
    let call: Vec<Duration> = phases.iter().map(|p| p.call).collect();
    let handoff: Vec<Duration> = phases.iter().map(|p| p.drop).collect();
    println!(
        "  split: store+instantiate p50 {:.1} µs; call (get-token, the request, the guest's JSON) p50 {:.1} µs; hand-off p50 {:.1} µs; deferred drop p50 {:.1} µs",
        p50_us(&store),
        p50_us(&call),
        p50_us(&handoff),
        p50_us(&dropped)
    );

    // CPU time, all threads (the fake Gmail's included, the deferred drops too): 1000 of each
    // in a row, as reading it per call would cost more than a call.
    let cpu = cpu_ns();
    for _ in 0..1000 {
        let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        r.bytes().await.unwrap();
        settle().await;
    }
    let direct_cpu = (cpu_ns() - cpu) as f64 / 1e6;
    let cpu = cpu_ns();
    for _ in 0..1000 {
        rt.call_tool("list_folders", "{}").await.unwrap();
        settle().await;
    }
    let tool_cpu = (cpu_ns() - cpu) as f64 / 1e6;
    println!(
        "  CPU per call (all threads, the fake Gmail's included): tool call {tool_cpu:.1} µs, direct GET {direct_cpu:.1} µs, difference {:.1} µs",
        tool_cpu - direct_cpu
    );

    // The host's transport hop alone: the egress hook (policy, handle swap, pooled client) on
    // the request wasi-http would hand it, against the direct GET, interleaved.
    let mut hook = Hook::new(base);
    let (mut direct, mut hooked) = (Vec::new(), Vec::new());
    for i in 0..1100 {
        settle().await;
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        r.bytes().await.unwrap();
        let d = t.elapsed();
        settle().await;
        let t = Instant::now();
        hook.get(&url).await;
        let h = t.elapsed();
        if i >= 100 {
            direct.push(d);
            hooked.push(h);
        }
    }
    let (d50, h50) = (p50_us(&direct), p50_us(&hooked));
    println!(
        "  the egress hook's transport alone: p50 {h50:.1} µs against the direct GET's {d50:.1} µs ({:+.1} µs)",
        h50 - d50
    );
}

/// The egress hook of a tool store, built as the runtime builds it, with a sealed handle.
struct Hook {
    hooks: mcs_host::egress::EgressHooks,
    handle: String,
}

impl Hook {
    fn new(base: &str) -> Self {
        use mcs_host::credentials::sealed::{ScopePolicies, SealedCredentials};
        use mcs_host::egress::{EgressHooks, EgressPolicy, SystemResolver, Timeouts, Transport};
        use std::sync::Arc;
        let policy = |e: &str| EgressPolicy::parse(&[e]).unwrap();
        let sealed = Arc::new(SealedCredentials::new(Arc::new(ScopePolicies::new(vec![
            ("gmail".into(), policy(base)),
        ]))));
        let handle = sealed.seal("gmail", TOKEN.into()).unwrap();
        let hooks = EgressHooks::new(
            "mail".into(),
            Arc::new(policy(base)),
            Timeouts::default(),
            Arc::new(|_: &mcs_host::egress::Denial| {}),
            Some(sealed),
            Arc::new(Transport::new(
                Timeouts::default(),
                Arc::new(SystemResolver),
            )),
        );
        Self { hooks, handle }
    }

    /// A GET of `url` as wasi-http hands it to the hook (with a `host` header), body read.
    async fn get(&mut self, url: &str) {
        use http_body_util::{BodyExt, Empty};
        use wasmtime_wasi_http::WasiHttpHooks;
        let uri: http::Uri = url.parse().unwrap();
        let request = http::Request::builder()
            .header(http::header::HOST, uri.authority().unwrap().as_str())
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.handle),
            )
            .uri(uri)
            .body(
                Empty::<bytes::Bytes>::new()
                    .map_err(|e| match e {})
                    .boxed_unsync(),
            )
            .unwrap();
        let future = self
            .hooks
            .send_request(request, None, Box::new(async { Ok(()) }));
        let (response, io) = std::pin::Pin::from(future).await.unwrap();
        std::pin::Pin::from(io).await.unwrap();
        response.into_body().collect().await.unwrap();
    }
}

/// `n` untimed iterations of one loop, for a profiler: `warm` (tool calls), `direct` (direct
/// GETs) or `fresh` (calls the guest answers without I/O).
fn profile(mode: &str, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    runtime.block_on(async {
        // Compiled once and cached, so a profiler spends its time in the loop, not in Cranelift.
        let cache =
            ComponentCache::new(concat!(env!("CARGO_TARGET_TMPDIR"), "/bench-cache")).unwrap();
        let rt = mail_runtime(&base, Some(cache)).await;
        let client = reqwest::Client::new();
        let url = format!("{base}/gmail/v1/users/me/labels");
        let mut hook = Hook::new(&base);
        hook.get(&url).await;
        // One of each first, so connections, caches and the grant exist in every run.
        rt.call_tool("list_folders", "{}").await.unwrap();
        client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let (t, cpu) = (Instant::now(), cpu_ns());
        for _ in 0..n {
            match mode {
                "warm" => {
                    rt.call_tool("list_folders", "{}").await.unwrap();
                }
                "direct" => {
                    let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
                    r.bytes().await.unwrap();
                }
                "fresh" => assert_bad_arguments(rt.call_tool("list_folders", "{not json").await),
                "hook" => hook.get(&url).await,
                other => panic!("unknown profile mode {other:?}: warm, direct, hook or fresh"),
            }
            settle().await;
        }
        if std::env::var_os("MCS_PRINT").is_some() {
            eprintln!(
                "{mode} x{n}: wall {:.1} µs/iter, cpu (all threads) {:.1} µs/iter",
                us(t.elapsed()) / n as f64,
                (cpu_ns() - cpu) as f64 / 1000.0 / n as f64
            );
        }
    });
}

/// Cold `mcs call list_folders` processes, with and without the compile cache.
fn cold(base: &str) {
    let mcs = env!("CARGO_BIN_EXE_mcs");
    let warm_home = tempfile::tempdir().unwrap();
    for (label, persistent) in [("without cache", false), ("with cache", true)] {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        for i in 0..11 {
            let fresh = tempfile::tempdir().unwrap();
            let home = if persistent {
                warm_home.path()
            } else {
                fresh.path()
            };
            let t = Instant::now();
            let out = Command::new("/usr/bin/time")
                .args(["-f", "%M", mcs, "call", "list_folders"])
                .env("MCS_HOME", home)
                .env("MCS_GMAIL_BASE_URL", base)
                .env("MCS_TOKEN_GMAIL", TOKEN)
                .output();
            let wall = t.elapsed();
            let Ok(out) = out else {
                println!("cold process: /usr/bin/time is not installed; skipped");
                return;
            };
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if persistent && i == 0 {
                continue; // the first run fills the cache
            }
            walls.push(wall);
            let kb: u64 = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            rss.push(kb);
        }
        let (w50, _) = percentiles(walls);
        rss.sort_unstable();
        println!(
            "cold `mcs call list_folders` {label}: p50 {:.1} ms, peak RSS median {:.1} MB",
            w50.as_secs_f64() * 1000.0,
            rss[rss.len() / 2] as f64 / 1024.0
        );
    }
}

/// An engine with the settings in `MCS_KNOBS`, or `None` (the runtime's own engine) when it is
/// unset. Starts from the runtime's settings (`base_config`, the pool of `engine::new_engine`);
/// each knob changes one: `pool=N` (instances), `keep=BYTES` / `tkeep=BYTES` (linear memory /
/// table keep-resident), `pagemap`, `nocow`, `nobt` (no wasm backtraces), `nounwind`,
/// `stack=BYTES` (async stack), `skeep=BYTES`, `res=BYTES` (memory reservation),
/// `guard=BYTES`, `warm=N` (unused warm slots), `noepoch` (no deadlines: measurement only),
/// `perfmap` (a perf map of the compiled code).
fn knob_engine() -> Option<wasmtime::Engine> {
    use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};
    let knobs = std::env::var("MCS_KNOBS").ok()?;
    let mut config = mcs_host::engine::base_config();
    let mut pool = PoolingAllocationConfig::default();
    let mut n = 200u32;
    let mut keep = 2usize << 20;
    let mut tkeep = 512usize << 10;
    for knob in knobs.split(',').filter(|k| !k.is_empty()) {
        let (k, v) = knob.split_once('=').unwrap_or((knob, "0"));
        let v: u64 = v.parse().unwrap();
        match k {
            "pool" => n = v as u32,
            "keep" => keep = v as usize,
            "tkeep" => tkeep = v as usize,
            "pagemap" => {
                pool.pagemap_scan(Enabled::Yes);
            }
            "nocow" => {
                config.memory_init_cow(false);
            }
            "nobt" => {
                config.wasm_backtrace_max_frames(None);
            }
            "nounwind" => {
                config.native_unwind_info(false);
            }
            "stack" => {
                config.async_stack_size(v as usize);
            }
            "skeep" => {
                pool.async_stack_keep_resident(v as usize);
            }
            "res" => {
                config.memory_reservation(v);
            }
            "guard" => {
                config.memory_guard_size(v);
            }
            "warm" => {
                pool.max_unused_warm_slots(v as u32);
            }
            "noepoch" => {
                config.epoch_interruption(false);
            }
            "perfmap" => {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            other => panic!("unknown knob {other}"),
        }
    }
    pool.total_component_instances(n)
        .total_core_instances(n * 4)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_memory_size(mcs_host::engine::DEFAULT_MEMORY_LIMIT)
        .linear_memory_keep_resident(keep)
        .table_keep_resident(tkeep);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = wasmtime::Engine::new(&config).unwrap();
    mcs_host::engine::start_epoch_ticker(&engine);
    Some(engine)
}

/// CPU time of every live thread of this process so far, in ns (`/proc/self/task/*/schedstat`).
fn cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
