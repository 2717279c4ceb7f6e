//! Tests of `egress::client`.

use http_body_util::Full;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("a valid IP address")
}

fn policy(entries: &[&str]) -> EgressPolicy {
    EgressPolicy::parse(entries).expect("a valid policy")
}

#[test]
fn clients_build_from_compiled_in_roots_one_per_allowance() {
    assert!(roots().map(|r| r.len()).unwrap_or(0) > 100);
    let transport = Transport::new(Timeouts::default(), Arc::new(SystemResolver));
    for entries in [
        &["https://gmail.googleapis.com"][..],
        &["https://auth0.example.com"][..],
        &["http://127.0.0.1:1"][..],
    ] {
        assert!(transport.client_for(&policy(entries)).is_ok());
    }
    let clients = transport.clients.lock().unwrap();
    assert_eq!(
        clients.len(),
        2,
        "policies without IP literals share one client"
    );
}

#[test]
fn allowance_lists_the_blocked_ip_literals_a_policy_names() {
    let p = policy(&[
        "https://gmail.googleapis.com",
        "http://127.0.0.1:8080",
        "http://[::1]:9000",
        "https://[::ffff:10.0.0.1]",
        "http://8.8.8.8",
        "*://*.example.com:*",
        "http://127.0.0.1:9090",
    ]);
    assert_eq!(allowance(&p), [ip("10.0.0.1"), ip("127.0.0.1"), ip("::1")]);
    assert!(allowance(&policy(&["https://*:*", "http://localhost:1"])).is_empty());
}

#[test]
fn screening_by_allowance_matches_is_blocked_and_names_ip() {
    let p = policy(&["http://127.0.0.1:1", "http://[::1]:2", "http://[fe80::1]:3"]);
    let allowed = allowance(&p);
    for text in [
        "127.0.0.1",
        "127.0.0.2",
        "::ffff:127.0.0.1",
        "::1",
        "fe80::1",
        "fe80::2",
        "10.0.0.1",
        "8.8.8.8",
    ] {
        let ip = ip(text);
        let screened_out = is_blocked(ip) && !allowed.contains(&ip.to_canonical());
        assert_eq!(screened_out, is_blocked(ip) && !p.names_ip(ip), "{text}");
    }
}

/// A request body of ready chunks.
struct Chunks(std::vec::IntoIter<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        Poll::Ready(self.get_mut().0.next().map(|c| Ok(Frame::data(c))))
    }
}

fn wasi_body(chunks: Vec<Bytes>) -> WasiBody {
    Chunks(chunks.into_iter()).boxed_unsync()
}

#[tokio::test]
async fn request_body_over_the_cap_fails_with_its_size() {
    let chunk = Bytes::from(vec![0u8; 1 << 20]);
    let failure = Arc::new(Mutex::new(None));
    let body = RequestBody {
        inner: Mutex::new(wasi_body(vec![chunk; 9])),
        sent: 0,
        failure: Arc::clone(&failure),
    };
    assert!(body.collect().await.is_err());
    let error = failure.lock().unwrap().take();
    assert!(
        matches!(error, Some(HttpError::HttpRequestBodySize(Some(n))) if n == 9 << 20),
        "{error:?}"
    );
}

#[tokio::test]
async fn response_body_over_the_cap_fails_with_its_size() {
    let big = reqwest::Body::wrap(Full::new(Bytes::from(vec![0u8; (16 << 20) + 1])));
    let body = ResponseBody::new(big, Duration::from_secs(5));
    let error = body.collect().await.err();
    assert!(
        matches!(error, Some(HttpError::HttpResponseBodySize(Some(n))) if n == (16 << 20) + 1),
        "{error:?}"
    );
    let small = reqwest::Body::wrap(Full::new(Bytes::from_static(b"hello")));
    let got = ResponseBody::new(small, Duration::from_secs(5))
        .collect()
        .await
        .map(|c| c.to_bytes());
    assert_eq!(got.ok(), Some(Bytes::from_static(b"hello")));
}
