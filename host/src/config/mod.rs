//! Settings for the shipped components, from the environment.
//!
//! Recognised variables:
//! - `MCS_GMAIL_BASE_URL`: where the Gmail API is (default `https://gmail.googleapis.com`);
//!   the mail component's egress policy allows exactly that origin.
//! - `MCS_TOKEN_<SCOPE>`: a static token for a scope (e.g. `MCS_TOKEN_GMAIL`); the
//!   credential provider serves it as is.
//! - `AUTH0_DOMAIN`, `AUTH0_CLIENT_ID`, `AUTH0_CLIENT_SECRET`, `AUTH0_AUDIENCE`,
//!   `LINKAUTH_BROKER_URL`, `LINKAUTH_API_KEY` (the reference stack's names): with
//!   `AUTH0_DOMAIN` set, the provider runs Auth0 Token Vault with LinkAuth sign-in.
//!   `MCS_AUTH0_BASE_URL` reaches the tenant elsewhere (the sandbox), `MCS_LINKAUTH_PROXY=true`
//!   sends Auth0 calls through the broker's proxy, and `MCS_GMAIL_CONNECTION_SCOPES` sets the
//!   Google scopes requested when connecting Gmail (default `https://mail.google.com/`).
//! - `MCS_CONNECTION_<SCOPE>` and `MCS_CONNECTION_SCOPES_<SCOPE>` (Token Vault): the Auth0
//!   connection of another scope (default: the provider's built-in map, e.g. `github` →
//!   `github`) and the upstream scopes its Connected Accounts step asks for, space-separated
//!   (e.g. `MCS_CONNECTION_SCOPES_GITHUB="repo read:user"`).
//!
//! Secrets read here go to the credential-provider component's settings only; no tool
//! component ever receives them.

pub mod file;

use std::fmt;
use std::path::PathBuf;

use url::Url;

use crate::ComponentConfig;
use crate::egress::policy::origin;
use crate::guests;

/// Gmail's API origin.
pub const GMAIL_ORIGIN: &str = "https://gmail.googleapis.com";

/// Name of the mail tool component (also its key-value namespace).
pub const MAIL_COMPONENT: &str = "mail";

/// Name of the credential-provider component (also its key-value namespace).
pub const AUTH_COMPONENT: &str = "auth";

/// Upstream scopes requested when connecting Gmail through Connected Accounts.
pub const DEFAULT_GMAIL_CONNECTION_SCOPES: &str = "https://mail.google.com/";

/// Settings of the shipped components.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Base URL of the Gmail API.
    pub gmail_base_url: Url,
    /// Static tokens by scope.
    pub static_tokens: Vec<(String, String)>,
    /// Auth0 Token Vault, when configured.
    pub token_vault: Option<TokenVault>,
}

/// Settings of Token Vault mode.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenVault {
    /// The tenant domain.
    pub domain: String,
    /// Where the tenant is reached (normally `https://{domain}`).
    pub base_url: Url,
    /// The Regular Web Application's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The API audience requested at login.
    pub audience: Option<String>,
    /// The LinkAuth broker.
    pub broker_url: Option<Url>,
    /// `X-API-Key` for the broker.
    pub broker_api_key: Option<String>,
    /// Reach Auth0 through the broker's proxy.
    pub via_proxy: bool,
    /// Google scopes for connecting Gmail.
    pub gmail_connection_scopes: String,
    /// Per other scope (e.g. `github`): its Auth0 connection, when not the built-in one.
    pub connections: Vec<(String, String)>,
    /// Per other scope: the upstream scopes its Connected Accounts step asks for.
    pub connection_scopes: Vec<(String, String)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scopes: Vec<&str> = self.static_tokens.iter().map(|(s, _)| s.as_str()).collect();
        f.debug_struct("Settings")
            .field("gmail_base_url", &self.gmail_base_url.as_str())
            .field("static_tokens", &format_args!("<redacted: {scopes:?}>"))
            .field("token_vault", &self.token_vault)
            .finish()
    }
}

impl fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVault")
            .field("domain", &self.domain)
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audience", &self.audience)
            .field("broker_url", &self.broker_url.as_ref().map(Url::as_str))
            .field(
                "broker_api_key",
                &self.broker_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("via_proxy", &self.via_proxy)
            .finish()
    }
}

/// A setting that is present but wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL setting does not parse or is not http(s).
    #[error("{key} = {value:?} is not an http:// or https:// URL")]
    BadUrl {
        /// The variable.
        key: String,
        /// Its value.
        value: String,
    },
    /// `mcs.toml` does not parse, or has a key it does not know.
    #[error("{path}: {message}", path = path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and the key.
        message: String,
    },
    /// A setting that Token Vault mode needs is missing.
    #[error("{key} is not set; Token Vault mode (AUTH0_DOMAIN is set) needs it")]
    Missing {
        /// The variable.
        key: &'static str,
    },
}

