//! `GET /repos/{owner}/{repo}/issues` and `POST /repos/{owner}/{repo}/issues`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::account::{Issue, NOW};
use super::error::GitHubError;
use super::pages::PageRequest;
use super::user::with_link;
use super::{CreatedIssue, Ctx, resource};
use crate::wire::{self, parse_form};

const LIST_DOCS: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const CREATE_DOCS: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";

/// `GET /repos/{owner}/{repo}/issues`: issues and pull requests, `state` (`open` by default,
/// `closed`, `all`), newest first unless `direction=asc`, `per_page` and `page`. Other filters
/// (`labels`, `assignee`, `since`, `sort`) are accepted and ignored. 404 for a repository the
/// user cannot access.
pub(super) async fn list(
    State(shared): Ctx,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, GitHubError> {
    let query = parse_form(query.as_deref().unwrap_or_default());
    let state = query.get("state").map_or("open", String::as_str);
    if !["open", "closed", "all"].contains(&state) {
        return Err(GitHubError::validation(
            "Issue", "state", "invalid", LIST_DOCS,
        ));
    }
    let mut guard = shared.state();
    let repo = guard
        .account
        .repo_mut(&owner, &name)
        .ok_or_else(GitHubError::not_found)?;
    let mut issues: Vec<&Issue> = repo
        .issues
        .iter()
        .filter(|i| state == "all" || i.state == state)
        .collect();
    issues.sort_by(|a, b| (&b.created_at, b.number).cmp(&(&a.created_at, a.number)));
    if query.get("direction").map(String::as_str) == Some("asc") {
        issues.reverse();
    }
    let api = shared.api();
    let url = format!("{api}/repos/{}/issues", repo.full_name());
    let (page, link) = PageRequest::parse(&query).slice(&issues, &url, &query);
    let body: Vec<Value> = page.iter().map(|i| resource::issue(i, repo, api)).collect();
    Ok(with_link(wire::json(200, &body), link))
}

/// `POST /repos/{owner}/{repo}/issues` `{"title", "body"?, "labels"?}`: 201 with the new
/// issue (numbered after the repository's last issue or pull request) and its API URL in
/// `Location`. 400 for a body that is not JSON, 422 for a missing or empty title.
pub(super) async fn create(
    State(shared): Ctx,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GitHubError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return Err(GitHubError::bad_json());
    };
    let title = match fields.get("title") {
        None | Some(Value::Null) => return Err(GitHubError::missing("title", CREATE_DOCS)),
        Some(Value::String(s)) => s.clone(),
        // GitHub takes a number as a title too.
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(GitHubError::validation(
                "Issue",
                "title",
                "invalid",
                CREATE_DOCS,
            ));
        }
    };
    if title.trim().is_empty() {
        return Err(GitHubError::validation(
            "Issue",
            "title",
            "missing_field",
            CREATE_DOCS,
        ));
    }
    let text = fields
        .get("body")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let labels = fields
        .get("labels")
        .and_then(Value::as_array)
        .map(|labels| {
            labels
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut guard = shared.state();
    let state = &mut *guard;
    let author = state.account.user.login.clone();
    let repo = state
        .account
        .repo_mut(&owner, &name)
        .ok_or_else(GitHubError::not_found)?;
    let number = repo.issues.iter().map(|i| i.number).max().unwrap_or(0) + 1;
    let issue = Issue {
        number,
        title: title.clone(),
        body: text.clone(),
        state: "open",
        author,
        labels,
        comments: 0,
        pull_request: false,
        created_at: NOW.to_owned(),
        closed_at: None,
    };
    let api = shared.api();
    let body = resource::issue(&issue, repo, api);
    let location = format!("{api}/repos/{}/issues/{number}", repo.full_name());
    state.created.push(CreatedIssue {
        repo: repo.full_name(),
        number,
        title,
        body: text,
    });
    repo.issues.push(issue);
    Ok(([(header::LOCATION, location)], wire::json(201, &body)).into_response())
}
