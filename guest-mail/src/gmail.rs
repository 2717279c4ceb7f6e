//! The Gmail REST API client both exports share.
//!
//! Endpoints: <https://developers.google.com/gmail/api/reference/rest>. The base URL is the
//! `gmail-base-url` setting (default `https://gmail.googleapis.com`), so tests and the demo
//! reach a fake through the same code path users run.
//!
//! Round trips: a message list is one `messages.list` plus the metadata of every message,
//! fetched concurrently (all requests in flight at once, `format=metadata` with a `fields`
//! projection), plus one `labels.list` only when a folder is given by a user label's name.
//! A 401 invalidates the token and retries once; 429 and 5xx retry twice with backoff,
//! honouring `Retry-After`; any other error carries Gmail's own message.

use std::cell::RefCell;

use guest_http::{Request, Response, percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bindings::exports::mcs::mail::mailbox::{
    Attachment, Folder, Message, MessagePage, MessageSummary, Sent,
};
use crate::bindings::exports::mcs::tools::tools::ToolError;
use crate::bindings::mcs::auth::credential_provider;
use crate::bindings::wasi::config::store;
use crate::html;
use crate::mime::{self, Draft};

/// Where Gmail lives unless the settings say otherwise.
const DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";

/// The credential scope Gmail tokens are issued for.
const SCOPE: &str = "gmail";

/// Retries after 429/5xx, and the longest wait honoured from `Retry-After`.
const RETRIES: u32 = 2;
const MAX_RETRY_WAIT_MS: u64 = 5_000;

/// Metadata requested for message lists.
const SUMMARY_QUERY: &str = "format=metadata&metadataHeaders=From&metadataHeaders=Subject\
    &metadataHeaders=Date&fields=id,threadId,labelIds,snippet,payload/headers";

/// Labels Gmail defines; their names are their ids.
const SYSTEM_LABELS: &[&str] = &[
    "INBOX",
    "SENT",
    "DRAFT",
    "SPAM",
    "TRASH",
    "STARRED",
    "UNREAD",
    "IMPORTANT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
];

/// A Gmail API client for the signed-in user (`users/me`), for one tool call.
pub struct Client {
    base: String,
    /// The credential handle, fetched on first use.
    token: RefCell<Option<String>>,
    /// Labels, listed on first need.
    labels: RefCell<Option<Vec<Folder>>>,
}

/// Gmail's message resource (the parts used here).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct GmailMessage {
    id: String,
    thread_id: String,
    label_ids: Vec<String>,
    snippet: String,
    payload: Option<Part>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Part {
    mime_type: String,
    filename: String,
    headers: Vec<Header>,
    body: Body,
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Body {
    size: u64,
    data: Option<String>,
}

impl Part {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| mime::decode_header(&h.value))
            .unwrap_or_default()
    }
}

impl GmailMessage {
    fn header(&self, name: &str) -> String {
        self.payload
            .as_ref()
            .map(|p| p.header(name))
            .unwrap_or_default()
    }
}

impl Client {
    /// A client configured from the component's settings.
    pub fn from_settings() -> Result<Self, ToolError> {
        let base = match store::get("gmail-base-url") {
            Ok(Some(url)) if !url.is_empty() => url,
            Ok(_) => DEFAULT_BASE_URL.to_owned(),
            Err(e) => {
                return Err(ToolError::Upstream(format!(
                    "could not read setting \"gmail-base-url\": {e:?}"
                )));
            }
        };
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: RefCell::new(None),
            labels: RefCell::new(None),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/gmail/v1/users/me/{path}", self.base)
    }

    /// Every label of the mailbox, sorted by name.
    pub fn list_folders(&self) -> Result<Vec<Folder>, ToolError> {
        if let Some(labels) = self.labels.borrow().as_ref() {
            return Ok(labels.clone());
        }
        #[derive(Deserialize)]
        struct Labels {
            #[serde(default)]
            labels: Vec<Label>,
        }
        #[derive(Deserialize)]
        struct Label {
            id: String,
            name: String,
            #[serde(rename = "type", default)]
            kind: Option<String>,
        }
        let labels: Labels = self.get_json("labels")?;
        let mut folders: Vec<Folder> = labels
            .labels
            .into_iter()
            .map(|l| Folder {
                system: l.kind.as_deref() == Some("system"),
                name: l.name,
                id: l.id,
            })
            .collect();
        folders.sort_by(|a, b| a.name.cmp(&b.name));
        *self.labels.borrow_mut() = Some(folders.clone());
        Ok(folders)
    }

