//! The `wasi:http` hook of every component: checks the destination against the component's
//! policy, clamps the guest's timeouts, then sends.
//!
//! A refusal reaches the guest as `error-code::http-request-denied` (never a trap), and the
//! embedder's [`DeniedHandler`] hears of it, so the CLI and MCP can name the refused host.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use url::Url;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::policy::EgressPolicy;
use crate::credentials::sealed::{Refusal, SealedCredentials, Unseal};

/// A refused request, as reported to the [`DeniedHandler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The component that made the request.
    pub component: String,
    /// `scheme://host:port` of the refused destination (no path, no query: they may hold data).
    pub destination: String,
    /// Why it was refused.
    pub reason: DenialReason,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenialReason {
    /// The destination is not on the component's allow-list.
    NotAllowed,
    /// A credential handle was sent where its scope's token may not go.
    CredentialMisdirected {
        /// The handle's scope.
        scope: String,
    },
    /// An `Authorization` header that is no valid handle, toward a destination whose tokens
    /// only the host issues (or a stale or forged handle anywhere).
    ForgedCredential,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (component, destination) = (&self.component, &self.destination);
        match &self.reason {
            DenialReason::NotAllowed => write!(
                f,
                "component {component:?} may not reach {destination:?}; to allow it, add \
                 {destination:?} to its allowed_outbound_hosts"
            ),
            DenialReason::CredentialMisdirected { scope } => write!(
                f,
                "component {component:?} tried to send its {scope:?} credential to \
                 {destination:?}, where that credential may not go"
            ),
            DenialReason::ForgedCredential => write!(
                f,
                "component {component:?} sent an Authorization header to {destination:?} that \
                 the host did not issue"
            ),
        }
    }
}

/// Hears of every refused request. Implemented for closures.
pub trait DeniedHandler: Send + Sync {
    /// Called once per refused request.
    fn denied(&self, denial: &Denial);
}

impl<F: Fn(&Denial) + Send + Sync> DeniedHandler for F {
    fn denied(&self, denial: &Denial) {
        self(denial);
    }
}

/// Upper bounds on the guest's request timeouts; the guest may ask for less, never more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP + TLS).
    pub connect: Duration,
    /// From sending the request to the first byte of the response.
    pub first_byte: Duration,
    /// Between two chunks of the response body.
    pub between_bytes: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 30 s for the rest: Gmail and Auth0 answer in well under a second, and
    /// Wasmtime's own default (600 s) would let one call hang for ten minutes.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(30),
            between_bytes: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    fn clamp(self, asked: Option<RequestOptions>) -> RequestOptions {
        let pick = |asked: Option<Duration>, max: Duration| Some(asked.map_or(max, |d| d.min(max)));
        let asked = asked.unwrap_or_default();
        RequestOptions {
            connect_timeout: pick(asked.connect_timeout, self.connect),
            first_byte_timeout: pick(asked.first_byte_timeout, self.first_byte),
            between_bytes_timeout: pick(asked.between_bytes_timeout, self.between_bytes),
        }
    }
}

/// The `wasi:http` hooks of one component's store.
pub struct EgressHooks {
    component: Arc<str>,
    policy: Arc<EgressPolicy>,
    timeouts: Timeouts,
    on_denied: Arc<dyn DeniedHandler>,
    sealed: Option<Arc<SealedCredentials>>,
}

impl EgressHooks {
    /// Hooks enforcing `policy` for `component`; with `sealed`, credential handles in
    /// `Authorization` headers are swapped for tokens where their scope allows.
    pub fn new(
        component: Arc<str>,
        policy: Arc<EgressPolicy>,
        timeouts: Timeouts,
        on_denied: Arc<dyn DeniedHandler>,
        sealed: Option<Arc<SealedCredentials>>,
    ) -> Self {
        Self {
            component,
            policy,
            timeouts,
            on_denied,
            sealed,
        }
    }

    fn deny(&self, url: &Url, reason: DenialReason) -> SendFuture {
        let denial = Denial {
            component: self.component.to_string(),
            destination: origin(url),
            reason,
        };
        self.report(&denial);
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }

    fn report(&self, denial: &Denial) {
        tracing::warn!(component = %denial.component, destination = %denial.destination, "egress denied: {denial}");
        self.on_denied.denied(denial);
    }

    /// The policy decision for `uri`: `Ok` with the parsed URL, or the denial.
    fn check(&self, uri: &http::Uri) -> Result<Url, Denial> {
        let url = Url::parse(&uri.to_string()).ok();
        match url {
            Some(url) if self.policy.allows(&url) => Ok(url),
            url => Err(Denial {
                component: self.component.to_string(),
                destination: url.map_or_else(|| redacted_origin(uri), |u| origin(&u)),
                reason: DenialReason::NotAllowed,
            }),
        }
    }
}

/// `scheme://host:port` of a URL, with the port spelled out.
fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Best-effort origin of a URI the URL parser refused; never includes userinfo or path.
fn redacted_origin(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("?");
    let host = uri.host().unwrap_or("?");
    match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _body_done: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let url = match self.check(request.uri()) {
            Ok(url) => url,
            Err(denial) => {
                self.report(&denial);
                return Box::new(async { Err(HttpError::HttpRequestDenied) });
            }
        };
        if let Some(sealed) = &self.sealed {
            let authorization = request.headers().get(http::header::AUTHORIZATION);
            match sealed.unseal(authorization, &url) {
                Unseal::Pass => {}
                Unseal::Replace(value) => {
                    request
                        .headers_mut()
                        .insert(http::header::AUTHORIZATION, value);
                }
                Unseal::Refuse(Refusal::WrongDestination { scope }) => {
                    return self.deny(&url, DenialReason::CredentialMisdirected { scope });
                }
                Unseal::Refuse(Refusal::NotAHandle) => {
                    return self.deny(&url, DenialReason::ForgedCredential);
                }
            }
        }
        let options = self.timeouts.clamp(options);
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(entries: &[&str]) -> EgressHooks {
        EgressHooks::new(
            "mail".into(),
            Arc::new(EgressPolicy::parse(entries).unwrap()),
            Timeouts::default(),
            Arc::new(|_: &Denial| {}),
            None,
        )
    }

    #[test]
    fn denial_names_the_origin_but_not_the_path_or_query() {
        let h = hooks(&["https://gmail.googleapis.com"]);
        let uri: http::Uri = "https://evil.test/steal?token=abc".parse().unwrap();
        let denial = h.check(&uri).unwrap_err();
        assert_eq!(denial.destination, "https://evil.test:443");
        assert!(denial.to_string().contains("allowed_outbound_hosts"));
    }

    #[test]
    fn allowed_origin_passes() {
        let h = hooks(&["https://gmail.googleapis.com"]);
        let uri: http::Uri = "https://gmail.googleapis.com/gmail/v1/users/me/labels"
            .parse()
            .unwrap();
        assert!(h.check(&uri).is_ok());
    }

    #[test]
    fn guest_timeouts_are_clamped_never_raised() {
        let t = Timeouts::default();
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_secs(600)),
            first_byte_timeout: Some(Duration::from_secs(1)),
            between_bytes_timeout: None,
        };
        let got = t.clamp(Some(asked));
        assert_eq!(got.connect_timeout, Some(t.connect));
        assert_eq!(got.first_byte_timeout, Some(Duration::from_secs(1)));
        assert_eq!(got.between_bytes_timeout, Some(t.between_bytes));
    }
}
