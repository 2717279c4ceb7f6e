//! Settings for the shipped components, from the environment.
//!
//! Recognised variables:
//! - `MCS_GMAIL_BASE_URL`: where the Gmail API is (default `https://gmail.googleapis.com`);
//!   the mail component's egress policy allows exactly that origin.
//! - `MCS_TOKEN_<SCOPE>`: a static token for a scope (e.g. `MCS_TOKEN_GMAIL`); the
//!   credential provider serves it as is.
//!
//! Secrets read here go to the credential-provider component's settings only; no tool
//! component ever receives them.

use std::fmt;

use url::Url;

use crate::ComponentConfig;
use crate::guests;

/// Gmail's API origin.
pub const GMAIL_ORIGIN: &str = "https://gmail.googleapis.com";

/// Name of the mail tool component (also its key-value namespace).
pub const MAIL_COMPONENT: &str = "mail";

/// Name of the credential-provider component (also its key-value namespace).
pub const AUTH_COMPONENT: &str = "auth";

/// Settings of the shipped components.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Base URL of the Gmail API.
    pub gmail_base_url: Url,
    /// Static tokens by scope.
    pub static_tokens: Vec<(String, String)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scopes: Vec<&str> = self.static_tokens.iter().map(|(s, _)| s.as_str()).collect();
        f.debug_struct("Settings")
            .field("gmail_base_url", &self.gmail_base_url.as_str())
            .field("static_tokens", &format_args!("<redacted: {scopes:?}>"))
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
        let mut gmail_base_url = None;
        let mut static_tokens = Vec::new();
        for (key, value) in vars {
            if key == "MCS_GMAIL_BASE_URL" {
                gmail_base_url = Some(parse_http_url(&key, &value)?);
            } else if let Some(scope) = key.strip_prefix("MCS_TOKEN_")
                && !scope.is_empty()
                && !value.is_empty()
            {
                static_tokens.push((scope.to_ascii_lowercase().replace('_', "-"), value));
            }
        }
        static_tokens.sort();
        Ok(Self {
            gmail_base_url: match gmail_base_url {
                Some(url) => url,
                None => parse_http_url("MCS_GMAIL_BASE_URL", GMAIL_ORIGIN)?,
            },
            static_tokens,
        })
    }

    /// The credential-provider component, configured.
    pub fn auth_component(&self) -> ComponentConfig {
        let mut config = ComponentConfig::new(AUTH_COMPONENT, guests::GUEST_AUTH_COMPONENT_BYTES)
            .setting("mode", "static");
        for (scope, token) in &self.static_tokens {
            config = config.setting(format!("token.{scope}"), token.clone());
        }
        config
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

/// `scheme://host:port` of `url`, the form egress policies take.
fn origin(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(host) => host.to_string(),
        None => String::new(),
    };
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
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
    fn bad_url_names_the_variable() {
        let err = Settings::from_vars(vars(&[("MCS_GMAIL_BASE_URL", "ftp://x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MCS_GMAIL_BASE_URL = \"ftp://x\" is not an http:// or https:// URL"
        );
    }
}
