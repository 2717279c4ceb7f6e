//! Loaded components and calls into them.
//!
//! At build time every component is compiled once, audited against the import allow-list,
//! and pre-instantiated (`InstancePre`, which type-checks its imports once). Every call then
//! gets a fresh store with its own deadline and limits, so nothing leaks from one call to the
//! next except through the key-value store. A tool's `get-token` import runs the
//! credential-provider component in a store of its own. What is the same for every call of a
//! component (its name, policies, settings, key-value namespace) is built once at load and
//! shared through `Arc`s; a tool's store is dropped after its call has answered ([`reaper`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::auth::AuthProviderPre;
use crate::bindings::tool::ToolComponentPre;
use crate::credentials::grants::GrantCache;
use crate::credentials::sealed::ScopePolicies;
use crate::credentials::{BoxFuture, CredentialLink, CredentialSource};
use crate::egress::{
    Denial, DeniedHandler, EgressHooks, EgressPolicy, Resolver, SystemResolver, Timeouts, Transport,
};
use crate::engine;
use crate::engine::cache::ComponentCache;
use crate::error::{CallError, LoadError};
use crate::kv::{Backend, KvCtx, MemoryBackend};
use crate::linker::{self, Role};
use crate::state::ComponentState;
use crate::tool::{AuthError, ToolError, ToolSpec};

mod reaper;

use reaper::Reaper;

/// The key-value bucket every component is granted unless its configuration says otherwise.
pub const DEFAULT_BUCKET: &str = "default";

/// One component to load, with what it is granted.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// Name used in logs, errors and as the key-value namespace.
    pub name: String,
    /// The component's bytes.
    pub wasm: Cow<'static, [u8]>,
    /// Where it may send HTTP requests, in `allowed_outbound_hosts` syntax; empty denies all.
    pub allowed_outbound_hosts: Vec<String>,
    /// Its `wasi:config` settings.
    pub settings: Vec<(String, String)>,
    /// The key-value buckets it may open.
    pub buckets: Vec<String>,
    /// For tool components: where each scope's token may be sent, in
    /// `allowed_outbound_hosts` syntax. A scope not listed can be sent nowhere.
    pub credentials: Vec<(String, Vec<String>)>,
}

impl ComponentConfig {
    /// A component with no egress, no settings and the default bucket.
    pub fn new(name: impl Into<String>, wasm: impl Into<Cow<'static, [u8]>>) -> Self {
        Self {
            name: name.into(),
            wasm: wasm.into(),
            allowed_outbound_hosts: Vec::new(),
            settings: Vec::new(),
            buckets: vec![DEFAULT_BUCKET.to_owned()],
            credentials: Vec::new(),
        }
    }

    /// Lets the token of `scope` be sent to `destinations` (and nowhere else).
    pub fn credential(
        mut self,
        scope: impl Into<String>,
        destinations: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.credentials.push((
            scope.into(),
            destinations.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Allows requests to `entry` (`scheme://host[:port]`).
    pub fn allow(mut self, entry: impl Into<String>) -> Self {
        self.allowed_outbound_hosts.push(entry.into());
        self
    }

    /// Adds a `wasi:config` setting.
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }
}

/// Per-call limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call, guest code and host calls included.
    pub call_timeout: Duration,
    /// Largest linear memory a component may grow to, in bytes.
    pub memory: usize,
    /// Upper bounds on outbound request timeouts.
    pub http: Timeouts,
}

impl Default for Limits {
    /// 30 s per call: long enough for a slow upstream plus a one-time RSA key generation in a
    /// guest (about 1 s), short enough that a stuck call does not hang an agent.
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            memory: engine::DEFAULT_MEMORY_LIMIT,
            http: Timeouts::default(),
        }
    }
}

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    engine: Option<Engine>,
    cache: Option<ComponentCache>,
    provider: Option<ComponentConfig>,
    tools: Vec<ComponentConfig>,
    kv: Arc<dyn Backend>,
    on_denied: Arc<dyn DeniedHandler>,
    limits: Limits,
    resolver: Arc<dyn Resolver>,
}

