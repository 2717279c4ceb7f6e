//! The LLM-facing tool catalog: names, descriptions and parameters (one table, from which the
//! JSON Schemas are generated), JSON dispatch, and results in the MCS mail driver's keys, so
//! prompts written for it keep working.

use serde_json::{Map, Value, json};

use crate::args::{Args, Kind, Param};
use crate::bindings::exports::mcs::mail::mailbox::{Message, MessagePage, Outgoing, Sent};
use crate::bindings::exports::mcs::tools::tools::{ToolError, ToolSpec};
use crate::core;

/// One tool: name, description, parameters.
pub struct Tool {
    /// Stable name.
    pub name: &'static str,
    /// What it does, for an LLM.
    pub description: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
}

const fn p(name: &'static str, kind: Kind, required: bool, description: &'static str) -> Param {
    Param {
        name,
        kind,
        required,
        description,
    }
}

const STR: Kind = Kind::Str;
const BOOL: Kind = Kind::Bool;
const LIMIT: Param = p(
    "limit",
    Kind::Int { min: 1, max: 100 },
    false,
    "Maximum number of messages to return, 1 to 100 (default: 20).",
);
const PAGE: Param = p(
    "page_token",
    STR,
    false,
    "Continue a previous listing: pass the next_page_token it returned.",
);
const UID: Param = p("uid", STR, true, "Message UID (the Gmail message id).");
const TO: Param = p("to", STR, true, "Comma-separated recipient addresses.");
const SUBJECT: Param = p("subject", STR, true, "E-mail subject line.");
const CC: Param = p(
    "cc",
    STR,
    false,
    "Comma-separated CC addresses (default: none).",
);
const BCC: Param = p(
    "bcc",
    STR,
    false,
    "Comma-separated BCC addresses (default: none).",
);
const REPLY_TO: Param = p("reply_to", STR, false, "Reply-To address (default: none).");

