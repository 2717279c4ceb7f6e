//! The mail tools through the host and both components, against the fake Gmail. Tool
//! behaviour and tool-argument validation go here.

use mcs_host::{AuthError, CallError, ToolError};
use mcs_sandbox::{FakeGmail, Mailbox};
use mcs_tests::{GMAIL_TOKEN, auth_component, builder, mail_component, pretty, runtime};
use serde_json::{Value, json};

#[tokio::test]
async fn list_folders_returns_every_label_sorted_with_ids() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let out = rt.call_tool("list_folders", "{}").await.unwrap();
    let folders: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        folders.len(),
        Mailbox::sample().labels.len(),
        "{}",
        pretty(&out)
    );
    let names: Vec<&str> = folders
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(folders.contains(&json!({"name": "Work", "id": "Label_1", "system": false})));
    assert!(folders.contains(&json!({"name": "INBOX", "id": "INBOX", "system": true})));
    assert!(folders.contains(&json!({"name": "Reisen/Zürich", "id": "Label_3", "system": false})));
}

#[tokio::test]
async fn gmail_receives_the_real_token_although_the_tool_only_held_a_handle() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    rt.call_tool("list_folders", "").await.unwrap();
    let seen = gmail.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path_and_query, "/gmail/v1/users/me/labels");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {GMAIL_TOKEN}").as_str())
    );
}

#[tokio::test]
async fn a_rejected_token_is_retried_once_then_gmails_message_is_reported() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = builder()
        .provider(auth_component(Some("ya29.wrong")))
        .tool(mail_component(&gmail))
        .build()
        .await
        .unwrap();
    let err = rt.call_tool("list_folders", "{}").await.unwrap_err();
    match &err {
        CallError::Tool(ToolError::Upstream(msg)) => {
            assert!(msg.contains("401"), "{msg}");
            assert!(msg.contains("invalid authentication credentials"), "{msg}");
        }
        other => panic!("expected an upstream error, got {other:?}"),
    }
    assert_eq!(gmail.requests().len(), 2, "one try and one retry");
}

#[tokio::test]
async fn missing_static_token_names_the_setting_to_fix() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = builder()
        .provider(auth_component(None))
        .tool(mail_component(&gmail))
        .build()
        .await
        .unwrap();
    match rt.call_tool("list_folders", "{}").await.unwrap_err() {
        CallError::Tool(ToolError::Auth(AuthError::Misconfigured(msg))) => {
            assert!(
                msg.contains("token.gmail") && msg.contains("MCS_TOKEN_GMAIL"),
                "{msg}"
            );
        }
        other => panic!("expected misconfigured, got {other:?}"),
    }
    assert!(gmail.requests().is_empty());
}

#[tokio::test]
async fn bad_arguments_and_unknown_tools_are_clear_tool_errors() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let cases = [
        ("list_folders", "{not json", "not valid JSON"),
        (
            "list_folders",
            "[1, 2]",
            "must be a JSON object, got an array",
        ),
        (
            "list_folders",
            r#"{"folder": "INBOX"}"#,
            "takes no arguments, got \"folder\"",
        ),
    ];
    for (tool, args, want) in cases {
        match rt.call_tool(tool, args).await {
            Err(CallError::Tool(ToolError::InvalidArguments(msg))) => {
                assert!(msg.contains(want), "{args}: {msg}");
            }
            other => panic!("{args}: expected invalid arguments, got {other:?}"),
        }
    }
    match rt.call_tool("delete_everything", "{}").await {
        Err(CallError::Tool(ToolError::UnknownTool(msg))) => {
            assert!(msg.contains("list_folders"), "lists what exists: {msg}");
        }
        other => panic!("expected unknown tool, got {other:?}"),
    }
    assert!(gmail.requests().is_empty(), "no bad call reached Gmail");
}

/// Every tool the mail component offers; a test below fails if one is missing or extra.
const TOOL_NAMES: &[&str] = &[
    "list_folders",
    "list_messages",
    "fetch_message",
    "search_messages",
    "move_message",
    "set_flags",
    "create_folder",
    "send_message",
    "send_html_message",
    "trash_message",
    "reply_message",
];

#[tokio::test]
async fn tool_specs_are_listed_with_strict_schemas() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let specs: Vec<_> = rt.tools().collect();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, TOOL_NAMES);
    for spec in specs {
        let schema = &spec.input_schema;
        assert_eq!(schema["type"], "object", "{}", spec.name);
        assert_eq!(
            schema["additionalProperties"],
            json!(false),
            "{}",
            spec.name
        );
        assert!(schema["required"].is_array(), "{}", spec.name);
        assert!(spec.description.len() > 20, "{}", spec.name);
        for (name, prop) in schema["properties"].as_object().unwrap() {
            assert!(prop["description"].is_string(), "{}.{name}", spec.name);
            if prop["type"] == "integer" {
                assert!(
                    prop["minimum"].is_number() && prop["maximum"].is_number(),
                    "{}.{name}",
                    spec.name
                );
            }
        }
    }
}