impl RuntimeBuilder {
    /// Uses `engine` instead of a new one (e.g. to share it between runtimes in tests). It must
    /// have epoch interruption enabled, as [`engine::new_engine`] does.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Keeps compiled components in `cache`, so later processes skip compilation.
    pub fn cache(mut self, cache: ComponentCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The credential-provider component (`mcs:auth/auth-provider` world).
    pub fn provider(mut self, config: ComponentConfig) -> Self {
        self.provider = Some(config);
        self
    }

    /// Adds a tool component (`mcs:tools/tool-component` world).
    pub fn tool(mut self, config: ComponentConfig) -> Self {
        self.tools.push(config);
        self
    }

    /// Where key-value data lives; in memory unless set.
    pub fn kv_backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.kv = backend;
        self
    }

    /// Hears of every request a component was refused.
    pub fn on_denied(mut self, handler: impl DeniedHandler + 'static) -> Self {
        self.on_denied = Arc::new(handler);
        self
    }

    /// Per-call limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Looks up the host names of outbound requests with `resolver` instead of the system's
    /// (e.g. to map a test name to `127.0.0.1`). Blocked addresses are removed either way, so
    /// the components' policies must still name `127.0.0.1` for such a name to be reached.
    ///
    /// ```
    /// use std::io;
    /// use std::net::{IpAddr, Ipv4Addr};
    ///
    /// let builder = mcs_host::Runtime::builder().resolver(|host: &str| match host {
    ///     "evil.test" => Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
    ///     _ => Err(io::Error::new(io::ErrorKind::NotFound, "unknown test host")),
    /// });
    /// # drop(builder);
    /// ```
    pub fn resolver(mut self, resolver: impl Resolver + 'static) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// Compiles, audits and pre-instantiates every component, and lists the tools.
    ///
    /// # Errors
    ///
    /// [`LoadError`] naming the component at fault.
    pub async fn build(self) -> Result<Runtime, LoadError> {
        let engine = match self.engine {
            Some(engine) => engine,
            None => {
                engine::new_engine().map_err(|e| LoadError::Engine(e.into_boxed_dyn_error()))?
            }
        };
        let linker =
            linker::new_linker(&engine).map_err(|e| LoadError::Engine(e.into_boxed_dyn_error()))?;
        let mut names: Vec<&str> = self.tools.iter().map(|c| c.name.as_str()).collect();
        names.extend(self.provider.as_ref().map(|c| c.name.as_str()));
        if let Some(dup) = names
            .iter()
            .enumerate()
            .find_map(|(i, n)| names[..i].contains(n).then_some(n))
        {
            return Err(LoadError::Duplicate(format!(
                "two components are named {dup:?}"
            )));
        }

        let provider = match &self.provider {
            Some(config) => {
                let (meta, pre) = load(
                    &engine,
                    &linker,
                    self.cache.as_ref(),
                    &self.kv,
                    config,
                    Role::Provider,
                )?;
                let pre = AuthProviderPre::new(pre).map_err(|e| LoadError::WrongWorld {
                    component: config.name.clone(),
                    world: "mcs:auth/auth-provider",
                    source: e.into_boxed_dyn_error(),
                })?;
                Some(ProviderComponent { meta, pre })
            }
            None => None,
        };
        let mut tools = Vec::new();
        for config in &self.tools {
            let (meta, pre) = load(
                &engine,
                &linker,
                self.cache.as_ref(),
                &self.kv,
                config,
                Role::Tool,
            )?;
            let pre = ToolComponentPre::new(pre).map_err(|e| LoadError::WrongWorld {
                component: config.name.clone(),
                world: "mcs:tools/tool-component",
                source: e.into_boxed_dyn_error(),
            })?;
            tools.push(ToolComponent {
                meta,
                pre,
                specs: Vec::new(),
            });
        }

        let mut shared = Shared {
            engine,
            provider,
            tools,
            on_denied: self.on_denied,
            limits: self.limits,
            transport: Arc::new(Transport::new(self.limits.http, self.resolver)),
            grants: GrantCache::new(),
            reaper: Reaper::default(),
        };
        let mut seen: Vec<String> = Vec::new();
        for i in 0..shared.tools.len() {
            let specs =
                shared
                    .list_tools(&shared.tools[i])
                    .await
                    .map_err(|e| LoadError::ListTools {
                        component: shared.tools[i].meta.name.to_string(),
                        source: Box::new(e),
                    })?;
            for spec in &specs {
                if seen.contains(&spec.name) {
                    return Err(LoadError::Duplicate(format!(
                        "tool {:?} is offered by two components",
                        spec.name
                    )));
                }
                seen.push(spec.name.clone());
            }
            shared.tools[i].specs = specs;
        }
        Ok(Runtime {
            shared: Arc::new(shared),
        })
    }
}

/// Loaded components, ready to call. Cheap to clone; calls may run concurrently.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// A builder with defaults: new engine, in-memory key-value store, denials only logged.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            engine: None,
            cache: None,
            provider: None,
            tools: Vec::new(),
            kv: Arc::new(MemoryBackend::new()),
            on_denied: Arc::new(|_: &Denial| {}),
            limits: Limits::default(),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// Every tool of every loaded tool component.
    pub fn tools(&self) -> impl Iterator<Item = &ToolSpec> {
        self.shared.tools.iter().flat_map(|t| t.specs.iter())
    }