/// Every tool, in the order they are listed.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_folders",
        description: "List all folders (Gmail labels) of the mailbox. Returns [{\"name\", \"id\", \"system\"}] sorted by name; wherever a folder is expected, its name or its id works.",
        params: &[],
    },
    Tool {
        name: "list_messages",
        description: "List message headers (subject, from, date, labels) in a folder, newest first. Returns {\"messages\": [{\"uid\", \"thread_id\", \"from\", \"subject\", \"date\", \"snippet\", \"labels\"}], \"next_page_token\"}; at most `limit` messages per call.",
        params: &[
            p("folder", STR, false, "Folder name or id (default: INBOX)."),
            LIMIT,
            PAGE,
        ],
    },
    Tool {
        name: "fetch_message",
        description: "Fetch one message by its UID, with its body as text (the text/plain part, else the HTML part converted to text), cut at max_chars. Returns {\"uid\", \"thread_id\", \"from\", \"to\", \"cc\", \"subject\", \"date\", \"labels\", \"snippet\", \"body\", \"truncated\", \"attachments\"}.",
        params: &[
            UID,
            p(
                "folder",
                STR,
                false,
                "Ignored (a Gmail message has one UID in every folder); accepted for compatibility.",
            ),
            p(
                "max_chars",
                Kind::Int {
                    min: 100,
                    max: 200_000,
                },
                false,
                "Longest body returned, in characters (default: 20000).",
            ),
        ],
    },
    Tool {
        name: "search_messages",
        description: "Search messages with Gmail query syntax, e.g. 'from:alice subject:invoice is:unread after:2025/01/01 has:attachment'. IMAP-style criteria (FROM \"alice\", SUBJECT \"x\", UNSEEN, SINCE 01-Jan-2025) are translated. Searches all mail unless a folder is given. Returns the same shape as list_messages.",
        params: &[
            p(
                "criteria",
                STR,
                false,
                "Gmail search query (default: \"ALL\", every message).",
            ),
            p(
                "folder",
                STR,
                false,
                "Only search this folder (name or id); default: all mail.",
            ),
            LIMIT,
            PAGE,
        ],
    },
    Tool {
        name: "move_message",
        description: "Move a message from one folder to another (moving to TRASH trashes it). Returns {\"uid\", \"labels\"}.",
        params: &[
            UID,
            p("destination", STR, true, "Target folder name or id."),
            p(
                "folder",
                STR,
                false,
                "Source folder name or id (default: INBOX).",
            ),
        ],
    },
    Tool {
        name: "set_flags",
        description: "Add or remove flags on a message: \\Seen (read), \\Flagged (starred), \\Deleted (trash), or any folder name/id as a label. Gmail has no \\Answered flag. Returns {\"uid\", \"labels\"}.",
        params: &[
            UID,
            p(
                "flags",
                STR,
                true,
                "Flags separated by spaces or commas, e.g. '\\Seen \\Flagged'.",
            ),
            p(
                "remove",
                BOOL,
                false,
                "If true, remove the flags instead of adding them (default: false).",
            ),
            p("folder", STR, false, "Ignored; accepted for compatibility."),
        ],
    },
    Tool {
        name: "create_folder",
        description: "Create a new folder (Gmail label). Returns {\"id\", \"name\"}.",
        params: &[p(
            "name",
            STR,
            true,
            "Name of the folder to create; use '/' for nesting, e.g. 'Work/Receipts'.",
        )],
    },
    Tool {
        name: "send_message",
        description: "Send an e-mail with a plain-text body. Supports To, CC, BCC and Reply-To. Returns {\"status\": \"sent\", \"id\", \"thread_id\", \"labels\"}.",
        params: &[
            TO,
            SUBJECT,
            p("body", STR, true, "Plain-text message body."),
            CC,
            BCC,
            REPLY_TO,
        ],
    },
    Tool {
        name: "send_html_message",
        description: "Send an e-mail with an HTML body and an optional plain-text fallback. Supports To, CC, BCC and Reply-To. Returns {\"status\": \"sent\", \"id\", \"thread_id\", \"labels\"}.",
        params: &[
            TO,
            SUBJECT,
            p("html_body", STR, true, "HTML message body."),
            p(
                "text_body",
                STR,
                false,
                "Plain-text fallback body (default: none).",
            ),
            CC,
            BCC,
            REPLY_TO,
        ],
    },
    Tool {
        name: "trash_message",
        description: "Move a message to the trash. Returns {\"uid\", \"labels\"}.",
        params: &[UID],
    },
    Tool {
        name: "reply_message",
        description: "Reply to a message in its thread (In-Reply-To and References are set). Goes to the sender (its Reply-To if set), or with reply_all also to the other recipients. Returns {\"status\": \"sent\", \"id\", \"thread_id\", \"labels\"}.",
        params: &[
            UID,
            p("body", STR, true, "Plain-text reply body."),
            p(
                "html_body",
                STR,
                false,
                "HTML version of the reply (default: none).",
            ),
            p(
                "reply_all",
                BOOL,
                false,
                "Also reply to every other recipient (default: false).",
            ),
        ],
    },
];

/// The specs of every tool.
pub fn specs() -> Vec<ToolSpec> {
    TOOLS
        .iter()
        .map(|t| ToolSpec {
            name: t.name.into(),
            description: t.description.into(),
            input_schema: schema(t.params).to_string(),
        })
        .collect()
}

