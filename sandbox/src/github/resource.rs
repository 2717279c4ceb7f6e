//! The JSON GitHub answers with for a user, a repository and an issue: the fields clients
//! commonly read, with GitHub's names and types (`url` fields point at the fake itself,
//! `html_url` fields at github.com).

use serde_json::{Value, json};

use super::account::{Issue, Repo, User};

/// A user reference, as it appears inside repositories and issues.
fn user_ref(login: &str, id: u64, kind: &str) -> Value {
    json!({
        "login": login,
        "id": id,
        "html_url": format!("https://github.com/{login}"),
        "type": kind,
        "site_admin": false,
    })
}

/// `GET /user`: the signed-in user's private profile.
pub(super) fn user(user: &User, public_repos: usize, api: &str) -> Value {
    let mut value = user_ref(&user.login, user.id, "User");
    let extra = json!({
        "url": format!("{api}/users/{}", user.login),
        "name": user.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": user.email,
        "bio": null,
        "public_repos": public_repos,
        "followers": 3,
        "following": 1,
        "created_at": user.created_at,
        "updated_at": user.created_at,
    });
    if let (Some(value), Value::Object(extra)) = (value.as_object_mut(), extra) {
        value.extend(extra);
    }
    value
}

/// A repository as `GET /user/repos` lists it; the user may push to every one.
pub(super) fn repo(repo: &Repo, api: &str) -> Value {
    let full_name = repo.full_name();
    json!({
        "id": repo.id,
        "name": repo.name,
        "full_name": full_name,
        "private": repo.private,
        "owner": user_ref(&repo.owner, repo.id * 10, repo.owner_type),
        "html_url": format!("https://github.com/{full_name}"),
        "description": repo.description,
        "fork": false,
        "url": format!("{api}/repos/{full_name}"),
        "created_at": repo.created_at,
        "updated_at": repo.updated_at,
        "pushed_at": repo.pushed_at,
        "homepage": null,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": repo.language,
        "forks_count": 0,
        "archived": false,
        "open_issues_count": repo.open_issues(),
        "default_branch": "main",
        "visibility": if repo.private { "private" } else { "public" },
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
    })
}

/// An issue, or a pull request with its `pull_request` member, as the issue endpoints show it.
pub(super) fn issue(issue: &Issue, repo: &Repo, api: &str) -> Value {
    let full_name = repo.full_name();
    let number = issue.number;
    let kind = if issue.pull_request { "pull" } else { "issues" };
    let labels: Vec<Value> = issue
        .labels
        .iter()
        .map(|name| json!({"name": name, "color": "ededed", "default": false, "description": null}))
        .collect();
    let mut value = json!({
        "id": repo.id * 1000 + number,
        "url": format!("{api}/repos/{full_name}/issues/{number}"),
        "repository_url": format!("{api}/repos/{full_name}"),
        "html_url": format!("https://github.com/{full_name}/{kind}/{number}"),
        "number": number,
        "state": issue.state,
        "state_reason": if issue.state == "closed" { Some("completed") } else { None },
        "title": issue.title,
        "body": issue.body,
        "user": user_ref(&issue.author, 0, "User"),
        "labels": labels,
        "assignees": [],
        "locked": false,
        "comments": issue.comments,
        "created_at": issue.created_at,
        "updated_at": issue.closed_at.unwrap_or(&issue.created_at),
        "closed_at": issue.closed_at,
        "author_association": if issue.author == repo.owner { "OWNER" } else { "CONTRIBUTOR" },
    });
    if issue.pull_request {
        value["pull_request"] = json!({
            "url": format!("{api}/repos/{full_name}/pulls/{number}"),
            "html_url": format!("https://github.com/{full_name}/pull/{number}"),
            "merged_at": null,
        });
    }
    value
}
