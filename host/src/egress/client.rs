//! The pooled transport behind every component's outbound HTTP: resolve, remove blocked
//! addresses, connect (rustls), send, and stream the response back.
//!
//! This module owns the `reqwest` clients, the DNS [`Resolver`] seam, the screening of resolved
//! addresses against [`blocked`](super::blocked) ranges, the transport's timeouts and the body
//! size caps. It leaves to others: whether the URL is allowed at all and the credential swap
//! (`egress::hooks`, which runs first), and what a blocked address means to the user (the
//! hook reports it through the `DeniedHandler`).
//!
//! # One pool, per-policy address screening
//!
//! Whether a blocked address may be used depends on the component: a policy that names
//! `http://127.0.0.1:8080` may reach a name that resolves to `127.0.0.1`, others may not. The
//! screening must happen where the connection is made, inside the client's resolver, or a
//! name could resolve to a public address when the hook checks and to a private one when the
//! client connects (DNS rebinding). reqwest's resolver sees only the host name, not the
//! request, so the resolver cannot ask "which component is this for".
//!
//! The [`Transport`] therefore keeps one `reqwest::Client` per *allowance*: the sorted set of
//! blocked addresses a policy names as IP literals. Every policy that names none (Gmail,
//! Auth0, every production component) shares the one client with the empty allowance, so they
//! share one keep-alive pool. A connection pooled under an allowance was screened exactly as
//! any other request under that allowance would be, so reusing it across components is sound;
//! a component with a smaller allowance never sees it. The map has at most one entry per
//! distinct allowance among the loaded components, so it stays small and is never evicted.
//!
//! IP-literal URLs never reach a resolver; the hook checks them against the same rule.
//!
//! # Timeouts
//!
//! The hook clamps the guest's `request-options` to the runtime's [`Timeouts`]; here:
//!
//! - *connect*: the client's connect timeout (TCP and TLS) is the runtime's cap. reqwest has
//!   no per-request connect timeout, so a guest's shorter connect timeout is folded into the
//!   next deadline.
//! - *first byte*: the time from sending to the response head is bounded by the guest's
//!   connect plus first-byte timeouts (a new connection's set-up happens inside that wait),
//!   then `connection-read-timeout`.
//! - *between bytes*: a timer reset on every body frame; when it fires, the response body
//!   stream fails with `connection-read-timeout`.
//!
//! There is no total timeout here: the whole call is bounded by `Limits::call_timeout`.
//!
//! TLS is rustls trusting Mozilla's roots as compiled in (`webpki-root-certs`), not the
//! machine's store; HTTP/1.1 only.
//!
//! Redirects are never followed (the guest sees the 3xx and decides, through the hook, where
//! to go next), no proxy is used (an environment proxy would see every request), and the
//! connection tasks are driven by reqwest's own pool, so the hook's I/O future is empty.
//! reqwest adds `accept: */*` when the guest sent no `Accept` header; nothing else.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::time::{Instant, Sleep};
use url::Url;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use super::blocked::{is_blocked, remove_blocked};
use super::hooks::Timeouts;
use super::policy::EgressPolicy;

/// Largest request body a component may send: 8 MiB. The tools send JSON and RFC 5322
/// messages of a few KiB; Gmail's simple upload takes at most 5 MB of media, so 8 MiB leaves
/// room for that plus base64 overhead while bounding what one guest can push through the host.
pub const MAX_REQUEST_BODY: u64 = 8 << 20;

/// Largest response body a component may receive: 16 MiB. The largest answers the tools read
/// (a page of message ids, one message in `full` format) are well under 1 MiB; the guest copies
/// every byte into its linear memory (capped at `engine::DEFAULT_MEMORY_LIMIT`), so a larger
/// body is a runaway or hostile upstream rather than mail.
pub const MAX_RESPONSE_BODY: u64 = 16 << 20;

/// How long an idle pooled connection is kept: reqwest's default, shorter than the idle
/// timeouts of Google's and Auth0's front ends, so the pool rarely hands out a dead connection.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections kept per host: the tools make a few requests per call, one at a time.
const POOL_MAX_IDLE_PER_HOST: usize = 8;

