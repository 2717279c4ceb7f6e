//! Host benchmarks (not tests): `cargo bench -p mcs-host --bench host`.
//!
//! Each figure is measured in this run and reported with its p50/p99, so ratios compare
//! like with like on the same machine. Results go to stdout; docs/benchmarks.md records them.
//!
//! - fresh instance per call: a tool call that the guest answers without any I/O (invalid
//!   arguments), i.e. store + instantiate + call + drop of the mail component;
//! - warm host overhead: `list_folders` against a zero-latency fake Gmail (tool instance,
//!   provider instance, sealed handle, egress hook, one HTTP round trip) minus a direct
//!   keep-alive GET of the same URL;
//! - `list_messages(limit=20)` with 5 ms injected per-request latency at the fake Gmail (a
//!   list, then twenty metadata requests in flight at once);
//! - cold `mcs call list_folders` process, wall time and peak RSS, with and without the
//!   compiled-component cache.

use std::process::Command;
use std::time::{Duration, Instant};

use mcs_host::{ComponentConfig, Runtime, guests};
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

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    runtime.block_on(async {
        let rt = Runtime::builder()
            .provider(ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES).setting("token.gmail", TOKEN))
            .tool(
                ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES)
                    .allow(base.clone())
                    .credential("gmail", [base.clone()])
                    .setting("gmail-base-url", base.clone()),
            )
            .build()
            .await
            .unwrap();

        // Fresh instance per call.
        let mut samples = Vec::new();
        for i in 0..2200 {
            let t = Instant::now();
            let _ = rt.call_tool("list_folders", "{not json").await;
            if i >= 200 {
                samples.push(t.elapsed());
            }
        }
        let (p50, p99) = percentiles(samples);
        println!("fresh instance per call (store+instantiate+call+drop): p50 {:.1} µs, p99 {:.1} µs", us(p50), us(p99));

        // Warm tool call vs a direct GET.
        let client = reqwest::Client::new();
        let url = format!("{base}/gmail/v1/users/me/labels");
        let (mut direct, mut tool) = (Vec::new(), Vec::new());
        for i in 0..1100 {
            let t = Instant::now();
            let r = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
            r.bytes().await.unwrap();
            let d = t.elapsed();
            let t = Instant::now();
            rt.call_tool("list_folders", "{}").await.unwrap();
            if i >= 100 {
                direct.push(d);
                tool.push(t.elapsed());
            }
        }
        let (d50, _) = percentiles(direct);
        let (t50, t99) = percentiles(tool);
        println!(
            "warm list_folders: p50 {:.1} µs, p99 {:.1} µs; direct GET p50 {:.1} µs; host overhead p50 {:.1} µs",
            us(t50),
            us(t99),
            us(d50),
            us(t50.saturating_sub(d50))
        );

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
    });

    // Cold processes.
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
                .env("MCS_GMAIL_BASE_URL", &base)
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
