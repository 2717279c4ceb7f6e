//! The example GitHub tool component (`examples/github-tool`) through the real host and the real
//! credential provider in Token Vault mode: a second service added by configuration alone, with
//! its own Auth0 connection, its own token and its own egress, next to Gmail. Tests of the
//! example's tools, its errors and how it shares the provider with other components go here.

use std::sync::Arc;

use mcs_host::egress::DenialReason;
use mcs_host::kv::Backend;
use mcs_host::{AuthError, CallError, ComponentConfig, Runtime, ToolError};
use mcs_sandbox::{CreatedIssue, FakeGitHub, RecordedRequest};
use mcs_tests::sandbox::Sandbox;
use mcs_tests::{Denials, builder, github_component, mail_component, pretty};
use serde_json::{Value, json};

/// The GitHub scopes the provider asks for when it connects the account.
const GITHUB_SCOPES: &str = "repo read:user";

/// The sandbox plus a fake GitHub accepting the token Token Vault issues for connection `github`.
struct World {
    sb: Sandbox,
    github: FakeGitHub,
}

impl World {
    fn start() -> Self {
        let sb = Sandbox::start();
        let token = sb.auth0.config().access_token("github");
        let github = FakeGitHub::start(&token).expect("fake github");
        Self { sb, github }
    }

    /// Signed in, Gmail connected, and GitHub connected too when `github` is true.
    fn signed_in(&self, github: bool) {
        self.sb.signed_in();
        if github {
            self.sb.auth0.connect_account("github");
        }
    }

    /// The token Token Vault issues for connection `github`.
    fn github_token(&self) -> String {
        self.sb.auth0.config().access_token("github")
    }

    /// A fresh runtime (a new "process") over the shared store: the provider in Token Vault
    /// mode, able to connect GitHub, and `tools`.
    async fn runtime(
        &self,
        tools: impl IntoIterator<Item = ComponentConfig>,
        denials: &Denials,
    ) -> Runtime {
        let provider = self
            .sb
            .auth_component()
            .setting("connection-scopes.github", GITHUB_SCOPES);
        let mut b = builder()
            .provider(provider)
            .kv_backend(Arc::clone(&self.sb.kv) as Arc<dyn Backend>)
            .on_denied(denials.handler());
        for tool in tools {
            b = b.tool(tool);
        }
        b.build().await.expect("runtime builds")
    }

    /// A runtime with only the GitHub tools.
    async fn github_runtime(&self) -> Runtime {
        self.runtime([github_component(&self.github)], &Denials::default())
            .await
    }