/// The future a [`Resolver`] returns.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Looks up the addresses of a host name: [`SystemResolver`] unless a test substitutes one
/// (implemented for closures `Fn(&str) -> io::Result<Vec<IpAddr>>`).
pub trait Resolver: Send + Sync {
    /// The addresses of `host`, a DNS name (never an IP literal). Blocked addresses are
    /// removed by the caller.
    ///
    /// # Errors
    ///
    /// The lookup failed; the guest's request then fails with `DNS-error`.
    fn resolve<'a>(&'a self, host: &'a str) -> ResolveFuture<'a>;
}

impl<F> Resolver for F
where
    F: Fn(&str) -> io::Result<Vec<IpAddr>> + Send + Sync,
{
    fn resolve<'a>(&'a self, host: &'a str) -> ResolveFuture<'a> {
        Box::pin(std::future::ready(self(host)))
    }
}

/// The operating system's resolver (`getaddrinfo`, through tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            let found = tokio::net::lookup_host((host, 0)).await?;
            Ok(found.map(|addr| addr.ip()).collect())
        })
    }
}

/// The pooled HTTP transport shared by every store of a runtime (see the module docs).
pub struct Transport {
    timeouts: Timeouts,
    resolver: Arc<dyn Resolver>,
    /// One client per allowance (sorted blocked addresses a policy names).
    clients: Mutex<HashMap<Vec<IpAddr>, reqwest::Client>>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// Why [`Transport::send`] produced no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Every address the destination resolved to is blocked and not named by the policy;
    /// `address` is the first of them. The hook reports it and answers
    /// `destination-ip-prohibited`.
    Blocked {
        /// The first blocked address.
        address: IpAddr,
    },
    /// Any other failure, as the guest will see it.
    Http(HttpError),
}

impl Transport {
    /// A transport whose clients connect within `timeouts.connect` and look names up with
    /// `resolver`. Clients are built on first use, one per allowance.
    pub fn new(timeouts: Timeouts, resolver: Arc<dyn Resolver>) -> Self {
        Self {
            timeouts,
            resolver,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Sends `request` to `url` (its URI, parsed: what `policy` allowed) and returns the
    /// response with a streaming body. The returned future owns everything it needs.
    pub(crate) fn send(
        &self,
        policy: &EgressPolicy,
        url: Url,
        request: http::Request<WasiBody>,
        options: RequestOptions,
    ) -> impl Future<Output = Result<http::Response<WasiBody>, SendError>> + Send + 'static {
        let client = self.client_for(policy);
        let timeouts = self.timeouts;
        async move {
            let client = client.map_err(|e| {
                tracing::error!("could not build the HTTP client: {e}");
                SendError::Http(HttpError::ConfigurationError)
            })?;
            execute(&client, url, request, options, timeouts).await
        }
    }

    /// The client screening addresses for `policy`'s allowance, built on first use.
    fn client_for(&self, policy: &EgressPolicy) -> reqwest::Result<reqwest::Client> {
        let allowance = allowance(policy);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&allowance) {
            return Ok(client.clone());
        }
        let screening = Screening {
            resolver: Arc::clone(&self.resolver),
            allowance: allowance.clone().into(),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(self.timeouts.connect)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .dns_resolver(screening)
            .tls_certs_only(roots()?)
            .build()?;
        clients.insert(allowance, client.clone());
        Ok(client)
    }
}

/// The TLS roots: Mozilla's, compiled in (`webpki-root-certs`), as Wasmtime's default
/// transport used. Not the platform's store: that needs CA files on the machine, and a host
/// that cannot build its client without them would fail even plain-HTTP loopback requests.
fn roots() -> reqwest::Result<Vec<reqwest::Certificate>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect()
}

/// The blocked addresses `policy` names as IP literals, sorted: what its client's resolver
/// may return although [`is_blocked`] says no.
///
/// Read from the typed entries (no formatting: this runs for every request) and confirmed
/// with [`EgressPolicy::names_ip`], so the set never grants more than the policy.
fn allowance(policy: &EgressPolicy) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = policy
        .named_ips()
        .filter(|&ip| is_blocked(ip) && policy.names_ip(ip))
        .collect();
    ips.sort_unstable();
    ips.dedup();
    ips
}

/// Why a name could not be turned into addresses to connect to.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    /// The resolver failed.
    #[error("looking up {host:?} failed")]
    Lookup {
        /// The name.
        host: String,
        /// What the resolver said.
        #[source]
        source: io::Error,
    },
    /// The resolver found nothing.
    #[error("{host:?} has no addresses")]
    NotFound {
        /// The name.
        host: String,
    },
    /// Every address is blocked (the list is never empty).
    #[error("every address of {host:?} is in a blocked range: {addresses:?}")]
    Blocked {
        /// The name.
        host: String,
        /// What it resolved to.
        addresses: Vec<IpAddr>,
    },
}

