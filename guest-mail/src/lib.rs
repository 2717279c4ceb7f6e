//! The mail-driver component: Gmail tools for LLMs.
//!
//! Both exports, the JSON `tools` interface and the typed `mailbox` interface, call one core
//! (`gmail`), so they cannot drift apart. The component holds no secret: its `get-token`
//! import is served by the host.

mod bindings {
    wit_bindgen::generate!({
        path: ["../wit/deps/keyvalue", "../wit/deps/config", "../wit/auth", "../wit/mail"],
        world: "mcs:mail/mail-driver",
        generate_all,
    });
}
mod catalog;
mod gmail;

use bindings::exports::mcs::mail::mailbox::{self, Folder};
use bindings::exports::mcs::mail::tools::{self, ToolError, ToolSpec};

struct MailDriver;

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
        gmail::Client::from_settings()?.list_folders()
    }
}

bindings::export!(MailDriver with_types_in bindings);
