//! Token Vault mode: the Auth0 refresh token is exchanged (RFC 8693) for the upstream
//! provider's access token; the first run's two browser steps (Auth0 login, then Connected
//! Accounts consent) go through LinkAuth.
//!
//! Each call advances the machine by at most one user-visible step and persists everything it
//! needs to resume, so a run of separate processes (one per tool call) finishes the flow:
//!
//! 1. cached access token still valid → return it (no request at all);
//! 2. a Connected Accounts step in progress → poll it; when done, `/complete`, exchange;
//! 3. no refresh token → the login device flow (challenge, then poll, then store the RT);
//! 4. exchange: `not_found` → start Connected Accounts; `invalid_grant` → forget the login
//!    (refresh token, sessions, pending steps, cached tokens) and start a fresh one.
//!
//! Unlike the reference stack, a refresh token in any token response replaces the stored one,
//! and errors are matched on Auth0's `error` field.

use serde_json::{Map, Value, json};

use crate::auth0::{self, Failure, Tokens};
use crate::bindings::exports::mcs::auth::types::AuthError;
use crate::clock;
use crate::envelope;
use crate::linkauth::{DeviceFlow, Outcome, Wording};
use crate::random;
use crate::settings::{Auth0, Broker};
use crate::state::{CachedToken, PendingConnect, State};
use crate::transport::Transport;

/// Seconds before expiry at which a cached token is no longer handed out.
const EXPIRY_MARGIN: u64 = 60;

/// What the Auth0 dashboard must have for Token Vault (the setup checklist).
const CHECKLIST: &str = "the application is a Regular Web Application with the grant types \
    Authorization Code, Refresh Token and Token Vault; the connection has both Authentication \
    and Connected Accounts for Token Vault enabled, and is enabled for the application; the API \
    (auth0-audience) allows offline access; Multi-Resource Refresh Token allows the My Account \
    API; the upstream API (e.g. the Gmail API) is enabled at the provider, and \
    connection-scopes lists the scopes it needs";

/// The provider in Token Vault mode.
pub struct TokenVault {
    cfg: Auth0,
    broker: Option<Broker>,
    via: Transport,
    state: State,
}

impl TokenVault {
    /// Reads the settings and opens the store.
    pub fn load() -> Result<Self, AuthError> {
        let cfg = Auth0::load()?;
        let broker = crate::settings::get("linkauth-broker-url")?
            .map(|_| Broker::load())
            .transpose()?;
        let via = match (&broker, cfg.via_proxy) {
            (Some(b), true) => Transport::Proxy(b.clone()),
            (None, true) => {
                return Err(AuthError::Misconfigured(
                    "linkauth-proxy is on but linkauth-broker-url is not set".into(),
                ));
            }
            (_, false) => Transport::Direct,
        };
        Ok(Self {
            cfg,
            broker,
            via,
            state: State::open()?,
        })
    }

    fn rt_key(&self) -> String {
        format!("rt:{}", self.cfg.domain)
    }

    /// An access token for `scope`.
    pub fn get_token(&self, scope: &str) -> Result<String, AuthError> {
        let at_key = format!("at:{scope}");
        if let Some(cached) = self.state.get_json::<CachedToken>(&at_key)? {
            if cached.expires_at > clock::now() && !jwt_expired(&cached.token) {
                return Ok(cached.token);
            }
            self.state.delete(&at_key)?;
        }
        let connection = self.cfg.connection(scope)?;
        if self
            .state
            .get_json::<PendingConnect>(&pending_key(scope))?
            .is_some()
        {
            let rt = self.refresh_token(scope)?;
            return self.resume_connect(scope, &connection, &rt);
        }
        let rt = self.refresh_token(scope)?;
        self.exchange(scope, &connection, &rt, true)
    }

    /// A token for `scope` with its remaining lifetime: what the cache says, or zero when the
    /// token was not cacheable (the host then does not keep it either).
    pub fn grant(&self, scope: &str) -> Result<(String, u64), AuthError> {
        let token = self.get_token(scope)?;
        let ttl = self
            .state
            .get_json::<CachedToken>(&format!("at:{scope}"))?
            .filter(|c| c.token == token)
            .map_or(0, |c| c.expires_at.saturating_sub(clock::now()));
        Ok((token, ttl))
    }

    /// Drops the cached access token of `scope`.
    pub fn invalidate(&self, scope: &str) -> Result<(), AuthError> {
        self.state.delete(&format!("at:{scope}"))
    }

    /// The stored refresh token, or the next step of the login flow.
    fn refresh_token(&self, scope: &str) -> Result<String, AuthError> {
        if let Some(rt) = self.state.get_text(&self.rt_key())? {
            return Ok(rt);
        }
        self.login(scope)
    }

    fn broker(&self) -> Result<&Broker, AuthError> {
        self.broker.as_ref().ok_or_else(|| {
            AuthError::Misconfigured(
                "no refresh token is stored and linkauth-broker-url is not set, so the user \
                 cannot sign in; set linkauth-broker-url (LINKAUTH_BROKER_URL)"
                    .into(),
            )
        })
    }