/// reqwest's resolver for one allowance: resolve, then remove blocked addresses.
struct Screening {
    resolver: Arc<dyn Resolver>,
    allowance: Arc<[IpAddr]>,
}

impl reqwest::dns::Resolve for Screening {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.resolver);
        let allowance = Arc::clone(&self.allowance);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = match resolver.resolve(&host).await {
                Ok(found) => found,
                Err(source) => return Err(ResolveError::Lookup { host, source }.into()),
            };
            if found.is_empty() {
                return Err(ResolveError::NotFound { host }.into());
            }
            // `names_ip` compares IPv4-mapped addresses as IPv4, as `to_canonical` does.
            let kept = remove_blocked(&found, |ip| allowance.contains(&ip.to_canonical()));
            if kept.is_empty() {
                return Err(ResolveError::Blocked {
                    host,
                    addresses: found,
                }
                .into());
            }
            if kept.len() < found.len() {
                tracing::debug!(%host, ?found, ?kept, "removed blocked addresses");
            }
            // Port 0: reqwest puts the URL's port (or the scheme's default) in its place.
            let addrs: reqwest::dns::Addrs =
                Box::new(kept.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Sends one request to `url` on `client` and wraps the response body.
async fn execute(
    client: &reqwest::Client,
    url: Url,
    request: http::Request<WasiBody>,
    options: RequestOptions,
    timeouts: Timeouts,
) -> Result<http::Response<WasiBody>, SendError> {
    if let Some(length) = declared_length(&request)
        && length > MAX_REQUEST_BODY
    {
        return Err(SendError::Http(HttpError::HttpRequestBodySize(Some(
            length,
        ))));
    }
    let failure = Arc::new(Mutex::new(None));
    // What `reqwest::Request::try_from` does, minus its second parse of the URI into a `Url`
    // (extensions are dropped either way; wasi-http sets none).
    let (parts, body) = request.into_parts();
    let mut request = reqwest::Request::new(parts.method, url);
    *request.headers_mut() = parts.headers;
    *request.version_mut() = parts.version;
    *request.body_mut() = Some(reqwest::Body::wrap(RequestBody {
        inner: Mutex::new(body),
        sent: 0,
        failure: Arc::clone(&failure),
    }));

    let connect = options.connect_timeout.unwrap_or(timeouts.connect);
    let first_byte = options.first_byte_timeout.unwrap_or(timeouts.first_byte);
    let between_bytes = options
        .between_bytes_timeout
        .unwrap_or(timeouts.between_bytes);
    let head = tokio::time::timeout(connect.saturating_add(first_byte), client.execute(request));
    let response = match head.await {
        Err(_elapsed) => return Err(SendError::Http(HttpError::ConnectionReadTimeout)),
        Ok(Err(e)) => return Err(classify(&e, &failure)),
        Ok(Ok(response)) => response,
    };
    let response: http::Response<reqwest::Body> = response.into();
    Ok(response.map(|body| ResponseBody::new(body, between_bytes).boxed_unsync()))
}

/// The request's `Content-Length`, or its body's exact size, if known.
fn declared_length(request: &http::Request<WasiBody>) -> Option<u64> {
    let header = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    header.or_else(|| request.body().size_hint().exact())
}

/// What the guest sees of a failed `execute`.
fn classify(e: &reqwest::Error, failure: &Mutex<Option<HttpError>>) -> SendError {
    tracing::debug!(
        connect = e.is_connect(),
        timeout = e.is_timeout(),
        "outbound request failed: {}",
        causes(e)
    );
    if let Some(resolve) = find_source::<ResolveError>(e) {
        return match resolve {
            ResolveError::Blocked { addresses, .. } => match addresses.first() {
                Some(&address) => SendError::Blocked { address },
                None => SendError::Http(HttpError::DestinationNotFound),
            },
            ResolveError::NotFound { .. } => SendError::Http(HttpError::DestinationNotFound),
            ResolveError::Lookup { source, .. } => SendError::Http(HttpError::DnsError {
                rcode: Some(source.to_string()),
                info_code: None,
            }),
        };
    }
    if let Some(body_error) = failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return SendError::Http(body_error);
    }
    let error = if e.is_timeout() {
        if e.is_connect() {
            HttpError::ConnectionTimeout
        } else {
            HttpError::ConnectionReadTimeout
        }
    } else if e.is_connect() {
        match find_source::<io::Error>(e).map(io::Error::kind) {
            Some(io::ErrorKind::TimedOut) => HttpError::ConnectionTimeout,
            // tokio-rustls reports handshake failures (certificates, alerts) as invalid data.
            Some(io::ErrorKind::InvalidData) => HttpError::TlsProtocolError,
            Some(io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                HttpError::ConnectionTerminated
            }
            _ => HttpError::ConnectionRefused,
        }
    } else {
        HttpError::HttpProtocolError
    };
    SendError::Http(error)
}

