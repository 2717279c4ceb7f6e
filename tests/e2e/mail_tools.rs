//! The mail tools through the host and both components, against the fake Gmail. Tool
//! behaviour and tool-argument validation go here.

use std::time::{Duration, Instant};

use mcs_host::{AuthError, CallError, Runtime, ToolError};
use mcs_sandbox::{FakeGmail, Mailbox};
use mcs_tests::{GMAIL_TOKEN, auth_component, builder, mail_component, pretty, runtime};
use serde_json::{Value, json};

/// Calls `tool` and parses its JSON result, printing it on failure.
async fn call(rt: &Runtime, tool: &str, args: Value) -> Value {
    match rt.call_tool(tool, &args.to_string()).await {
        Ok(out) => serde_json::from_str(&out).unwrap_or_else(|e| panic!("{tool}: {e}\n{out}")),
        Err(e) => panic!("{tool} {args}: {e:?}"),
    }
}

/// Calls `tool`, expecting a tool error; returns it.
async fn call_err(rt: &Runtime, tool: &str, args: Value) -> ToolError {
    match rt.call_tool(tool, &args.to_string()).await {
        Err(CallError::Tool(e)) => e,
        other => panic!("{tool} {args}: expected a tool error, got {other:?}"),
    }
}

/// The uid of the only message `criteria` finds.
async fn uid_of(rt: &Runtime, criteria: &str) -> String {
    let found = call(rt, "search_messages", json!({"criteria": criteria})).await;
    let messages = found["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        1,
        "{criteria}: {}",
        pretty(&found.to_string())
    );
    messages[0]["uid"].as_str().unwrap().to_owned()
}

