//! A small GitHub REST API client: the requests the tools make and the parts of GitHub's
//! answers they use.
//!
//! Every request carries the headers GitHub asks for
//! (<https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api>):
//! `Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28` and a
//! `User-Agent` (GitHub refuses requests without one). The bearer token is whatever
//! `get-token("github")` returned: an opaque handle that the host swaps for the real token on
//! the wire, and only toward the origins the component's `credentials.github` names.
//!
//! A 401 invalidates the token and retries once (the provider then issues a fresh one); any
//! other error status becomes `upstream` with GitHub's own `message`. Lists page with GitHub's
//! `Link` header (`rel="next"`).

use std::cell::RefCell;

use guest_http::{Request, Response, percent_encode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::bindings::exports::mcs::tools::tools::ToolError;
use crate::bindings::mcs::auth::credential_provider;
use crate::bindings::wasi::config::store;

/// Where GitHub's REST API lives unless the `github-base-url` setting says otherwise (GitHub
/// Enterprise Server: `https://HOST/api/v3`; tests: a fake on 127.0.0.1).
const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// The credential scope GitHub tokens are issued for. In Token Vault mode the provider maps it
/// to the Auth0 connection `github`.
const SCOPE: &str = "github";

/// The REST API version these requests and answers follow.
const API_VERSION: &str = "2022-11-28";

/// GitHub refuses requests without a `User-Agent`; it asks for the app's name.
const USER_AGENT: &str = concat!("mcs-github-tool/", env!("CARGO_PKG_VERSION"));

/// The signed-in user (`GET /user`), the fields the tools use.
#[derive(Debug, Deserialize)]
pub struct User {
    /// The username.
    pub login: String,
    /// The display name.
    pub name: Option<String>,
    /// The public e-mail address.
    pub email: Option<String>,
    /// The profile page.
    pub html_url: String,
    /// How many public repositories the user owns.
    #[serde(default)]
    pub public_repos: u64,
}

/// A repository, the fields the tools use.
#[derive(Debug, Deserialize)]
pub struct Repo {
    /// `owner/name`.
    pub full_name: String,
    /// Whether only some people may see it.
    pub private: bool,
    /// Its one-line description.
    pub description: Option<String>,
    /// Its page.
    pub html_url: String,
    /// The branch new work starts from.
    pub default_branch: Option<String>,
    /// Its main language, as GitHub detected it.
    pub language: Option<String>,
    /// Open issues and pull requests.
    #[serde(default)]
    pub open_issues_count: u64,
    /// When it last changed (RFC 3339).
    pub updated_at: Option<String>,
}

/// An issue (or a pull request: GitHub lists both as issues), the fields the tools use.
#[derive(Debug, Deserialize)]
pub struct Issue {
    /// Its number in the repository.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    /// Who opened it.
    pub user: Option<Login>,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<Name>,
    /// How many comments it has.
    #[serde(default)]
    pub comments: u64,
    /// Present when the issue is a pull request.
    pub pull_request: Option<Value>,
    /// Its page.
    pub html_url: String,
    /// When it was opened (RFC 3339).
    pub created_at: Option<String>,
}

/// A user reference inside another resource.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// The username.
    pub login: String,
}

/// A label reference inside an issue.
#[derive(Debug, Deserialize)]
pub struct Name {
    /// The label's name.
    pub name: String,
}

/// One page of a list, and the number of the next page if GitHub has one.
#[derive(Debug)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The next page's number, from the `Link` header.
    pub next_page: Option<u64>,
}

/// A GitHub client for one tool call.
pub struct Client {
    base: String,
    /// The credential handle, fetched on first use.
    token: RefCell<Option<String>>,
}

impl Client {
    /// A client for the base URL in the component's settings.
    pub fn from_settings() -> Result<Self, ToolError> {
        let base = match store::get("github-base-url") {
            Ok(Some(url)) if !url.trim().is_empty() => url,
            Ok(_) => DEFAULT_BASE_URL.to_owned(),
            Err(e) => {
                return Err(ToolError::Upstream(format!(
                    "could not read setting \"github-base-url\": {e:?}"
                )));
            }
        };
        Ok(Self {
            base: base.trim().trim_end_matches('/').to_owned(),
            token: RefCell::new(None),
        })
    }

    /// `GET /user`.
    pub fn user(&self) -> Result<User, ToolError> {
        let response = self.send(&|| Request::get(self.url("/user")))?;
        parse(&response)
    }

    /// `GET /user/repos`: repositories the user can access.
    pub fn repos(
        &self,
        visibility: &str,
        sort: &str,
        per_page: i64,
        page: i64,
    ) -> Result<Page<Repo>, ToolError> {
        let url = self.url(&format!(
            "/user/repos?visibility={}&sort={}&per_page={per_page}&page={page}",
            percent_encode(visibility),
            percent_encode(sort),
        ));
        let response = self.send(&|| Request::get(url.clone()))?;
        page_of(&response)
    }

    /// `GET /repos/{owner}/{repo}/issues`: issues and pull requests, newest first.
    pub fn issues(
        &self,
        owner: &str,
        repo: &str,
        state: &str,
        per_page: i64,
        page: i64,
    ) -> Result<Page<Issue>, ToolError> {
        let url = self.url(&format!(
            "{}/issues?state={}&per_page={per_page}&page={page}",
            repo_path(owner, repo),
            percent_encode(state),
        ));
        let response = self.send(&|| Request::get(url.clone()))?;
        page_of(&response)
    }

