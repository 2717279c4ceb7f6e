//! `messages.list`: paging, label filters, spam and trash, and search.

use super::{envelope, get, gmail, ids, list, search};

#[tokio::test]
async fn the_inbox_pages_newest_first_with_an_opaque_token() {
    let g = gmail();
    let (first, body) = list(&g, "labelIds=INBOX&maxResults=20").await;
    let want: Vec<String> = ids((1..=6).chain(10..=23));
    assert_eq!(first, want);
    assert_eq!(body["resultSizeEstimate"], 29);
    assert_eq!(body["messages"][0]["threadId"], "18c0000000000001");
    let token = body["nextPageToken"].as_str().unwrap();
    let (second, body) = list(
        &g,
        &format!("labelIds=INBOX&maxResults=20&pageToken={token}"),
    )
    .await;
    assert_eq!(second, ids(24..=32));
    assert!(body.get("nextPageToken").is_none(), "{body}");
    let (all, body) = list(&g, "labelIds=INBOX").await;
    assert_eq!(all.len(), 29, "default maxResults is 100");
    assert!(body.get("nextPageToken").is_none());
}

#[tokio::test]
async fn spam_and_trash_are_left_out_unless_asked_for() {
    let g = gmail();
    let (plain, body) = list(&g, "").await;
    assert_eq!(body["resultSizeEstimate"], 30);
    assert!(!plain.contains(&ids([8])[0]) && !plain.contains(&ids([9])[0]));
    let (everything, _) = list(&g, "includeSpamTrash=true").await;
    assert_eq!(everything, ids(1..=32));
    assert_eq!(list(&g, "labelIds=TRASH").await.0, ids([8]));
    assert_eq!(list(&g, "labelIds=SPAM").await.0, ids([9]));
    assert_eq!(search(&g, "in:trash").await, ids([8]));
    assert_eq!(search(&g, "in:spam").await, ids([9]));
    assert_eq!(search(&g, "in:anywhere").await.len(), 32);
    assert_eq!(list(&g, "labelIds=UNREAD").await.0, ids([1, 5]));
    let unread_spam = list(&g, "labelIds=UNREAD&includeSpamTrash=true").await.0;
    assert_eq!(unread_spam, ids([1, 5, 9]));
}

#[tokio::test]
async fn label_ids_must_all_match_and_must_exist() {
    let g = gmail();
    assert_eq!(
        list(&g, "labelIds=INBOX&labelIds=UNREAD").await.0,
        ids([1, 5])
    );
    assert_eq!(list(&g, "labelIds=Label_1").await.0, ids([6, 7]));
    assert_eq!(list(&g, "labelIds=Label_3").await.0, ids([5]));
    let (status, body) = get(&g, "messages?labelIds=INBOX&labelIds=Label_9").await;
    assert_eq!(status, 400);
    let want = envelope(
        400,
        "INVALID_ARGUMENT",
        "Invalid label: Label_9",
        "invalidArgument",
    );
    assert_eq!(body, want);
}

#[tokio::test]
async fn bad_page_sizes_and_tokens_are_rejected_and_empty_lists_omit_messages() {
    let g = gmail();
    for bad in ["0", "501", "lots"] {
        let (status, body) = get(&g, &format!("messages?maxResults={bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["message"], "Invalid maxResults");
    }
    assert_eq!(list(&g, "maxResults=500").await.0.len(), 30);
    let (status, body) = get(&g, "messages?pageToken=not-a-token").await;
    assert_eq!(
        (status, &body["error"]["message"]),
        (400, &"Invalid pageToken".into())
    );
    let (none, body) = list(&g, "q=nosuchword").await;
    assert!(none.is_empty());
    assert_eq!(body, serde_json::json!({"resultSizeEstimate": 0}));
}

#[tokio::test]
async fn search_operators_match_like_gmail() {
    let g = gmail();
    let cases: &[(&str, Vec<String>)] = &[
        ("from:alice", ids([1])),
        ("from:alice@example.com", ids([1])),
        ("from:\"Alice Example\"", ids([1])),
        ("from:Zoë", ids([5])),
        ("from:me", ids([7])),
        ("to:carol", ids([1])),
        ("cc:bob", ids([1])),
        ("subject:kickoff", ids([6, 7])),
        ("subject:Zürich", ids([5])),
        ("subject:port", ids([])),
        ("is:unread", ids([1, 5])),
        ("is:starred", ids([10])),
        ("is:read label:Work", ids([6, 7])),
        ("after:2025/03/29", ids([1, 2, 3])),
        ("before:2025/03/02", ids([31, 32])),
        ("after:2025/03/26 before:2025/03/28", ids([5, 6])),
        ("has:attachment", ids([4])),
        ("label:Work", ids([6, 7])),
        ("label:reisen-zürich", ids([5])),
        ("label:receipts", ids([3])),
        ("label:nosuchlabel", ids([])),
        ("in:sent", ids([7])),
        ("in:inbox is:unread", ids([1, 5])),
        ("revenue", ids([1])),
        ("REVENUE quarterly", ids([1])),
        ("\"garden club\"", ids([2])),
        ("\"club garden\"", ids([])),
        ("Grüße", ids([5])),
        ("wunderschön", ids([5])),
        ("payment", ids([3])),
        ("color", ids([])),
        ("kickoff -from:me", ids([6])),
        ("-in:inbox", ids([7])),
        ("from:alice OR from:bob", ids([1, 6])),
        ("newer_than:1d", ids([])),
        ("filler -\"Filler #12\" after:2025/03/19", ids([11, 13])),
    ];
    for (q, want) in cases {
        assert_eq!(&search(&g, q).await, want, "q={q}");
    }
    assert_eq!(search(&g, "older_than:1d in:inbox").await.len(), 29);
}
