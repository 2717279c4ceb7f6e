//! Gmail's error envelope:
//! `{"error":{"code","message","errors":[{"message","domain":"global","reason"}],"status"}}`.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::wire;

/// An error answer in Gmail's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GmailError {
    status: u16,
    message: String,
    reason: &'static str,
}

impl GmailError {
    fn new(status: u16, message: impl Into<String>, reason: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            reason,
        }
    }

    /// 400 `INVALID_ARGUMENT`, e.g. `Invalid label: Label_9`.
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, message, "invalidArgument")
    }

    /// 400 for a body that is not the JSON expected.
    pub(super) fn bad_json(detail: impl std::fmt::Display) -> Self {
        let message = format!("Invalid JSON payload received. {detail}");
        Self::new(400, message, "badRequest")
    }

    /// 401 `UNAUTHENTICATED`: the bearer token is missing or wrong.
    pub(super) fn unauthenticated() -> Self {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 access \
                       token, login cookie or other valid authentication credential. See \
                       https://developers.google.com/identity/sign-in/web/devconsole-project.";
        Self::new(401, message, "authError")
    }

    /// 404 `NOT_FOUND`: no such message, label, thread or endpoint.
    pub(super) fn not_found() -> Self {
        Self::new(404, "Requested entity was not found.", "notFound")
    }

    /// 409 `ALREADY_EXISTS`.
    pub(super) fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message, "duplicate")
    }
}

impl IntoResponse for GmailError {
    fn into_response(self) -> Response {
        let status = match self.status {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            _ => "UNKNOWN",
        };
        let body = json!({
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
                "status": status,
            }
        });
        wire::json(self.status, &body)
    }
}
