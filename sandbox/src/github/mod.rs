//! A fake GitHub REST API (the part the example `github-tool` component uses), for one user.
//!
//! Endpoints, with GitHub's shapes (<https://docs.github.com/rest>): `GET /user`,
//! `GET /user/repos` (`visibility`, `sort`, `direction`), `GET /repos/{owner}/{repo}/issues`
//! (`state`, `direction`) and `POST /repos/{owner}/{repo}/issues` (`title`, `body`, `labels`;
//! 201 with `Location`). Lists page with `per_page` (default 30, at most 100) and `page`, and
//! say so in a `Link` header (`pages.rs`). Owner and repository names match without regard to
//! case; a repository the user cannot access is 404, as on GitHub.
//!
//! Every request is checked in GitHub's order: a `User-Agent` is required (403 with GitHub's
//! plain-text "Request forbidden by administrative rules" otherwise), then
//! `Authorization: Bearer <token>` (401 `Requires authentication` without the header,
//! `Bad credentials` with any other value). Errors use GitHub's body,
//! `{"message", "documentation_url", "status"}` (`error.rs`). The `Accept` and
//! `X-GitHub-Api-Version` headers are not enforced, but recorded ([`FakeGitHub::api_headers`]).
//!
//! # The sample account
//!
//! User `sandbox-octocat` (id 1001, "Sandbox Octocat", `octocat@sandbox.test`), who can push to
//! five repositories; by `full_name`:
//!
//! | repository | visibility | language | issues (`#n` title, state, author, labels) |
//! |---|---|---|---|
//! | `sandbox-octocat/hello-world` | public | Rust | #1 "Found a bug" open, alice-dev, bug, 2 comments; #2 "Add a README badge" closed, sandbox-octocat, documentation; #3 "Fix typo in README" open pull request, bob-dev; #4 "Support Windows paths" open, carol-dev, enhancement + help wanted |
//! | `sandbox-octocat/notes` | private | — | none |
//! | `sandbox-octocat/website` | public | HTML | #1 "Dark mode" open, dave-dev, enhancement |
//! | `sandbox-org/infra` | private | HCL | none |
//! | `sandbox-org/tools` | public | Go | #1 "CI is flaky" open, erin-dev, ci |
//!
//! Issue *n* of the sample was opened on 2025-03-(2·*n*) at 09:00 UTC, so lists are newest first
//! by number; `open_issues_count` counts open issues and pull requests (hello-world: 3). Issues
//! created through the API are numbered after the repository's last one and dated
//! 2025-04-01T12:00:00Z (the fake's clock stands still).

mod account;
mod error;
mod issues;
mod pages;
mod resource;
mod user;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use crate::server::{RecordedRequest, Server};
use crate::wire;
use account::Account;
use error::GitHubError;

/// What GitHub answers, as plain text, to a request without a `User-Agent`.
const NO_USER_AGENT: &str = "Request forbidden by administrative rules. Please make sure your \
    request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
    Check https://developer.github.com for other possible causes.";

/// The headers GitHub asks clients to send, as one request carried them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHeaders {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Accept`, e.g. `application/vnd.github+json`.
    pub accept: Option<String>,
    /// `X-GitHub-Api-Version`, e.g. `2022-11-28`.
    pub api_version: Option<String>,
}

/// An issue created through `POST /repos/{owner}/{repo}/issues`, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedIssue {
    /// `owner/name` of its repository.
    pub repo: String,
    /// Its number there.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its text, if any.
    pub body: Option<String>,
}

/// A response queued by [`FakeGitHub::fail_next`].
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// The account as it changes, and the test controls.
struct FakeState {
    account: Account,
    created: Vec<CreatedIssue>,
    api_headers: Vec<ApiHeaders>,
    canned: VecDeque<Canned>,
}

struct Shared {
    token: String,
    /// Set right after the server is bound; `url` fields and `Link` headers use it.
    base_url: OnceLock<String>,
    state: Mutex<FakeState>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fake's own base URL, where its API `url`s point.
    fn api(&self) -> &str {
        self.base_url.get().map_or("", String::as_str)
    }
}

/// The handlers' view of the fake.
type Ctx = State<Arc<Shared>>;

/// A running fake GitHub; stops when dropped.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    server: Server,
}

impl fmt::Debug for FakeGitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGitHub")
            .field("base_url", &self.base_url())
            .field("created", &self.shared.state().created.len())
            .finish_non_exhaustive()
    }
}