impl Settings {
    /// Reads settings from `vars` (e.g. `std::env::vars()`).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the variable and what is wrong with it.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: std::collections::BTreeMap<String, String> =
            vars.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let get = |k: &str| vars.get(k).cloned();
        let url = |k: &str| get(k).map(|v| parse_http_url(k, &v)).transpose();
        // `<PREFIX><SCOPE>` variables, by scope (`GOOGLE_DRIVE` → `google-drive`), sorted.
        let by_scope = |prefix: &str| -> Vec<(String, String)> {
            vars.iter()
                .filter_map(|(k, v)| {
                    let scope = k.strip_prefix(prefix).filter(|s| !s.is_empty())?;
                    Some((scope.to_ascii_lowercase().replace('_', "-"), v.clone()))
                })
                .collect()
        };
        let static_tokens = by_scope("MCS_TOKEN_");
        let token_vault = match get("AUTH0_DOMAIN") {
            None => None,
            Some(domain) => {
                let domain = domain
                    .trim_start_matches("https://")
                    .trim_end_matches('/')
                    .to_owned();
                let require = |key: &'static str| get(key).ok_or(ConfigError::Missing { key });
                Some(TokenVault {
                    base_url: match url("MCS_AUTH0_BASE_URL")? {
                        Some(u) => u,
                        None => parse_http_url("AUTH0_DOMAIN", &format!("https://{domain}"))?,
                    },
                    domain,
                    client_id: require("AUTH0_CLIENT_ID")?,
                    client_secret: require("AUTH0_CLIENT_SECRET")?,
                    audience: get("AUTH0_AUDIENCE"),
                    broker_url: url("LINKAUTH_BROKER_URL")?,
                    broker_api_key: get("LINKAUTH_API_KEY"),
                    via_proxy: get("MCS_LINKAUTH_PROXY").is_some_and(|v| v == "true" || v == "1"),
                    gmail_connection_scopes: get("MCS_GMAIL_CONNECTION_SCOPES")
                        .unwrap_or_else(|| DEFAULT_GMAIL_CONNECTION_SCOPES.to_owned()),
                    connections: by_scope("MCS_CONNECTION_")
                        .into_iter()
                        .filter(|(scope, _)| !scope.starts_with("scopes-"))
                        .collect(),
                    connection_scopes: by_scope("MCS_CONNECTION_SCOPES_"),
                })
            }
        };
        Ok(Self {
            gmail_base_url: match url("MCS_GMAIL_BASE_URL")? {
                Some(u) => u,
                None => parse_http_url("MCS_GMAIL_BASE_URL", GMAIL_ORIGIN)?,
            },
            static_tokens,
            token_vault,
        })
    }

    /// The credential-provider component, configured.
    pub fn auth_component(&self) -> ComponentConfig {
        let config = ComponentConfig::new(AUTH_COMPONENT, guests::GUEST_AUTH_COMPONENT_BYTES);
        match &self.token_vault {
            Some(tv) => tv.apply(config),
            None => {
                let mut config = config.setting("mode", "static");
                for (scope, token) in &self.static_tokens {
                    config = config.setting(format!("token.{scope}"), token.clone());
                }
                config
            }
        }
    }

    /// The mail tool component, configured; it may reach the Gmail origin only.
    pub fn mail_component(&self) -> ComponentConfig {
        let base = self
            .gmail_base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let origin = origin(&self.gmail_base_url);
        ComponentConfig::new(MAIL_COMPONENT, guests::GUEST_MAIL_COMPONENT_BYTES)
            .allow(origin.clone())
            .credential("gmail", [origin])
            .setting("gmail-base-url", base)
    }
}

impl TokenVault {
    /// Adds the provider settings and egress of Token Vault mode to `config`: the tenant
    /// (unless proxied) and the broker, nothing else.
    pub fn apply(&self, mut config: ComponentConfig) -> ComponentConfig {
        config = config
            .setting("mode", "token-vault")
            .setting("auth0-domain", self.domain.clone())
            .setting(
                "auth0-base-url",
                self.base_url.as_str().trim_end_matches('/'),
            )
            .setting("auth0-client-id", self.client_id.clone())
            .setting("auth0-client-secret", self.client_secret.clone())
            .setting(
                "connection-scopes.gmail",
                self.gmail_connection_scopes.clone(),
            );
        for (scope, connection) in &self.connections {
            config = config.setting(format!("connection.{scope}"), connection.clone());
        }
        for (scope, scopes) in &self.connection_scopes {
            config = config.setting(format!("connection-scopes.{scope}"), scopes.clone());
        }
        if let Some(audience) = &self.audience {
            config = config.setting("auth0-audience", audience.clone());
        }
        if let Some(broker) = &self.broker_url {
            config = config
                .setting("linkauth-broker-url", broker.as_str().trim_end_matches('/'))
                .allow(origin(broker));
        }
        if let Some(key) = &self.broker_api_key {
            config = config.setting("linkauth-api-key", key.clone());
        }
        if self.via_proxy {
            config.setting("linkauth-proxy", "true")
        } else {
            config.allow(origin(&self.base_url))
        }
    }
}

