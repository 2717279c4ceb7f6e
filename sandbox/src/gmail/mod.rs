//! A fake Gmail REST API v1 (`/gmail/v1/users/me/…`) over a mailbox of raw RFC 5322 messages.
//!
//! Endpoints, with Gmail's shapes (<https://developers.google.com/gmail/api/reference/rest>):
//! `GET|POST labels`, `GET labels/{id}` (with counts), `GET messages` (`maxResults` 1–500,
//! default 100; opaque `pageToken`; repeatable `labelIds`, all required; `q`, see `query.rs`;
//! `includeSpamTrash`), `GET messages/{id}` (`format=full|metadata|minimal|raw`,
//! `metadataHeaders`), `GET messages/{id}/attachments/{attachmentId}`,
//! `POST messages/{id}/modify|trash|untrash`, `POST messages/send` and `GET profile`.
//! `fields` is ignored (everything is returned). Every request needs
//! `Authorization: Bearer <token>`; errors use Gmail's envelope (`error.rs`).
//! Lists are newest first by `internalDate`. SPAM and TRASH are left out of lists unless
//! `includeSpamTrash=true`, `labelIds` names them, or `q` has `in:spam|trash|anywhere`.
//! Bodies (`body.data`) are padded base64url of the transfer-decoded bytes, still in the part's
//! charset; headers are as written (RFC 2047 words stay encoded). `trash` adds TRASH and
//! removes INBOX; `untrash` removes TRASH and restores INBOX if `trash` removed it (a message
//! that was in the trash from the start gets INBOX). Sent messages get ids `18d0000000000001`,
//! `18d0000000000002`, …, label SENT, and `From` (the account), `Date` and `Message-ID` headers
//! if they had none.
//!
//! # The sample mailbox ([`Mailbox::sample`])
//!
//! Account `me@example.com`. Labels: the 14 system labels (INBOX, SENT, DRAFT, SPAM, TRASH,
//! STARRED, UNREAD, IMPORTANT, CHAT, CATEGORY_PERSONAL, CATEGORY_SOCIAL, CATEGORY_PROMOTIONS,
//! CATEGORY_UPDATES, CATEGORY_FORUMS) and `Label_1` "Work", `Label_2` "Receipts", `Label_3`
//! "Reisen/Zürich". 32 messages; message *n* has id `18c` + *n* in 13 zero-padded decimal
//! digits (`18c0000000000001` … `18c0000000000032`), thread id = its own id (except 7),
//! `internalDate` and `Date:` 2025-03-31 09:30:00 UTC minus *n*−1 days (message 1 is the
//! newest, 5 is 2025-03-27, 31 is 2025-03-01, 32 is 2025-02-28), `Message-ID:
//! <msg-N@example.com>` (except 6 and 7) and `To: me@example.com` unless said otherwise:
//!
//! | n | labels | subject | from | content |
//! |---|--------|---------|------|---------|
//! | 1 | INBOX UNREAD IMPORTANT | Quarterly report | `Alice Example <alice@example.com>` | text/plain; To `Me <me@example.com>, Carol <carol@example.com>`, Cc `Bob <bob@example.com>`; body mentions "revenue"; snippet `Hi, here&#39;s the quarterly report: revenue grew 12% to 4.2M &amp; costs stayed flat; we will go through th` |
//! | 2 | INBOX CATEGORY_UPDATES | Weekly digest | `Example News <news@example.org>` | multipart/alternative: `0` text/plain (quoted-printable) "Top story: Rust 1.95 is out. …", `1` text/html (base64) |
//! | 3 | INBOX Label_2 | Your receipt | `Shop <receipts@shop.example.com>` | text/html only, with `<style>`, `<p>`, `<br>`, `&amp;`; snippet `Thanks for your order &amp; payment. Total: 9.99 EUR Order 1001` |
//! | 4 | INBOX | Invoice 42 | `Billing <billing@example.com>` | multipart/mixed: `0` text/plain "Please find invoice 42 attached. …", `1` application/pdf `invoice.pdf` (77 bytes, `body.attachmentId`, no data); `Reply-To: support@example.com` |
//! | 5 | INBOX Label_3 UNREAD | `=?UTF-8?B?R3LDvMOfZSBhdXMgWsO8cmljaA==?=` ("Grüße aus Zürich") | `=?UTF-8?Q?Zo=C3=AB?= <zoe@example.de>` ("Zoë") | text/plain; charset=ISO-8859-1, quoted-printable: "Liebe Grüße aus Zürich! Der See ist wunderschön.\r\nBis bald, Zoë" (data is Latin-1 bytes) |
//! | 6 | INBOX Label_1 | Project kickoff | `Bob <bob@example.com>` | text/plain; `Message-ID: <kickoff@example.com>` |
//! | 7 | SENT Label_1 | Re: Project kickoff | `Me <me@example.com>` | text/plain; thread `18c0000000000006`; To `Bob <bob@example.com>`; `Message-ID: <reply-kickoff@example.com>`, `In-Reply-To` and `References: <kickoff@example.com>` |
//! | 8 | TRASH CATEGORY_PROMOTIONS | Spring sale | `Deals <deals@shop.example.com>` | text/plain |
//! | 9 | SPAM UNREAD | You have won a prize | `Winner <winner@spam.example>` | text/plain |
//! | 10 | INBOX STARRED | Dinner on Friday? | `Carol <carol@example.com>` | text/plain "Shall we meet at 7? I'll bring the wine." |
//! | 11–32 | INBOX | Filler #*n* | `Filler Bot <filler@example.net>` | text/plain "This is filler message number *n*." |
//!
//! So INBOX holds 29 messages (1–6, 10–32; `maxResults=20` gives 20 and a `nextPageToken`,
//! the second page 9), a plain list 30 (all but 8 and 9); 1, 5 and 9 carry UNREAD, but 9 is
//! spam, so `labelIds=UNREAD` and `is:unread` list 1 and 5. `GET profile` reports 32 messages,
//! 31 threads and history id `1`; every change bumps the history id. Note that 7, the reply, is
//! older than 6 by `internalDate` (ids and dates both order the mailbox).