    /// The label id for a folder given by name or id (system names are their own ids).
    pub fn label_id(&self, folder: &str) -> Result<String, ToolError> {
        let folder = folder.trim();
        let upper = folder.to_ascii_uppercase();
        if SYSTEM_LABELS.contains(&upper.as_str()) {
            return Ok(upper);
        }
        let folders = self.list_folders()?;
        folders
            .iter()
            .find(|f| f.id == folder)
            .or_else(|| folders.iter().find(|f| f.name == folder))
            .or_else(|| folders.iter().find(|f| f.name.eq_ignore_ascii_case(folder)))
            .map(|f| f.id.clone())
            .ok_or_else(|| {
                ToolError::InvalidArguments(format!(
                    "no folder named {folder:?}; list_folders shows the names and ids that exist"
                ))
            })
    }

    /// A page of messages in `folder` (and/or matching the Gmail query `q`), newest first.
    pub fn list_messages(
        &self,
        folder: Option<&str>,
        q: Option<&str>,
        limit: u32,
        page_token: Option<&str>,
    ) -> Result<MessagePage, ToolError> {
        let mut query = format!("maxResults={limit}&fields=messages/id,nextPageToken");
        if let Some(folder) = folder {
            query.push_str(&format!(
                "&labelIds={}",
                percent_encode(&self.label_id(folder)?)
            ));
        }
        if let Some(q) = q.filter(|q| !q.is_empty()) {
            query.push_str(&format!("&q={}", percent_encode(q)));
        }
        if let Some(token) = page_token {
            query.push_str(&format!("&pageToken={}", percent_encode(token)));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Listed {
            #[serde(default)]
            messages: Vec<Id>,
            next_page_token: Option<String>,
        }
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let listed: Listed = self.get_json(&format!("messages?{query}"))?;
        let paths: Vec<String> = listed
            .messages
            .iter()
            .map(|m| format!("messages/{}?{SUMMARY_QUERY}", percent_encode(&m.id)))
            .collect();
        let messages = self
            .get_json_all::<GmailMessage>(&paths)?
            .into_iter()
            .map(|m| MessageSummary {
                sender: m.header("From"),
                subject: m.header("Subject"),
                date: m.header("Date"),
                uid: m.id,
                thread_id: m.thread_id,
                snippet: html::decode_entities(&m.snippet),
                labels: m.label_ids,
            })
            .collect();
        Ok(MessagePage {
            messages,
            next_page_token: listed.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    /// One message with its body (text/plain, else HTML as text) cut at `max_chars`.
    pub fn fetch_message(&self, uid: &str, max_chars: u32) -> Result<Message, ToolError> {
        let m: GmailMessage =
            self.get_json(&format!("messages/{}?format=full", percent_encode(uid)))?;
        let payload = m.payload.as_ref();
        let text = payload.and_then(|p| find_body(p, "text/plain"));
        let body = match text {
            Some(t) => t,
            None => payload
                .and_then(|p| find_body(p, "text/html"))
                .map(|h| html::to_text(&h))
                .unwrap_or_default(),
        };
        let limit = max_chars as usize;
        let truncated = body.chars().count() > limit;
        let body = if truncated {
            body.chars().take(limit).collect()
        } else {
            body
        };
        let mut attachments = Vec::new();
        if let Some(p) = payload {
            collect_attachments(p, &mut attachments);
        }
        Ok(Message {
            sender: m.header("From"),
            to: m.header("To"),
            cc: m.header("Cc"),
            subject: m.header("Subject"),
            date: m.header("Date"),
            uid: m.id,
            thread_id: m.thread_id,
            labels: m.label_ids,
            snippet: html::decode_entities(&m.snippet),
            body,
            truncated,
            attachments,
        })
    }

    /// Adds and removes label ids; returns the labels after.
    pub fn modify(
        &self,
        uid: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<String>, ToolError> {
        let body = json!({"addLabelIds": add, "removeLabelIds": remove});
        self.post_labels(&format!("messages/{}/modify", percent_encode(uid)), &body)
    }

    /// Moves to the trash (or, with `restore`, out of it); returns the labels after.
    pub fn trash(&self, uid: &str, restore: bool) -> Result<Vec<String>, ToolError> {
        let verb = if restore { "untrash" } else { "trash" };
        self.post_labels(
            &format!("messages/{}/{verb}", percent_encode(uid)),
            &json!({}),
        )
    }

    fn post_labels(&self, path: &str, body: &Value) -> Result<Vec<String>, ToolError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Modified {
            #[serde(default)]
            label_ids: Vec<String>,
        }
        let m: Modified = self.post_json(path, body)?;
        Ok(m.label_ids)
    }

    /// Creates a label.
    pub fn create_folder(&self, name: &str) -> Result<Folder, ToolError> {
        #[derive(Deserialize)]
        struct Created {
            id: String,
            name: String,
        }
        let body = json!({"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"});
        let c: Created = self.post_json("labels", &body)?;
        self.labels.borrow_mut().take();
        Ok(Folder {
            name: c.name,
            id: c.id,
            system: false,
        })
    }

    /// Sends `draft`, in `thread_id` when replying.
    pub fn send(&self, draft: &Draft, thread_id: Option<&str>) -> Result<Sent, ToolError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Sent0 {
            id: String,
            #[serde(default)]
            thread_id: String,
            #[serde(default)]
            label_ids: Vec<String>,
        }
        let mut body = json!({"raw": draft.to_raw()});
        if let Some(t) = thread_id {
            body["threadId"] = json!(t);
        }
        let s: Sent0 = self.post_json("messages/send", &body)?;
        Ok(Sent {
            id: s.id,
            thread_id: s.thread_id,
            labels: s.label_ids,
        })
    }

    /// Replies in the thread of `uid`: to its Reply-To or From, and with `reply_all` to every
    /// other recipient except the user; `In-Reply-To` and `References` keep the thread.
    pub fn reply(
        &self,
        uid: &str,
        text: &str,
        html: Option<&str>,
        reply_all: bool,
    ) -> Result<Sent, ToolError> {
        let headers = [
            "From",
            "To",
            "Cc",
            "Subject",
            "Message-ID",
            "References",
            "Reply-To",
        ];
        let mut path = format!("messages/{}?format=metadata", percent_encode(uid));
        for h in headers {
            path.push_str(&format!("&metadataHeaders={h}"));
        }
        let original: GmailMessage = self.get_json(&path)?;
        let reply_to = original.header("Reply-To");
        let to = if reply_to.is_empty() {
            original.header("From")
        } else {
            reply_to
        };
        let cc = if reply_all {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Profile {
                email_address: String,
            }
            let me: Profile = self.get_json("profile")?;
            let others: Vec<String> = mime::split_addresses(&format!(
                "{},{}",
                original.header("To"),
                original.header("Cc")
            ))
            .into_iter()
            .filter(|a| {
                !a.to_ascii_lowercase()
                    .contains(&me.email_address.to_ascii_lowercase())
            })
            .collect();
            (!others.is_empty()).then(|| others.join(", "))
        } else {
            None
        };
        let subject = original.header("Subject");
        let subject = if subject.to_ascii_lowercase().starts_with("re:") {
            subject
        } else {
            format!("Re: {subject}")
        };
        let message_id = original.header("Message-ID");
        let references = match (original.header("References"), message_id.is_empty()) {
            (refs, true) => (!refs.is_empty()).then_some(refs),
            (refs, false) if refs.is_empty() => Some(message_id.clone()),
            (refs, false) => Some(format!("{refs} {message_id}")),
        };
        let draft = Draft {
            to,
            cc,
            subject,
            text: Some(text.to_owned()),
            html: html.map(str::to_owned),
            in_reply_to: (!message_id.is_empty()).then_some(message_id),
            references,
            boundary: boundary(),
            ..Draft::default()
        };
        self.send(&draft, Some(&original.thread_id))
    }

    fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ToolError> {
        let url = self.url(path);
        let response = self.send_authorized(&|| Request::get(url.clone()))?;
        parse(&response, path)
    }

    fn post_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ToolError> {
        let url = self.url(path);
        let text = body.to_string();
        let response = self.send_authorized(&|| {
            Request::post(url.clone())
                .header("content-type", "application/json")
                .body(text.clone())
        })?;
        parse(&response, path)
    }

    /// GETs every path concurrently (one round trip); failures are retried one by one.
    fn get_json_all<T: for<'de> Deserialize<'de>>(
        &self,
        paths: &[String],
    ) -> Result<Vec<T>, ToolError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let token = self.token()?;
        let requests = paths
            .iter()
            .map(|p| Request::get(self.url(p)).header("authorization", format!("Bearer {token}")))
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for (path, result) in paths.iter().zip(guest_http::send_all(requests)) {
            let response = match result {
                Ok(r) if r.is_success() => r,
                Ok(r) if r.status == 401 || r.status == 429 || r.status >= 500 => {
                    let url = self.url(path);
                    self.send_authorized(&|| Request::get(url.clone()))?
                }
                Ok(r) => return Err(ToolError::Upstream(gmail_error(&r))),
                Err(e) => return Err(ToolError::Upstream(e.to_string())),
            };
            out.push(parse(&response, path)?);
        }
        Ok(out)
    }

    fn token(&self) -> Result<String, ToolError> {
        if let Some(t) = self.token.borrow().as_ref() {
            return Ok(t.clone());
        }
        let t = credential_provider::get_token(SCOPE)?;
        *self.token.borrow_mut() = Some(t.clone());
        Ok(t)
    }

    /// Sends with the bearer token: on 401 the token is invalidated and the request retried
    /// once; 429 and 5xx are retried with backoff.
    fn send_authorized(&self, build: &dyn Fn() -> Request) -> Result<Response, ToolError> {
        let mut reauthorized = false;
        let mut retries = 0;
        loop {
            let token = self.token()?;
            let request = build().header("authorization", format!("Bearer {token}"));
            let response =
                guest_http::send(request).map_err(|e| ToolError::Upstream(e.to_string()))?;
            match response.status {
                401 if !reauthorized => {
                    credential_provider::invalidate_token(SCOPE);
                    self.token.borrow_mut().take();
                    reauthorized = true;
                }
                429 | 500..=599 if retries < RETRIES => {
                    retries += 1;
                    sleep_ms(retry_wait_ms(&response, retries));
                }
                _ if response.is_success() => return Ok(response),
                _ => return Err(ToolError::Upstream(gmail_error(&response))),
            }
        }
    }
}

/// How long to wait before retry `n`: `Retry-After` seconds if given (capped), else 250 ms · 2ⁿ.
fn retry_wait_ms(response: &Response, n: u32) -> u64 {
    response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(250 << n, |secs| secs * 1000)
        .min(MAX_RETRY_WAIT_MS)
}

fn sleep_ms(ms: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
}

fn parse<T: for<'de> Deserialize<'de>>(response: &Response, path: &str) -> Result<T, ToolError> {
    let what = path.split('?').next().unwrap_or(path);
    serde_json::from_slice(&response.body)
        .map_err(|e| ToolError::Upstream(format!("Gmail sent an unreadable reply to {what}: {e}")))
}

/// The first non-attachment part of `mime_type`, decoded from its charset.
fn find_body(part: &Part, mime_type: &str) -> Option<String> {
    if part.mime_type.eq_ignore_ascii_case(mime_type) && part.filename.is_empty() {
        let data = part.body.data.as_deref()?;
        let bytes = mime::decode_body_data(data)?;
        let charset =
            mime::charset_of(&part.header("Content-Type")).unwrap_or_else(|| "utf-8".into());
        return Some(mime::decode_charset(&bytes, &charset));
    }
    part.parts.iter().find_map(|p| find_body(p, mime_type))
}

fn collect_attachments(part: &Part, out: &mut Vec<Attachment>) {
    if !part.filename.is_empty() {
        out.push(Attachment {
            filename: part.filename.clone(),
            mime_type: part.mime_type.clone(),
            size: part.body.size,
        });
    }
    for p in &part.parts {
        collect_attachments(p, out);
    }
}

/// A random multipart boundary.
pub fn boundary() -> String {
    let bytes = wasip2::random::random::get_random_bytes(12);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("mcs-{hex}")
}

/// Gmail's own error message (`{"error": {"code", "message", "status"}}`), else the status.
fn gmail_error(response: &Response) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: String,
        #[serde(default)]
        status: Option<String>,
    }
    match serde_json::from_slice::<Envelope>(&response.body) {
        Ok(e) => match e.error.status {
            Some(status) => format!(
                "Gmail error {} {status}: {}",
                response.status, e.error.message
            ),
            None => format!("Gmail error {}: {}", response.status, e.error.message),
        },
        Err(_) => format!(
            "Gmail answered HTTP {} with no error details",
            response.status
        ),
    }
}