fn parse_http_url(key: &str, value: &str) -> Result<Url, ConfigError> {
    let bad = || ConfigError::BadUrl {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    let url = Url::parse(value).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn gmail_defaults_to_googles_origin() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.gmail_base_url.as_str(), "https://gmail.googleapis.com/");
        assert_eq!(
            s.mail_component().allowed_outbound_hosts,
            ["https://gmail.googleapis.com:443"]
        );
    }

    #[test]
    fn mail_may_reach_only_the_configured_base_origin() {
        let s =
            Settings::from_vars(vars(&[("MCS_GMAIL_BASE_URL", "http://127.0.0.1:4567/")])).unwrap();
        let mail = s.mail_component();
        assert_eq!(mail.allowed_outbound_hosts, ["http://127.0.0.1:4567"]);
        assert!(
            mail.settings
                .contains(&("gmail-base-url".into(), "http://127.0.0.1:4567".into()))
        );
    }

    #[test]
    fn static_tokens_go_to_the_provider_only() {
        let s = Settings::from_vars(vars(&[("MCS_TOKEN_GMAIL", "tok-123")])).unwrap();
        assert!(
            s.auth_component()
                .settings
                .contains(&("token.gmail".into(), "tok-123".into()))
        );
        assert!(
            !s.mail_component()
                .settings
                .iter()
                .any(|(_, v)| v == "tok-123")
        );
        assert!(!format!("{s:?}").contains("tok-123"));
    }

    #[test]
    fn auth0_domain_selects_token_vault_with_tenant_and_broker_egress_only() {
        let s = Settings::from_vars(vars(&[
            ("AUTH0_DOMAIN", "acme.us.auth0.com"),
            ("AUTH0_CLIENT_ID", "cid"),
            ("AUTH0_CLIENT_SECRET", "csecret"),
            ("LINKAUTH_BROKER_URL", "https://broker.example"),
            ("MCS_TOKEN_GMAIL", "ignored-in-token-vault-mode"),
        ]))
        .unwrap();
        let auth = s.auth_component();
        assert!(
            auth.settings
                .contains(&("mode".into(), "token-vault".into()))
        );
        assert!(
            auth.settings
                .contains(&("auth0-base-url".into(), "https://acme.us.auth0.com".into()))
        );
        assert_eq!(
            auth.allowed_outbound_hosts,
            [
                "https://broker.example:443",
                "https://acme.us.auth0.com:443"
            ]
        );
        assert!(!format!("{s:?}").contains("csecret"));
    }

    #[test]
    fn other_scopes_get_their_connection_and_connected_accounts_scopes() {
        let s = Settings::from_vars(vars(&[
            ("AUTH0_DOMAIN", "acme.us.auth0.com"),
            ("AUTH0_CLIENT_ID", "cid"),
            ("AUTH0_CLIENT_SECRET", "csecret"),
            ("MCS_CONNECTION_SCOPES_GITHUB", "repo read:user"),
            ("MCS_CONNECTION_JIRA_CLOUD", "atlassian"),
        ]))
        .unwrap();
        let settings = s.auth_component().settings;
        for want in [
            ("connection-scopes.github", "repo read:user"),
            ("connection.jira-cloud", "atlassian"),
        ] {
            assert!(
                settings.contains(&(want.0.into(), want.1.into())),
                "{want:?} in {settings:?}"
            );
        }
        assert!(
            !settings
                .iter()
                .any(|(k, _)| k.starts_with("connection.scopes")),
            "{settings:?}"
        );
    }

    #[test]
    fn proxy_mode_reaches_only_the_broker() {
        let s = Settings::from_vars(vars(&[
            ("AUTH0_DOMAIN", "acme.us.auth0.com"),
            ("AUTH0_CLIENT_ID", "cid"),
            ("AUTH0_CLIENT_SECRET", "csecret"),
            ("LINKAUTH_BROKER_URL", "https://broker.example"),
            ("MCS_LINKAUTH_PROXY", "true"),
        ]))
        .unwrap();
        assert_eq!(
            s.auth_component().allowed_outbound_hosts,
            ["https://broker.example:443"]
        );
    }

    #[test]
    fn token_vault_without_client_secret_names_the_variable() {
        let err = Settings::from_vars(vars(&[
            ("AUTH0_DOMAIN", "a.auth0.com"),
            ("AUTH0_CLIENT_ID", "x"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("AUTH0_CLIENT_SECRET is not set"),
            "{err}"
        );
    }

    #[test]
    fn bad_url_names_the_variable() {
        let err = Settings::from_vars(vars(&[("MCS_GMAIL_BASE_URL", "ftp://x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MCS_GMAIL_BASE_URL = \"ftp://x\" is not an http:// or https:// URL"
        );
    }
}
