//! An example tool component: four GitHub tools (`get_user`, `list_repos`, `list_issues`,
//! `create_issue`), to show that adding a service to mcs is configuration plus a small
//! component, with no change to the host.
//!
//! # What a new service needs
//!
//! 1. **A component of the world `mcs:tools/tool-component`** (`wit/tools/tools.wit`). It
//!    exports `list-tools` (a name, a description and a JSON Schema per tool: `tools.rs`) and
//!    `call-tool` (check the arguments with the `guest-tools` crate, plus GitHub's own name
//!    check in `args.rs`, then call the service, `github.rs`). It imports only
//!    `mcs:auth/credential-provider` and `wasi:config/store`, plus outgoing HTTP through the
//!    `guest-http` crate. Build it for `wasm32-wasip2`.
//! 2. **A credential scope.** The component asks `get-token("github")` and sends what it gets as
//!    `Authorization: Bearer …`. It never holds the token: it gets an opaque handle, and the host
//!    puts the real token on the wire itself, only toward the origins the configuration names
//!    for that scope. On a 401 it calls `invalidate-token` and retries once.
//! 3. **Configuration**, a `[[component]]` section in `mcs.toml`: the `.wasm` path,
//!    `allowed_outbound_hosts` (where it may connect), `credentials` (where each scope's token
//!    may go) and `settings` (here `github-base-url`). See this crate's `README.md`.
//! 4. **A token source.** With static tokens, `[tokens] github = "…"`. With Auth0 Token Vault,
//!    the credential provider maps the scope to an Auth0 connection (`github` → `github` is
//!    built in; others are set with `connection.<scope>`), and the user connects the account
//!    once through Connected Accounts.
//!
//! Errors follow the `tool-error` variant: bad arguments are `invalid-arguments` (checked
//! before any token is asked for), an auth challenge is passed through as `auth`, and GitHub's
//! refusals are `upstream` with GitHub's own message.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../wit/deps/keyvalue", "../../wit/deps/config", "../../wit/auth", "../../wit/tools"],
        world: "mcs:tools/tool-component",
        generate_all,
    });
}
mod args;
mod github;
mod tools;

use bindings::exports::mcs::tools::tools::{AuthChallenge, AuthError, Guest, ToolError, ToolSpec};
use bindings::mcs::auth::types::AuthError as ProviderError;

struct GitHubTools;

/// The provider's `auth-error` as the `tools` interface's own copy of it (`tools.wit` says why
/// the exported interface repeats the type instead of using the imported one), so that
/// `get-token(…)?` passes a challenge through to the caller unchanged.
impl From<ProviderError> for ToolError {
    fn from(e: ProviderError) -> Self {
        ToolError::Auth(match e {
            ProviderError::Challenge(c) => AuthError::Challenge(AuthChallenge {
                message: c.message,
                url: c.url,
                code: c.code,
                scope: c.scope,
            }),
            ProviderError::Misconfigured(m) => AuthError::Misconfigured(m),
            ProviderError::Denied(m) => AuthError::Denied(m),
            ProviderError::Upstream(m) => AuthError::Upstream(m),
        })
    }
}

/// An unknown tool or bad arguments, as found by the shared checks of `guest-tools`.
impl From<guest_tools::Error> for ToolError {
    fn from(e: guest_tools::Error) -> Self {
        match e {
            guest_tools::Error::UnknownTool(m) => ToolError::UnknownTool(m),
            guest_tools::Error::InvalidArguments(m) => ToolError::InvalidArguments(m),
        }
    }
}

impl Guest for GitHubTools {
    fn list_tools() -> Vec<ToolSpec> {
        tools::specs()
    }

    fn call_tool(name: String, arguments: String) -> Result<String, ToolError> {
        tools::call(&name, &arguments)
    }
}

bindings::export!(GitHubTools with_types_in bindings);
