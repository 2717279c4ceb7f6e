//! The tools an LLM sees: one table of names, descriptions and parameters (the JSON Schemas and
//! the argument checks both come from it, so they cannot drift apart), the dispatch, and small
//! results with only the fields an LLM needs, not GitHub's whole objects.

use guest_tools::{Args, Kind, Param, Tool};
use serde_json::{Value, json};

use crate::args::SEGMENT;
use crate::bindings::exports::mcs::tools::tools::{ToolError, ToolSpec};
use crate::github::{Client, Issue, Page, Repo};

const OWNER: Param = Param {
    name: "owner",
    kind: SEGMENT,
    required: true,
    description: "The account that owns the repository, e.g. \"octocat\".",
};
const REPO: Param = Param {
    name: "repo",
    kind: SEGMENT,
    required: true,
    description: "The repository's name without the owner, e.g. \"hello-world\".",
};
const LIMIT: Param = Param {
    name: "limit",
    kind: Kind::Int { min: 1, max: 100 },
    required: false,
    description: "How many to return, 1 to 100 (default: 30).",
};
const PAGE: Param = Param {
    name: "page",
    kind: Kind::Int { min: 1, max: 1000 },
    required: false,
    description: "Which page of `limit` results, from 1 (default: 1); a result's `next_page` says whether there is another.",
};

/// Every tool, in the order they are listed.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "get_user",
        description: "Show the GitHub account these tools act as. Returns {\"login\", \"name\", \"email\", \"html_url\", \"public_repos\"}.",
        params: &[],
    },
    Tool {
        name: "list_repos",
        description: "List repositories the user can access (owned, collaborator, organisation member). Returns {\"repos\": [{\"full_name\", \"private\", \"description\", \"language\", \"default_branch\", \"open_issues\", \"updated_at\", \"html_url\"}], \"next_page\"}.",
        params: &[
            Param {
                name: "visibility",
                kind: Kind::OneOf(&["all", "public", "private"]),
                required: false,
                description: "Which repositories (default: all).",
            },
            Param {
                name: "sort",
                kind: Kind::OneOf(&["full_name", "created", "updated", "pushed"]),
                required: false,
                description: "Order: by name A-Z, or newest first by creation, last update or last push (default: full_name).",
            },
            LIMIT,
            PAGE,
        ],
    },
    Tool {
        name: "list_issues",
        description: "List a repository's issues, newest first. GitHub counts pull requests as issues; they are marked \"pull_request\": true. Returns {\"issues\": [{\"number\", \"title\", \"state\", \"author\", \"labels\", \"comments\", \"pull_request\", \"created_at\", \"html_url\"}], \"next_page\"}.",
        params: &[
            OWNER,
            REPO,
            Param {
                name: "state",
                kind: Kind::OneOf(&["open", "closed", "all"]),
                required: false,
                description: "Which issues (default: open).",
            },
            LIMIT,
            PAGE,
        ],
    },
    Tool {
        name: "create_issue",
        description: "Open a new issue in a repository. Returns {\"number\", \"title\", \"state\", \"html_url\"}.",
        params: &[
            OWNER,
            REPO,
            Param {
                name: "title",
                kind: Kind::NonBlank,
                required: true,
                description: "The issue's title.",
            },
            Param {
                name: "body",
                kind: Kind::Str,
                required: false,
                description: "The issue's text, in GitHub Markdown (default: none).",
            },
        ],
    },
];

/// The spec of every tool, with its JSON Schema.
pub fn specs() -> Vec<ToolSpec> {
    TOOLS
        .iter()
        .map(|t| ToolSpec {
            name: t.name.into(),
            description: t.description.into(),
            input_schema: guest_tools::schema(t.params).to_string(),
        })
        .collect()
}