    /// The loaded credential provider as a [`CredentialSource`], with this runtime's grant
    /// cache: what an embedder links into its own stores through
    /// [`credentials::add_to_linker`](crate::credentials::add_to_linker). Without a provider,
    /// every request answers `misconfigured`.
    pub fn credential_source(&self) -> Arc<dyn CredentialSource> {
        Arc::new(ProviderLink {
            shared: Arc::clone(&self.shared),
        })
    }

    /// Asks the credential provider for a token for `scope` without handing it to anyone:
    /// `Ok` when one is available, else why not (for a sign-in in progress, the challenge to
    /// show). The token stays in the host's grant cache.
    ///
    /// # Errors
    ///
    /// [`AuthError`] from the provider, or `misconfigured` when none is loaded.
    pub async fn authorize(&self, scope: &str) -> Result<(), AuthError> {
        let link = ProviderLink {
            shared: Arc::clone(&self.shared),
        };
        link.get_token(scope).await.map(drop)
    }

    /// Forgets the host's cached token for `scope` and asks the provider to forget its own.
    pub async fn invalidate(&self, scope: &str) {
        let link = ProviderLink {
            shared: Arc::clone(&self.shared),
        };
        link.invalidate_token(scope).await;
    }

    /// Calls tool `name` with a JSON object of arguments and returns its JSON result.
    ///
    /// # Errors
    ///
    /// [`CallError::Tool`] when the tool reports an error (unknown tool, bad arguments, auth,
    /// upstream); [`CallError::Timeout`] or [`CallError::Trap`] when the component failed.
    pub async fn call_tool(&self, name: &str, arguments: &str) -> Result<String, CallError> {
        self.call(name, arguments, None).await
    }

    /// [`call_tool`](Self::call_tool), also reporting how long each phase took. For the
    /// benchmarks (`host/benches/host.rs`); not part of the supported API.
    #[doc(hidden)]
    pub async fn call_tool_timed(
        &self,
        name: &str,
        arguments: &str,
    ) -> (Result<String, CallError>, CallPhases) {
        let mut phases = CallPhases::default();
        let result = self.call(name, arguments, Some(&mut phases)).await;
        (result, phases)
    }

    async fn call(
        &self,
        name: &str,
        arguments: &str,
        phases: Option<&mut CallPhases>,
    ) -> Result<String, CallError> {
        let shared = &self.shared;
        let Some(tool) = shared
            .tools
            .iter()
            .find(|t| t.specs.iter().any(|s| s.name == name))
        else {
            let available: Vec<&str> = self.tools().map(|s| s.name.as_str()).collect();
            return Err(ToolError::UnknownTool(format!(
                "no tool named {name:?}; available: {}",
                available.join(", ")
            ))
            .into());
        };
        let timed = phases.is_some();
        let mark = || timed.then(Instant::now);
        let started = Instant::now();
        let link = CredentialLink::new(self.credential_source(), Arc::clone(&tool.meta.scopes));
        let mut store = shared.new_store(&tool.meta, Some(link));
        let stored = mark();
        let mut instantiated = None;
        let run = async {
            let instance = tool.pre.instantiate_async(&mut store).await?;
            instantiated = mark();
            instance
                .mcs_tools_tools()
                .call_call_tool(&mut store, name, arguments)
                .await
        };
        let result = shared.bounded(&tool.meta.name, run).await;
        let called = mark();
        shared.reaper.drop_later(store);
        if let (Some(phases), Some(stored), Some(instantiated), Some(called)) =
            (phases, stored, instantiated, called)
        {
            *phases = CallPhases {
                store: stored - started,
                instantiate: instantiated - stored,
                call: called - instantiated,
                drop: called.elapsed(),
            };
        }
        tracing::info!(
            tool = name,
            component = %tool.meta.name,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            ok = matches!(result, Ok(Ok(_))),
            "tool call"
        );
        match result? {
            Ok(json) => Ok(json),
            Err(e) => Err(CallError::Tool(e.into())),
        }
    }
}

