//! `messages.list`, `messages.get`, `attachments.get`, `modify`, `trash`, `untrash` and
//! `getProfile`.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::date::now_ms;
use super::error::GmailError;
use super::query::{Context, Query};
use super::resource::{self, Format, Params};
use super::store::Stored;
use super::{Account, Ctx};
use crate::wire;

/// `maxResults` when none is given, and the largest accepted.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 500;

/// `GET messages`: `{messages?: [{id, threadId}], nextPageToken?, resultSizeEstimate}`.
pub(super) async fn list_messages(
    State(shared): Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, GmailError> {
    let params = Params::parse(query.as_deref());
    let page_size = match params.first("maxResults") {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| GmailError::invalid("Invalid maxResults"))?,
    };
    let offset = match params.first("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => {
            decode_page_token(token).ok_or_else(|| GmailError::invalid("Invalid pageToken"))?
        }
    };
    let label_ids = params.all("labelIds");
    let q = Query::parse(params.first("q").unwrap_or_default());
    let with_spam_trash = params.first("includeSpamTrash") == Some("true")
        || label_ids.iter().any(|l| l == "SPAM" || l == "TRASH")
        || q.reaches_spam_or_trash();
    let account = shared.account();
    account.check_labels(&label_ids)?;
    let cx = context(&account);
    let mut hits: Vec<&Stored> = account
        .messages
        .iter()
        .filter(|m| label_ids.iter().all(|l| m.has(l)))
        .filter(|m| with_spam_trash || !(m.has("SPAM") || m.has("TRASH")))
        .filter(|m| q.matches(m, &cx))
        .collect();
    hits.sort_by(|a, b| {
        let key = |m: &Stored| (m.message.internal_date, m.id().to_owned());
        key(b).cmp(&key(a))
    });
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|m| json!({"id": m.id(), "threadId": m.message.thread_id}))
        .collect();
    let mut body = Map::new();
    if !page.is_empty() {
        body.insert("messages".into(), json!(page));
    }
    if offset + page_size < hits.len() {
        let token = encode_page_token(offset + page_size);
        body.insert("nextPageToken".into(), json!(token));
    }
    body.insert("resultSizeEstimate".into(), json!(hits.len()));
    Ok(wire::json(200, &body))
}

fn context(account: &Account) -> Context<'_> {
    Context {
        labels: &account.labels,
        email: &account.email,
        now: now_ms(),
    }
}

/// An opaque page token for the list offset `offset`.
fn encode_page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_page_token(token: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

/// `GET messages/{id}?format=…&metadataHeaders=…`.
pub(super) async fn get_message(
    State(shared): Ctx,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, GmailError> {
    let params = Params::parse(query.as_deref());
    let format = Format::parse(params.first("format"))?;
    let account = shared.account();
    let message = account.message(&id)?;
    let body = resource::message(message, format, &params.all("metadataHeaders"));
    Ok(wire::json(200, &body))
}

/// `GET messages/{id}/attachments/{attachmentId}`: `{size, data}`.
pub(super) async fn get_attachment(
    State(shared): Ctx,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<Response, GmailError> {
    let account = shared.account();
    let message = account.message(&id)?;
    let body = resource::attachment_part(&attachment, &id)
        .and_then(|part| resource::attachment(message, &part))
        .ok_or_else(|| GmailError::invalid("Invalid attachment token"))?;
    Ok(wire::json(200, &body))
}

/// `POST messages/{id}/modify {"addLabelIds", "removeLabelIds"}`: `{id, threadId, labelIds}`.
pub(super) async fn modify(
    State(shared): Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GmailError> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Modify {
        add_label_ids: Vec<String>,
        remove_label_ids: Vec<String>,
    }
    let labels: Modify = if body.iter().all(u8::is_ascii_whitespace) {
        Modify::default()
    } else {
        serde_json::from_slice(&body).map_err(GmailError::bad_json)?
    };
    let mut account = shared.account();
    account.message(&id)?;
    if labels.add_label_ids.is_empty() && labels.remove_label_ids.is_empty() {
        return Err(GmailError::invalid("No label add or removes specified"));
    }
    account.check_labels(labels.add_label_ids.iter().chain(&labels.remove_label_ids))?;
    change(&mut account, &id, |m| {
        for label in &labels.remove_label_ids {
            m.remove(label);
        }
        for label in &labels.add_label_ids {
            m.add(label);
        }
    })
}

/// `POST messages/{id}/trash`: adds TRASH and removes INBOX.
pub(super) async fn trash(
    State(shared): Ctx,
    Path(id): Path<String>,
) -> Result<Response, GmailError> {
    change(&mut shared.account(), &id, |m| {
        if !m.has("TRASH") {
            m.trashed_from_inbox = Some(m.has("INBOX"));
        }
        m.remove("INBOX");
        m.add("TRASH");
    })
}

/// `POST messages/{id}/untrash`: removes TRASH and restores INBOX if `trash` removed it (a
/// message that was in the trash from the start gets INBOX too).
pub(super) async fn untrash(
    State(shared): Ctx,
    Path(id): Path<String>,
) -> Result<Response, GmailError> {
    change(&mut shared.account(), &id, |m| {
        if m.has("TRASH") && m.trashed_from_inbox.unwrap_or(true) {
            m.add("INBOX");
        }
        m.remove("TRASH");
        m.trashed_from_inbox = None;
    })
}

/// Applies `edit` to message `id` as one history step; `{id, threadId, labelIds}` after.
fn change(
    account: &mut Account,
    id: &str,
    edit: impl FnOnce(&mut Stored),
) -> Result<Response, GmailError> {
    account.message(id)?;
    let history = account.next_history();
    let message = account.message_mut(id)?;
    edit(message);
    message.history_id = history;
    Ok(wire::json(200, &resource::labels(message)))
}

/// `GET profile`: `{emailAddress, messagesTotal, threadsTotal, historyId}`.
pub(super) async fn profile(State(shared): Ctx) -> Response {
    let account = shared.account();
    let threads: HashSet<&str> = account
        .messages
        .iter()
        .map(|m| m.message.thread_id.as_str())
        .collect();
    wire::json(
        200,
        &json!({
            "emailAddress": account.email,
            "messagesTotal": account.messages.len(),
            "threadsTotal": threads.len(),
            "historyId": account.history.to_string(),
        }),
    )
}
