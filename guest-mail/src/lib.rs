//! The mail-driver component: Gmail tools for LLMs.
//!
//! Both exports, the JSON `tools` interface (`catalog`) and the typed `mailbox` interface,
//! call one core (`core`, over the Gmail client in `gmail`), so they cannot drift apart. The
//! component holds no secret: its `get-token` import is served by the host, which hands out
//! an opaque handle and puts the real token on the wire itself.

mod bindings {
    wit_bindgen::generate!({
        path: ["../wit/deps/keyvalue", "../wit/deps/config", "../wit/auth", "../wit/tools", "../wit/mail"],
        world: "mcs:mail/mail-driver",
        generate_all,
    });
}
mod catalog;
mod core;
mod gmail;
mod html;
mod mime;
mod query;

use bindings::exports::mcs::mail::mailbox::{self, Folder, Message, MessagePage, Outgoing, Sent};
use bindings::exports::mcs::tools::tools::{self, ToolError, ToolSpec};

struct MailDriver;

/// The provider's auth error, as the `tools` interface's own copy of it (the WIT says why).
impl From<bindings::mcs::auth::types::AuthError> for ToolError {
    fn from(e: bindings::mcs::auth::types::AuthError) -> Self {
        use bindings::exports::mcs::tools::tools::{AuthChallenge, AuthError};
        use bindings::mcs::auth::types::AuthError as Provider;
        ToolError::Auth(match e {
            Provider::Challenge(c) => AuthError::Challenge(AuthChallenge {
                message: c.message,
                url: c.url,
                code: c.code,
                scope: c.scope,
            }),
            Provider::Misconfigured(m) => AuthError::Misconfigured(m),
            Provider::Denied(m) => AuthError::Denied(m),
            Provider::Upstream(m) => AuthError::Upstream(m),
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

impl tools::Guest for MailDriver {
    fn list_tools() -> Vec<ToolSpec> {
        catalog::specs()
    }

    fn call_tool(name: String, arguments: String) -> Result<String, ToolError> {
        catalog::call(&name, &arguments)
    }
}

impl mailbox::Guest for MailDriver {
    fn list_folders() -> Result<Vec<Folder>, ToolError> {
        core::list_folders()
    }

    fn list_messages(
        folder: Option<String>,
        limit: u32,
        page_token: Option<String>,
    ) -> Result<MessagePage, ToolError> {
        core::list_messages(folder, limit.clamp(1, 500), page_token)
    }

    fn search_messages(
        query: String,
        folder: Option<String>,
        limit: u32,
        page_token: Option<String>,
    ) -> Result<MessagePage, ToolError> {
        core::search_messages(query, folder, limit.clamp(1, 500), page_token)
    }

    fn fetch_message(uid: String, max_chars: u32) -> Result<Message, ToolError> {
        core::fetch_message(uid, max_chars)
    }

    fn move_message(
        uid: String,
        destination: String,
        source: Option<String>,
    ) -> Result<Vec<String>, ToolError> {
        core::move_message(uid, destination, source)
    }

    fn set_flags(uid: String, flags: Vec<String>, remove: bool) -> Result<Vec<String>, ToolError> {
        core::set_flags(uid, flags, remove)
    }

    fn trash_message(uid: String) -> Result<Vec<String>, ToolError> {
        core::trash_message(uid)
    }

    fn create_folder(name: String) -> Result<Folder, ToolError> {
        core::create_folder(name)
    }

    fn send_message(message: Outgoing) -> Result<Sent, ToolError> {
        core::send_message(message)
    }

    fn reply_message(
        uid: String,
        text_body: String,
        html_body: Option<String>,
        reply_all: bool,
    ) -> Result<Sent, ToolError> {
        core::reply_message(uid, text_body, html_body, reply_all)
    }
}

bindings::export!(MailDriver with_types_in bindings);
