//! The message resource in each `format`, attachment ids, and query parameters.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::error::GmailError;
use super::mime::Part;
use super::store::Stored;
use crate::wire::percent_decode;

/// What `messages.get` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// Headers and decoded bodies of every part (attachments by id).
    Full,
    /// Only headers (the requested ones, or all).
    Metadata,
    /// No payload.
    Minimal,
    /// The whole message as base64url in `raw`.
    Raw,
}

impl Format {
    /// `format=` (any case; `full` when absent); 400 for anything else.
    pub(super) fn parse(text: Option<&str>) -> Result<Self, GmailError> {
        match text.unwrap_or("full").to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "metadata" => Ok(Self::Metadata),
            "minimal" => Ok(Self::Minimal),
            "raw" => Ok(Self::Raw),
            _ => Err(GmailError::invalid(format!(
                "Invalid value at 'format' ({:?})",
                text.unwrap_or_default()
            ))),
        }
    }
}

/// The message resource in `format`; `metadata` keeps only `headers` (all when empty).
pub(super) fn message(m: &Stored, format: Format, headers: &[String]) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(m.id()));
    out.insert("threadId".into(), json!(m.message.thread_id));
    out.insert("labelIds".into(), json!(m.message.label_ids));
    out.insert("snippet".into(), json!(m.snippet));
    out.insert("sizeEstimate".into(), json!(m.message.raw.len()));
    out.insert("historyId".into(), json!(m.history_id.to_string()));
    out.insert(
        "internalDate".into(),
        json!(m.message.internal_date.to_string()),
    );
    match format {
        Format::Full => {
            out.insert("payload".into(), part(&m.part, "", m.id()));
        }
        Format::Metadata => {
            let wanted = |name: &str| {
                headers.is_empty() || headers.iter().any(|h| h.eq_ignore_ascii_case(name))
            };
            let headers: Vec<Value> = m
                .part
                .headers
                .iter()
                .filter(|(name, _)| wanted(name))
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            let payload = json!({
                "partId": "",
                "mimeType": m.part.mime_type,
                "filename": "",
                "headers": headers,
            });
            out.insert("payload".into(), payload);
        }
        Format::Minimal => {}
        Format::Raw => {
            out.insert("raw".into(), json!(URL_SAFE.encode(&m.message.raw)));
        }
    }
    Value::Object(out)
}

/// `{id, threadId, labelIds}`, what `modify`, `trash` and `untrash` return.
pub(super) fn labels(m: &Stored) -> Value {
    json!({"id": m.id(), "threadId": m.message.thread_id, "labelIds": m.message.label_ids})
}

/// One part of the `full` payload: leaves carry `body.data`, attachments `body.attachmentId`.
fn part(p: &Part, part_id: &str, message_id: &str) -> Value {
    let headers: Vec<Value> = p
        .headers
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let mut body = Map::new();
    body.insert("size".into(), json!(p.body.len()));
    if !p.filename.is_empty() {
        body.insert(
            "attachmentId".into(),
            json!(attachment_id(message_id, part_id)),
        );
    } else if !p.body.is_empty() {
        body.insert("data".into(), json!(URL_SAFE.encode(&p.body)));
    }
    let mut out = json!({
        "partId": part_id,
        "mimeType": p.mime_type,
        "filename": p.filename,
        "headers": headers,
        "body": body,
    });
    if p.is_multipart() {
        let parts: Vec<Value> = p
            .parts
            .iter()
            .enumerate()
            .map(|(n, child)| {
                let child_id = if part_id.is_empty() {
                    n.to_string()
                } else {
                    format!("{part_id}.{n}")
                };
                part(child, &child_id, message_id)
            })
            .collect();
        out["parts"] = json!(parts);
    }
    out
}

/// Prefix of attachment ids (Gmail's are long opaque strings too).
const ATTACHMENT_PREFIX: &str = "ANGjdJ";

/// The opaque id of the attachment in part `part_id` of message `message_id`.
pub(super) fn attachment_id(message_id: &str, part_id: &str) -> String {
    let inner = URL_SAFE_NO_PAD.encode(format!("{message_id}/{part_id}"));
    format!("{ATTACHMENT_PREFIX}{inner}")
}

/// The part id an attachment id of message `message_id` stands for.
pub(super) fn attachment_part(attachment_id: &str, message_id: &str) -> Option<String> {
    let inner = attachment_id.strip_prefix(ATTACHMENT_PREFIX)?;
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(inner).ok()?).ok()?;
    let (message, part) = decoded.split_once('/')?;
    (message == message_id).then(|| part.to_owned())
}

/// `{size, data}` of the attachment in part `part_id`.
pub(super) fn attachment(m: &Stored, part_id: &str) -> Option<Value> {
    let (_, p) = m
        .part
        .walk()
        .into_iter()
        .find(|(id, p)| id == part_id && !p.filename.is_empty())?;
    Some(json!({"size": p.body.len(), "data": URL_SAFE.encode(&p.body)}))
}

/// Query parameters in order, decoded; names may repeat (`labelIds=A&labelIds=B`).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub(super) fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        Self(pairs)
    }

    /// The first value of `name`.
    pub(super) fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`, in order.
    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}