impl FakeGitHub {
    /// Serves the sample account (see the module docs) to requests bearing
    /// `Authorization: Bearer <token>`.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub fn start(token: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            base_url: OnceLock::new(),
            state: Mutex::new(FakeState {
                account: Account::sample(),
                created: Vec::new(),
                api_headers: Vec::new(),
                canned: VecDeque::new(),
            }),
        });
        let only = |route: MethodRouter<Arc<Shared>>| route.fallback(not_found);
        let router = Router::new()
            .route("/user", only(get(user::get_user)))
            .route("/user/repos", only(get(user::list_repos)))
            .route(
                "/repos/{owner}/{repo}/issues",
                only(get(issues::list).post(issues::create)),
            )
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
            .with_state(Arc::clone(&shared));
        let server = Server::start("github", router)?;
        let _ = shared.base_url.set(server.base_url());
        Ok(Self { shared, server })
    }

    /// The base URL to configure as `github-base-url`, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The GitHub headers of every request so far, oldest first (one per request).
    pub fn api_headers(&self) -> Vec<ApiHeaders> {
        self.shared.state().api_headers.clone()
    }

    /// Every issue created so far, oldest first.
    pub fn created_issues(&self) -> Vec<CreatedIssue> {
        self.shared.state().created.clone()
    }

    /// The next request, whatever it is, gets exactly this response; then all is normal again.
    /// Calls queue up: three calls answer the next three requests, in order.
    pub fn fail_next(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        self.shared.state().canned.push_back(Canned {
            status,
            headers,
            body: body.to_owned(),
        });
    }
}

/// Every request: records its GitHub headers, then serves a queued canned response, else
/// checks the `User-Agent` and the bearer token.
async fn gate(State(shared): Ctx, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let canned = {
        let mut state = shared.state();
        state.api_headers.push(ApiHeaders {
            user_agent: text(headers, header::USER_AGENT.as_str()),
            accept: text(headers, header::ACCEPT.as_str()),
            api_version: text(headers, "x-github-api-version"),
        });
        state.canned.pop_front()
    };
    if let Some(canned) = canned {
        return canned_response(canned);
    }
    if text(headers, header::USER_AGENT.as_str()).is_none_or(|ua| ua.trim().is_empty()) {
        return wire::respond(403, "text/plain; charset=utf-8", NO_USER_AGENT);
    }
    let expected = format!("Bearer {}", shared.token);
    match headers.get(header::AUTHORIZATION) {
        None => GitHubError::requires_authentication().into_response(),
        Some(value) if value.as_bytes() == expected.as_bytes() => next.run(req).await,
        Some(_) => GitHubError::bad_credentials().into_response(),
    }
}

/// A header's value as text, if present and readable.
fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The canned response, headers that are not valid HTTP left out.
fn canned_response(canned: Canned) -> Response {
    let status = StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, canned.body).into_response();
    for (name, value) in canned.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

