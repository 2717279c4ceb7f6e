//! The LinkAuth broker client and the device-flow step every browser interaction goes through.
//!
//! A [`DeviceFlow`] is one purpose (`login`, `gmail:connect`, `form:github`) with at most one
//! broker session, persisted under `linkauth:session:<purpose>`. Each call either starts a
//! session (a challenge with URL and code), polls it (respecting the broker's interval and
//! `slow_down`), or returns the decrypted result. A session the broker no longer knows
//! (expired, consumed, 404) is reported as [`Outcome::Gone`] so the caller can start afresh
//! once, instead of failing forever. A rejected poll (401/403) is an error, not "pending".

use guest_http::{Request, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::bindings::exports::mcs::auth::types::{AuthChallenge, AuthError};
use crate::clock;
use crate::envelope;
use crate::keys;
use crate::settings::Broker;
use crate::state::{BrokerSession, State};

/// What one step of a device flow produced.
#[derive(Debug)]
pub enum Outcome {
    /// The user finished: the decrypted credential.
    Ready(Map<String, Value>),
    /// The user has not finished yet: show this again.
    Waiting(AuthError),
    /// The broker no longer knows the session; it has been forgotten.
    Gone,
}

/// How to phrase a challenge.
#[derive(Debug, Clone, Copy)]
pub enum Wording {
    /// Sign in to Auth0.
    Login,
    /// Connect an upstream account (Connected Accounts).
    Connect,
    /// Type a credential into a form.
    Form,
}

/// One browser interaction, resumable across processes.
pub struct DeviceFlow<'a> {
    state: &'a State,
    broker: &'a Broker,
    purpose: String,
    /// The scope shown to the user and put in the challenge.
    scope: String,
    wording: Wording,
}

impl<'a> DeviceFlow<'a> {
    /// The flow for `purpose`, reported to the caller under `scope`.
    pub fn new(
        state: &'a State,
        broker: &'a Broker,
        purpose: &str,
        scope: &str,
        wording: Wording,
    ) -> Self {
        Self {
            state,
            broker,
            purpose: purpose.to_owned(),
            scope: scope.to_owned(),
            wording,
        }
    }

    fn key(&self) -> String {
        format!("linkauth:session:{}", self.purpose)
    }

    /// True when a session is in progress.
    pub fn in_progress(&self) -> Result<bool, AuthError> {
        Ok(self.state.get_json::<BrokerSession>(&self.key())?.is_some())
    }

    /// Forgets the session (the broker's copy expires on its own).
    pub fn forget(&self) -> Result<(), AuthError> {
        self.state.delete(&self.key())
    }

    /// Creates a broker session from `request` (the public key is added) and returns the
    /// challenge to show.
    pub fn start(&self, mut request: Map<String, Value>) -> AuthError {
        match self.try_start(&mut request) {
            Ok(session) => self.challenge(&session, true),
            Err(e) => e,
        }
    }

    fn try_start(&self, request: &mut Map<String, Value>) -> Result<BrokerSession, AuthError> {
        let key = keys::agent_key(self.state)?;
        request.insert(
            "public_key".into(),
            Value::String(keys::public_key_b64(&key)?),
        );
        let resp = self.send(
            Request::post(format!("{}/v1/sessions", self.broker.url))
                .header("content-type", "application/json")
                .body(Value::Object(request.clone()).to_string()),
        )?;
        if !resp.is_success() {
            return Err(broker_error("create a session", &resp));
        }
        #[derive(Deserialize)]
        struct Created {
            session_id: String,
            code: String,
            url: String,
            poll_token: String,
            interval: Option<u64>,
        }
        let created: Created = serde_json::from_slice(&resp.body).map_err(|_| {
            AuthError::Upstream("the LinkAuth broker sent an unreadable session".into())
        })?;
        let session = BrokerSession {
            session_id: created.session_id,
            code: created.code,
            url: created.url,
            poll_token: created.poll_token,
            interval: created.interval.unwrap_or(5),
            next_poll_at: clock::now(),
        };
        self.state.set_json(&self.key(), &session)?;
        Ok(session)
    }

