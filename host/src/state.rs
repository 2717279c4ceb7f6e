//! What a store carries for one component instance: WASI contexts, the egress hooks, the
//! component's settings and key-value namespace, its credential link, and its limits.
//!
//! A fresh `ComponentState` is built for every call, so nothing a guest does in one call is
//! visible in the next except through the key-value store.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::credentials::{CredentialCtxView, CredentialLink, CredentialView};
use crate::egress::EgressHooks;
use crate::kv::{KvCtx, KvCtxView, KvView};

/// The data of one component's store.
pub struct ComponentState {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) egress: EgressHooks,
    pub(crate) config: Arc<WasiConfigVariables>,
    pub(crate) kv: KvCtx,
    pub(crate) credentials: Option<CredentialLink>,
    pub(crate) limits: crate::engine::Limiter,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl KvView for ComponentState {
    fn kv(&mut self) -> KvCtxView<'_> {
        KvCtxView {
            ctx: &self.kv,
            table: &mut self.table,
        }
    }
}

impl CredentialView for ComponentState {
    fn credentials(&mut self) -> CredentialCtxView<'_> {
        CredentialCtxView {
            link: self.credentials.as_ref(),
        }
    }
}