    /// One step of the Auth0 login through LinkAuth: a challenge (reported under `scope`, the
    /// scope the tool asked for), or the new refresh token.
    fn login(&self, scope: &str) -> Result<String, AuthError> {
        let broker = self.broker()?;
        let flow = DeviceFlow::new(&self.state, broker, "login", scope, Wording::Login);
        if flow.in_progress()? {
            match flow.step()? {
                Outcome::Waiting(challenge) => return Err(challenge),
                Outcome::Ready(credential) => return self.store_login(broker, &credential),
                Outcome::Gone => {}
            }
        }
        let mut extra = Map::new();
        if let Some(audience) = &self.cfg.audience {
            extra.insert("audience".into(), json!(audience));
        }
        let request = json!({
            "display_name": "Sign in with Auth0",
            "oauth_provider": broker.oauth_provider,
            "oauth_scopes": self.cfg.login_scopes,
            "oauth_extra_params": extra,
        });
        Err(flow.start(into_map(request)))
    }

    fn store_login(
        &self,
        broker: &Broker,
        credential: &Map<String, Value>,
    ) -> Result<String, AuthError> {
        let field = broker
            .token_field
            .as_deref()
            .filter(|f| *f == "refresh_token");
        let rt = envelope::extract(credential, field, &["refresh_token"])
            .filter(|_| credential.contains_key("refresh_token"))
            .ok_or_else(|| {
                AuthError::Misconfigured(
                    "the sign-in returned no refresh token: include offline_access in \
                     login-scopes and allow offline access on the Auth0 API (auth0-audience)"
                        .into(),
                )
            })?;
        self.state.set_text(&self.rt_key(), &rt)?;
        Ok(rt)
    }

    /// A: the exchange, with the recoveries that follow from its errors.
    fn exchange(
        &self,
        scope: &str,
        connection: &str,
        rt: &str,
        may_connect: bool,
    ) -> Result<String, AuthError> {
        match auth0::exchange(&self.cfg, &self.via, rt, connection) {
            Ok(tokens) => self.cache(scope, tokens),
            Err(f) => match f.oauth_error() {
                Some("federated_connection_refresh_token_not_found") if may_connect => {
                    self.start_connect(scope, connection, rt)
                }
                Some("federated_connection_refresh_token_not_found") => {
                    Err(AuthError::Misconfigured(format!(
                        "Auth0 finished connecting {connection:?}, but Token Vault still has no \
                         token for it. Check in the Auth0 dashboard that {CHECKLIST}"
                    )))
                }
                Some("invalid_grant") => self.relogin(scope),
                _ => Err(classify(&f, "the Token Vault exchange")),
            },
        }
    }

    /// The refresh token is dead: forget everything that came from it and sign in again.
    fn relogin(&self, scope: &str) -> Result<String, AuthError> {
        for prefix in ["at:", "ca:pending:", "linkauth:session:"] {
            for key in self.state.keys_with_prefix(prefix)? {
                self.state.delete(&key)?;
            }
        }
        self.state.delete(&self.rt_key())?;
        // The new login always starts with a challenge: nothing is left to poll.
        self.login(scope)
    }

    fn cache(&self, scope: &str, tokens: Tokens) -> Result<String, AuthError> {
        self.rotate(tokens.refresh_token.as_deref())?;
        let ttl = tokens.expires_in.saturating_sub(EXPIRY_MARGIN);
        if ttl > 0 {
            let cached = CachedToken {
                token: tokens.access_token.clone(),
                expires_at: clock::now() + ttl,
            };
            self.state.set_json(&format!("at:{scope}"), &cached)?;
        }
        Ok(tokens.access_token)
    }

    /// A refresh token in any token response replaces the stored one (rotation).
    fn rotate(&self, new: Option<&str>) -> Result<(), AuthError> {
        match new {
            Some(rt) => self.state.set_text(&self.rt_key(), rt),
            None => Ok(()),
        }
    }

    /// B: a My Account API token, for `/connect` and `/complete`.
    fn my_account(&self, scope: &str, rt: &str) -> Result<CachedToken, AuthError> {
        match auth0::my_account_token(&self.cfg, &self.via, rt) {
            Ok(tokens) => {
                self.rotate(tokens.refresh_token.as_deref())?;
                Ok(CachedToken {
                    expires_at: clock::now() + tokens.expires_in.saturating_sub(EXPIRY_MARGIN),
                    token: tokens.access_token,
                })
            }
            Err(f) if f.oauth_error() == Some("invalid_grant") => Err(self
                .relogin(scope)
                .err()
                .unwrap_or_else(|| AuthError::Upstream("sign-in restarted".into()))),
            Err(f @ Failure::OAuth { .. }) => Err(AuthError::Misconfigured(format!(
                "Auth0 refused a My Account API token ({}): enable Multi-Resource Refresh Token \
                 for the My Account API ({}) with the create:me:connected_accounts scope",
                f.describe(),
                self.cfg.my_account_audience()
            ))),
            Err(f) => Err(classify(&f, "the My Account token request")),
        }
    }

