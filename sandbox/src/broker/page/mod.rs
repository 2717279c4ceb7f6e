//! The connect page the person opens from the agent's link (linkauth-broker.md §7):
//! `GET /connect/{code}` serves the same HTML for any code, and `/static/connect.js` and
//! `/static/connect.css` are the script and style it loads. The script drives the page API of
//! `connect`: it shows the session and its code, confirms it, then either links to
//! `/v1/oauth/authorize/{code}` (OAuth and passthrough sessions) or encrypts the form to the
//! agent's key with WebCrypto and submits only the ciphertext (form sessions).
//!
//! The files are embedded, and every one is served with [`CONTENT_SECURITY_POLICY`]: nothing loads
//! from anywhere but the broker, no inline script or style runs, the page cannot be framed, and no
//! form submits natively (a credential leaves the page only as ciphertext). Unlike the real page,
//! which loads Tailwind from a CDN without SRI or CSP, it needs no network beyond the broker.

use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::wire::respond;

/// The page's HTML; it names its script and style by absolute path, never the code.
const INDEX_HTML: &str = include_str!("index.html");
/// The page's behaviour: the page API calls, the form fields and the WebCrypto envelope.
const CONNECT_JS: &str = include_str!("connect.js");
/// The page's look.
const CONNECT_CSS: &str = include_str!("connect.css");

/// Same-origin script, style and `fetch` only; no plugins, no `<base>`, no framing and no native
/// form submission (the script posts the ciphertext itself).
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /connect/{code}`: the page, whatever the code (the script asks the broker about it).
pub(super) async fn index() -> Response {
    serve("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /static/connect.js`.
pub(super) async fn script() -> Response {
    serve("text/javascript; charset=utf-8", CONNECT_JS)
}

/// `GET /static/connect.css`.
pub(super) async fn style() -> Response {
    serve("text/css; charset=utf-8", CONNECT_CSS)
}

/// A 200 with `body` and the headers every page file carries.
fn serve(content_type: &str, body: &'static str) -> Response {
    let mut response = respond(200, content_type, body);
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // The address holds the code, and the Continue link the connect token.
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::http::header;
    use serde_json::json;

    use super::super::fixtures::{client, create_ok, quick, send, start};
    use super::{CONNECT_CSS, CONNECT_JS, CONTENT_SECURITY_POLICY, INDEX_HTML};

    #[tokio::test]
    async fn the_page_is_served_with_its_csp_for_any_code() {
        let broker = start(quick());
        let base = broker.base_url();
        let session = create_ok(&broker, json!({"template": "api_key"})).await;
        let lower = session.code.replace('-', "").to_lowercase();
        for code in [session.code.as_str(), &lower, "ZZZZ-ZZZZ", "%3Cscript%3E"] {
            let page = send(client().get(format!("{base}/connect/{code}"))).await;
            assert_eq!(page.status, 200, "{code}");
            assert_eq!(page.content_type, "text/html; charset=utf-8", "{code}");
            assert_eq!(
                page.headers[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(page.body, INDEX_HTML, "the same page for {code}");
        }
        let success = format!("{base}/connect/{}?status=success", session.code);
        assert_eq!(send(client().get(success)).await.status, 200);
        assert!(INDEX_HTML.contains(r#"<script src="/static/connect.js" defer></script>"#));
        assert!(INDEX_HTML.contains(r#"<link rel="stylesheet" href="/static/connect.css">"#));
        assert_eq!(
            broker.sessions()[0].status,
            "pending",
            "serving the page changes nothing"
        );
    }

    #[tokio::test]
    async fn the_script_and_style_are_served_with_the_same_headers() {
        let broker = start(quick());
        let base = broker.base_url();
        let files = [
            ("connect.js", "text/javascript; charset=utf-8", CONNECT_JS),
            ("connect.css", "text/css; charset=utf-8", CONNECT_CSS),
        ];
        for (name, content_type, body) in files {
            let reply = send(client().get(format!("{base}/static/{name}"))).await;
            assert_eq!(
                (reply.status, reply.content_type.as_str()),
                (200, content_type),
                "{name}"
            );
            assert_eq!(
                reply.headers[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(reply.body, body, "{name}");
        }
        let missing = send(client().get(format!("{base}/static/crypto.js"))).await;
        assert_eq!(missing.status, 404);
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_never_parses_server_text_as_html() {
        for (name, text) in [
            ("index.html", INDEX_HTML),
            ("connect.js", CONNECT_JS),
            ("connect.css", CONNECT_CSS),
        ] {
            for banned in ["http:", "https:", "//cdn", "@import", "url("] {
                assert!(!text.contains(banned), "{name} contains {banned:?}");
            }
        }
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!CONNECT_JS.contains(banned), "connect.js uses {banned}");
        }
        // The CSP forbids inline script and style, so the HTML has none.
        assert_eq!(INDEX_HTML.matches("<script").count(), 1);
        assert!(!INDEX_HTML.contains("<style") && !INDEX_HTML.contains(" style="));
        for id in [
            "status", "error", "code", "confirm", "continue", "form", "fields", "submit",
        ] {
            assert!(INDEX_HTML.contains(&format!(r#"id="{id}""#)), "#{id}");
        }
    }
}
