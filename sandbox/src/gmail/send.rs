//! `messages.send {"raw", "threadId"?}`: `raw` is base64url (padded or not) of an RFC 5322
//! message with at least one recipient in To, Cc or Bcc. The message is recorded as sent
//! ([`SentMessage`], exactly as given) and stored with label SENT, `From`, `Date` and
//! `Message-ID` added when missing, as Gmail does.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;

use super::date::{now_ms, rfc5322};
use super::error::GmailError;
use super::mailbox::MailMessage;
use super::mime::{parse_headers, split_head};
use super::store::Stored;
use super::{Ctx, SentMessage};
use crate::wire;

/// `POST messages/send`: `{id, threadId, labelIds: ["SENT"]}`.
pub(super) async fn send(State(shared): Ctx, body: Bytes) -> Result<Response, GmailError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Send {
        #[serde(default)]
        raw: String,
        thread_id: Option<String>,
    }
    let request: Send = serde_json::from_slice(&body).map_err(GmailError::bad_json)?;
    if request.raw.is_empty() {
        return Err(GmailError::invalid(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(request.raw.trim_end_matches('='))
        .map_err(|_| {
            GmailError::invalid(
                "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed",
            )
        })?;
    let headers = parse_headers(split_head(&bytes).0);
    check_recipients(&headers)?;
    let mut account = shared.account();
    let thread = request.thread_id.filter(|t| !t.is_empty());
    let known = |t: &String| account.messages.iter().any(|m| &m.message.thread_id == t);
    if thread.as_ref().is_some_and(|t| !known(t)) {
        return Err(GmailError::not_found());
    }
    let id = format!("18d{:013}", account.sent.len() + 1);
    let thread_id = thread.unwrap_or_else(|| id.clone());
    let now = now_ms();
    let mut added = String::new();
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("From") {
        added.push_str(&format!("From: {}\r\n", account.email));
    }
    if !has("Date") {
        added.push_str(&format!("Date: {}\r\n", rfc5322(now)));
    }
    if !has("Message-ID") {
        added.push_str(&format!("Message-ID: <{id}.fake@mail.gmail.com>\r\n"));
    }
    let mut raw = added.into_bytes();
    raw.extend_from_slice(&bytes);
    let stored = MailMessage {
        id: id.clone(),
        thread_id: thread_id.clone(),
        label_ids: vec!["SENT".into()],
        internal_date: now,
        raw,
    };
    let history = account.next_history();
    account.messages.push(Stored::new(stored, history));
    account.sent.push(SentMessage {
        id: id.clone(),
        thread_id: thread_id.clone(),
        raw: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    });
    let body = json!({"id": id, "threadId": thread_id, "labelIds": ["SENT"]});
    Ok(wire::json(200, &body))
}

/// 400 `Invalid To header` (or Cc, Bcc) for an entry without an address, `Recipient address
/// required` when To, Cc and Bcc are all absent or empty.
fn check_recipients(headers: &[(String, String)]) -> Result<(), GmailError> {
    let mut recipients = 0;
    for name in ["To", "Cc", "Bcc"] {
        let values = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        for entry in values.flat_map(|(_, value)| split_addresses(value)) {
            if !is_address(address_of(&entry)) {
                return Err(GmailError::invalid(format!("Invalid {name} header")));
            }
            recipients += 1;
        }
    }
    if recipients == 0 {
        return Err(GmailError::invalid("Recipient address required"));
    }
    Ok(())
}

/// The entries of an address list, split at commas outside quotes and angle brackets; empty
/// entries and empty groups (`undisclosed-recipients:;`) left out.
fn split_addresses(list: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle) = (false, false);
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                entries.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    entries.push(current);
    entries
        .into_iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty() && !e.ends_with(":;"))
        .collect()
}

/// The address in `Name <addr>`, or the whole entry.
fn address_of(entry: &str) -> &str {
    match entry.rfind('<') {
        Some(start) => {
            let rest = &entry[start + 1..];
            rest.split('>').next().unwrap_or_default().trim()
        }
        None => entry.trim(),
    }
}

/// `local@domain`, both sides non-empty, no whitespace.
fn is_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_split_and_validate() {
        let list = r#""Doe, Jane" <jane@example.com>, bob@example.com, undisclosed-recipients:;"#;
        let entries = split_addresses(list);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(address_of(&entries[0]), "jane@example.com");
        assert!(is_address(address_of(&entries[1])));
        assert!(!is_address("nobody"));
        assert!(!is_address("a b@c"));
        let headers = |v: &str| vec![("To".to_owned(), v.to_owned())];
        assert!(check_recipients(&headers("a@b")).is_ok());
        assert_eq!(
            check_recipients(&headers("nobody")),
            Err(GmailError::invalid("Invalid To header"))
        );
        assert_eq!(
            check_recipients(&headers(" ")),
            Err(GmailError::invalid("Recipient address required"))
        );
    }
}
