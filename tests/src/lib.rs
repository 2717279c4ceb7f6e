//! Shared pieces of the end-to-end tests: one engine per test binary, the test components
//! built by `build.rs`, and a runtime wired to the sandbox fakes.

use std::sync::{Arc, Mutex, OnceLock};

use mcs_host::egress::Denial;
use mcs_host::{ComponentConfig, Runtime, RuntimeBuilder, guests};
use mcs_sandbox::{FakeGitHub, FakeGmail};

pub mod sandbox;
pub mod webdriver;

/// Hostile and helper components, and the example GitHub tool, built for the tests.
pub mod programs {
    include!(concat!(env!("OUT_DIR"), "/gen.rs"));
}

/// The token the fake Gmail accepts in these tests.
pub const GMAIL_TOKEN: &str = "ya29.e2e-real-gmail-token";

/// One engine for the whole test binary (its pooling allocator and epoch ticker included).
pub fn engine() -> wasmtime::Engine {
    static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| mcs_host::engine::new_engine().expect("engine"))
        .clone()
}

/// The credential provider in static mode, serving `token` for scope `gmail`.
pub fn auth_component(token: Option<&str>) -> ComponentConfig {
    let config =
        ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES).setting("mode", "static");
    match token {
        Some(t) => config.setting("token.gmail", t),
        None => config,
    }
}

/// The mail component pointed at `gmail`, allowed to reach it and to send its token there.
pub fn mail_component(gmail: &FakeGmail) -> ComponentConfig {
    ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES)
        .allow(gmail.base_url())
        .credential("gmail", [gmail.base_url()])
        .setting("gmail-base-url", gmail.base_url())
}

/// The example GitHub tool component pointed at `github`, allowed to reach it and to send its
/// `github` token there (the `[[component]]` of `examples/github-tool/README.md`).
pub fn github_component(github: &FakeGitHub) -> ComponentConfig {
    ComponentConfig::new("github", programs::GITHUB_TOOL_COMPONENT_BYTES)
        .allow(github.base_url())
        .credential("github", [github.base_url()])
        .setting("github-base-url", github.base_url())
}

/// A builder on the shared engine, with a compile cache shared by every test run (keyed by
/// content and engine, so stale entries are never used).
pub fn builder() -> RuntimeBuilder {
    static CACHE: OnceLock<Option<mcs_host::engine::cache::ComponentCache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mcs-e2e-cache-{}", users_uid()));
        mcs_host::engine::cache::ComponentCache::new(dir).ok()
    });
    let builder = Runtime::builder().engine(engine());
    match cache {
        Some(cache) => builder.cache(cache.clone()),
        None => builder,
    }
}

/// A per-user suffix for shared temporary directories (the owner of the temp dir itself).
fn users_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(std::env::current_exe().unwrap_or_default())
        .map(|m| m.uid())
        .unwrap_or(0)
}

/// The hostile tool component with `allowed` egress, sending its gmail token only to `token_to`.
pub fn hostile_component(allowed: &[&str], token_to: &str) -> ComponentConfig {
    let mut c = ComponentConfig::new("hostile", programs::HOSTILE_COMPONENT_BYTES)
        .credential("gmail", [token_to]);
    for a in allowed {
        c = c.allow(*a);
    }
    c
}

/// Collects denials reported by the host.
#[derive(Clone, Default)]
pub struct Denials(Arc<Mutex<Vec<Denial>>>);

impl Denials {
    /// A handler to pass to `RuntimeBuilder::on_denied`.
    pub fn handler(&self) -> impl Fn(&Denial) + Send + Sync + 'static {
        let log = Arc::clone(&self.0);
        move |d: &Denial| log.lock().expect("denial log").push(d.clone())
    }

    /// Every denial so far.
    pub fn all(&self) -> Vec<Denial> {
        self.0.lock().expect("denial log").clone()
    }
}

/// The standard pair: provider with the right token, mail pointed at `gmail`.
pub async fn runtime(gmail: &FakeGmail) -> Runtime {
    builder()
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(mail_component(gmail))
        .build()
        .await
        .expect("runtime builds")
}

/// Pretty-prints JSON for failure messages.
pub fn pretty(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| json.to_owned())
}