/// How long each phase of one tool call took ([`Runtime::call_tool_timed`]).
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy)]
pub struct CallPhases {
    /// Building the store: its state (WASI, HTTP, key-value, credentials) and limits.
    pub store: Duration,
    /// `instantiate_async` from the pre-instantiated component.
    pub instantiate: Duration,
    /// The call itself, including every host call the guest makes.
    pub call: Duration,
    /// Handing the store to the reaper, which drops it (resetting the instance's memory and
    /// returning its slot to the pool) in a task of its own after the call has answered.
    pub drop: Duration,
}

/// What a loaded component is granted.
struct Meta {
    name: Arc<str>,
    policy: Arc<EgressPolicy>,
    scopes: Arc<ScopePolicies>,
    config: Arc<WasiConfigVariables>,
    /// Its key-value namespace and buckets; cloned (two `Arc`s) into every store.
    kv: KvCtx,
}

struct ProviderComponent {
    meta: Meta,
    pre: AuthProviderPre<ComponentState>,
}

struct ToolComponent {
    meta: Meta,
    pre: ToolComponentPre<ComponentState>,
    specs: Vec<ToolSpec>,
}

struct Shared {
    engine: Engine,
    provider: Option<ProviderComponent>,
    tools: Vec<ToolComponent>,
    on_denied: Arc<dyn DeniedHandler>,
    limits: Limits,
    /// One pooled HTTP transport for every store of this runtime.
    transport: Arc<Transport>,
    /// Tokens the provider issued, reused while valid.
    grants: GrantCache,
    /// Drops finished stores off the calls' critical path.
    reaper: Reaper,
}

impl Shared {
    /// A fresh store for one call of the component described by `meta`.
    fn new_store(&self, meta: &Meta, credentials: Option<CredentialLink>) -> Store<ComponentState> {
        let sealed = credentials.as_ref().map(|c| Arc::clone(&c.sealed));
        let state = ComponentState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            egress: EgressHooks::new(
                Arc::clone(&meta.name),
                Arc::clone(&meta.policy),
                self.limits.http,
                Arc::clone(&self.on_denied),
                sealed,
                Arc::clone(&self.transport),
            ),
            config: Arc::clone(&meta.config),
            kv: meta.kv.clone(),
            credentials,
            limits: engine::Limiter::new(self.limits.memory),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(engine::deadline_ticks(self.limits.call_timeout));
        store.epoch_deadline_trap();
        store
    }

    /// Runs `call` within the call timeout and turns traps into [`CallError`]s.
    async fn bounded<T>(
        &self,
        component: &str,
        call: impl Future<Output = wasmtime::Result<T>>,
    ) -> Result<T, CallError> {
        let timeout = self.limits.call_timeout;
        match tokio::time::timeout(timeout, call).await {
            Err(_) => Err(CallError::Timeout {
                component: component.to_owned(),
                after: timeout,
            }),
            Ok(Err(e)) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
                Err(CallError::Timeout {
                    component: component.to_owned(),
                    after: timeout,
                })
            }
            Ok(Err(e)) => Err(CallError::Trap {
                component: component.to_owned(),
                source: e.into_boxed_dyn_error(),
            }),
            Ok(Ok(value)) => Ok(value),
        }
    }

    async fn list_tools(&self, tool: &ToolComponent) -> Result<Vec<ToolSpec>, CallError> {
        let mut store = self.new_store(&tool.meta, None);
        let run = async {
            let instance = tool.pre.instantiate_async(&mut store).await?;
            instance.mcs_tools_tools().call_list_tools(&mut store).await
        };
        let specs = self.bounded(&tool.meta.name, run).await?;
        specs
            .into_iter()
            .map(|s| {
                let input_schema = serde_json::from_str(&s.input_schema).map_err(|e| {
                    ToolError::InvalidArguments(format!(
                        "tool {:?} declares an input schema that is not JSON: {e}",
                        s.name
                    ))
                })?;
                Ok(ToolSpec {
                    name: s.name,
                    description: s.description,
                    input_schema,
                })
            })
            .collect()
    }
}

