//! GitHub's error bodies: `{"message", "documentation_url", "status"}`, plus `errors` for a
//! 422 (<https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api>).

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::wire;

/// The documentation link GitHub gives with errors that have no page of their own.
const DOCS: &str = "https://docs.github.com/rest";

/// An error answer in GitHub's shape.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GitHubError {
    status: u16,
    message: String,
    documentation_url: &'static str,
    errors: Vec<Value>,
}

impl GitHubError {
    fn new(status: u16, message: impl Into<String>, documentation_url: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            documentation_url,
            errors: Vec::new(),
        }
    }

    /// 400 for a body that is not JSON.
    pub(super) fn bad_json() -> Self {
        Self::new(400, "Problems parsing JSON", DOCS)
    }

    /// 401 without an `Authorization` header.
    pub(super) fn requires_authentication() -> Self {
        Self::new(401, "Requires authentication", DOCS)
    }

    /// 401 with a token GitHub does not know.
    pub(super) fn bad_credentials() -> Self {
        Self::new(401, "Bad credentials", DOCS)
    }

    /// 404: no such endpoint, or a repository the user cannot see.
    pub(super) fn not_found() -> Self {
        Self::new(404, "Not Found", DOCS)
    }

    /// 422 `Invalid request.` for a missing required body field, as GitHub's schema check
    /// words it.
    pub(super) fn missing(field: &str, documentation_url: &'static str) -> Self {
        let message = format!("Invalid request.\n\n\"{field}\" wasn't supplied.");
        Self::new(422, message, documentation_url)
    }

    /// 422 `Validation Failed` naming one field and GitHub's code for it (`invalid`,
    /// `missing_field`).
    pub(super) fn validation(
        resource: &str,
        field: &str,
        code: &str,
        documentation_url: &'static str,
    ) -> Self {
        let mut error = Self::new(422, "Validation Failed", documentation_url);
        error.errors = vec![json!({"resource": resource, "field": field, "code": code})];
        error
    }
}

impl IntoResponse for GitHubError {
    fn into_response(self) -> Response {
        /// GitHub's key order.
        #[derive(Serialize)]
        struct Body {
            message: String,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            errors: Vec<Value>,
            documentation_url: &'static str,
            status: String,
        }
        let body = Body {
            message: self.message,
            errors: self.errors,
            documentation_url: self.documentation_url,
            status: self.status.to_string(),
        };
        wire::json(self.status, &body)
    }
}
