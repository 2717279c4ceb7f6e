//! The Gmail REST API client shared by both exports.
//!
//! Endpoints: <https://developers.google.com/gmail/api/reference/rest>. The base URL is the
//! `gmail-base-url` setting (default `https://gmail.googleapis.com`), so tests and the demo
//! reach a fake through the same code path users run.

use guest_http::{Request, Response};
use serde::Deserialize;

use crate::bindings::exports::mcs::mail::mailbox::Folder;
use crate::bindings::exports::mcs::mail::tools::ToolError;
use crate::bindings::mcs::auth::credential_provider;
use crate::bindings::wasi::config::store;

/// Where Gmail lives unless the settings say otherwise.
const DEFAULT_BASE_URL: &str = "https://gmail.googleapis.com";

/// The credential scope Gmail tokens are issued for.
const SCOPE: &str = "gmail";

/// A Gmail API client for the signed-in user (`users/me`).
pub struct Client {
    base: String,
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
        })
    }

    /// Every label of the mailbox, sorted by name.
    pub fn list_folders(&self) -> Result<Vec<Folder>, ToolError> {
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
        Ok(folders)
    }

    fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ToolError> {
        let url = format!("{}/gmail/v1/users/me/{path}", self.base);
        let response = self.send_authorized(|| Request::get(url.clone()))?;
        serde_json::from_slice(&response.body).map_err(|e| {
            ToolError::Upstream(format!("Gmail sent an unreadable reply to GET {path}: {e}"))
        })
    }

    /// Sends with a bearer token; on 401 the token is invalidated and the request retried once.
    fn send_authorized(&self, build: impl Fn() -> Request) -> Result<Response, ToolError> {
        let mut retried = false;
        loop {
            let token = credential_provider::get_token(SCOPE).map_err(ToolError::Auth)?;
            let request = build().header("authorization", format!("Bearer {token}"));
            let response =
                guest_http::send(request).map_err(|e| ToolError::Upstream(e.to_string()))?;
            if response.status == 401 && !retried {
                credential_provider::invalidate_token(SCOPE);
                retried = true;
                continue;
            }
            if !response.is_success() {
                return Err(ToolError::Upstream(gmail_error(&response)));
            }
            return Ok(response);
        }
    }
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