/// Subjects of a result page.
fn subjects(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

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
        ("fetch_message", "{}", "needs \"uid\""),
        (
            "fetch_message",
            r#"{"uid": 42}"#,
            "\"uid\" of \"fetch_message\" must be a string, got a number",
        ),
        ("list_messages", r#"{"limit": 0}"#, "from 1 to 100, got 0"),
        (
            "list_messages",
            r#"{"limit": 1000000000}"#,
            "from 1 to 100, got 1000000000",
        ),
        (
            "list_messages",
            r#"{"limit": "many"}"#,
            "must be an integer from 1 to 100, got a string",
        ),
        (
            "list_messages",
            r#"{"folder": "INBOX", "colour": "red"}"#,
            "has no parameter \"colour\"",
        ),
        (
            "set_flags",
            r#"{"uid": "1", "flags": "\\Seen", "remove": "perhaps"}"#,
            "must be a boolean",
        ),
        (
            "send_message",
            r#"{"to": "a@b", "subject": "s"}"#,
            "needs \"body\"",
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

#[tokio::test]
async fn list_messages_pages_newest_first_with_the_reference_keys() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let first = call(&rt, "list_messages", json!({})).await;
    let messages = first["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 20);
    assert_eq!(messages[0]["subject"], "Quarterly report", "newest first");
    for key in [
        "uid",
        "thread_id",
        "from",
        "subject",
        "date",
        "snippet",
        "labels",
    ] {
        assert!(messages[0].get(key).is_some(), "missing {key}");
    }
    assert!(
        messages
            .iter()
            .all(|m| m["labels"].as_array().unwrap().contains(&json!("INBOX")))
    );
    let token = first["next_page_token"].as_str().expect("a second page");
    let second = call(
        &rt,
        "list_messages",
        json!({"page_token": token, "limit": 20}),
    )
    .await;
    let firsts: Vec<_> = messages.iter().map(|m| m["uid"].clone()).collect();
    assert!(
        second["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !firsts.contains(&m["uid"]))
    );
}

#[tokio::test]
async fn list_messages_fetches_metadata_concurrently() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    gmail.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    let page = call(&rt, "list_messages", json!({"limit": 20})).await;
    let elapsed = started.elapsed();
    assert_eq!(page["messages"].as_array().unwrap().len(), 20);
    assert_eq!(
        gmail.requests().len(),
        21,
        "one list and twenty metadata requests"
    );
    // 21 sequential round trips would take 4.2 s; a structural check, not a speed target.
    assert!(
        elapsed < Duration::from_millis(2000),
        "round trips were sequential: {elapsed:?}"
    );
}

#[tokio::test]
async fn folders_are_taken_by_user_label_name_or_id() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let by_name = call(&rt, "list_messages", json!({"folder": "Work"})).await;
    assert!(
        subjects(&by_name).contains(&"Project kickoff".to_owned()),
        "{by_name}"
    );
    let by_id = call(&rt, "list_messages", json!({"folder": "Label_1"})).await;
    assert_eq!(subjects(&by_name), subjects(&by_id));
    let zurich = call(&rt, "list_messages", json!({"folder": "Reisen/Zürich"})).await;
    assert_eq!(zurich["messages"].as_array().unwrap().len(), 1);
    match call_err(&rt, "list_messages", json!({"folder": "Nope"})).await {
        ToolError::InvalidArguments(m) => assert!(m.contains("no folder named \"Nope\""), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn search_translates_imap_criteria_and_searches_all_mail() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let alice = call(
        &rt,
        "search_messages",
        json!({"criteria": "FROM \"alice\""}),
    )
    .await;
    assert_eq!(subjects(&alice), ["Quarterly report"]);
    let unseen = subjects(&call(&rt, "search_messages", json!({"criteria": "UNSEEN"})).await);
    assert!(
        unseen.contains(&"Quarterly report".to_owned()),
        "{unseen:?}"
    );
    let invoice = call(
        &rt,
        "search_messages",
        json!({"criteria": "subject:invoice has:attachment"}),
    )
    .await;
    assert_eq!(subjects(&invoice), ["Invoice 42"]);
    let reply = call(
        &rt,
        "search_messages",
        json!({"criteria": "subject:kickoff"}),
    )
    .await;
    assert_eq!(
        reply["messages"].as_array().unwrap().len(),
        2,
        "all mail, SENT included: {reply}"
    );
    let only_inbox = call(
        &rt,
        "search_messages",
        json!({"criteria": "subject:kickoff", "folder": "INBOX"}),
    )
    .await;
    assert!(only_inbox["messages"].as_array().unwrap().len() < 2);
}

#[tokio::test]
async fn fetch_message_reads_text_html_attachments_and_encodings() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let plain = call(
        &rt,
        "fetch_message",
        json!({"uid": uid_of(&rt, "subject:\"Quarterly report\"").await}),
    )
    .await;
    assert!(
        plain["body"].as_str().unwrap().contains("revenue"),
        "{plain}"
    );
    for key in [
        "uid",
        "thread_id",
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "labels",
        "snippet",
        "body",
    ] {
        assert!(plain.get(key).is_some(), "missing {key}");
    }
    let digest = call(
        &rt,
        "fetch_message",
        json!({"uid": uid_of(&rt, "subject:\"Weekly digest\"").await}),
    )
    .await;
    assert!(
        !digest["body"].as_str().unwrap().contains('<'),
        "text part preferred: {digest}"
    );
    let receipt = call(
        &rt,
        "fetch_message",
        json!({"uid": uid_of(&rt, "subject:\"Your receipt\"").await}),
    )
    .await;
    let text = receipt["body"].as_str().unwrap();
    assert!(
        !text.contains('<') && !text.contains("&amp;") && !text.contains('{'),
        "HTML as text: {text}"
    );
    let invoice = call(
        &rt,
        "fetch_message",
        json!({"uid": uid_of(&rt, "subject:\"Invoice 42\"").await}),
    )
    .await;
    assert_eq!(
        invoice["attachments"][0]["filename"], "invoice.pdf",
        "{invoice}"
    );
    let zurich = call(
        &rt,
        "fetch_message",
        json!({"uid": uid_of(&rt, "label:Reisen/Zürich").await}),
    )
    .await;
    assert_eq!(zurich["subject"], "Grüße aus Zürich");
    assert!(zurich["from"].as_str().unwrap().contains("Zoë"), "{zurich}");
    assert!(
        zurich["body"].as_str().unwrap().contains("Grüße"),
        "Latin-1 body decoded: {zurich}"
    );
    let short = call(
        &rt,
        "fetch_message",
        json!({"uid": plain["uid"], "max_chars": 100}),
    )
    .await;
    assert_eq!(short["truncated"], true);
    assert_eq!(short["body"].as_str().unwrap().chars().count(), 100);
    match call_err(&rt, "fetch_message", json!({"uid": "ffffffffffffffff"})).await {
        ToolError::Upstream(m) => assert!(m.contains("404") && m.contains("not found"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn move_trash_and_flags_map_to_gmail_labels() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let uid = uid_of(&rt, "subject:\"Quarterly report\"").await;
    let moved = call(
        &rt,
        "move_message",
        json!({"uid": uid, "destination": "Work"}),
    )
    .await;
    let labels = gmail.labels_of(&uid).unwrap();
    assert!(
        labels.contains(&"Label_1".into()) && !labels.contains(&"INBOX".into()),
        "{labels:?}"
    );
    assert_eq!(moved["uid"], uid.as_str());

    call(
        &rt,
        "set_flags",
        json!({"uid": uid, "flags": "\\Seen \\Flagged"}),
    )
    .await;
    let labels = gmail.labels_of(&uid).unwrap();
    assert!(
        !labels.contains(&"UNREAD".into()) && labels.contains(&"STARRED".into()),
        "{labels:?}"
    );
    call(
        &rt,
        "set_flags",
        json!({"uid": uid, "flags": "\\Seen,\\Flagged", "remove": true}),
    )
    .await;
    let labels = gmail.labels_of(&uid).unwrap();
    assert!(
        labels.contains(&"UNREAD".into()) && !labels.contains(&"STARRED".into()),
        "{labels:?}"
    );
    call(&rt, "set_flags", json!({"uid": uid, "flags": "Receipts"})).await;
    assert!(gmail.labels_of(&uid).unwrap().contains(&"Label_2".into()));
    match call_err(&rt, "set_flags", json!({"uid": uid, "flags": "\\Answered"})).await {
        ToolError::InvalidArguments(m) => assert!(m.contains("reply_message"), "{m}"),
        other => panic!("{other:?}"),
    }
    call(&rt, "set_flags", json!({"uid": uid, "flags": "\\Deleted"})).await;
    assert!(gmail.labels_of(&uid).unwrap().contains(&"TRASH".into()));

    let other = uid_of(&rt, "subject:\"Invoice 42\"").await;
    let trashed = call(&rt, "trash_message", json!({"uid": other})).await;
    assert!(
        trashed["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("TRASH")),
        "{trashed}"
    );
}

#[tokio::test]
async fn create_folder_and_gmails_own_refusal() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let created = call(&rt, "create_folder", json!({"name": "Projects"})).await;
    assert_eq!(created["name"], "Projects");
    assert!(created["id"].as_str().unwrap().starts_with("Label_"));
    match call_err(&rt, "create_folder", json!({"name": "work"})).await {
        ToolError::Upstream(m) => assert!(
            m.contains("409") && m.contains("exists"),
            "Gmail's message: {m}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn send_keeps_bcc_and_encodes_headers() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let sent = call(
        &rt,
        "send_message",
        json!({"to": "Zoë <zoe@example.de>", "subject": "Grüße", "body": "Hallo Zoë", "cc": "c@example.com", "bcc": "hidden@example.com"}),
    )
    .await;
    assert_eq!(sent["status"], "sent");
    let raw = &gmail.sent()[0].raw;
    assert!(raw.contains("Bcc: hidden@example.com"), "{raw}");
    assert!(raw.contains("Cc: c@example.com"), "{raw}");
    assert!(raw.contains("Subject: =?UTF-8?B?"), "{raw}");
    assert!(raw.is_ascii(), "headers and body are encoded");

    call(&rt, "send_html_message", json!({"to": "a@example.com", "subject": "Hi", "html_body": "<b>Hi</b>", "text_body": "Hi"})).await;
    assert!(gmail.sent()[1].raw.contains("multipart/alternative"));
}

#[tokio::test]
async fn reply_stays_in_the_thread() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    let original = call(
        &rt,
        "search_messages",
        json!({"criteria": "from:bob subject:kickoff"}),
    )
    .await;
    let m = &original["messages"][0];
    let sent = call(
        &rt,
        "reply_message",
        json!({"uid": m["uid"], "body": "Sounds good"}),
    )
    .await;
    assert_eq!(sent["thread_id"], m["thread_id"]);
    let raw = &gmail.sent()[0].raw;
    assert!(raw.contains("In-Reply-To: <kickoff@example.com>"), "{raw}");
    assert!(
        raw.contains("References: ") && raw.contains("<kickoff@example.com>"),
        "{raw}"
    );
    assert!(raw.contains("Subject: Re: Project kickoff"), "{raw}");
    assert!(
        raw.contains("To: bob@example.com") || raw.contains("<bob@example.com>"),
        "{raw}"
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_within_bounds() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let rt = runtime(&gmail).await;
    gmail.fail_next(
        429,
        &[("retry-after", "1")],
        r#"{"error":{"code":429,"message":"Rate Limit Exceeded","status":"RESOURCE_EXHAUSTED"}}"#,
    );
    let started = Instant::now();
    call(&rt, "list_folders", json!({})).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(gmail.requests().len(), 2);

    for _ in 0..3 {
        gmail.fail_next(503, &[], r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#);
    }
    match call_err(&rt, "create_folder", json!({"name": "Later"})).await {
        ToolError::Upstream(m) => assert!(
            m.contains("503") && m.contains("currently unavailable"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_tool_has_a_test_here() {
    // Each name appears once in TOOL_NAMES; a second occurrence is a call in some test.
    let source = include_str!("mail_tools.rs");
    for name in TOOL_NAMES {
        let quoted = format!("\"{name}\"");
        assert!(source.matches(&quoted).count() >= 2, "no test calls {name}");
    }
}

#[tokio::test]
async fn an_auth_challenge_reaches_the_caller_as_the_decorator_json() {
    let sb = mcs_tests::sandbox::Sandbox::start();
    sb.seed_agent_key();
    let challenge = sb.challenge().await;
    let decorated: Value = serde_json::from_str(&challenge.to_llm_json()).unwrap();
    assert_eq!(decorated["auth_required"], true);
    assert_eq!(decorated["scope"], "gmail");
    assert_eq!(decorated["url"].as_str(), challenge.url.as_deref());
    assert_eq!(decorated["code"].as_str(), challenge.code.as_deref());
    let keys: Vec<&str> = decorated
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
}
