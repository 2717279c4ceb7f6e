//! Bindings generated from the WIT in `wit/`. Generated code only; the implementations live
//! with the concern they serve (`kv`, `credentials`).

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

/// The `mcs:mail/mail-driver` world: a tool component (guest-mail).
pub mod mail {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/keyvalue", "../wit/deps/config", "../wit/auth", "../wit/mail"],
        world: "mcs:mail/mail-driver",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}
