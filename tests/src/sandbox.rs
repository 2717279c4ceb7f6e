//! The whole sandbox for Token Vault tests: fake Auth0, fake LinkAuth broker, fake Gmail, and
//! a key-value store shared by every "process" (each [`Sandbox::call`] builds a new runtime, so
//! each step of a flow runs in a fresh instance with only the store shared).

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcs_host::kv::{Backend, Location, MemoryBackend};
use mcs_host::{AuthChallenge, AuthError, CallError, ComponentConfig, Runtime, ToolError, guests};
use mcs_sandbox::{
    Auth0Config, BrokerConfig, FakeAuth0, FakeBroker, FakeGmail, Mailbox, RecordedRequest,
};
use rsa::pkcs8::EncodePrivateKey;

use crate::{builder, mail_component};

/// The Auth0 domain the fake tenant answers for.
pub const DOMAIN: &str = "tenant.auth0.test";

/// Every fake and the shared store.
pub struct Sandbox {
    /// The tenant.
    pub auth0: FakeAuth0,
    /// The broker.
    pub broker: FakeBroker,
    /// Gmail, accepting the Google token the tenant hands out.
    pub gmail: FakeGmail,
    /// The store every runtime of this sandbox shares.
    pub kv: Arc<MemoryBackend>,
    /// Reach Auth0 through the broker's proxy.
    pub via_proxy: bool,
}

/// Request counts at one moment, to isolate what one call did.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    auth0: usize,
    broker: usize,
    gmail: usize,
}

/// What the fakes saw during one call, as `METHOD path` lines (Auth0 token-endpoint calls are
/// labelled by grant: `A exchange`, `B my-account`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Auth0.
    pub auth0: Vec<String>,
    /// The broker.
    pub broker: Vec<String>,
    /// Gmail.
    pub gmail: Vec<String>,
}

impl Sandbox {
    /// Default fakes; the broker polls without waiting (interval 0).
    pub fn start() -> Self {
        Self::start_with(Auth0Config::default(), |_| {})
    }

    /// Fakes with `auth0` settings and broker settings adjusted by `broker`.
    pub fn start_with(auth0: Auth0Config, broker: impl FnOnce(&mut BrokerConfig)) -> Self {
        let auth0 = FakeAuth0::start(Auth0Config {
            domain: DOMAIN.into(),
            ..auth0
        })
        .expect("fake auth0");
        let cfg = auth0.config().clone();
        let mut broker_cfg = BrokerConfig::for_tenant(&auth0);
        broker(&mut broker_cfg);
        let broker = FakeBroker::start(broker_cfg).expect("fake broker");
        let gmail =
            FakeGmail::start(Mailbox::sample(), &cfg.google_access_token).expect("fake gmail");
        Self {
            auth0,
            broker,
            gmail,
            kv: Arc::new(MemoryBackend::new()),
            via_proxy: false,
        }
    }

    /// The provider in Token Vault mode, pointed at the fakes.
    pub fn auth_component(&self) -> ComponentConfig {
        let cfg = self.auth0.config();
        let mut c = ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES)
            .setting("mode", "token-vault")
            .setting("auth0-domain", DOMAIN)
            .setting("auth0-base-url", self.auth0.base_url())
            .setting("auth0-client-id", cfg.client_id.clone())
            .setting("auth0-client-secret", cfg.client_secret.clone())
            .setting("auth0-audience", cfg.audience.clone())
            .setting("linkauth-broker-url", self.broker.base_url())
            .setting(
                "connection-scopes.gmail",
                "https://mail.google.com/ openid email",
            )
            .allow(self.broker.base_url());
        if self.via_proxy {
            c = c.setting("linkauth-proxy", "true");
        } else {
            c = c.allow(self.auth0.base_url());
        }
        c
    }

    /// A fresh runtime (a new "process") over the shared store.
    pub async fn runtime(&self) -> Runtime {
        builder()
            .provider(self.auth_component())
            .tool(mail_component(&self.gmail))
            .kv_backend(Arc::clone(&self.kv) as Arc<dyn Backend>)
            .build()
            .await
            .expect("runtime builds")
    }

    /// `list_folders` in a fresh runtime.
    pub async fn call(&self) -> Result<String, CallError> {
        self.runtime().await.call_tool("list_folders", "{}").await
    }

    /// `list_folders`, expecting a challenge; returns it.
    pub async fn challenge(&self) -> AuthChallenge {
        match self.call().await {
            Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => c,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    /// Does the user's part for the challenge's code.
    pub async fn approve(&self, challenge: &AuthChallenge) {
        let code = challenge.code.as_deref().expect("challenge has a code");
        self.broker
            .approve(code, None)
            .await
            .expect("approval in the browser");
    }

    /// The provider's stored value at `key`, as text.
    pub fn stored(&self, key: &str) -> Option<String> {
        let at = Location {
            namespace: "auth",
            bucket: "default",
            key,
        };
        self.kv
            .get(at)
            .expect("kv get")
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// Stores `value` at `key` in the provider's namespace.
    pub fn store(&self, key: &str, value: &str) {
        let at = Location {
            namespace: "auth",
            bucket: "default",
            key,
        };
        self.kv.set(at, value.as_bytes()).expect("kv set");
    }

    /// Stores an agent key generated natively, once per test binary: RSA generation inside
    /// the guest costs about a second, and one test covers it.
    pub fn seed_agent_key(&self) {
        static KEY: OnceLock<String> = OnceLock::new();
        let key = KEY.get_or_init(|| {
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("rsa key");
            STANDARD.encode(key.to_pkcs8_der().expect("pkcs8").as_bytes())
        });
        self.store("linkauth:privkey", key);
    }

    /// Skips the first run: a valid refresh token stored and the account connected.
    pub fn signed_in(&self) -> String {
        let rt = self.auth0.issue_refresh_token();
        self.store(&format!("rt:{DOMAIN}"), &rt);
        self.auth0.connect_account("google-oauth2");
        rt
    }

    /// Counts of requests so far.
    pub fn mark(&self) -> Mark {
        Mark {
            auth0: self.auth0.requests().len(),
            broker: self.broker.requests().len(),
            gmail: self.gmail.requests().len(),
        }
    }

    /// What the fakes saw since `mark`.
    pub fn since(&self, mark: Mark) -> Seen {
        Seen {
            auth0: self.auth0.requests()[mark.auth0..]
                .iter()
                .map(auth0_label)
                .collect(),
            broker: self.broker.requests()[mark.broker..]
                .iter()
                .map(broker_label)
                .collect(),
            gmail: self.gmail.requests()[mark.gmail..]
                .iter()
                .map(RecordedRequest::line)
                .collect(),
        }
    }
}

fn auth0_label(r: &RecordedRequest) -> String {
    if r.line() != "POST /oauth/token" {
        return r.line();
    }
    let grant = r
        .json()
        .and_then(|v| {
            v.get("grant_type")
                .and_then(|g| g.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "form".into());
    match grant.as_str() {
        g if g.ends_with("federated-connection-access-token") => "A exchange".into(),
        "refresh_token" => "B my-account".into(),
        other => format!("POST /oauth/token {other}"),
    }
}

fn broker_label(r: &RecordedRequest) -> String {
    let line = r.line();
    if line.starts_with("GET /v1/sessions/") {
        "GET /v1/sessions/{id}".into()
    } else {
        line
    }
}
