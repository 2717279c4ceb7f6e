//! Auth0's endpoints, as the Token Vault flow uses them (reference/mcs-python-sdk.md §1.3):
//! A the Token Vault exchange (RFC 8693), B the MRRT exchange for a My Account API token,
//! C/D Connected Accounts `/connect` and `/complete`. Every status is checked; errors are
//! classified by Auth0's `error` field or the problem+json `title`, never by substring.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::settings::Auth0;
use crate::transport::{Reply, Transport};

/// RFC 8693 grant type of the Token Vault exchange.
const TOKEN_VAULT_GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";

/// Scopes of the My Account API token that Connected Accounts needs.
const MY_ACCOUNT_SCOPES: &str = "openid profile offline_access create:me:connected_accounts \
                                 read:me:connected_accounts delete:me:connected_accounts";

/// A successful token response.
#[derive(Debug)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// Lifetime in seconds (3600 when Auth0 omits it).
    pub expires_in: u64,
    /// A new refresh token, when the tenant rotates them.
    pub refresh_token: Option<String>,
}

/// What `/connect` returned.
#[derive(Debug)]
pub struct ConnectStart {
    /// The page the user must visit, ticket included.
    pub browser_url: String,
    /// Auth0's handle on the flow.
    pub auth_session: String,
}

/// Why an Auth0 call failed.
#[derive(Debug)]
pub enum Failure {
    /// An OAuth error response: `{"error", "error_description"}`.
    OAuth {
        /// HTTP status.
        status: u16,
        /// The `error` code.
        error: String,
        /// The `error_description`.
        description: String,
    },
    /// An RFC 7807 problem (the My Account API).
    Problem {
        /// HTTP status.
        status: u16,
        /// `title: detail`.
        text: String,
    },
    /// Transport failure, 5xx, or a reply that is not what Auth0 sends.
    Other(AuthError),
}

impl Failure {
    /// The OAuth `error` code, when this is an OAuth error.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Failure::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// A one-line description (never includes secrets: Auth0 does not echo them).
    pub fn describe(&self) -> String {
        match self {
            Failure::OAuth {
                status,
                error,
                description,
            } => {
                format!("HTTP {status} {error}: {description}")
            }
            Failure::Problem { status, text } => format!("HTTP {status}: {text}"),
            Failure::Other(e) => format!("{e:?}"),
        }
    }
}

impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Other(e)
    }
}

/// A: the Token Vault exchange of the refresh token for `connection`'s access token.
pub fn exchange(
    cfg: &Auth0,
    via: &Transport,
    refresh_token: &str,
    connection: &str,
) -> Result<Tokens, Failure> {
    token_endpoint(
        cfg,
        via,
        json!({
            "grant_type": TOKEN_VAULT_GRANT,
            "subject_token": refresh_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token",
            "requested_token_type": "http://auth0.com/oauth/token-type/federated-connection-access-token",
            "connection": connection,
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
        }),
    )
}

/// B: a My Account API token from the refresh token (Multi-Resource Refresh Token).
pub fn my_account_token(
    cfg: &Auth0,
    via: &Transport,
    refresh_token: &str,
) -> Result<Tokens, Failure> {
    token_endpoint(
        cfg,
        via,
        json!({
            "grant_type": "refresh_token",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "refresh_token": refresh_token,
            "audience": cfg.my_account_audience(),
            "scope": MY_ACCOUNT_SCOPES,
        }),
    )
}

/// C: starts connecting `connection` for the user.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per field of Auth0's request"
)]
pub fn connect(
    cfg: &Auth0,
    via: &Transport,
    my_account: &str,
    connection: &str,
    redirect_uri: &str,
    state: &str,
    scopes: &[String],
    code_verifier: &str,
) -> Result<ConnectStart, Failure> {
    let body = json!({
        "connection": connection,
        "redirect_uri": redirect_uri,
        "state": state,
        "scopes": scopes,
        "code_challenge": pkce_challenge(code_verifier),
        "code_challenge_method": "S256",
        "authorization_params": {"prompt": "consent"},
    });
    let url = format!("{}/me/v1/connected-accounts/connect", cfg.base_url);
    let reply = via.post_json(&url, Some(my_account), &body)?;
    let v = success_json(&reply, "Connected Accounts /connect")?;
    let field = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let ticket = v
        .get("connect_params")
        .and_then(|p| p.get("ticket"))
        .and_then(Value::as_str);
    match (field("connect_uri"), ticket, field("auth_session")) {
        (Some(uri), Some(ticket), Some(auth_session)) => Ok(ConnectStart {
            browser_url: format!("{uri}?ticket={}", guest_http::percent_encode(ticket)),
            auth_session,
        }),
        _ => Err(Failure::Other(AuthError::Upstream(
            "Auth0's /connect reply lacks connect_uri, connect_params.ticket or auth_session"
                .into(),
        ))),
    }
}

/// D: finishes connecting with the code the browser step produced.
pub fn complete(
    cfg: &Auth0,
    via: &Transport,
    my_account: &str,
    auth_session: &str,
    connect_code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Result<(), Failure> {
    let body = json!({
        "auth_session": auth_session,
        "connect_code": connect_code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    });
    let url = format!("{}/me/v1/connected-accounts/complete", cfg.base_url);
    let reply = via.post_json(&url, Some(my_account), &body)?;
    success_json(&reply, "Connected Accounts /complete").map(|_| ())
}

/// The S256 PKCE challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn token_endpoint(cfg: &Auth0, via: &Transport, body: Value) -> Result<Tokens, Failure> {
    let reply = via.post_json(&format!("{}/oauth/token", cfg.base_url), None, &body)?;
    let v = success_json(&reply, "the token endpoint")?;
    let access_token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Failure::Other(AuthError::Upstream(
                "Auth0's token response has no access_token".into(),
            ))
        })?;
    Ok(Tokens {
        access_token: access_token.to_owned(),
        expires_in: v.get("expires_in").and_then(Value::as_u64).unwrap_or(3600),
        refresh_token: v
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
    })
}

/// The JSON body of a 2xx reply, or the classified failure.
fn success_json(reply: &Reply, what: &str) -> Result<Value, Failure> {
    let json = reply.json();
    if reply.is_success() {
        return json.filter(Value::is_object).ok_or_else(|| {
            Failure::Other(AuthError::Upstream(format!(
                "Auth0's {what} sent an unreadable reply (HTTP {}, {})",
                reply.status,
                content_kind(reply)
            )))
        });
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(v) = &json {
        if let Some(error) = text(v, "error") {
            return Err(Failure::OAuth {
                status: reply.status,
                error,
                description: text(v, "error_description").unwrap_or_default(),
            });
        }
        if let Some(title) = text(v, "title") {
            let detail = text(v, "detail").unwrap_or_default();
            return Err(Failure::Problem {
                status: reply.status,
                text: format!("{title}: {detail}"),
            });
        }
    }
    Err(Failure::Other(AuthError::Upstream(format!(
        "Auth0's {what} failed with HTTP {} ({})",
        reply.status,
        content_kind(reply)
    ))))
}

fn content_kind(reply: &Reply) -> String {
    if reply.content_type.is_empty() {
        "no content type".into()
    } else {
        format!(
            "{} body",
            reply.content_type.split(';').next().unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
