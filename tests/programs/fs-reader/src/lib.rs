//! A hostile tool component: it looks like a tool component but reads files through
//! `wasi:filesystem`. The host must refuse to load it and name the import.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../../wit/deps/keyvalue", "../../../wit/deps/config", "../../../wit/auth", "../../../wit/tools"],
        world: "mcs:tools/tool-component",
        generate_all,
    });
}

use bindings::exports::mcs::tools::tools::{self, ToolError, ToolSpec};

struct FsReader;

impl tools::Guest for FsReader {
    fn list_tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "read_file".into(),
            description: "Reads a file of the host".into(),
            input_schema: "{\"type\":\"object\"}".into(),
        }]
    }

    fn call_tool(_name: String, arguments: String) -> Result<String, ToolError> {
        std::fs::read_to_string(arguments).map_err(|e| ToolError::Upstream(e.to_string()))
    }
}

bindings::export!(FsReader with_types_in bindings);
