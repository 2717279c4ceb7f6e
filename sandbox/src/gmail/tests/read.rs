//! `messages.get` in every format, attachments, and errors.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};

use super::{envelope, get, gmail, ids};
use crate::gmail::Mailbox;

fn data(part: &Value) -> Vec<u8> {
    URL_SAFE
        .decode(part["body"]["data"].as_str().unwrap())
        .unwrap()
}

fn header<'a>(part: &'a Value, name: &str) -> &'a str {
    part["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .and_then(|h| h["value"].as_str())
        .unwrap_or_else(|| panic!("no {name} in {part}"))
}

#[tokio::test]
async fn a_plain_message_comes_back_full_with_gmails_fields() {
    let g = gmail();
    let (status, m) = get(&g, "messages/18c0000000000001").await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["id"], "18c0000000000001");
    assert_eq!(m["threadId"], "18c0000000000001");
    assert_eq!(m["labelIds"], json!(["INBOX", "UNREAD", "IMPORTANT"]));
    assert_eq!(m["internalDate"], "1743413400000");
    assert_eq!(m["historyId"], "1");
    assert_eq!(
        m["snippet"],
        "Hi, here&#39;s the quarterly report: revenue grew 12% to 4.2M &amp; costs stayed flat; \
         we will go through th"
    );
    let raw_len = Mailbox::sample().messages[0].raw.len();
    assert_eq!(m["sizeEstimate"], raw_len);
    let payload = &m["payload"];
    assert_eq!(payload["partId"], "");
    assert_eq!(payload["mimeType"], "text/plain");
    assert_eq!(payload["filename"], "");
    assert_eq!(header(payload, "Subject"), "Quarterly report");
    assert_eq!(header(payload, "Date"), "Mon, 31 Mar 2025 09:30:00 +0000");
    assert_eq!(header(payload, "Cc"), "Bob <bob@example.com>");
    let text = String::from_utf8(data(payload)).unwrap();
    assert!(text.contains("revenue grew"), "{text}");
    assert_eq!(payload["body"]["size"], text.len());
    assert!(payload.get("parts").is_none());
}

#[tokio::test]
async fn multipart_messages_have_numbered_parts_and_attachments_by_id() {
    let g = gmail();
    let (_, digest) = get(&g, "messages/18c0000000000002").await;
    let payload = &digest["payload"];
    assert_eq!(payload["mimeType"], "multipart/alternative");
    assert_eq!(payload["body"], json!({"size": 0}));
    let parts = payload["parts"].as_array().unwrap();
    assert_eq!(
        (parts[0]["partId"].as_str(), parts[1]["partId"].as_str()),
        (Some("0"), Some("1"))
    );
    assert_eq!(parts[0]["mimeType"], "text/plain");
    assert!(
        String::from_utf8(data(&parts[1]))
            .unwrap()
            .contains("<b>Rust 1.95</b>")
    );

    let (_, invoice) = get(&g, "messages/18c0000000000004").await;
    let pdf = &invoice["payload"]["parts"][1];
    assert_eq!(pdf["filename"], "invoice.pdf");
    assert_eq!(pdf["mimeType"], "application/pdf");
    assert_eq!(pdf["body"]["size"], 77);
    assert!(pdf["body"].get("data").is_none());
    assert_eq!(
        header(&invoice["payload"], "Reply-To"),
        "support@example.com"
    );
    let attachment = pdf["body"]["attachmentId"].as_str().unwrap();
    let path = format!("messages/18c0000000000004/attachments/{attachment}");
    let (status, body) = get(&g, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["size"], 77);
    assert!(data(&json!({"body": body})).starts_with(b"%PDF-1.4"));
}

#[tokio::test]
async fn encoded_headers_stay_raw_and_bodies_keep_their_charset() {
    let g = gmail();
    let (_, m) = get(&g, "messages/18c0000000000005").await;
    let payload = &m["payload"];
    assert_eq!(
        header(payload, "Subject"),
        "=?UTF-8?B?R3LDvMOfZSBhdXMgWsO8cmljaA==?="
    );
    assert_eq!(
        header(payload, "From"),
        "=?UTF-8?Q?Zo=C3=AB?= <zoe@example.de>"
    );
    assert_eq!(
        header(payload, "Content-Type"),
        "text/plain; charset=ISO-8859-1"
    );
    let bytes = data(payload);
    assert!(
        bytes.starts_with(b"Liebe Gr\xFC\xDFe aus Z\xFCrich!"),
        "{bytes:?}"
    );
    assert_eq!(
        m["snippet"],
        "Liebe Grüße aus Zürich! Der See ist wunderschön. Bis bald, Zoë"
    );
    assert_eq!(m["labelIds"], json!(["INBOX", "Label_3", "UNREAD"]));

    let (_, receipt) = get(&g, "messages/18c0000000000003").await;
    assert_eq!(receipt["payload"]["mimeType"], "text/html");
    assert_eq!(
        receipt["snippet"],
        "Thanks for your order &amp; payment. Total: 9.99 EUR Order 1001"
    );
    let (_, reply) = get(&g, "messages/18c0000000000007").await;
    assert_eq!(reply["threadId"], "18c0000000000006");
    assert_eq!(
        header(&reply["payload"], "In-Reply-To"),
        "<kickoff@example.com>"
    );
    let (_, dinner) = get(&g, "messages/18c0000000000010").await;
    assert_eq!(
        dinner["snippet"],
        "Shall we meet at 7? I&#39;ll bring the wine."
    );
}

#[tokio::test]
async fn metadata_minimal_and_raw_formats_trim_the_resource() {
    let g = gmail();
    let path = "messages/18c0000000000006?format=metadata&metadataHeaders=subject\
                &metadataHeaders=From&fields=id,payload/headers";
    let (_, m) = get(&g, path).await;
    assert_eq!(
        m["payload"],
        json!({
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": [
                {"name": "From", "value": "Bob <bob@example.com>"},
                {"name": "Subject", "value": "Project kickoff"},
            ],
        })
    );
    assert_eq!(m["snippet"], "Kickoff is on Monday at 10:00 in room 4.");
    let (_, all) = get(&g, "messages/18c0000000000006?format=metadata").await;
    assert_eq!(
        header(&all["payload"], "Message-ID"),
        "<kickoff@example.com>"
    );
    assert!(all["payload"].get("body").is_none() && all["payload"].get("parts").is_none());

    let (_, minimal) = get(&g, "messages/18c0000000000006?format=minimal").await;
    assert!(minimal.get("payload").is_none());
    assert_eq!(minimal["labelIds"], json!(["INBOX", "Label_1"]));

    let (_, raw) = get(&g, "messages/18c0000000000005?format=raw").await;
    let bytes = URL_SAFE.decode(raw["raw"].as_str().unwrap()).unwrap();
    assert_eq!(bytes, Mailbox::sample().messages[4].raw);
    assert!(raw.get("payload").is_none());
}

#[tokio::test]
async fn unknown_messages_are_404_and_bad_formats_400() {
    let g = gmail();
    let (status, body) = get(&g, "messages/18c0000000000099").await;
    assert_eq!(status, 404);
    let want = envelope(
        404,
        "NOT_FOUND",
        "Requested entity was not found.",
        "notFound",
    );
    assert_eq!(body, want);
    let (status, body) = get(&g, "messages/18c0000000000001?format=html").await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let (status, _) = get(&g, "messages/18c0000000000004/attachments/bogus").await;
    assert_eq!(status, 400);
    let (status, body) = get(&g, "threads").await;
    assert_eq!((status, body), (404, want));
    assert_eq!(ids([32]), ["18c0000000000032"]);
}