mod date;
mod error;
mod labels;
mod mailbox;
mod messages;
mod mime;
mod query;
mod resource;
mod send;
mod store;
#[cfg(test)]
mod tests;
mod text;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::server::{RecordedRequest, Server};
use error::GmailError;
pub use mailbox::{Label, MailMessage, Mailbox};
use store::Stored;

/// A message sent through `messages.send`, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The new message's id.
    pub id: String,
    /// Its thread id (the one given, or its own id).
    pub thread_id: String,
    /// The decoded RFC 5322 text (lossy UTF-8), `Bcc` included.
    pub raw: String,
    /// Its headers in order, unfolded, values as written.
    pub headers: Vec<(String, String)>,
}

impl SentMessage {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response queued by [`FakeGmail::fail_next`].
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// The mailbox as it changes, and the test controls.
struct Account {
    email: String,
    labels: Vec<Label>,
    /// User label id → (`labelListVisibility`, `messageListVisibility`).
    visibility: HashMap<String, (String, String)>,
    messages: Vec<Stored>,
    sent: Vec<SentMessage>,
    /// The mailbox's `historyId`, bumped by every change.
    history: u64,
    latency: Duration,
    /// Responses queued by `fail_next`, served first in, first out.
    canned: VecDeque<Canned>,
}

impl Account {
    fn message(&self, id: &str) -> Result<&Stored, GmailError> {
        self.messages
            .iter()
            .find(|m| m.id() == id)
            .ok_or_else(GmailError::not_found)
    }

    fn message_mut(&mut self, id: &str) -> Result<&mut Stored, GmailError> {
        self.messages
            .iter_mut()
            .find(|m| m.id() == id)
            .ok_or_else(GmailError::not_found)
    }

    /// 400 `Invalid label: X` for the first id that is no label.
    fn check_labels<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), GmailError> {
        match ids
            .into_iter()
            .find(|id| !self.labels.iter().any(|l| &l.id == *id))
        {
            Some(id) => Err(GmailError::invalid(format!("Invalid label: {id}"))),
            None => Ok(()),
        }
    }

