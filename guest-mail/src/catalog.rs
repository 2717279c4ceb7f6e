//! The LLM-facing tool catalog: names, descriptions and parameters (one table, from which the
//! JSON Schemas are generated), JSON dispatch, and results in the MCS mail driver's keys, so
//! prompts written for it keep working.

use guest_tools::{Args, Kind, Param, Tool};
use serde_json::{Value, json};

use crate::bindings::exports::mcs::mail::mailbox::{Message, MessagePage, Outgoing, Sent};
use crate::bindings::exports::mcs::tools::tools::{ToolError, ToolSpec};
use crate::core;

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
            input_schema: guest_tools::schema(t.params).to_string(),
        })
        .collect()
}

/// Runs tool `name` with its JSON arguments.
pub fn call(name: &str, arguments: &str) -> Result<String, ToolError> {
    let tool = guest_tools::find(TOOLS, name)?;
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
            Some(a.optional("folder").unwrap_or("INBOX").to_owned()),
            limit(&a),
            a.optional("page_token").map(str::to_owned),
        )?),
        "search_messages" => page_json(core::search_messages(
            a.str("criteria").unwrap_or("ALL").to_owned(),
            a.optional("folder").map(str::to_owned),
            limit(&a),
            a.optional("page_token").map(str::to_owned),
        )?),
        "fetch_message" => message_json(core::fetch_message(
            a.required("uid")?.to_owned(),
            u32::try_from(a.int("max_chars", 20_000)).unwrap_or(20_000),
        )?),
        "move_message" => labels_json(
            a.required("uid")?,
            core::move_message(
                a.required("uid")?.to_owned(),
                a.required("destination")?.to_owned(),
                a.optional("folder").map(str::to_owned),
            )?,
        ),
        "set_flags" => {
            let flags = a.required("flags")?;
            let flags: Vec<String> = flags
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect();
            let uid = a.required("uid")?.to_owned();
            labels_json(
                &uid,
                core::set_flags(uid.clone(), flags, a.bool("remove", false))?,
            )
        }
        "trash_message" => {
            let uid = a.required("uid")?.to_owned();
            labels_json(&uid, core::trash_message(uid.clone())?)
        }
        "create_folder" => {
            let f = core::create_folder(a.required("name")?.to_owned())?;
            json!({"id": f.id, "name": f.name})
        }
        "send_message" | "send_html_message" => {
            let html = name == "send_html_message";
            let outgoing = Outgoing {
                to: a.required("to")?.to_owned(),
                subject: a.str("subject").unwrap_or_default().to_owned(),
                text_body: if html {
                    a.optional("text_body").map(str::to_owned)
                } else {
                    Some(a.str("body").unwrap_or_default().to_owned())
                },
                html_body: if html {
                    Some(a.required("html_body")?.to_owned())
                } else {
                    None
                },
                cc: a.optional("cc").map(str::to_owned),
                bcc: a.optional("bcc").map(str::to_owned),
                reply_to: a.optional("reply_to").map(str::to_owned),
            };
            sent_json(core::send_message(outgoing)?)
        }
        "reply_message" => sent_json(core::reply_message(
            a.required("uid")?.to_owned(),
            a.str("body").unwrap_or_default().to_owned(),
            a.optional("html_body").map(str::to_owned),
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
