//! Tests of `egress::hooks`.

use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::egress::client::{MAX_REQUEST_BODY, MAX_RESPONSE_BODY, Resolver, SystemResolver};

/// `evil.test` and `also-evil.test` resolve to loopback; every other name fails.
fn test_resolver(host: &str) -> io::Result<Vec<IpAddr>> {
    match host {
        "evil.test" => Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        "also-evil.test" => Ok(vec![
            "::ffff:127.0.0.1".parse().unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ]),
        _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such test host")),
    }
}

fn transport() -> Arc<Transport> {
    Arc::new(Transport::new(Timeouts::default(), Arc::new(test_resolver)))
}

fn hooks(entries: &[&str]) -> EgressHooks {
    hooks_with(entries, transport(), Arc::new(|_: &Denial| {}))
}

fn hooks_with(
    entries: &[&str],
    transport: Arc<Transport>,
    on_denied: Arc<dyn DeniedHandler>,
) -> EgressHooks {
    EgressHooks::new(
        "mail".into(),
        Arc::new(EgressPolicy::parse(entries).unwrap()),
        Timeouts::default(),
        on_denied,
        None,
        transport,
    )
}

/// Collects denials.
#[derive(Clone, Default)]
struct Denials(Arc<Mutex<Vec<Denial>>>);

impl DeniedHandler for Denials {
    fn denied(&self, denial: &Denial) {
        self.0.lock().unwrap().push(denial.clone());
    }
}

impl Denials {
    fn all(&self) -> Vec<Denial> {
        self.0.lock().unwrap().clone()
    }
}

/// A loopback HTTP/1.1 upstream that counts accepted connections. Paths: `/ok` (200,
/// "hello"), `/redirect` (302 to `/ok`), `/big` (one byte over the response cap),
/// `/stall` (a head, 2 of 10 body bytes, then silence).
struct Upstream {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream));
            }
        });
        Self {
            port,
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Serves requests (without bodies) on one connection until the client closes it.
async fn serve(mut stream: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or("/").to_owned();
        let written = match path.as_str() {
            "/ok" => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                    .await
            }
            "/redirect" => {
                stream
                    .write_all(b"HTTP/1.1 302 Found\r\nlocation: /ok\r\ncontent-length: 0\r\n\r\n")
                    .await
            }
            "/big" => {
                let size = MAX_RESPONSE_BODY + 1;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
                let chunk = vec![b'x'; 1 << 16];
                let mut result = stream.write_all(head.as_bytes()).await;
                let mut left = size;
                while result.is_ok() && left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    result = stream.write_all(&chunk[..n]).await;
                    left -= n as u64;
                }
                result
            }
            "/stall" => {
                let result = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhe")
                    .await;
                tokio::time::sleep(Duration::from_secs(30)).await;
                result
            }
            _ => {
                stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    .await
            }
        };
        if written.is_err() {
            return;
        }
    }
}

fn get(url: &str) -> http::Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().to_string();
    http::Request::builder()
        .uri(uri)
        .header(http::header::HOST, authority)
        .body(Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync())
        .unwrap()
}

async fn send(
    hooks: &mut EgressHooks,
    request: http::Request<WasiBody>,
) -> Result<http::Response<WasiBody>, HttpError> {
    let future = hooks.send_request(request, None, Box::new(async { Ok(()) }));
    let (response, io) = Pin::from(future).await?;
    Pin::from(io).await?;
    Ok(response)
}

async fn body(response: http::Response<WasiBody>) -> Result<Bytes, HttpError> {
    Ok(response.into_body().collect().await?.to_bytes())
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

#[test]
fn blocked_address_denial_names_host_address_and_fix() {
    let denial = Denial {
        component: "mail".into(),
        destination: "http://evil.test:8080".into(),
        reason: DenialReason::BlockedAddress {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        },
    };
    let text = denial.to_string();
    assert!(text.contains("\"http://evil.test:8080\""), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(text.contains("\"http://127.0.0.1:8080\""), "{text}");
    assert_eq!(
        ip_entry("https://[::1]:8443", "fe80::1".parse().unwrap()),
        "https://[fe80::1]:8443"
    );
}

#[tokio::test]
async fn name_resolving_to_loopback_is_prohibited_unless_the_policy_names_the_ip() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let denials = Denials::default();
    let mut h = hooks_with(
        &[&format!("http://evil.test:{port}")],
        transport(),
        Arc::new(denials.clone()),
    );
    let url = format!("http://evil.test:{port}/ok?secret=1");
    let got = send(&mut h, get(&url)).await;
    assert!(
        matches!(got, Err(HttpError::DestinationIpProhibited)),
        "{got:?}"
    );
    let seen = denials.all();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].destination, format!("http://evil.test:{port}"));
    assert_eq!(
        seen[0].reason,
        DenialReason::BlockedAddress {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    );
    assert!(!seen[0].to_string().contains("secret"));
    // An IPv4-mapped loopback address is loopback too.
    let mut h = hooks(&[&format!("http://also-evil.test:{port}")]);
    let got = send(&mut h, get(&format!("http://also-evil.test:{port}/ok"))).await;
    assert!(
        matches!(got, Err(HttpError::DestinationIpProhibited)),
        "{got:?}"
    );
    assert_eq!(upstream.accepted(), 0, "nothing reached the upstream");

    let mut h = hooks(&[
        &format!("http://evil.test:{port}"),
        &format!("http://127.0.0.1:{port}"),
    ]);
    let response = send(&mut h, get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await.unwrap(), "hello");
}