    /// Bumps the mailbox's history id and returns it.
    fn next_history(&mut self) -> u64 {
        self.history += 1;
        self.history
    }
}

struct Shared {
    token: String,
    account: Mutex<Account>,
}

impl Shared {
    fn account(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handlers' view of the fake.
type Ctx = State<Arc<Shared>>;

/// A running fake Gmail; stops when dropped.
pub struct FakeGmail {
    shared: Arc<Shared>,
    server: Server,
}

impl fmt::Debug for FakeGmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGmail")
            .field("base_url", &self.base_url())
            .field("messages", &self.message_count())
            .finish_non_exhaustive()
    }
}

impl FakeGmail {
    /// Serves `mailbox` to requests bearing `Authorization: Bearer <token>`.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub fn start(mailbox: Mailbox, token: &str) -> std::io::Result<Self> {
        let messages = mailbox
            .messages
            .into_iter()
            .map(|m| Stored::new(m, 1))
            .collect();
        let account = Account {
            email: mailbox.email,
            labels: mailbox.labels,
            visibility: HashMap::new(),
            messages,
            sent: Vec::new(),
            history: 1,
            latency: Duration::ZERO,
            canned: VecDeque::new(),
        };
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            account: Mutex::new(account),
        });
        let only = |route: MethodRouter<Arc<Shared>>| route.fallback(not_found);
        let me = |path: &str| format!("/gmail/v1/users/me/{path}");
        let router = Router::new()
            .route(&me("labels"), only(get(labels::list).post(labels::create)))
            .route(&me("labels/{id}"), only(get(labels::get)))
            .route(&me("messages"), only(get(messages::list_messages)))
            .route(&me("messages/send"), only(post(send::send)))
            .route(&me("messages/{id}"), only(get(messages::get_message)))
            .route(&me("messages/{id}/modify"), only(post(messages::modify)))
            .route(&me("messages/{id}/trash"), only(post(messages::trash)))
            .route(&me("messages/{id}/untrash"), only(post(messages::untrash)))
            .route(
                &me("messages/{id}/attachments/{attachment}"),
                only(get(messages::get_attachment)),
            )
            .route(&me("profile"), only(get(messages::profile)))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
            .with_state(Arc::clone(&shared));
        let server = Server::start("gmail", router)?;
        Ok(Self { shared, server })
    }

    /// The base URL to configure as `gmail-base-url`, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// Every message sent through `messages.send` so far, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.account().sent.clone()
    }

    /// Every request waits `latency` before it is answered (requests still overlap).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.account().latency = latency;
    }

    /// The next request, whatever it is, gets exactly this response; then all is normal again.
    /// Calls queue up: three calls answer the next three requests, in order.
    pub fn fail_next(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let body = body.to_owned();
        self.shared.account().canned.push_back(Canned {
            status,
            headers,
            body,
        });
    }

    /// The current label ids of message `id`, if it exists.
    pub fn labels_of(&self, id: &str) -> Option<Vec<String>> {
        let account = self.shared.account();
        let message = account.message(id).ok()?;
        Some(message.message.label_ids.clone())
    }

    /// How many messages the mailbox holds (sent ones included).
    pub fn message_count(&self) -> usize {
        self.shared.account().messages.len()
    }
}

/// Every request: waits the latency, then serves a queued canned response, else checks the
/// bearer token.
async fn gate(State(shared): Ctx, req: Request, next: Next) -> Response {
    let (latency, canned) = {
        let mut account = shared.account();
        (account.latency, account.canned.pop_front())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(canned) = canned {
        return canned_response(canned);
    }
    let expected = format!("Bearer {}", shared.token);
    match req.headers().get(header::AUTHORIZATION) {
        Some(value) if value.as_bytes() == expected.as_bytes() => next.run(req).await,
        _ => GmailError::unauthenticated().into_response(),
    }
}

/// The canned response, headers that are not valid HTTP left out.
fn canned_response(canned: Canned) -> Response {
    let mut response = Response::new(Body::from(canned.body));
    *response.status_mut() =
        StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in canned.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

async fn not_found() -> GmailError {
    GmailError::not_found()
}