    /// `POST /repos/{owner}/{repo}/issues`: opens an issue.
    pub fn create_issue(
        &self,
        owner: &str,
        repo: &str,
        title: &str,
        body: Option<&str>,
    ) -> Result<Issue, ToolError> {
        let url = self.url(&format!("{}/issues", repo_path(owner, repo)));
        let mut payload = json!({ "title": title });
        if let Some(body) = body {
            payload["body"] = json!(body);
        }
        let payload = payload.to_string();
        let response = self.send(&|| {
            Request::post(url.clone())
                .header("content-type", "application/json")
                .body(payload.clone())
        })?;
        parse(&response)
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// The credential handle for [`SCOPE`], asked for once per call.
    fn token(&self) -> Result<String, ToolError> {
        if let Some(token) = self.token.borrow().as_ref() {
            return Ok(token.clone());
        }
        let token = credential_provider::get_token(SCOPE)?;
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// Sends `build()` with GitHub's headers and the token. On 401 the token is invalidated and
    /// the request sent once more with a fresh one; other errors carry GitHub's message.
    fn send(&self, build: &dyn Fn() -> Request) -> Result<Response, ToolError> {
        let mut reauthorized = false;
        loop {
            let request = build()
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", API_VERSION)
                .header("user-agent", USER_AGENT)
                .header("authorization", format!("Bearer {}", self.token()?));
            let response =
                guest_http::send(request).map_err(|e| ToolError::Upstream(e.to_string()))?;
            match response.status {
                _ if response.is_success() => return Ok(response),
                401 if !reauthorized => {
                    credential_provider::invalidate_token(SCOPE);
                    self.token.borrow_mut().take();
                    reauthorized = true;
                }
                _ => return Err(ToolError::Upstream(error_message(&response))),
            }
        }
    }
}

/// `/repos/{owner}/{repo}`, each segment percent-encoded (both were checked to be single,
/// non-empty names by `args`).
fn repo_path(owner: &str, repo: &str) -> String {
    format!("/repos/{}/{}", percent_encode(owner), percent_encode(repo))
}

fn parse<T: DeserializeOwned>(response: &Response) -> Result<T, ToolError> {
    serde_json::from_slice(&response.body)
        .map_err(|e| ToolError::Upstream(format!("GitHub sent an unreadable answer: {e}")))
}

fn page_of<T: DeserializeOwned>(response: &Response) -> Result<Page<T>, ToolError> {
    Ok(Page {
        items: parse(response)?,
        next_page: response.header("link").and_then(next_page),
    })
}

/// The `page` of the `rel="next"` link in a `Link` header (RFC 8288), e.g.
/// `<https://api.github.com/user/repos?page=2>; rel="next", <…?page=5>; rel="last"` → 2.
fn next_page(link: &str) -> Option<u64> {
    let next = link.split(',').find(|part| {
        part.split(';')
            .skip(1)
            .any(|param| param.trim() == "rel=\"next\"")
    })?;
    let url = next.split(';').next()?.trim();
    let url = url.strip_prefix('<')?.strip_suffix('>')?;
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|page| page.parse().ok())
}

/// GitHub's error text: its `message`, plus what each entry of `errors` says (422 validation
/// failures), e.g. `GitHub answered 404: Not Found`.
fn error_message(response: &Response) -> String {
    #[derive(Deserialize)]
    struct Failure {
        message: String,
        #[serde(default)]
        errors: Vec<Value>,
    }
    let status = response.status;
    let Ok(failure) = serde_json::from_slice::<Failure>(&response.body) else {
        let text = response.text();
        let text = text.trim();
        return match text.char_indices().nth(200) {
            _ if text.is_empty() => format!("GitHub answered {status} with no message"),
            Some((cut, _)) => format!("GitHub answered {status}: {}…", &text[..cut]),
            None => format!("GitHub answered {status}: {text}"),
        };
    };
    let details: Vec<String> = failure
        .errors
        .iter()
        .map(|e| {
            match (
                e["message"].as_str(),
                e["field"].as_str(),
                e["code"].as_str(),
            ) {
                (Some(message), _, _) => message.to_owned(),
                (None, Some(field), Some(code)) => format!("{field}: {code}"),
                _ => e.to_string(),
            }
        })
        .collect();
    if details.is_empty() {
        format!("GitHub answered {status}: {}", failure.message)
    } else {
        format!(
            "GitHub answered {status}: {} ({})",
            failure.message,
            details.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn next_page_comes_from_the_rel_next_link() {
        let link = "<https://api.github.com/user/repos?per_page=2&page=2>; rel=\"next\", \
                    <https://api.github.com/user/repos?per_page=2&page=3>; rel=\"last\"";
        assert_eq!(next_page(link), Some(2));
        let last_page = "<https://api.github.com/user/repos?page=1>; rel=\"first\", \
                         <https://api.github.com/user/repos?page=2>; rel=\"prev\"";
        assert_eq!(next_page(last_page), None);
        assert_eq!(next_page("garbage"), None);
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(
            repo_path("octo-cat", "Hello.World"),
            "/repos/octo-cat/Hello.World"
        );
        assert_eq!(repo_path("a?b", "c#d%"), "/repos/a%3Fb/c%23d%25");
    }

    #[test]
    fn errors_carry_githubs_message_and_details() {
        let not_found = r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}"#;
        assert_eq!(
            error_message(&response(404, not_found)),
            "GitHub answered 404: Not Found"
        );
        let invalid = r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"},{"message":"labels are bad"}]}"#;
        assert_eq!(
            error_message(&response(422, invalid)),
            "GitHub answered 422: Validation Failed (title: missing_field; labels are bad)"
        );
        assert_eq!(
            error_message(&response(
                403,
                "Request forbidden by administrative rules.\n"
            )),
            "GitHub answered 403: Request forbidden by administrative rules."
        );
        assert_eq!(
            error_message(&response(502, "")),
            "GitHub answered 502 with no message"
        );
    }
}
