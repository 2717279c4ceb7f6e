//! `mcs.toml`: the same settings as the environment, in a file, plus extra tool components.
//!
//! Precedence, highest first: the environment, a `.env` file, `mcs.toml`, the defaults. The
//! file is turned into the environment's names and merged under the real environment, so one
//! parser ([`super::Settings::from_vars`]) validates both. Unknown keys are errors that name
//! the key (serde's `deny_unknown_fields`), so a typo never silently does nothing.
//!
//! ```toml
//! [auth0]
//! domain = "example.us.auth0.com"
//! client_id = "…"
//! client_secret = "…"          # better: AUTH0_CLIENT_SECRET in the environment
//! audience = "https://api.example.com"
//!
//! [linkauth]
//! broker_url = "https://broker.linkauth.io"
//! api_key = "…"
//! proxy = false
//!
//! [gmail]
//! base_url = "https://gmail.googleapis.com"
//! connection_scopes = ["https://mail.google.com/"]
//!
//! [tokens]                      # static tokens, when [auth0] is absent
//! gmail = "…"
//!
//! [connections.github]          # Token Vault, for another scope than gmail
//! connection = "github"         # the Auth0 connection (default: the provider's built-in map)
//! scopes = ["repo", "read:user"] # what its Connected Accounts step asks for
//!
//! [[component]]                 # an extra tool component
//! name = "github"
//! path = "github_tool.wasm"     # relative to this file
//! allowed_outbound_hosts = ["https://api.github.com"]
//! credentials = { github = ["https://api.github.com"] }
//! settings = { github-base-url = "https://api.github.com" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// The file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    auth0: Option<Auth0Section>,
    linkauth: Option<LinkAuthSection>,
    gmail: Option<GmailSection>,
    #[serde(default)]
    tokens: BTreeMap<String, String>,
    #[serde(default)]
    connections: BTreeMap<String, ConnectionSection>,
    #[serde(default, rename = "component")]
    components: Vec<ComponentSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth0Section {
    domain: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkAuthSection {
    broker_url: Option<String>,
    api_key: Option<String>,
    #[serde(default)]
    proxy: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GmailSection {
    base_url: Option<String>,
    connection_scopes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionSection {
    connection: Option<String>,
    scopes: Option<Vec<String>>,
}

/// An extra tool component, as the file describes it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ComponentSection {
    /// Its name (and key-value namespace).
    pub name: String,
    /// Its `.wasm`, relative to the file.
    pub path: PathBuf,
    /// Where it may send requests.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// Per scope, where its token may be sent.
    #[serde(default)]
    pub credentials: BTreeMap<String, Vec<String>>,
    /// Its `wasi:config` settings.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Key-value buckets it may open (default: `default`).
    pub buckets: Option<Vec<String>>,
}

impl FileConfig {
    /// Parses `text`, read from `path` (named in errors).
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`] with the line and the offending key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for c in &mut config.components {
            if c.path.is_relative() {
                c.path = base.join(&c.path);
            }
        }
        Ok(config)
    }

    /// The settings as environment variables (lower precedence than the real ones).
    pub fn to_vars(&self) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                vars.push((k.to_owned(), v.clone()));
            }
        };
        if let Some(a) = &self.auth0 {
            put("AUTH0_DOMAIN", Some(&a.domain));
            put("AUTH0_CLIENT_ID", a.client_id.as_ref());
            put("AUTH0_CLIENT_SECRET", a.client_secret.as_ref());
            put("AUTH0_AUDIENCE", a.audience.as_ref());
            put("MCS_AUTH0_BASE_URL", a.base_url.as_ref());
        }
        if let Some(l) = &self.linkauth {
            put("LINKAUTH_BROKER_URL", l.broker_url.as_ref());
            put("LINKAUTH_API_KEY", l.api_key.as_ref());
            if l.proxy {
                put("MCS_LINKAUTH_PROXY", Some(&"true".to_owned()));
            }
        }
        if let Some(g) = &self.gmail {
            put("MCS_GMAIL_BASE_URL", g.base_url.as_ref());
            put(
                "MCS_GMAIL_CONNECTION_SCOPES",
                g.connection_scopes.as_ref().map(|s| s.join(" ")).as_ref(),
            );
        }
        let var = |prefix: &str, scope: &str| {
            format!("{prefix}{}", scope.to_ascii_uppercase().replace('-', "_"))
        };
        for (scope, token) in &self.tokens {
            put(&var("MCS_TOKEN_", scope), Some(token));
        }
        for (scope, c) in &self.connections {
            put(&var("MCS_CONNECTION_", scope), c.connection.as_ref());
            put(
                &var("MCS_CONNECTION_SCOPES_", scope),
                c.scopes.as_ref().map(|s| s.join(" ")).as_ref(),
            );
        }
        vars
    }

    /// The extra tool components.
    pub fn components(&self) -> &[ComponentSection] {
        &self.components
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_become_the_environments_names() {
        let c = FileConfig::parse(
            Path::new("/etc/mcs/mcs.toml"),
            r#"
            [auth0]
            domain = "acme.us.auth0.com"
            client_id = "cid"
            [linkauth]
            broker_url = "https://broker.example"
            proxy = true
            [gmail]
            connection_scopes = ["https://mail.google.com/", "openid"]
            [tokens]
            google-drive = "t"
            [connections.github]
            scopes = ["repo", "read:user"]
            [connections.jira-cloud]
            connection = "atlassian"
            [[component]]
            name = "github"
            path = "github.wasm"
            allowed_outbound_hosts = ["https://api.github.com"]
            credentials = { github = ["https://api.github.com"] }
            "#,
        )
        .unwrap();
        let vars = c.to_vars();
        for want in [
            ("AUTH0_DOMAIN", "acme.us.auth0.com"),
            ("AUTH0_CLIENT_ID", "cid"),
            ("LINKAUTH_BROKER_URL", "https://broker.example"),
            ("MCS_LINKAUTH_PROXY", "true"),
            (
                "MCS_GMAIL_CONNECTION_SCOPES",
                "https://mail.google.com/ openid",
            ),
            ("MCS_TOKEN_GOOGLE_DRIVE", "t"),
            ("MCS_CONNECTION_SCOPES_GITHUB", "repo read:user"),
            ("MCS_CONNECTION_JIRA_CLOUD", "atlassian"),
        ] {
            assert!(
                vars.contains(&(want.0.into(), want.1.into())),
                "{want:?} in {vars:?}"
            );
        }
        assert_eq!(
            c.components()[0].path,
            PathBuf::from("/etc/mcs/github.wasm")
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let err = FileConfig::parse(
            Path::new("mcs.toml"),
            "[auth0]\ndomain = \"x\"\nclient_secrte = \"s\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("mcs.toml") && err.contains("client_secrte") && err.contains("line 3"),
            "{err}"
        );
    }
}