/// The first error of type `E` in `e`'s source chain, `e` included.
fn find_source<'a, E: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(e);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// `e`'s causes, without `e` itself: reqwest's own message holds the full URL, whose query
/// may carry data that must not reach the logs.
fn causes(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut next = e.source();
    while let Some(error) = next {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&error.to_string());
        next = error.source();
    }
    text
}

/// The guest's request body, capped at [`MAX_REQUEST_BODY`].
///
/// `WasiBody` is not `Sync`, which reqwest requires; the mutex supplies it and is never
/// contended (`poll_frame` has `&mut self`). The real error is left in `failure`, as reqwest
/// wraps the body's error beyond recognition.
struct RequestBody {
    inner: Mutex<WasiBody>,
    sent: u64,
    failure: Arc<Mutex<Option<HttpError>>>,
}

/// The marker error reqwest sees when the request body fails; the cause is in `failure`.
#[derive(Debug, thiserror::Error)]
#[error("the request body could not be sent")]
struct RequestBodyFailed;

impl RequestBody {
    fn fail(&self, error: HttpError) -> Poll<Option<Result<Frame<Bytes>, RequestBodyFailed>>> {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        Poll::Ready(Some(Err(RequestBodyFailed)))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = RequestBodyFailed;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyFailed>>> {
        let this = self.get_mut();
        let body = this.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        match ready!(Pin::new(body).poll_frame(cx)) {
            None => Poll::Ready(None),
            Some(Err(e)) => this.fail(e),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.sent = this.sent.saturating_add(len(data));
                    if this.sent > MAX_REQUEST_BODY {
                        return this.fail(HttpError::HttpRequestBodySize(Some(this.sent)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size_hint()
    }
}

/// The upstream's response body as the guest reads it: capped at [`MAX_RESPONSE_BODY`], with
/// the between-bytes timeout, and reqwest's errors turned into `wasi:http` error codes.
///
/// The timeout's timer is armed only when the body has to wait: a body whose frames are ready
/// when the guest reads them (a small answer on a fast link) never touches the timer wheel.
struct ResponseBody {
    inner: reqwest::Body,
    received: u64,
    between_bytes: Duration,
    /// When the body fails if no frame has arrived by then.
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl ResponseBody {
    fn new(inner: reqwest::Body, between_bytes: Duration) -> Self {
        Self {
            inner,
            received: 0,
            between_bytes,
            deadline: deadline_after(between_bytes),
            timer: None,
            failed: false,
        }
    }

    fn fail(&mut self, error: HttpError) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        self.failed = true;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => {
                tracing::debug!("response body failed: {}", causes(&e));
                this.fail(if e.is_timeout() {
                    HttpError::ConnectionReadTimeout
                } else {
                    HttpError::HttpResponseIncomplete
                })
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(len(data));
                    if this.received > MAX_RESPONSE_BODY {
                        return this.fail(HttpError::HttpResponseBodySize(Some(this.received)));
                    }
                }
                this.deadline = deadline_after(this.between_bytes);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let deadline = this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                ready!(timer.as_mut().poll(cx));
                this.fail(HttpError::ConnectionReadTimeout)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.failed {
            SizeHint::with_exact(0)
        } else {
            self.inner.size_hint()
        }
    }
}

/// `after` from now, or a day from now if that overflows.
fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .unwrap_or(now + Duration::from_secs(86_400))
}

/// A chunk's length in bytes.
fn len(data: &Bytes) -> u64 {
    u64::try_from(data.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
