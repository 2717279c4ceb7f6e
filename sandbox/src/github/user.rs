//! `GET /user` and `GET /user/repos`.

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::GitHubError;
use super::pages::PageRequest;
use super::{Ctx, resource};
use crate::wire::{self, parse_form};

const LIST_REPOS_DOCS: &str =
    "https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user";

/// `GET /user`: the signed-in user.
pub(super) async fn get_user(State(shared): Ctx) -> Response {
    let state = shared.state();
    let account = &state.account;
    let body = resource::user(&account.user, account.public_repos(), shared.api());
    wire::json(200, &body)
}

/// `GET /user/repos`: `visibility` (`all`, `public`, `private`), `sort` (`full_name`,
/// `created`, `updated`, `pushed`), `direction` (default `asc` for `full_name`, else `desc`),
/// `per_page` and `page`. `affiliation` and `type` are accepted and ignored: the sample user
/// may push to every repository it lists.
pub(super) async fn list_repos(
    State(shared): Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, GitHubError> {
    let query = parse_form(query.as_deref().unwrap_or_default());
    let private = match query.get("visibility").map_or("all", String::as_str) {
        "all" => None,
        "public" => Some(false),
        "private" => Some(true),
        _ => {
            return Err(GitHubError::validation(
                "Repository",
                "visibility",
                "invalid",
                LIST_REPOS_DOCS,
            ));
        }
    };
    let sort = query.get("sort").map_or("full_name", String::as_str);
    let ascending = match query.get("direction").map(String::as_str) {
        Some("asc") => true,
        Some("desc") => false,
        _ => sort == "full_name",
    };
    let state = shared.state();
    let mut repos: Vec<_> = state
        .account
        .repos
        .iter()
        .filter(|r| private.is_none_or(|p| r.private == p))
        .collect();
    repos.sort_by_key(|r| match sort {
        "created" => r.created_at.to_owned(),
        "updated" => r.updated_at.to_owned(),
        "pushed" => r.pushed_at.to_owned(),
        _ => r.full_name().to_ascii_lowercase(),
    });
    if !ascending {
        repos.reverse();
    }
    let api = shared.api();
    let url = format!("{api}/user/repos");
    let (page, link) = PageRequest::parse(&query).slice(&repos, &url, &query);
    let body: Vec<Value> = page.iter().map(|r| resource::repo(r, api)).collect();
    Ok(with_link(wire::json(200, &body), link))
}

/// `response` with a `Link` header, when there is one.
pub(super) fn with_link(response: Response, link: Option<String>) -> Response {
    match link {
        Some(link) => ([(header::LINK, link)], response).into_response(),
        None => response,
    }
}