/// JSON Schema (2020-12) of an arguments object.
fn schema(params: &[Param]) -> Value {
    let mut properties = Map::new();
    for p in params {
        let mut prop = match p.kind {
            Kind::Str => json!({"type": "string"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        };
        prop["description"] = json!(p.description);
        properties.insert(p.name.into(), prop);
    }
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Runs tool `name` with its JSON arguments.
pub fn call(name: &str, arguments: &str) -> Result<String, ToolError> {
    let Some(tool) = TOOLS.iter().find(|t| t.name == name) else {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        return Err(ToolError::UnknownTool(format!(
            "no tool named {name:?}; available: {}",
            names.join(", ")
        )));
    };
    let a = Args::parse(name, arguments, tool.params)?;
    let limit = |a: &Args| u32::try_from(a.int("limit", 20)).unwrap_or(20);
    let result = match name {
        "list_folders" => {
            let folders = core::list_folders()?;
            Value::Array(
                folders
                    .into_iter()
                    .map(|f| json!({"name": f.name, "id": f.id, "system": f.system}))
                    .collect(),
            )
        }
        "list_messages" => page_json(core::list_messages(
            Some(
                a.optional_string("folder")
                    .unwrap_or_else(|| "INBOX".into()),
            ),
            limit(&a),
            a.optional_string("page_token"),
        )?),
        "search_messages" => page_json(core::search_messages(
            a.string("criteria").unwrap_or_else(|| "ALL".into()),
            a.optional_string("folder"),
            limit(&a),
            a.optional_string("page_token"),
        )?),
        "fetch_message" => message_json(core::fetch_message(
            a.required_string("uid")?,
            u32::try_from(a.int("max_chars", 20_000)).unwrap_or(20_000),
        )?),
        "move_message" => labels_json(
            &a.required_string("uid")?,
            core::move_message(
                a.required_string("uid")?,
                a.required_string("destination")?,
                a.optional_string("folder"),
            )?,
        ),
        "set_flags" => {
            let flags = a.required_string("flags")?;
            let flags: Vec<String> = flags
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect();
            let uid = a.required_string("uid")?;
            labels_json(
                &uid,
                core::set_flags(uid.clone(), flags, a.bool("remove", false))?,
            )
        }
        "trash_message" => {
            let uid = a.required_string("uid")?;
            labels_json(&uid, core::trash_message(uid.clone())?)
        }
        "create_folder" => {
            let f = core::create_folder(a.required_string("name")?)?;
            json!({"id": f.id, "name": f.name})
        }
        "send_message" | "send_html_message" => {
            let html = name == "send_html_message";
            let outgoing = Outgoing {
                to: a.required_string("to")?,
                subject: a.string("subject").unwrap_or_default(),
                text_body: if html {
                    a.optional_string("text_body")
                } else {
                    Some(a.string("body").unwrap_or_default())
                },
                html_body: if html {
                    Some(a.required_string("html_body")?)
                } else {
                    None
                },
                cc: a.optional_string("cc"),
                bcc: a.optional_string("bcc"),
                reply_to: a.optional_string("reply_to"),
            };
            sent_json(core::send_message(outgoing)?)
        }
        "reply_message" => sent_json(core::reply_message(
            a.required_string("uid")?,
            a.string("body").unwrap_or_default(),
            a.optional_string("html_body"),
            a.bool("reply_all", false),
        )?),
        other => {
            return Err(ToolError::UnknownTool(format!(
                "tool {other:?} is listed but not wired"
            )));
        }
    };
    Ok(result.to_string())
}

fn page_json(page: MessagePage) -> Value {
    let messages: Vec<Value> = page
        .messages
        .into_iter()
        .map(|m| {
            json!({
                "uid": m.uid, "thread_id": m.thread_id, "from": m.sender, "subject": m.subject,
                "date": m.date, "snippet": m.snippet, "labels": m.labels,
            })
        })
        .collect();
    json!({"messages": messages, "next_page_token": page.next_page_token})
}

fn message_json(m: Message) -> Value {
    let attachments: Vec<Value> = m
        .attachments
        .into_iter()
        .map(|a| json!({"filename": a.filename, "mime_type": a.mime_type, "size": a.size}))
        .collect();
    json!({
        "uid": m.uid, "thread_id": m.thread_id, "from": m.sender, "to": m.to, "cc": m.cc,
        "subject": m.subject, "date": m.date, "labels": m.labels, "snippet": m.snippet,
        "body": m.body, "truncated": m.truncated, "attachments": attachments,
    })
}

fn labels_json(uid: &str, labels: Vec<String>) -> Value {
    json!({"uid": uid, "labels": labels})
}

fn sent_json(s: Sent) -> Value {
    json!({"status": "sent", "id": s.id, "thread_id": s.thread_id, "labels": s.labels})
}
