//! The fake's data: one signed-in user, the repositories they can access and their issues, and
//! the sample every [`super::FakeGitHub`] starts with (described in the module docs).

/// When the sandbox's GitHub clock stands still: issues created through the API get this
/// `created_at`, so results are reproducible.
pub(super) const NOW: &str = "2025-04-01T12:00:00Z";

/// The signed-in user.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) id: u64,
    pub(super) login: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) created_at: &'static str,
}

/// A repository the user can access.
#[derive(Debug, Clone)]
pub(super) struct Repo {
    pub(super) id: u64,
    pub(super) owner: String,
    /// `Organization` or `User`.
    pub(super) owner_type: &'static str,
    pub(super) name: String,
    pub(super) private: bool,
    pub(super) description: Option<&'static str>,
    pub(super) language: Option<&'static str>,
    pub(super) created_at: &'static str,
    pub(super) updated_at: &'static str,
    pub(super) pushed_at: &'static str,
    /// Issues and pull requests, in the order they were opened.
    pub(super) issues: Vec<Issue>,
}

impl Repo {
    pub(super) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Open issues and open pull requests, as GitHub's `open_issues_count` counts them.
    pub(super) fn open_issues(&self) -> usize {
        self.issues.iter().filter(|i| i.state == "open").count()
    }
}

/// An issue, or a pull request (GitHub's issue endpoints serve both).
#[derive(Debug, Clone)]
pub(super) struct Issue {
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) body: Option<String>,
    /// `open` or `closed`.
    pub(super) state: &'static str,
    pub(super) author: String,
    pub(super) labels: Vec<String>,
    pub(super) comments: u64,
    pub(super) pull_request: bool,
    pub(super) created_at: String,
    pub(super) closed_at: Option<&'static str>,
}

/// What the fake serves.
#[derive(Debug, Clone)]
pub(super) struct Account {
    pub(super) user: User,
    pub(super) repos: Vec<Repo>,
}

impl Account {
    /// The repository `owner/name`, matched without regard to case as GitHub does.
    pub(super) fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// Public repositories the user owns.
    pub(super) fn public_repos(&self) -> usize {
        let login = &self.user.login;
        self.repos
            .iter()
            .filter(|r| &r.owner == login && !r.private)
            .count()
    }

    /// The sample account; see the module docs.
    pub(super) fn sample() -> Self {
        let me = "sandbox-octocat";
        let issue = |number, title: &str, state, author: &str, labels: &[&str]| Issue {
            number,
            title: title.to_owned(),
            body: None,
            state,
            author: author.to_owned(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            comments: 0,
            pull_request: false,
            created_at: format!("2025-03-{:02}T09:00:00Z", number * 2),
            closed_at: (state == "closed").then_some("2025-03-20T17:00:00Z"),
        };
        let repo = |id, owner: &str, name: &str, private, description, language| Repo {
            id,
            owner: owner.to_owned(),
            owner_type: if owner == me { "User" } else { "Organization" },
            name: name.to_owned(),
            private,
            description,
            language,
            created_at: "2023-01-10T08:00:00Z",
            updated_at: "2025-03-30T16:00:00Z",
            pushed_at: "2025-03-30T16:00:00Z",
            issues: Vec::new(),
        };
        let hello_world = Repo {
            issues: vec![
                Issue {
                    body: Some("It crashes on empty input.".into()),
                    comments: 2,
                    ..issue(1, "Found a bug", "open", "alice-dev", &["bug"])
                },
                issue(2, "Add a README badge", "closed", me, &["documentation"]),
                Issue {
                    pull_request: true,
                    ..issue(3, "Fix typo in README", "open", "bob-dev", &[])
                },
                issue(
                    4,
                    "Support Windows paths",
                    "open",
                    "carol-dev",
                    &["enhancement", "help wanted"],
                ),
            ],
            created_at: "2020-02-01T10:00:00Z",
            ..repo(
                2001,
                me,
                "hello-world",
                false,
                Some("My first repository on GitHub."),
                Some("Rust"),
            )
        };
        let website = Repo {
            issues: vec![issue(1, "Dark mode", "open", "dave-dev", &["enhancement"])],
            updated_at: "2024-12-24T12:00:00Z",
            pushed_at: "2024-12-24T12:00:00Z",
            ..repo(
                2003,
                me,
                "website",
                false,
                Some("My personal website."),
                Some("HTML"),
            )
        };
        let notes = Repo {
            created_at: "2021-06-10T08:00:00Z",
            updated_at: "2025-01-05T08:00:00Z",
            pushed_at: "2025-01-05T08:00:00Z",
            ..repo(2002, me, "notes", true, Some("Private notes."), None)
        };
        let tools = Repo {
            issues: vec![issue(1, "CI is flaky", "open", "erin-dev", &["ci"])],
            updated_at: "2025-02-14T09:30:00Z",
            pushed_at: "2025-03-29T11:00:00Z",
            ..repo(
                3001,
                "sandbox-org",
                "tools",
                false,
                Some("Shared tooling of sandbox-org."),
                Some("Go"),
            )
        };
        let infra = Repo {
            created_at: "2023-05-05T08:00:00Z",
            updated_at: "2025-03-15T10:00:00Z",
            pushed_at: "2025-03-15T10:00:00Z",
            ..repo(
                3002,
                "sandbox-org",
                "infra",
                true,
                Some("Infrastructure as code."),
                Some("HCL"),
            )
        };
        Self {
            user: User {
                id: 1001,
                login: me.to_owned(),
                name: "Sandbox Octocat".to_owned(),
                email: "octocat@sandbox.test".to_owned(),
                created_at: "2020-01-15T10:00:00Z",
            },
            repos: vec![hello_world, notes, website, tools, infra],
        }
    }
}
