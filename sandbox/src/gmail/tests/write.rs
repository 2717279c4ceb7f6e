//! Labels, modify, trash and untrash, send, and the profile.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{envelope, get, gmail, ids, list, post, search};

#[tokio::test]
async fn modify_adds_and_removes_labels() {
    let g = gmail();
    let change = json!({"addLabelIds": ["STARRED", "Label_1"], "removeLabelIds": ["UNREAD"]});
    let (status, body) = post(&g, "messages/18c0000000000001/modify", &change).await;
    assert_eq!(status, 200, "{body}");
    let want = ["INBOX", "IMPORTANT", "STARRED", "Label_1"];
    assert_eq!(
        body,
        json!({"id": "18c0000000000001", "threadId": "18c0000000000001", "labelIds": want})
    );
    assert_eq!(g.labels_of("18c0000000000001").unwrap(), want);
    assert_eq!(search(&g, "is:unread").await, ids([5]));
    let (_, m) = get(&g, "messages/18c0000000000001?format=minimal").await;
    assert_eq!(m["historyId"], "2");

    let bad = json!({"addLabelIds": ["Nope"]});
    let (status, body) = post(&g, "messages/18c0000000000001/modify", &bad).await;
    let want = envelope(
        400,
        "INVALID_ARGUMENT",
        "Invalid label: Nope",
        "invalidArgument",
    );
    assert_eq!((status, body), (400, want));
    let (status, _) = post(&g, "messages/18c0000000000099/modify", &change).await;
    assert_eq!(status, 404);
    let (status, _) = post(&g, "messages/18c0000000000001/modify", &json!({})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn trash_hides_a_message_and_untrash_restores_its_inbox() {
    let g = gmail();
    let (status, body) = post(&g, "messages/18c0000000000001/trash", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["labelIds"], json!(["UNREAD", "IMPORTANT", "TRASH"]));
    assert!(!list(&g, "").await.0.contains(&ids([1])[0]));
    assert_eq!(search(&g, "in:trash").await, ids([1, 8]));
    let (_, body) = post(&g, "messages/18c0000000000001/untrash", &json!({})).await;
    assert_eq!(body["labelIds"], json!(["UNREAD", "IMPORTANT", "INBOX"]));

    post(&g, "messages/18c0000000000007/trash", &json!({})).await;
    let (_, body) = post(&g, "messages/18c0000000000007/untrash", &json!({})).await;
    assert_eq!(
        body["labelIds"],
        json!(["SENT", "Label_1"]),
        "no INBOX it never had"
    );
    let (_, body) = post(&g, "messages/18c0000000000008/untrash", &json!({})).await;
    assert_eq!(body["labelIds"], json!(["CATEGORY_PROMOTIONS", "INBOX"]));
    let (status, _) = post(&g, "messages/18c0000000000099/trash", &json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn labels_are_created_once_per_name() {
    let g = gmail();
    let new = json!({"name": "Projects/2025", "labelListVisibility": "labelShow", "messageListVisibility": "show"});
    let (status, label) = post(&g, "labels", &new).await;
    assert_eq!(status, 200, "{label}");
    let want = json!({"id": "Label_4", "name": "Projects/2025", "type": "user",
                      "labelListVisibility": "labelShow", "messageListVisibility": "show"});
    assert_eq!(label, want);
    let (_, labels) = get(&g, "labels").await;
    assert_eq!(labels["labels"].as_array().unwrap().len(), 18);
    assert!(labels["labels"].as_array().unwrap().contains(&want));

    let (status, body) = post(&g, "labels", &json!({"name": "work"})).await;
    let conflict = "Label name exists or conflicts";
    assert_eq!(
        (status, body),
        (409, envelope(409, "ALREADY_EXISTS", conflict, "duplicate"))
    );
    let (status, body) = post(&g, "labels", &json!({"name": "  "})).await;
    assert_eq!(
        (status, &body["error"]["message"]),
        (400, &json!("Invalid label name"))
    );
    let hidden = json!({"name": "x", "labelListVisibility": "sometimes"});
    assert_eq!(post(&g, "labels", &hidden).await.0, 400);

    let add = json!({"addLabelIds": ["Label_4"]});
    assert_eq!(
        post(&g, "messages/18c0000000000002/modify", &add).await.0,
        200
    );
    assert_eq!(search(&g, "label:projects-2025").await, ids([2]));
    let (_, counts) = get(&g, "labels/Label_3").await;
    assert_eq!(
        (
            &counts["messagesTotal"],
            &counts["messagesUnread"],
            &counts["threadsTotal"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert_eq!(get(&g, "labels/Label_99").await.0, 404);
}

fn raw(text: &str) -> String {
    URL_SAFE.encode(text.replace('\n', "\r\n"))
}

#[tokio::test]
async fn sent_messages_are_recorded_with_bcc_and_stored_in_sent() {
    let g = gmail();
    let text = "To: Carol <carol@example.com>\nCc: bob@example.com\nBcc: boss@example.com\n\
                Subject: =?UTF-8?B?R3LDvMOfZQ==?=\n  and more\nContent-Type: text/plain; charset=UTF-8\n\n\
                Hello Carol!\n";
    let (status, body) = post(&g, "messages/send", &json!({"raw": raw(text)})).await;
    assert_eq!(status, 200, "{body}");
    let id = "18d0000000000001";
    assert_eq!(
        body,
        json!({"id": id, "threadId": id, "labelIds": ["SENT"]})
    );
    let sent = g.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].raw, text.replace('\n', "\r\n"));
    assert_eq!(sent[0].header("bcc"), Some("boss@example.com"));
    assert_eq!(
        sent[0].header("Subject"),
        Some("=?UTF-8?B?R3LDvMOfZQ==?=  and more")
    );
    assert_eq!(g.message_count(), 33);
    assert_eq!(g.labels_of(id).unwrap(), ["SENT"]);
    let (_, stored) = get(&g, &format!("messages/{id}")).await;
    assert_eq!(stored["snippet"], "Hello Carol!");
    assert_eq!(search(&g, "newer_than:1d").await, [id]);
    assert_eq!(search(&g, "in:sent from:me bcc:boss").await, [id]);

    let reply = "To: bob@example.com\nSubject: Re: Project kickoff\n\
                 In-Reply-To: <kickoff@example.com>\nReferences: <kickoff@example.com>\n\nSure.";
    let unpadded = URL_SAFE_NO_PAD.encode(reply);
    let request = json!({"raw": unpadded, "threadId": "18c0000000000006"});
    let (status, body) = post(&g, "messages/send", &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["threadId"], "18c0000000000006");
    assert_eq!(
        g.sent()[1].header("In-Reply-To"),
        Some("<kickoff@example.com>")
    );
    assert_eq!(g.sent()[1].thread_id, "18c0000000000006");
}

#[tokio::test]
async fn unsendable_messages_are_rejected_and_not_recorded() {
    let g = gmail();
    let cases: [(Value, u16, &str); 5] = [
        (
            json!({"raw": raw("Subject: hi\n\nbody")}),
            400,
            "Recipient address required",
        ),
        (
            json!({"raw": raw("To: nobody\nSubject: hi\n\nbody")}),
            400,
            "Invalid To header",
        ),
        (
            json!({"raw": "not base64url!"}),
            400,
            "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed",
        ),
        (
            json!({"raw": raw("To: a@example.com\n\nx"), "threadId": "18cffffffffffff0"}),
            404,
            "Requested entity was not found.",
        ),
        (
            json!({}),
            400,
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        ),
    ];
    for (request, status, message) in cases {
        let (got, body) = post(&g, "messages/send", &request).await;
        assert_eq!(
            (got, body["error"]["message"].as_str()),
            (status, Some(message)),
            "{request}"
        );
    }
    assert!(g.sent().is_empty());
    assert_eq!(g.message_count(), 32);
}

#[tokio::test]
async fn the_profile_counts_messages_and_threads() {
    let g = gmail();
    let (status, body) = get(&g, "profile").await;
    assert_eq!(status, 200);
    let want = json!({"emailAddress": "me@example.com", "messagesTotal": 32, "threadsTotal": 31,
                      "historyId": "1"});
    assert_eq!(body, want);
}
