//! The tenant's error answers, each in the shape of the endpoint that gives it: OAuth
//! `{"error", "error_description"}` at `/oauth/token`, Auth0's problem+json at the My Account API,
//! and plain-text 400 pages at the browser endpoints.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::wire::{self, PROBLEM_JSON};

/// An error answer, in the shape of the endpoint that gives it.
#[derive(Debug)]
pub(super) enum Failure {
    /// The token endpoint's `{"error", "error_description"}`.
    OAuth(StatusCode, &'static str, String),
    /// The My Account API's `application/problem+json`.
    Problem(StatusCode, String),
    /// A plain-text 400 page, as the browser endpoints show.
    Page(&'static str),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::OAuth(status, error, description) => {
                let body = json!({"error": error, "error_description": description});
                wire::json(status.as_u16(), &body)
            }
            Self::Problem(status, detail) => {
                let body = json!({
                    "type": format!("https://auth0.com/api-errors/A0E-{}-0001", status.as_u16()),
                    "status": status.as_u16(),
                    "title": status.canonical_reason().unwrap_or("Error"),
                    "detail": detail,
                });
                wire::respond(status.as_u16(), PROBLEM_JSON, body.to_string())
            }
            Self::Page(text) => (StatusCode::BAD_REQUEST, text).into_response(),
        }
    }
}

pub(super) fn oauth(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> Failure {
    Failure::OAuth(status, error, description.into())
}

pub(super) fn invalid_request(description: impl Into<String>) -> Failure {
    oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub(super) fn invalid_grant(description: &str) -> Failure {
    oauth(StatusCode::FORBIDDEN, "invalid_grant", description)
}

pub(super) fn invalid_refresh_token() -> Failure {
    invalid_grant("Unknown or invalid refresh token.")
}

pub(super) fn bad_request(detail: impl Into<String>) -> Failure {
    Failure::Problem(StatusCode::BAD_REQUEST, detail.into())
}