#[tokio::test]
async fn ip_literal_is_checked_like_a_resolved_address() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let denials = Denials::default();
    let mut h = hooks_with(
        &[&format!("http://*:{port}")],
        transport(),
        Arc::new(denials.clone()),
    );
    for url in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ] {
        let got = send(&mut h, get(&url)).await;
        assert!(
            matches!(got, Err(HttpError::DestinationIpProhibited)),
            "{url}: {got:?}"
        );
    }
    assert_eq!(denials.all().len(), 2);
    assert_eq!(upstream.accepted(), 0);

    let mut h = hooks(&[&format!("http://127.0.0.1:{port}")]);
    let response = send(&mut h, get(&format!("http://127.0.0.1:{port}/ok")))
        .await
        .unwrap();
    assert_eq!(body(response).await.unwrap(), "hello");
}

#[tokio::test]
async fn redirects_come_back_to_the_guest_unfollowed() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let mut h = hooks(&[&format!("http://127.0.0.1:{port}")]);
    let response = send(&mut h, get(&format!("http://127.0.0.1:{port}/redirect")))
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/ok");
    assert_eq!(body(response).await.unwrap(), "");
}

#[tokio::test]
async fn requests_from_two_stores_share_one_pooled_connection() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let shared = transport();
    let entries = [format!("http://127.0.0.1:{port}")];
    let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
    for _ in 0..2 {
        // A fresh `EgressHooks` per request, as every call gets a fresh store.
        let mut h = hooks_with(&entries, Arc::clone(&shared), Arc::new(|_: &Denial| {}));
        let response = send(&mut h, get(&format!("http://127.0.0.1:{port}/ok")))
            .await
            .unwrap();
        assert_eq!(body(response).await.unwrap(), "hello");
        // The connection returns to the pool in a background task once the body ends.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(upstream.accepted(), 1);
}

#[tokio::test]
async fn oversized_response_body_fails_with_body_size() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let mut h = hooks(&[&format!("http://127.0.0.1:{port}")]);
    let response = send(&mut h, get(&format!("http://127.0.0.1:{port}/big")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let got = body(response).await;
    assert!(
        matches!(got, Err(HttpError::HttpResponseBodySize(Some(n))) if n > MAX_RESPONSE_BODY),
        "{:?}",
        got.map(|b| b.len())
    );
}

#[tokio::test]
async fn oversized_request_body_is_refused_before_connecting() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let mut h = hooks(&[&format!("http://127.0.0.1:{port}")]);
    let mut request = get(&format!("http://127.0.0.1:{port}/ok"));
    *request.method_mut() = http::Method::POST;
    request.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        (MAX_REQUEST_BODY + 1).to_string().parse().unwrap(),
    );
    let got = send(&mut h, request).await;
    assert!(
        matches!(got, Err(HttpError::HttpRequestBodySize(Some(n))) if n == MAX_REQUEST_BODY + 1),
        "{got:?}"
    );
    assert_eq!(upstream.accepted(), 0);
}

#[tokio::test]
async fn a_stalled_body_fails_after_the_between_bytes_timeout() {
    let upstream = Upstream::start().await;
    let port = upstream.port;
    let mut h = hooks(&[&format!("http://127.0.0.1:{port}")]);
    let future = h.send_request(
        get(&format!("http://127.0.0.1:{port}/stall")),
        Some(RequestOptions {
            connect_timeout: None,
            first_byte_timeout: None,
            between_bytes_timeout: Some(Duration::from_millis(200)),
        }),
        Box::new(async { Ok(()) }),
    );
    let (response, _io) = Pin::from(future).await.unwrap();
    let started = std::time::Instant::now();
    let got = body(response).await;
    assert!(
        matches!(got, Err(HttpError::ConnectionReadTimeout)),
        "{got:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn unknown_names_fail_with_a_dns_error() {
    let mut h = hooks(&["http://nowhere.test:1"]);
    let got = send(&mut h, get("http://nowhere.test:1/")).await;
    assert!(matches!(got, Err(HttpError::DnsError { .. })), "{got:?}");
}

#[tokio::test]
async fn system_resolver_resolves_ip_text_without_the_network() {
    let found = SystemResolver.resolve("127.0.0.1").await.unwrap();
    assert_eq!(found, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
}