    /// C: starts Connected Accounts for `connection` and shows the consent challenge.
    fn start_connect(&self, scope: &str, connection: &str, rt: &str) -> Result<String, AuthError> {
        let broker = self.broker()?;
        let scopes = self.cfg.connection_scopes(scope)?;
        let my_account = self.my_account(scope, rt)?;
        let pending = PendingConnect {
            auth_session: String::new(),
            code_verifier: random::token_urlsafe(64),
            state: random::token_urlsafe(16),
            redirect_uri: broker.callback_url(),
            connection: connection.to_owned(),
            my_account: None,
        };
        let started = auth0::connect(
            &self.cfg,
            &self.via,
            &my_account.token,
            connection,
            &pending.redirect_uri,
            &pending.state,
            &scopes,
            &pending.code_verifier,
        )
        .map_err(|f| match f {
            Failure::Other(e) => e,
            f => AuthError::Misconfigured(format!(
                "Auth0 refused to start connecting {connection:?} ({}); check that {CHECKLIST}",
                f.describe()
            )),
        })?;
        let pending = PendingConnect {
            auth_session: started.auth_session,
            my_account: Some(my_account),
            ..pending
        };
        self.state.set_json(&pending_key(scope), &pending)?;
        let flow = self.connect_flow(broker, scope);
        let request = json!({
            "display_name": format!("Connect your account for {scope}"),
            "oauth_provider": broker.oauth_provider,
            "custom_authorize_url": started.browser_url,
            "custom_callback_params": ["connect_code"],
            "custom_state": pending.state,
        });
        Err(flow.start(into_map(request)))
    }

    fn connect_flow<'a>(&'a self, broker: &'a Broker, scope: &str) -> DeviceFlow<'a> {
        DeviceFlow::new(
            &self.state,
            broker,
            &format!("{scope}:connect"),
            scope,
            Wording::Connect,
        )
    }

    /// Polls the consent step; when done, D `/complete` and the exchange again.
    fn resume_connect(&self, scope: &str, connection: &str, rt: &str) -> Result<String, AuthError> {
        let broker = self.broker()?;
        let flow = self.connect_flow(broker, scope);
        let credential = match flow.step()? {
            Outcome::Waiting(challenge) => return Err(challenge),
            Outcome::Gone => {
                // The broker session (or Auth0's ticket) expired: start the step over, once.
                self.state.delete(&pending_key(scope))?;
                return self.start_connect(scope, connection, rt);
            }
            Outcome::Ready(credential) => credential,
        };
        let pending: PendingConnect = self
            .state
            .get_json(&pending_key(scope))?
            .ok_or_else(|| AuthError::Upstream("the pending connect step vanished".into()))?;
        // The codes are one-time: whatever happens next, this attempt is over.
        self.state.delete(&pending_key(scope))?;
        let code = envelope::extract(&credential, Some("connect_code"), &[]).ok_or_else(|| {
            AuthError::Upstream(
                "the broker's result has no connect_code; the next call starts over".into(),
            )
        })?;
        let my_account = match pending.my_account {
            Some(t) if t.expires_at > clock::now() => t,
            _ => self.my_account(scope, rt)?,
        };
        auth0::complete(
            &self.cfg,
            &self.via,
            &my_account.token,
            &pending.auth_session,
            &code,
            &pending.redirect_uri,
            &pending.code_verifier,
        )
        .map_err(|f| match f {
            Failure::Other(e) => e,
            f => AuthError::Denied(format!(
                "Auth0 did not accept the connected account ({}); the next call starts over",
                f.describe()
            )),
        })?;
        self.exchange(scope, connection, rt, false)
    }
}

fn pending_key(scope: &str) -> String {
    format!("ca:pending:{scope}")
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Turns an unexpected Auth0 failure into an error the operator can act on.
fn classify(f: &Failure, what: &str) -> AuthError {
    match f {
        Failure::Other(e) => e.clone(),
        Failure::OAuth { error, .. } if error == "unauthorized_client" => {
            AuthError::Misconfigured(format!(
                "Auth0 refused {what} ({}): enable the Token Vault grant type on the application \
             (Applications → Advanced Settings → Grant Types)",
                f.describe()
            ))
        }
        Failure::OAuth { error, .. } if error == "access_denied" || error == "invalid_client" => {
            AuthError::Misconfigured(format!(
                "Auth0 rejected the application's credentials in {what} ({}): check \
                 auth0-client-id and auth0-client-secret (AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET)",
                f.describe()
            ))
        }
        Failure::OAuth { status, .. } | Failure::Problem { status, .. } if *status >= 500 => {
            AuthError::Upstream(format!("Auth0 failed in {what} ({})", f.describe()))
        }
        _ => AuthError::Misconfigured(format!(
            "Auth0 refused {what} ({}); check that {CHECKLIST}",
            f.describe()
        )),
    }
}

/// True when `token` is a JWT whose `exp` is within [`EXPIRY_MARGIN`] (opaque tokens, such as
/// Google's, are never "expired" by this test; their cache TTL covers them).
fn jwt_expired(token: &str) -> bool {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return false;
    };
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("exp").and_then(Value::as_u64))
        .is_some_and(|exp| clock::now() + EXPIRY_MARGIN >= exp)
}