    /// The connections the Token Vault exchanges since `auth0_mark` asked for, in order.
    fn exchanges_since(&self, auth0_mark: usize) -> Vec<String> {
        self.sb.auth0.requests()[auth0_mark..]
            .iter()
            .filter_map(RecordedRequest::json)
            .filter(|body| {
                body["grant_type"]
                    .as_str()
                    .is_some_and(|g| g.ends_with("federated-connection-access-token"))
            })
            .map(|body| body["connection"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Calls `tool` and parses its JSON result; panics with the error otherwise.
async fn call(rt: &Runtime, tool: &str, args: Value) -> Value {
    match rt.call_tool(tool, &args.to_string()).await {
        Ok(out) => serde_json::from_str(&out).unwrap_or_else(|e| panic!("{tool}: {e}: {out}")),
        Err(e) => panic!("{tool} {args} failed: {e:?}"),
    }
}

/// The `invalid-arguments` text of a call that must be refused.
async fn invalid(rt: &Runtime, tool: &str, args: &str) -> String {
    match rt.call_tool(tool, args).await {
        Err(CallError::Tool(ToolError::InvalidArguments(m))) => m,
        other => panic!("{tool} {args}: expected invalid-arguments, got {other:?}"),
    }
}

/// The `upstream` text of a call that GitHub must refuse.
async fn upstream(rt: &Runtime, tool: &str, args: Value) -> String {
    match rt.call_tool(tool, &args.to_string()).await {
        Err(CallError::Tool(ToolError::Upstream(m))) => m,
        other => panic!("{tool} {args}: expected upstream, got {other:?}"),
    }
}

fn strings(values: &Value, key: &str) -> Vec<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {values}"))
        .iter()
        .map(|v| match &v[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn signed_in_and_connected_the_tools_reach_github_with_the_vault_token() {
    let w = World::start();
    w.signed_in(true);
    let auth0_mark = w.sb.auth0.requests().len();
    let rt = w.github_runtime().await;

    let names: Vec<&str> = rt.tools().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["get_user", "list_repos", "list_issues", "create_issue"]
    );
    let create = rt.tools().find(|t| t.name == "create_issue").unwrap();
    assert_eq!(
        create.input_schema["required"],
        json!(["owner", "repo", "title"])
    );

    let user = call(&rt, "get_user", json!({})).await;
    assert_eq!(
        user,
        json!({"login": "sandbox-octocat", "name": "Sandbox Octocat",
               "email": "octocat@sandbox.test", "html_url": "https://github.com/sandbox-octocat",
               "public_repos": 2}),
        "{}",
        pretty(&user.to_string())
    );

    let first = call(&rt, "list_repos", json!({"limit": 2})).await;
    assert_eq!(
        strings(&first["repos"], "full_name"),
        ["sandbox-octocat/hello-world", "sandbox-octocat/notes"]
    );
    assert_eq!(first["next_page"], 2, "from GitHub's Link header");
    assert_eq!(
        first["repos"][0],
        json!({"full_name": "sandbox-octocat/hello-world", "private": false,
               "description": "My first repository on GitHub.", "language": "Rust",
               "default_branch": "main", "open_issues": 3,
               "updated_at": "2025-03-30T16:00:00Z",
               "html_url": "https://github.com/sandbox-octocat/hello-world"}),
        "a trimmed repository, not GitHub's whole object"
    );
    let last = call(&rt, "list_repos", json!({"limit": 2, "page": 3})).await;
    assert_eq!(strings(&last["repos"], "full_name"), ["sandbox-org/tools"]);
    assert_eq!(last["next_page"], Value::Null);

    let args = json!({"owner": "sandbox-octocat", "repo": "hello-world", "state": "all"});
    let issues = call(&rt, "list_issues", args).await;
    assert_eq!(strings(&issues["issues"], "number"), ["4", "3", "2", "1"]);
    assert_eq!(
        issues["issues"][3],
        json!({"number": 1, "title": "Found a bug", "state": "open", "author": "alice-dev",
               "labels": ["bug"], "comments": 2, "pull_request": false,
               "created_at": "2025-03-02T09:00:00Z",
               "html_url": "https://github.com/sandbox-octocat/hello-world/issues/1"})
    );
    assert_eq!(issues["issues"][1]["pull_request"], true);

    let args = json!({"owner": "sandbox-octocat", "repo": "hello-world",
                      "title": "Crash on empty input", "body": "Steps: run it with no input."});
    let created = call(&rt, "create_issue", args).await;
    assert_eq!(
        created,
        json!({"number": 5, "title": "Crash on empty input", "state": "open",
               "html_url": "https://github.com/sandbox-octocat/hello-world/issues/5"})
    );
    assert_eq!(
        w.github.created_issues(),
        [CreatedIssue {
            repo: "sandbox-octocat/hello-world".into(),
            number: 5,
            title: "Crash on empty input".into(),
            body: Some("Steps: run it with no input.".into()),
        }]
    );

    // What GitHub saw: the real token (the host swapped the handle), GitHub's headers.
    let requests = w.github.requests();
    let lines: Vec<String> = requests.iter().map(|r| r.path_and_query.clone()).collect();
    assert_eq!(
        lines,
        [
            "/user",
            "/user/repos?visibility=all&sort=full_name&per_page=2&page=1",
            "/user/repos?visibility=all&sort=full_name&per_page=2&page=3",
            "/repos/sandbox-octocat/hello-world/issues?state=all&per_page=30&page=1",
            "/repos/sandbox-octocat/hello-world/issues",
        ]
    );
    let bearer = format!("Bearer {}", w.github_token());
    for r in &requests {
        assert_eq!(
            r.authorization.as_deref(),
            Some(bearer.as_str()),
            "{}",
            r.line()
        );
    }
    for h in w.github.api_headers() {
        assert_eq!(h.accept.as_deref(), Some("application/vnd.github+json"));
        assert_eq!(h.api_version.as_deref(), Some("2022-11-28"));
        assert!(
            h.user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("mcs-github-tool/")),
            "{h:?}"
        );
    }
    // One exchange for connection `github`; the five calls share the cached grant.
    assert_eq!(w.exchanges_since(auth0_mark), ["github"]);
    assert!(w.sb.gmail.requests().is_empty());
}

#[tokio::test]
async fn an_unconnected_github_account_is_connected_through_a_challenge_then_the_tool_runs() {
    let w = World::start();
    w.sb.seed_agent_key();
    w.signed_in(false);
    let auth0_mark = w.sb.auth0.requests().len();

    let challenge = match w.github_runtime().await.call_tool("list_repos", "{}").await {
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => c,
        other => panic!("expected the Connected Accounts challenge, got {other:?}"),
    };
    assert_eq!(challenge.scope, "github:connect");
    assert!(
        challenge
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with(&w.sb.broker.base_url())),
        "{challenge:?}"
    );
    assert_eq!(
        w.exchanges_since(auth0_mark),
        ["github"],
        "the exchange that found no account"
    );
    let connect =
        w.sb.auth0
            .requests()
            .into_iter()
            .find(|r| r.line() == "POST /me/v1/connected-accounts/connect")
            .and_then(|r| r.json())
            .expect("Connected Accounts started");
    assert_eq!(connect["connection"], "github");
    assert_eq!(connect["scopes"], json!(["repo", "read:user"]));
    assert!(w.github.requests().is_empty(), "no token, no request");
    assert!(!w.sb.auth0.is_connected("github"));

    w.sb.approve(&challenge).await;
    let auth0_mark = w.sb.auth0.requests().len();
    let rt = w.github_runtime().await;
    let repos = call(&rt, "list_repos", json!({"visibility": "private"})).await;
    assert_eq!(
        strings(&repos["repos"], "full_name"),
        ["sandbox-octocat/notes", "sandbox-org/infra"]
    );
    assert!(w.sb.auth0.is_connected("github"));
    assert!(w.sb.auth0.is_connected("google-oauth2"), "Gmail untouched");
    assert_eq!(w.exchanges_since(auth0_mark), ["github"]);
    let bearer = format!("Bearer {}", w.github_token());
    assert_eq!(
        w.github.requests()[0].authorization.as_deref(),
        Some(bearer.as_str())
    );
}

#[tokio::test]
async fn gmail_and_github_share_one_provider_and_neither_token_goes_to_the_other() {
    let w = World::start();
    w.signed_in(true);
    let auth0_mark = w.sb.auth0.requests().len();
    let denials = Denials::default();
    let both = [mail_component(&w.sb.gmail), github_component(&w.github)];
    let rt = w.runtime(both, &denials).await;
    let names: Vec<&str> = rt.tools().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"list_folders") && names.contains(&"list_repos"),
        "{names:?}"
    );

    let folders = call(&rt, "list_folders", json!({})).await;
    assert!(folders.to_string().contains("\"Work\""), "{folders}");
    let repos = call(&rt, "list_repos", json!({"limit": 1})).await;
    assert_eq!(
        repos["repos"][0]["full_name"],
        "sandbox-octocat/hello-world"
    );

    // One provider, one exchange per connection, one token each, each only where it belongs.
    assert_eq!(w.exchanges_since(auth0_mark), ["google-oauth2", "github"]);
    let google = format!("Bearer {}", w.sb.auth0.config().google_access_token);
    let github = format!("Bearer {}", w.github_token());
    assert_ne!(google, github);
    for r in w.sb.gmail.requests() {
        assert_eq!(
            r.authorization.as_deref(),
            Some(google.as_str()),
            "{}",
            r.line()
        );
    }
    for r in w.github.requests() {
        assert_eq!(
            r.authorization.as_deref(),
            Some(github.as_str()),
            "{}",
            r.line()
        );
    }
    let cached = |scope: &str| w.sb.stored(&format!("at:{scope}")).unwrap_or_default();
    assert!(cached("gmail").contains(&w.sb.auth0.config().google_access_token));
    assert!(cached("github").contains(&w.github_token()));
    assert!(denials.all().is_empty(), "{:?}", denials.all());

    // A GitHub component misconfigured (or subverted) to send its requests to the Gmail
    // origin: it may connect there, but its `github` handle may only go to GitHub.
    let gmail_origin = w.sb.gmail.base_url();
    let misdirected =
        ComponentConfig::new("github", mcs_tests::programs::GITHUB_TOOL_COMPONENT_BYTES)
            .allow(w.github.base_url())
            .allow(gmail_origin.clone())
            .credential("github", [w.github.base_url()])
            .setting("github-base-url", gmail_origin.clone());
    let rt = w
        .runtime([mail_component(&w.sb.gmail), misdirected], &denials)
        .await;
    let gmail_seen = w.sb.gmail.requests().len();
    let message = upstream(&rt, "list_repos", json!({})).await;
    assert!(message.contains("egress policy"), "{message}");
    let all = denials.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].component, "github");
    assert_eq!(all[0].destination, gmail_origin);
    assert_eq!(
        all[0].reason,
        DenialReason::CredentialMisdirected {
            scope: "github".into()
        }
    );
    assert_eq!(
        w.sb.gmail.requests().len(),
        gmail_seen,
        "the request never left the host"
    );
    // The mail component next to it is unaffected.
    call(&rt, "list_folders", json!({})).await;
    assert!(
        w.sb.gmail
            .requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(google.as_str())),
        "Gmail never saw the GitHub token"
    );
}

