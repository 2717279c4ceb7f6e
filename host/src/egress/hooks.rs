//! The `wasi:http` hook of every component: checks the destination against the component's
//! policy, refuses blocked IP literals, swaps sealed credentials, clamps the guest's timeouts,
//! then sends through the runtime's pooled [`Transport`].
//!
//! The order is the one `STYLE.md` §4 rule 4 fixes: check the policy, then resolve, then
//! remove blocked addresses, then connect; the last three happen inside the transport's
//! resolver (see `egress::client`), so a name is screened where it is connected to.
//!
//! A refusal reaches the guest as `error-code::http-request-denied` or, for a blocked
//! address, `error-code::destination-ip-prohibited` (never a trap), and the embedder's
//! [`DeniedHandler`] hears of it, so the CLI and MCP can name the refused host.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::blocked::is_blocked;
use super::client::{SendError, Transport};
use super::policy::{EgressPolicy, origin};
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
#[non_exhaustive]
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
    /// The destination is, or resolves only to, a loopback, private or otherwise non-public
    /// address that the policy does not name as an IP literal.
    BlockedAddress {
        /// The (first) blocked address.
        address: IpAddr,
    },
}

impl DenialReason {
    /// The error code the guest gets for this refusal.
    fn error(&self) -> HttpError {
        match self {
            Self::BlockedAddress { .. } => HttpError::DestinationIpProhibited,
            Self::NotAllowed | Self::CredentialMisdirected { .. } | Self::ForgedCredential => {
                HttpError::HttpRequestDenied
            }
        }
    }
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
            DenialReason::BlockedAddress { address } => write!(
                f,
                "component {component:?} may not reach {destination:?}: it is at {address}, a \
                 loopback, private or otherwise non-public address; to allow it, also add {:?} \
                 to its allowed_outbound_hosts",
                ip_entry(destination, *address)
            ),
        }
    }
}

/// The policy entry naming `address` with the scheme and port of `destination`
/// (`scheme://host:port`).
fn ip_entry(destination: &str, address: IpAddr) -> String {
    let scheme = destination.split_once("://").map_or("http", |(s, _)| s);
    let port = destination
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let host = match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
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
    /// The guest's options with every timeout set, none above these bounds.
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
    transport: Arc<Transport>,
}

impl EgressHooks {
    /// Hooks enforcing `policy` for `component` and sending through `transport` (shared by
    /// every store of a runtime); with `sealed`, credential handles in `Authorization`
    /// headers are swapped for tokens where their scope allows.
    pub fn new(
        component: Arc<str>,
        policy: Arc<EgressPolicy>,
        timeouts: Timeouts,
        on_denied: Arc<dyn DeniedHandler>,
        sealed: Option<Arc<SealedCredentials>>,
        transport: Arc<Transport>,
    ) -> Self {
        Self {
            component,
            policy,
            timeouts,
            on_denied,
            sealed,
            transport,
        }
    }

    fn deny(&self, url: &Url, reason: DenialReason) -> SendFuture {
        let error = reason.error();
        let denial = Denial {
            component: self.component.to_string(),
            destination: origin(url),
            reason,
        };
        report(&*self.on_denied, &denial);
        Box::new(async { Err(error) })
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

    /// The blocked IP literal `url` names, unless the policy names it too. Host names are
    /// screened by the transport's resolver instead.
    fn blocked_literal(&self, url: &Url) -> Option<IpAddr> {
        let ip = match url.host()? {
            Host::Ipv4(v4) => IpAddr::V4(v4),
            Host::Ipv6(v6) => IpAddr::V6(v6),
            Host::Domain(_) => return None,
        };
        (is_blocked(ip) && !self.policy.names_ip(ip)).then_some(ip)
    }
}

/// Logs `denial` (origin only, never path or headers) and tells the embedder.
fn report(on_denied: &dyn DeniedHandler, denial: &Denial) {
    tracing::warn!(component = %denial.component, destination = %denial.destination, "egress denied: {denial}");
    on_denied.denied(denial);
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
                report(&*self.on_denied, &denial);
                return Box::new(async { Err(HttpError::HttpRequestDenied) });
            }
        };
        if let Some(address) = self.blocked_literal(&url) {
            return self.deny(&url, DenialReason::BlockedAddress { address });
        }
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
        // The transport connects to the URL the policy checked, not a second parse of the URI.
        let send = self
            .transport
            .send(&self.policy, url.clone(), request, options);
        let component = Arc::clone(&self.component);
        let on_denied = Arc::clone(&self.on_denied);
        Box::new(async move {
            match send.await {
                // reqwest's pool drives the connection, so there is no I/O left to await.
                Ok(response) => Ok((
                    response,
                    Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                )),
                Err(SendError::Blocked { address }) => {
                    let denial = Denial {
                        component: component.to_string(),
                        destination: origin(&url),
                        reason: DenialReason::BlockedAddress { address },
                    };
                    report(&*on_denied, &denial);
                    Err(HttpError::DestinationIpProhibited)
                }
                Err(SendError::Http(error)) => Err(error),
            }
        })
    }
}

#[cfg(test)]
mod tests;
