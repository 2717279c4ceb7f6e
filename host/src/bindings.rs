//! Bindings generated from the WIT in `wit/`. Generated code only; the implementations live
//! with the concern they serve (`kv`, `credentials`).
//!
//! Public for embedders: [`tool::ToolComponent`] calls a tool component's `tools` export
//! from a store of their own, and [`auth::AuthProvider`] a credential provider's exports.

/// `wasi:keyvalue@0.2.0-draft` (store, atomics, batch), implemented by [`crate::kv`].
pub mod keyvalue {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: { "wasi:keyvalue/store.bucket": crate::kv::Bucket },
    });
}

/// The `mcs:auth/auth-provider` world: the credential-provider component (guest-auth).
pub mod auth {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/keyvalue", "../wit/deps/config", "../wit/auth"],
        world: "mcs:auth/auth-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: { "wasi:keyvalue": super::keyvalue::wasi::keyvalue },
    });
}

/// The `mcs:tools/tool-component` world: any tool component (guest-mail, the GitHub example).
/// Only its `tools` export is used; a component may export more (guest-mail's `mailbox`).
pub mod tool {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/keyvalue", "../wit/deps/config", "../wit/auth", "../wit/tools"],
        world: "mcs:tools/tool-component",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}