async fn not_found() -> GitHubError {
    GitHubError::not_found()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const TOKEN: &str = "gho_test-token";

    /// `(status, headers, JSON body or the text as a JSON string)`.
    async fn send(request: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    /// A request as a well-behaved client sends it.
    fn api(fake: &FakeGitHub, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", fake.base_url()))
            .header("user-agent", "sandbox-test")
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .bearer_auth(TOKEN)
    }

    fn get(fake: &FakeGitHub, path: &str) -> reqwest::RequestBuilder {
        api(fake, reqwest::Method::GET, path)
    }

    #[tokio::test]
    async fn a_missing_user_agent_then_missing_or_wrong_credentials_are_refused_like_github() {
        let fake = FakeGitHub::start(TOKEN).unwrap();
        let url = format!("{}/user", fake.base_url());
        let (status, _, body) = send(reqwest::Client::new().get(&url).bearer_auth(TOKEN)).await;
        assert_eq!(status, 403);
        assert!(body.as_str().unwrap().contains("User-Agent"), "{body}");

        let anonymous = reqwest::Client::new().get(&url).header("user-agent", "t");
        let (status, _, body) = send(anonymous).await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Requires authentication");

        let wrong = reqwest::Client::new()
            .get(&url)
            .header("user-agent", "t")
            .bearer_auth("gho_someone-else");
        let response = wrong.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#,
            "GitHub's body, in GitHub's key order"
        );

        let (status, _, body) = send(get(&fake, "/user")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["login"], "sandbox-octocat");
        assert_eq!(body["public_repos"], 2);

        let seen = fake.api_headers();
        assert_eq!(seen.len(), 4, "every request, refused or not");
        assert_eq!(seen[0].user_agent, None);
        assert_eq!(seen[3].api_version.as_deref(), Some("2022-11-28"));
        assert_eq!(fake.requests()[3].line(), "GET /user");
    }

    #[tokio::test]
    async fn repositories_filter_sort_and_page_with_a_link_header() {
        let fake = FakeGitHub::start(TOKEN).unwrap();
        let (status, headers, body) = send(get(&fake, "/user/repos")).await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.get("link").is_none(), "one page holds all five");
        let names: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["full_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "sandbox-octocat/hello-world",
                "sandbox-octocat/notes",
                "sandbox-octocat/website",
                "sandbox-org/infra",
                "sandbox-org/tools"
            ]
        );
        assert_eq!(body[0]["open_issues_count"], 3);
        assert_eq!(body[0]["owner"]["login"], "sandbox-octocat");
        assert_eq!(
            body[0]["url"],
            format!("{}/repos/sandbox-octocat/hello-world", fake.base_url())
        );

        let (_, headers, body) = send(get(
            &fake,
            "/user/repos?visibility=public&per_page=2&page=1",
        ))
        .await;
        let names: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["full_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["sandbox-octocat/hello-world", "sandbox-octocat/website"]
        );
        let link = headers["link"].to_str().unwrap();
        assert!(
            link.contains("visibility=public&per_page=2&page=2>; rel=\"next\""),
            "{link}"
        );

        let (_, _, body) = send(get(&fake, "/user/repos?sort=pushed")).await;
        assert_eq!(body[0]["full_name"], "sandbox-octocat/hello-world");
        assert_eq!(body[1]["full_name"], "sandbox-org/tools");

        let (status, _, body) = send(get(&fake, "/user/repos?visibility=secret")).await;
        assert_eq!(status, 422);
        assert_eq!(body["message"], "Validation Failed");
        assert_eq!(body["errors"][0]["field"], "visibility");
    }

    #[tokio::test]
    async fn issues_list_by_state_newest_first_and_unknown_repositories_are_404() {
        let fake = FakeGitHub::start(TOKEN).unwrap();
        let numbers = |body: &Value| -> Vec<u64> {
            body.as_array()
                .unwrap()
                .iter()
                .map(|i| i["number"].as_u64().unwrap())
                .collect()
        };
        let (status, _, body) = send(get(&fake, "/repos/sandbox-octocat/hello-world/issues")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(numbers(&body), [4, 3, 1]);
        assert!(body[1]["pull_request"].is_object());
        assert!(body[0].get("pull_request").is_none());
        assert_eq!(body[0]["labels"][1]["name"], "help wanted");

        let (_, _, body) = send(get(
            &fake,
            "/repos/Sandbox-Octocat/Hello-World/issues?state=closed",
        ))
        .await;
        assert_eq!(numbers(&body), [2]);
        assert_eq!(body[0]["state_reason"], "completed");
        let (_, _, body) = send(get(
            &fake,
            "/repos/sandbox-octocat/hello-world/issues?state=all&direction=asc",
        ))
        .await;
        assert_eq!(numbers(&body), [1, 2, 3, 4]);

        let (status, _, body) = send(get(&fake, "/repos/sandbox-octocat/nope/issues")).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
        );
        let (status, _, _) = send(get(&fake, "/repos/sandbox-octocat/hello-world/pulls")).await;
        assert_eq!(status, 404, "endpoints the fake lacks are 404 too");
    }

    #[tokio::test]
    async fn creating_an_issue_numbers_it_after_the_last_and_lists_it() {
        let fake = FakeGitHub::start(TOKEN).unwrap();
        let path = "/repos/sandbox-octocat/hello-world/issues";
        let post = |body: Value| api(&fake, reqwest::Method::POST, path).json(&body);
        let (status, headers, body) = send(post(
            json!({"title": "New idea", "body": "Details.", "labels": ["idea"]}),
        ))
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["number"], 5);
        assert_eq!(body["state"], "open");
        assert_eq!(body["user"]["login"], "sandbox-octocat");
        assert_eq!(
            body["html_url"],
            "https://github.com/sandbox-octocat/hello-world/issues/5"
        );
        assert_eq!(
            headers["location"].to_str().unwrap(),
            format!("{}{path}/5", fake.base_url())
        );
        assert_eq!(
            fake.created_issues(),
            [CreatedIssue {
                repo: "sandbox-octocat/hello-world".into(),
                number: 5,
                title: "New idea".into(),
                body: Some("Details.".into()),
            }]
        );
        let (_, _, listed) = send(get(&fake, path)).await;
        assert_eq!(listed[0]["number"], 5, "the newest comes first");
        assert_eq!(listed[0]["labels"][0]["name"], "idea");

        let (status, _, body) = send(post(json!({"body": "no title"}))).await;
        assert_eq!(status, 422);
        assert_eq!(
            body["message"],
            "Invalid request.\n\n\"title\" wasn't supplied."
        );
        let (status, _, body) = send(post(json!({"title": " "}))).await;
        assert_eq!(
            (status, &body["errors"][0]["code"]),
            (422, &json!("missing_field"))
        );
        let not_json = api(&fake, reqwest::Method::POST, path).body("{title");
        let (status, _, body) = send(not_json).await;
        assert_eq!(
            (status, &body["message"]),
            (400, &json!("Problems parsing JSON"))
        );
        assert_eq!(fake.created_issues().len(), 1);
    }

    #[tokio::test]
    async fn fail_next_serves_canned_responses_in_order_then_all_is_normal() {
        let fake = FakeGitHub::start(TOKEN).unwrap();
        fake.fail_next(502, &[("retry-after", "1")], "bad gateway");
        fake.fail_next(401, &[], r#"{"message":"Bad credentials"}"#);
        let (status, headers, body) = send(get(&fake, "/user")).await;
        assert_eq!((status, body), (502, json!("bad gateway")));
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(send(get(&fake, "/user")).await.0, 401);
        assert_eq!(send(get(&fake, "/user")).await.0, 200);
        let debug = format!("{fake:?}");
        assert!(
            debug.contains(&fake.base_url()) && !debug.contains(TOKEN),
            "{debug}"
        );
    }
}