    /// Polls the session in progress (there must be one: see [`Self::in_progress`]).
    pub fn step(&self) -> Result<Outcome, AuthError> {
        let Some(mut session) = self.state.get_json::<BrokerSession>(&self.key())? else {
            return Ok(Outcome::Gone);
        };
        let now = clock::now();
        if now < session.next_poll_at {
            return Ok(Outcome::Waiting(self.challenge(&session, false)));
        }
        let resp = self.send(
            Request::get(format!(
                "{}/v1/sessions/{}",
                self.broker.url, session.session_id
            ))
            .header("authorization", format!("Bearer {}", session.poll_token)),
        )?;
        match resp.status {
            200 => {}
            404 => {
                self.forget()?;
                return Ok(Outcome::Gone);
            }
            429 => {
                let asked = json_field(&resp, "interval").and_then(|v| v.as_u64());
                session.interval = asked.unwrap_or(session.interval + 5).max(session.interval);
                session.next_poll_at = now + session.interval;
                self.state.set_json(&self.key(), &session)?;
                return Ok(Outcome::Waiting(self.challenge(&session, false)));
            }
            401 | 403 if is_api_key_error(&resp) => return Err(broker_error("poll", &resp)),
            401 | 403 => {
                self.forget()?;
                return Err(AuthError::Upstream(format!(
                    "the LinkAuth broker rejected the poll ({}); the session was dropped, so \
                     the next call starts a new one",
                    problem_text(&resp.body)
                )));
            }
            _ => return Err(broker_error("poll", &resp)),
        }
        #[derive(Deserialize)]
        struct Polled {
            status: String,
            interval: Option<u64>,
            ciphertext: Option<String>,
        }
        let polled: Polled = serde_json::from_slice(&resp.body).map_err(|_| {
            AuthError::Upstream("the LinkAuth broker sent an unreadable poll reply".into())
        })?;
        match (polled.status.as_str(), polled.ciphertext) {
            ("ready", Some(ciphertext)) => {
                let key = keys::agent_key(self.state)?;
                let credential = envelope::open_json(&key, &ciphertext).map_err(|e| {
                    AuthError::Upstream(format!(
                        "could not read the credential the LinkAuth broker returned: {}",
                        e.0
                    ))
                })?;
                self.forget()?;
                Ok(Outcome::Ready(credential))
            }
            ("pending" | "confirmed", _) => {
                session.interval = polled.interval.unwrap_or(session.interval);
                session.next_poll_at = now + session.interval;
                self.state.set_json(&self.key(), &session)?;
                Ok(Outcome::Waiting(self.challenge(&session, false)))
            }
            ("consumed" | "expired", _) => {
                self.forget()?;
                Ok(Outcome::Gone)
            }
            (other, _) => Err(AuthError::Upstream(format!(
                "the LinkAuth broker reported an unknown session status {other:?}"
            ))),
        }
    }

    fn challenge(&self, s: &BrokerSession, new: bool) -> AuthError {
        let (scope, url, code) = (&self.scope, &s.url, &s.code);
        let message = match (self.wording, new) {
            (Wording::Login, true) => format!(
                "Sign-in required for '{scope}': open {url} and check that it shows code {code}, then try again."
            ),
            (Wording::Connect, true) => format!(
                "One more step for '{scope}': open {url}, check that it shows code {code}, and allow access to your account; then try again."
            ),
            (Wording::Form, true) => format!(
                "Credentials required for '{scope}': open {url}, check that it shows code {code}, and enter them there; then try again."
            ),
            (_, false) => format!(
                "Still waiting for '{scope}': open {url} and check that it shows code {code}, then try again."
            ),
        };
        let scope = match self.wording {
            Wording::Connect => format!("{}:connect", self.scope),
            _ => self.scope.clone(),
        };
        AuthError::Challenge(AuthChallenge {
            message,
            url: Some(s.url.clone()),
            code: Some(s.code.clone()),
            scope,
        })
    }

    fn send(&self, mut request: Request) -> Result<Response, AuthError> {
        if let Some(key) = &self.broker.api_key {
            request = request.header("x-api-key", key.clone());
        }
        guest_http::send(request).map_err(|e| AuthError::Upstream(format!("LinkAuth broker: {e}")))
    }
}

fn json_field(resp: &Response, name: &str) -> Option<Value> {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()?
        .get(name)
        .cloned()
}

/// True for the broker's API-key errors (`{"detail": {"title": "API Key Required" | "Invalid API Key"}}`).
fn is_api_key_error(resp: &Response) -> bool {
    json_field(resp, "detail")
        .and_then(|d| d.get("title").and_then(Value::as_str).map(str::to_owned))
        .is_some_and(|t| t.contains("API Key"))
}

/// `title: detail` of a problem+json body (or of FastAPI's `{"detail": {...}}` wrapping),
/// else a short description of what came back.
pub fn problem_text(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return if body.is_empty() {
            "empty body".into()
        } else {
            "a non-JSON body".into()
        };
    };
    let v = match v.get("detail") {
        Some(inner @ Value::Object(_)) => inner.clone(),
        _ => v,
    };
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match (text("title"), text("detail")) {
        (t, d) if !t.is_empty() && !d.is_empty() => format!("{t}: {d}"),
        (t, _) if !t.is_empty() => t,
        _ => "no details".into(),
    }
}

fn broker_error(what: &str, resp: &Response) -> AuthError {
    let text = problem_text(&resp.body);
    match resp.status {
        401 | 403 if is_api_key_error(resp) => AuthError::Misconfigured(format!(
            "the LinkAuth broker refused to {what} ({text}); check linkauth-api-key (LINKAUTH_API_KEY)"
        )),
        400 | 422 => AuthError::Misconfigured(format!(
            "the LinkAuth broker refused to {what} (HTTP {}: {text}); check the linkauth-* settings",
            resp.status
        )),
        status => AuthError::Upstream(format!(
            "the LinkAuth broker could not {what} (HTTP {status}: {text})"
        )),
    }
}
