//! A fake Gmail REST API (`/gmail/v1/users/me/...`) over a sample mailbox.
//!
//! Errors follow Gmail's shape: `{"error": {"code", "message", "errors": [...], "status"}}`,
//! with 401 `UNAUTHENTICATED` when the bearer token is missing or wrong.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::server::{RecordedRequest, Server};

/// A Gmail label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Label id, e.g. `INBOX` or `Label_1`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// True for labels Gmail defines.
    pub system: bool,
}

impl Label {
    fn system(id: &str) -> Self {
        Self {
            id: id.into(),
            name: id.into(),
            system: true,
        }
    }

    fn user(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            system: false,
        }
    }
}

/// The data a fake Gmail serves.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Every label, system and user.
    pub labels: Vec<Label>,
}

impl Mailbox {
    /// A small, realistic mailbox: Gmail's system labels and a few user labels.
    pub fn sample() -> Self {
        let mut labels: Vec<Label> = [
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
        ]
        .into_iter()
        .map(Label::system)
        .collect();
        labels.push(Label::user("Label_1", "Work"));
        labels.push(Label::user("Label_2", "Receipts"));
        labels.push(Label::user("Label_3", "Reisen/Zürich"));
        Self { labels }
    }
}

struct Shared {
    mailbox: Mailbox,
    token: String,
}

/// A running fake Gmail; stops when dropped.
pub struct FakeGmail {
    server: Server,
}

impl FakeGmail {
    /// Serves `mailbox` to requests bearing `Authorization: Bearer <token>`.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub fn start(mailbox: Mailbox, token: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            mailbox,
            token: token.to_owned(),
        });
        let router = Router::new()
            .route("/gmail/v1/users/me/labels", get(list_labels))
            .fallback(not_found)
            .with_state(shared);
        Ok(Self {
            server: Server::start("gmail", router)?,
        })
    }

    /// The base URL to configure as `gmail-base-url`, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }
}

async fn list_labels(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(denied) = unauthorized(&shared, &headers) {
        return denied;
    }
    let labels: Vec<Value> = shared
        .mailbox
        .labels
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "type": if l.system { "system" } else { "user" },
            })
        })
        .collect();
    axum::Json(json!({ "labels": labels })).into_response()
}

async fn not_found() -> Response {
    gmail_error(
        StatusCode::NOT_FOUND,
        "Requested entity was not found.",
        "notFound",
    )
}

/// The 401 Gmail sends when the bearer token is missing or wrong; `None` when it is right.
fn unauthorized(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {}", shared.token);
    match headers.get(http::header::AUTHORIZATION) {
        Some(value) if value.as_bytes() == expected.as_bytes() => None,
        _ => Some(gmail_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
            "authError",
        )),
    }
}

/// Gmail's error envelope.
fn gmail_error(status: StatusCode, message: &str, reason: &str) -> Response {
    let status_name = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
        _ => "UNKNOWN",
    };
    let body = json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "message": message, "domain": "global", "reason": reason }],
            "status": status_name,
        }
    });
    (status, axum::Json(body)).into_response()
}