/// Runs tool `name` with its JSON arguments; the arguments are checked before GitHub is asked.
pub fn call(name: &str, arguments: &str) -> Result<String, ToolError> {
    let tool = guest_tools::find(TOOLS, name)?;
    let args = Args::parse(name, arguments, tool.params)?;
    let github = Client::from_settings()?;
    let result = match name {
        "get_user" => {
            let user = github.user()?;
            json!({
                "login": user.login, "name": user.name, "email": user.email,
                "html_url": user.html_url, "public_repos": user.public_repos,
            })
        }
        "list_repos" => repos_json(github.repos(
            args.str("visibility").unwrap_or("all"),
            args.str("sort").unwrap_or("full_name"),
            args.int("limit", 30),
            args.int("page", 1),
        )?),
        "list_issues" => issues_json(github.issues(
            args.required("owner")?,
            args.required("repo")?,
            args.str("state").unwrap_or("open"),
            args.int("limit", 30),
            args.int("page", 1),
        )?),
        "create_issue" => {
            let issue = github.create_issue(
                args.required("owner")?,
                args.required("repo")?,
                args.required("title")?,
                args.str("body"),
            )?;
            json!({
                "number": issue.number, "title": issue.title, "state": issue.state,
                "html_url": issue.html_url,
            })
        }
        other => {
            return Err(ToolError::UnknownTool(format!(
                "tool {other:?} is listed but not wired"
            )));
        }
    };
    Ok(result.to_string())
}

fn repos_json(page: Page<Repo>) -> Value {
    let repos: Vec<Value> = page
        .items
        .into_iter()
        .map(|r| {
            json!({
                "full_name": r.full_name, "private": r.private, "description": r.description,
                "language": r.language, "default_branch": r.default_branch,
                "open_issues": r.open_issues_count, "updated_at": r.updated_at,
                "html_url": r.html_url,
            })
        })
        .collect();
    json!({"repos": repos, "next_page": page.next_page})
}

fn issues_json(page: Page<Issue>) -> Value {
    let issues: Vec<Value> = page
        .items
        .into_iter()
        .map(|i| {
            let labels: Vec<String> = i.labels.into_iter().map(|l| l.name).collect();
            json!({
                "number": i.number, "title": i.title, "state": i.state,
                "author": i.user.map(|u| u.login), "labels": labels, "comments": i.comments,
                "pull_request": i.pull_request.is_some(), "created_at": i.created_at,
                "html_url": i.html_url,
            })
        })
        .collect();
    json!({"issues": issues, "next_page": page.next_page})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_lists_its_parameters_and_only_requires_the_required_ones() {
        let specs = specs();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["get_user", "list_repos", "list_issues", "create_issue"]
        );
        for (spec, tool) in specs.iter().zip(TOOLS) {
            let schema: Value = serde_json::from_str(&spec.input_schema).unwrap();
            assert_eq!(schema["type"], "object");
            assert_eq!(schema["additionalProperties"], false);
            let properties = schema["properties"].as_object().unwrap();
            assert_eq!(properties.len(), tool.params.len(), "{}", tool.name);
            for p in tool.params {
                assert_eq!(properties[p.name]["description"], p.description);
            }
        }
        let create: Value = serde_json::from_str(&specs[3].input_schema).unwrap();
        assert_eq!(create["required"], json!(["owner", "repo", "title"]));
        let issues: Value = serde_json::from_str(&specs[2].input_schema).unwrap();
        assert_eq!(
            issues["properties"]["state"]["enum"],
            json!(["open", "closed", "all"])
        );
    }

    #[test]
    fn unknown_tools_and_bad_arguments_fail_before_any_request() {
        // Natively there is no host: reaching GitHub or the settings would panic, so these
        // returning at all shows the checks come first.
        match call("delete_repo", "{}") {
            Err(ToolError::UnknownTool(m)) => assert!(m.contains("available: get_user"), "{m}"),
            other => panic!("{other:?}"),
        }
        let bad = [
            ("get_user", r#"{"login":"x"}"#, "no parameter \"login\""),
            (
                "list_issues",
                r#"{"owner":"a/b","repo":"r"}"#,
                "without '/'",
            ),
            (
                "list_issues",
                r#"{"owner":"o","repo":".."}"#,
                "not \".\" or \"..\"",
            ),
            (
                "list_issues",
                r#"{"owner":"o","repo":"r","state":"merged"}"#,
                "one of",
            ),
            ("list_repos", r#"{"limit":0}"#, "from 1 to 100"),
            (
                "create_issue",
                r#"{"owner":"o","repo":"r"}"#,
                "needs \"title\"",
            ),
        ];
        for (tool, raw, expected) in bad {
            match call(tool, raw) {
                Err(ToolError::InvalidArguments(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("{tool} {raw}: {other:?}"),
            }
        }
    }
}
