//! The provider's settings, read from `wasi:config` and checked before any request is made.
//!
//! | key | meaning |
//! |---|---|
//! | `mode` | `token-vault` (Auth0 Token Vault), `linkauth` (credentials typed into a LinkAuth form) or `static` |
//! | `token.<scope>` | static mode: the token for a scope |
//! | `auth0-domain` | the tenant, e.g. `example.us.auth0.com` |
//! | `auth0-base-url` | where to reach it (default `https://{domain}`) |
//! | `auth0-client-id`, `auth0-client-secret` | the Regular Web Application's credentials |
//! | `auth0-audience` | API audience requested at login (optional) |
//! | `login-scopes` | scopes requested at login (default `openid profile email offline_access`) |
//! | `connection.<scope>` | Auth0 connection for a scope (defaults: gmail/google/google-calendar/google-drive → google-oauth2, slack, github, microsoft → windowslive) |
//! | `connection-scopes.<scope>` | upstream scopes for the Connected Accounts step, space-separated |
//! | `linkauth-broker-url` | the LinkAuth broker (`https://…`) |
//! | `linkauth-api-key` | sent as `X-API-Key` |
//! | `linkauth-oauth-provider` | the broker's provider id for Auth0 (default `auth0`) |
//! | `linkauth-proxy` | `true`: reach Auth0 through the broker's `/v1/proxy` (for sandboxes without egress to Auth0) |
//! | `linkauth-template.<scope>` | linkauth mode: the form template (default `api_key`) |
//! | `token-field` | which field of a decrypted credential is the token |

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::bindings::wasi::config::store;

/// How tokens are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tokens are settings named `token.<scope>`.
    Static,
    /// Auth0 Token Vault, with LinkAuth for the browser steps.
    TokenVault,
    /// A credential the user types into a LinkAuth form, kept until invalidated.
    LinkAuth,
}

/// The settings of the current mode.
#[derive(Debug)]
pub struct Settings {
    /// The mode in force.
    pub mode: Mode,
}

impl Settings {
    /// Reads the mode.
    pub fn load() -> Result<Self, AuthError> {
        let mode = match get("mode")?.as_deref() {
            None | Some("static") => Mode::Static,
            Some("token-vault") => Mode::TokenVault,
            Some("linkauth") => Mode::LinkAuth,
            Some(other) => {
                return Err(AuthError::Misconfigured(format!(
                    "unknown provider mode {other:?}; supported: \"token-vault\", \"linkauth\", \"static\""
                )));
            }
        };
        Ok(Self { mode })
    }
}

/// Settings of the LinkAuth broker.
#[derive(Debug, Clone)]
pub struct Broker {
    /// Base URL without a trailing slash.
    pub url: String,
    /// `X-API-Key`, if the broker wants one.
    pub api_key: Option<String>,
    /// The broker's provider id for Auth0.
    pub oauth_provider: String,
    /// Which field of a decrypted credential is the token, when set.
    pub token_field: Option<String>,
}

impl Broker {
    /// Reads and checks the broker settings.
    pub fn load() -> Result<Self, AuthError> {
        Ok(Self {
            url: require(
                "linkauth-broker-url",
                "the LinkAuth broker's URL, e.g. https://broker.linkauth.io",
            )?
            .trim_end_matches('/')
            .to_owned(),
            api_key: get("linkauth-api-key")?,
            oauth_provider: get("linkauth-oauth-provider")?.unwrap_or_else(|| "auth0".into()),
            token_field: get("token-field")?,
        })
    }

    /// Where the broker sends the browser back after a provider step.
    pub fn callback_url(&self) -> String {
        format!("{}/v1/oauth/callback", self.url)
    }
}

/// Settings of the Auth0 tenant.
#[derive(Debug, Clone)]
pub struct Auth0 {
    /// The tenant's domain (audiences are built from it).
    pub domain: String,
    /// Where requests go, without a trailing slash.
    pub base_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: String,
    /// The API audience requested at login.
    pub audience: Option<String>,
    /// Scopes requested at login.
    pub login_scopes: Vec<String>,
    /// Reach Auth0 through the broker's proxy.
    pub via_proxy: bool,
}

impl Auth0 {
    /// Reads and checks the tenant settings.
    pub fn load() -> Result<Self, AuthError> {
        let domain = require(
            "auth0-domain",
            "the Auth0 tenant domain, e.g. example.us.auth0.com",
        )?
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
        let base_url = get("auth0-base-url")?
            .unwrap_or_else(|| format!("https://{domain}"))
            .trim_end_matches('/')
            .to_owned();
        let login_scopes = get("login-scopes")?
            .unwrap_or_else(|| "openid profile email offline_access".into())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Self {
            client_id: require("auth0-client-id", "the Regular Web Application's client id")?,
            client_secret: require(
                "auth0-client-secret",
                "the Regular Web Application's client secret",
            )?,
            audience: get("auth0-audience")?,
            via_proxy: get("linkauth-proxy")?.is_some_and(|v| v == "true"),
            domain,
            base_url,
            login_scopes,
        })
    }

    /// The My Account API audience (for the MRRT exchange).
    pub fn my_account_audience(&self) -> String {
        format!("https://{}/me/", self.domain)
    }

    /// The Auth0 connection for `scope`: the setting, else the built-in map, else the scope
    /// itself when it looks like a connection name.
    pub fn connection(&self, scope: &str) -> Result<String, AuthError> {
        if let Some(c) = get(&format!("connection.{scope}"))? {
            return Ok(c);
        }
        let builtin = match scope {
            "gmail" | "google" | "google-calendar" | "google-drive" => Some("google-oauth2"),
            "slack" => Some("slack"),
            "github" => Some("github"),
            "microsoft" => Some("windowslive"),
            _ => None,
        };
        match builtin {
            Some(c) => Ok(c.to_owned()),
            None if !scope.is_empty()
                && scope
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
            {
                Ok(scope.to_owned())
            }
            None => Err(AuthError::Misconfigured(format!(
                "no Auth0 connection is known for scope {scope:?}; set \"connection.{scope}\""
            ))),
        }
    }

    /// The upstream scopes to request in the Connected Accounts step for `scope`.
    pub fn connection_scopes(&self, scope: &str) -> Result<Vec<String>, AuthError> {
        let key = format!("connection-scopes.{scope}");
        match get(&key)? {
            Some(v) => Ok(v.split_whitespace().map(str::to_owned).collect()),
            None => Err(AuthError::Misconfigured(format!(
                "Token Vault has no connected account for {scope:?} yet, and \"{key}\" is not set, \
                 so it cannot be connected automatically; set it to the upstream scopes, e.g. \
                 \"https://mail.google.com/ openid email\""
            ))),
        }
    }
}

/// One setting, `None` when unset or empty.
pub fn get(key: &str) -> Result<Option<String>, AuthError> {
    match store::get(key) {
        Ok(value) => Ok(value.filter(|v| !v.is_empty())),
        Err(store::Error::Upstream(msg) | store::Error::Io(msg)) => Err(AuthError::Upstream(
            format!("could not read setting {key:?}: {msg}"),
        )),
    }
}

/// A setting that must be present.
fn require(key: &str, what: &str) -> Result<String, AuthError> {
    get(key)?.ok_or_else(|| AuthError::Misconfigured(format!("setting {key:?} is missing: {what}")))
}