/// Compiles, audits and pre-instantiates one component.
fn load(
    engine: &Engine,
    linker: &Linker<ComponentState>,
    cache: Option<&ComponentCache>,
    kv: &Arc<dyn Backend>,
    config: &ComponentConfig,
    role: Role,
) -> Result<(Meta, wasmtime::component::InstancePre<ComponentState>), LoadError> {
    let policy = EgressPolicy::parse(&config.allowed_outbound_hosts).map_err(|source| {
        LoadError::Policy {
            component: config.name.clone(),
            source,
        }
    })?;
    let mut scopes = Vec::new();
    for (scope, destinations) in &config.credentials {
        let policy = EgressPolicy::parse(destinations).map_err(|source| LoadError::Policy {
            component: config.name.clone(),
            source,
        })?;
        scopes.push((scope.clone(), policy));
    }
    let compiled = match cache {
        Some(cache) => cache.load(engine, &config.wasm),
        None => Component::new(engine, &config.wasm),
    };
    let component = compiled.map_err(|e| LoadError::Compile {
        component: config.name.clone(),
        source: e.into_boxed_dyn_error(),
    })?;
    linker::audit_imports(engine, &component, &config.name, role)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::WrongWorld {
            component: config.name.clone(),
            world: match role {
                Role::Provider => "mcs:auth/auth-provider",
                Role::Tool => "mcs:tools/tool-component",
            },
            source: e.into_boxed_dyn_error(),
        })?;
    let meta = Meta {
        name: config.name.as_str().into(),
        policy: Arc::new(policy),
        scopes: Arc::new(ScopePolicies::new(scopes)),
        config: Arc::new(config.settings.iter().cloned().collect()),
        kv: KvCtx::new(Arc::clone(kv), &config.name, &config.buckets),
    };
    Ok((meta, pre))
}

/// Serves a tool's `get-token` by running the credential-provider component.
struct ProviderLink {
    shared: Arc<Shared>,
}

impl CredentialSource for ProviderLink {
    fn get_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, Result<String, AuthError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let Some(provider) = &shared.provider else {
                return Err(AuthError::Misconfigured(
                    "no credential-provider component is configured".into(),
                ));
            };
            if let Some(token) = shared.grants.get(scope) {
                return Ok(token);
            }
            let mut store = shared.new_store(&provider.meta, None);
            let run = async {
                let instance = provider.pre.instantiate_async(&mut store).await?;
                instance
                    .mcs_auth_grants()
                    .call_get_grant(&mut store, scope)
                    .await
            };
            let result = shared.bounded(&provider.meta.name, run).await;
            // Dropped now, not by the reaper: the provider's memory holds the token, and it
            // must be gone before the tool's request is sent (tests/e2e/isolation.rs scans).
            drop(store);
            match result {
                Ok(Ok(grant)) => {
                    shared
                        .grants
                        .put(scope, grant.token.clone(), grant.expires_in);
                    Ok(grant.token)
                }
                Ok(Err(e)) => Err(e.into()),
                Err(e) => Err(AuthError::Upstream(format!("{e}"))),
            }
        })
    }

    fn invalidate_token<'a>(&'a self, scope: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let shared = &self.shared;
            shared.grants.remove(scope);
            let Some(provider) = &shared.provider else {
                return;
            };
            let mut store = shared.new_store(&provider.meta, None);
            let run = async {
                let instance = provider.pre.instantiate_async(&mut store).await?;
                instance
                    .mcs_auth_credential_provider()
                    .call_invalidate_token(&mut store, scope)
                    .await
            };
            if let Err(e) = shared.bounded(&provider.meta.name, run).await {
                tracing::warn!("invalidate-token failed: {e}");
            }
        })
    }
}
