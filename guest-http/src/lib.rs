//! Outgoing HTTP for guest components, over the raw `wasi:http/outgoing-handler` import.
//!
//! Why not a higher-level client: the host reports an egress denial as
//! `error-code::http-request-denied` on the response future, and clients that join the body
//! write with the response wait report it as "connection reset" instead. Here body-stream
//! errors are ignored and the response future's own error is what the caller sees. [`send_all`]
//! puts every request in flight before waiting on any, so N independent requests cost one
//! round trip, not N.
//!
//! It owns transport only: JSON, retries and auth headers belong to the callers.

use std::fmt;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

/// Bytes read per call when draining a response body.
const READ_CHUNK: u64 = 64 * 1024;

/// `blocking-write-and-flush` accepts at most 4096 bytes per call (wasi:io/streams).
const WRITE_CHUNK: usize = 4096;

/// An outgoing request.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `POST` to `url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// A request with any method.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The request URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A response with its whole body read.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl(String),
    /// A header name or value was refused.
    InvalidHeader(String),
    /// The host's egress policy refused the destination.
    Denied {
        /// `scheme://authority` of the refused destination.
        destination: String,
    },
    /// The request was sent but failed: DNS, connect, TLS, timeout, protocol.
    Transport(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl(url) => write!(f, "invalid URL {url:?}"),
            Error::InvalidHeader(msg) => write!(f, "invalid header: {msg}"),
            Error::Denied { destination } => {
                write!(f, "the host's egress policy does not allow {destination}")
            }
            Error::Transport(msg) => write!(f, "request failed: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// Sends one request and reads the whole response.
///
/// # Errors
///
/// [`Error`] when no response arrived; a non-2xx status is a response, not an error.
pub fn send(request: Request) -> Result<Response, Error> {
    send_all(vec![request])
        .pop()
        .unwrap_or_else(|| Err(Error::Transport("no response".into())))
}

/// Sends every request before waiting on any; results come back in request order.
pub fn send_all(requests: Vec<Request>) -> Vec<Result<Response, Error>> {
    let in_flight: Vec<Result<(FutureIncomingResponse, String), Error>> =
        requests.into_iter().map(start).collect();

    let mut results: Vec<Option<Result<Response, Error>>> = in_flight
        .iter()
        .map(|f| f.as_ref().err().map(|e| Err(e.clone())))
        .collect();
    loop {
        let waiting: Vec<usize> = (0..in_flight.len())
            .filter(|&i| results[i].is_none())
            .collect();
        if waiting.is_empty() {
            break;
        }
        let pollables: Vec<_> = waiting
            .iter()
            .filter_map(|&i| in_flight[i].as_ref().ok().map(|(f, _)| f.subscribe()))
            .collect();
        let refs: Vec<_> = pollables.iter().collect();
        for ready in wasip2::io::poll::poll(&refs) {
            let i = waiting[ready as usize];
            if let Ok((future, destination)) = &in_flight[i] {
                results[i] = future.get().map(|r| finish(r, destination));
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Transport("no response".into()))))
        .collect()
}

/// Builds the request, hands it to the host and writes its body.
fn start(request: Request) -> Result<(FutureIncomingResponse, String), Error> {
    let target = Target::parse(&request.url)?;
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&entries).map_err(|e| Error::InvalidHeader(format!("{e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let invalid = |what: &str| Error::InvalidUrl(format!("{} ({what})", request.url));
    outgoing
        .set_method(&request.method)
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&target.scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(&target.authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&target.path_with_query))
        .map_err(|()| invalid("path"))?;
    let body = outgoing
        .body()
        .map_err(|()| Error::Transport("request body already taken".into()))?;

    let future = outgoing_handler::handle(outgoing, None)
        .map_err(|code| describe(&code, &target.destination()))?;
    // A refused request closes the body stream; ignore write errors here so the caller sees
    // the response future's own error (`http-request-denied`), not a broken stream.
    if let Ok(stream) = body.write() {
        for chunk in request.body.chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body, None);
    Ok((future, target.destination()))
}

fn finish(
    result: Result<Result<IncomingResponse, ErrorCode>, ()>,
    destination: &str,
) -> Result<Response, Error> {
    let response = result
        .map_err(|()| Error::Transport("response already taken".into()))?
        .map_err(|code| describe(&code, destination))?;
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let body = read_body(&response).map_err(|code| describe(&code, destination))?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_body(response: &IncomingResponse) -> Result<Vec<u8>, ErrorCode> {
    let incoming = response
        .consume()
        .map_err(|()| ErrorCode::InternalError(Some("body already consumed".into())))?;
    let stream = incoming
        .stream()
        .map_err(|()| ErrorCode::InternalError(Some("body stream already taken".into())))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(err)) => {
                return Err(wasip2::http::types::http_error_code(&err)
                    .unwrap_or(ErrorCode::InternalError(Some(err.to_debug_string()))));
            }
        }
    }
    Ok(body)
}

fn describe(code: &ErrorCode, destination: &str) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => Error::Denied {
            destination: destination.to_owned(),
        },
        ErrorCode::DestinationIpProhibited => Error::Denied {
            destination: format!("{destination} (its address is in a blocked range)"),
        },
        ErrorCode::InternalError(Some(msg)) => Error::Transport(format!("{destination}: {msg}")),
        other => Error::Transport(format!("{destination}: {other:?}")),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters: safe in a path segment and
/// in a query value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parts of an absolute URL that `wasi:http` takes separately.
#[derive(Debug)]
struct Target {
    scheme: Scheme,
    authority: String,
    path_with_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidUrl(url.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(invalid()),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(invalid());
        }
        let tail = tail.split('#').next().unwrap_or_default();
        let path_with_query = match tail.chars().next() {
            None => "/".to_owned(),
            Some('?') => format!("/{tail}"),
            Some(_) => tail.to_owned(),
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path_with_query,
        })
    }

    fn destination(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            _ => "https",
        };
        format!("{scheme}://{}", self.authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_unreserved_only() {
        assert_eq!(percent_encode("a+b/c=d e~"), "a%2Bb%2Fc%3Dd%20e~");
        assert_eq!(percent_encode("Zürich"), "Z%C3%BCrich");
    }

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let t = Target::parse("https://gmail.googleapis.com/gmail/v1?x=1#frag").unwrap();
        assert_eq!(t.authority, "gmail.googleapis.com");
        assert_eq!(t.path_with_query, "/gmail/v1?x=1");
        assert_eq!(
            Target::parse("http://h:8080?q").unwrap().path_with_query,
            "/?q"
        );
        assert!(Target::parse("ftp://h/").is_err());
        assert!(Target::parse("https:///x").is_err());
    }
}