#[tokio::test]
async fn bad_arguments_are_invalid_arguments_before_any_token_or_request() {
    // Not even signed in: a bad call must fail on its arguments, not with a sign-in challenge.
    let w = World::start();
    w.sb.seed_agent_key();
    let rt = w.github_runtime().await;
    let cases = [
        (
            "get_user",
            r#"{"verbose":true}"#,
            "no parameter \"verbose\"",
        ),
        (
            "list_repos",
            r#"{"limit":0}"#,
            "\"limit\" of \"list_repos\" must be an integer from 1 to 100, got 0",
        ),
        ("list_repos", r#"{"limit":"lots"}"#, "must be an integer"),
        (
            "list_repos",
            r#"{"sort":"stars"}"#,
            "must be one of [full_name, created, updated, pushed]",
        ),
        (
            "list_issues",
            r#"{"owner":"sandbox-octocat/hello-world","repo":"x"}"#,
            "without '/'",
        ),
        (
            "list_issues",
            r#"{"owner":"..","repo":"user"}"#,
            "not \".\" or \"..\"",
        ),
        (
            "list_issues",
            r#"{"owner":"sandbox-octocat","repo":""}"#,
            "\"repo\" of \"list_issues\" must not be empty",
        ),
        (
            "list_issues",
            r#"{"owner":"sandbox-octocat"}"#,
            "needs \"repo\"",
        ),
        (
            "list_issues",
            r#"{"owner":"a","repo":"b","state":"merged"}"#,
            "one of [open, closed, all]",
        ),
        (
            "create_issue",
            r#"{"owner":"a","repo":"b"}"#,
            "needs \"title\"",
        ),
        (
            "create_issue",
            r#"{"owner":"a","repo":"b","title":"  "}"#,
            "\"title\" of \"create_issue\" must not be empty",
        ),
        (
            "create_issue",
            r#"{"owner":"a","repo":"b","title":"t","labels":["x"]}"#,
            "no parameter \"labels\"",
        ),
        ("create_issue", r#"["a","b"]"#, "must be a JSON object"),
        ("create_issue", "{title", "not valid JSON"),
    ];
    for (tool, args, expected) in cases {
        let message = invalid(&rt, tool, args).await;
        assert!(message.contains(expected), "{tool} {args}: {message}");
    }
    assert!(w.sb.auth0.requests().is_empty(), "no token was asked for");
    assert!(w.sb.broker.requests().is_empty(), "no sign-in was started");
    assert!(w.github.requests().is_empty(), "GitHub heard nothing");

    // The same runtime with good arguments does go for a token (and finds no sign-in).
    match rt.call_tool("list_repos", "{}").await {
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => {
            assert_eq!(c.scope, "github");
        }
        other => panic!("expected the sign-in challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_github_401_gets_a_fresh_token_once_and_github_messages_reach_the_caller() {
    let w = World::start();
    w.signed_in(true);
    let rt = w.github_runtime().await;
    call(&rt, "get_user", json!({})).await;
    let bad_credentials = r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#;

    // One 401: invalidate, a fresh exchange, the retry succeeds.
    let (auth0_mark, github_mark) = (w.sb.auth0.requests().len(), w.github.requests().len());
    w.github.fail_next(
        401,
        &[("content-type", "application/json")],
        bad_credentials,
    );
    let issues = call(
        &rt,
        "list_issues",
        json!({"owner": "sandbox-org", "repo": "tools"}),
    )
    .await;
    assert_eq!(strings(&issues["issues"], "title"), ["CI is flaky"]);
    assert_eq!(w.exchanges_since(auth0_mark), ["github"], "a fresh token");
    assert_eq!(
        w.github.requests().len() - github_mark,
        2,
        "the 401 and the retry"
    );

    // Two 401s: one retry only, then GitHub's message.
    let github_mark = w.github.requests().len();
    for _ in 0..2 {
        w.github.fail_next(
            401,
            &[("content-type", "application/json")],
            bad_credentials,
        );
    }
    let message = upstream(&rt, "get_user", json!({})).await;
    assert_eq!(message, "GitHub answered 401: Bad credentials");
    assert_eq!(w.github.requests().len() - github_mark, 2);

    // GitHub's own refusals pass through with its message.
    let message = upstream(
        &rt,
        "create_issue",
        json!({"owner": "sandbox-octocat", "repo": "no-such-repo", "title": "x"}),
    )
    .await;
    assert_eq!(message, "GitHub answered 404: Not Found");
    let message = upstream(
        &rt,
        "list_issues",
        json!({"owner": "someone-else", "repo": "private-stuff"}),
    )
    .await;
    assert_eq!(message, "GitHub answered 404: Not Found");
    assert!(w.github.created_issues().is_empty());
}
