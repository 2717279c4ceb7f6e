//! The fake broker's connect page in a real browser: headless Chromium, driven through
//! chromedriver by `mcs_tests::webdriver`, does the person's part of each flow instead of
//! `FakeBroker::approve`. What belongs here: flows whose browser step matters (the page's
//! OAuth links, its WebCrypto encryption, what it shows on errors). Everything else uses
//! `FakeBroker::approve` and goes in `auth_flow`.
//!
//! The tests need Debian's `chromium` and `chromium-driver`; without them they fail, unless
//! `MCS_SKIP_BROWSER_TESTS=1` says to skip them.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcs_host::{AuthChallenge, AuthError, CallError, ComponentConfig, Runtime, ToolError, guests};
use mcs_sandbox::envelope::{self, ALGORITHM};
use mcs_tests::sandbox::Sandbox;
use mcs_tests::webdriver::{Browser, CHROMEDRIVER, CHROMIUM};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use serde_json::{Value, json};

/// Headless Chromium with a fresh profile, or `None` when it is not installed and
/// `MCS_SKIP_BROWSER_TESTS=1` allows skipping.
async fn browser(test: &str) -> Option<Browser> {
    let missing: Vec<&str> = [CHROMEDRIVER, CHROMIUM]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if !missing.is_empty() {
        if std::env::var("MCS_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
            eprintln!("{test}: skipped, MCS_SKIP_BROWSER_TESTS=1 and {missing:?} not installed");
            return None;
        }
        panic!(
            "{missing:?} not found: the browser tests drive headless Chromium through chromedriver. \
             `.ci/run` installs Debian's `chromium` and `chromium-driver` packages \
             (`apt-get install chromium chromium-driver`); set MCS_SKIP_BROWSER_TESTS=1 to skip \
             these tests on a machine without them"
        );
    }
    Some(Browser::launch().await.expect("headless Chromium starts"))
}

/// What the page showed for a session before its code was confirmed.
#[derive(Debug)]
struct Shown {
    display_name: String,
    code: String,
    security: String,
}

/// Opens the challenge's page, waits for it to show the session, checks the code is the
/// challenge's, and clicks "This code matches".
async fn open_and_confirm(browser: &Browser, challenge: &AuthChallenge) -> Shown {
    let url = challenge.url.as_deref().expect("the challenge has a URL");
    let code = challenge.code.as_deref().expect("the challenge has a code");
    browser.goto(url).await.expect("the page opens");
    let shown_code = browser
        .wait_for_text("#code", "the session's code", |t| !t.is_empty())
        .await
        .expect("the page shows the session");
    let shown = Shown {
        display_name: browser.text("#display-name").await.expect("a name"),
        code: shown_code,
        security: browser.text("#security").await.expect("a banner"),
    };
    assert_eq!(shown.code, code, "the page shows the agent's code");
    assert!(!browser.is_displayed("#error").await.unwrap());
    browser.click("#confirm").await.expect("confirm clicks");
    shown
}

/// After confirming an OAuth session: clicks Continue and waits for the success page; the
/// Continue link's address.
async fn continue_to_success(browser: &Browser, base: &str, code: &str) -> String {
    let link = browser
        .wait_for_visible("#continue")
        .await
        .expect("Continue appears");
    let href = link.property("href").await.expect("href");
    let href = href.as_str().unwrap_or_default().to_owned();
    let prefix = format!("{base}/v1/oauth/authorize/{code}?connect_token=ct_");
    assert!(href.starts_with(&prefix), "{href}");
    link.click().await.expect("Continue clicks");
    let status = browser
        .wait_for_text("#status", "\"Connected\"", |t| t.starts_with("Connected"))
        .await
        .expect("the flow ends on the success page");
    assert!(status.contains("close this window"), "{status}");
    let url = browser.url().await.expect("url");
    assert_eq!(url, format!("{base}/connect/{code}?status=success"));
    href
}

/// Asserts `expected` appears in `seen` in this order (other requests, such as the favicon,
/// may come between).
fn assert_in_order(seen: &[String], expected: &[String]) {
    let mut rest = seen.iter();
    for want in expected {
        assert!(
            rest.any(|line| line == want),
            "{want:?} missing or out of order in {seen:#?}"
        );
    }
}

/// The requests the page makes for a confirmed OAuth session, up to the success page.
fn oauth_page_requests(code: &str) -> Vec<String> {
    [
        format!("GET /connect/{code}"),
        "GET /static/connect.js".into(),
        format!("GET /v1/connect/{code}"),
        format!("POST /v1/connect/{code}/confirm"),
        format!("GET /v1/oauth/authorize/{code}"),
        "GET /v1/oauth/callback".into(),
        format!("GET /connect/{code}"),
    ]
    .into()
}

#[tokio::test]
async fn the_token_vault_first_run_is_approved_in_the_browser() {
    let Some(browser) = browser("the_token_vault_first_run_is_approved_in_the_browser").await
    else {
        return;
    };
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let base = sb.broker.base_url();

    // 1. The Auth0 login: the page runs standard OAuth through the fake tenant's /authorize.
    let login = sb.challenge().await;
    assert_eq!(login.scope, "gmail");
    let code = login.code.clone().unwrap();
    let mark = sb.mark();
    let shown = open_and_confirm(&browser, &login).await;
    assert_eq!(shown.display_name, "Sign in with Auth0");
    assert_eq!(
        shown.security,
        "Development mode -- connection is not encrypted. Do not enter real credentials."
    );
    continue_to_success(&browser, &base, &code).await;
    let seen = sb.since(mark);
    assert_in_order(&seen.broker, &oauth_page_requests(&code));
    assert!(seen.broker.contains(&"GET /static/connect.css".to_owned()));
    assert!(
        seen.auth0.contains(&"GET /authorize".to_owned()),
        "{:?}",
        seen.auth0
    );
    assert!(
        !seen.broker.iter().any(|l| l.contains("/complete")),
        "an OAuth session is never completed by the page"
    );

    // 2. Connected Accounts: the page sends the browser to the tenant's connect URL.
    let connect = sb.challenge().await;
    assert_eq!(connect.scope, "gmail:connect");
    let connect_code = connect.code.clone().unwrap();
    assert_ne!(connect_code, code);
    let mark = sb.mark();
    let shown = open_and_confirm(&browser, &connect).await;
    assert_eq!(shown.display_name, "Connect your account for gmail");
    continue_to_success(&browser, &base, &connect_code).await;
    let seen = sb.since(mark);
    assert_in_order(&seen.broker, &oauth_page_requests(&connect_code));
    assert!(
        seen.auth0.contains(&"GET /connect".to_owned()),
        "{:?}",
        seen.auth0
    );
    assert!(
        !sb.auth0.is_connected("google-oauth2"),
        "connected only once the agent completes"
    );

    // 3. The tool runs.
    let out = sb.call().await.expect("the tool runs");
    assert!(out.contains("\"Work\""), "{out}");
    assert!(sb.auth0.is_connected("google-oauth2"));
    let statuses: Vec<String> = sb.broker.sessions().into_iter().map(|s| s.status).collect();
    assert_eq!(statuses, ["consumed", "consumed"]);

    browser.quit().await.expect("the browser quits");
}

/// The provider in linkauth mode: a `basic_auth` form for scope `gmail`, its password the token.
fn form_provider(sb: &Sandbox) -> ComponentConfig {
    ComponentConfig::new("auth", guests::GUEST_AUTH_COMPONENT_BYTES)
        .setting("mode", "linkauth")
        .setting("linkauth-broker-url", sb.broker.base_url())
        .setting("linkauth-template.gmail", "basic_auth")
        .allow(sb.broker.base_url())
}

async fn form_runtime(sb: &Sandbox) -> Runtime {
    mcs_tests::builder()
        .provider(form_provider(sb))
        .tool(mcs_tests::mail_component(&sb.gmail))
        .kv_backend(Arc::clone(&sb.kv) as _)
        .build()
        .await
        .expect("runtime builds")
}

/// The agent key the sandbox seeded, as PKCS#8 DER.
fn agent_private_key(sb: &Sandbox) -> Vec<u8> {
    let stored = sb.stored("linkauth:privkey").expect("a seeded agent key");
    STANDARD.decode(stored).expect("base64")
}

#[tokio::test]
async fn a_form_typed_in_the_browser_reaches_the_tool_encrypted() {
    let Some(browser) = browser("a_form_typed_in_the_browser_reaches_the_tool_encrypted").await
    else {
        return;
    };
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let token = sb.auth0.config().google_access_token.clone();

    let challenge = match form_runtime(&sb)
        .await
        .call_tool("list_folders", "{}")
        .await
    {
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => c,
        other => panic!("expected a challenge, got {other:?}"),
    };
    let code = challenge.code.clone().unwrap();
    let shown = open_and_confirm(&browser, &challenge).await;
    assert_eq!(shown.display_name, "Credentials for gmail");

    browser
        .wait_for_visible("#form")
        .await
        .expect("the form appears");
    assert!(!browser.is_displayed("#continue").await.unwrap());
    assert_eq!(
        browser.text("label[for='field-username']").await.unwrap(),
        "Username"
    );
    assert_eq!(
        browser.text("label[for='field-password']").await.unwrap(),
        "Password"
    );
    let password = browser.find("#field-password").await.unwrap();
    assert_eq!(password.property("type").await.unwrap(), "password");
    browser
        .send_keys("#field-username", "alice@example.com")
        .await
        .unwrap();
    password.send_keys(&token).await.unwrap();
    browser.click("#submit").await.expect("submit clicks");
    let status = browser
        .wait_for_text("#status", "\"Connected\"", |t| t.starts_with("Connected"))
        .await
        .expect("the page reports success");
    assert!(status.contains("encrypted"), "{status}");
    assert!(!browser.is_displayed("#form").await.unwrap());

    // The broker got ciphertext only: the page's compact envelope of every field, in order.
    let completes: Vec<_> = sb
        .broker
        .requests()
        .into_iter()
        .filter(|r| r.line() == format!("POST /v1/connect/{code}/complete"))
        .collect();
    assert_eq!(completes.len(), 1);
    let body = completes[0].json().expect("a JSON body");
    assert!(
        !completes[0].body.contains(&token),
        "no plaintext on the wire"
    );
    assert_eq!(body["algorithm"], ALGORITHM);
    assert!(body["connect_token"].as_str().unwrap().starts_with("ct_"));
    let ciphertext = body["ciphertext"].as_str().unwrap();
    assert!(
        ciphertext.starts_with("eyJ3cmFwcGVkX2tleSI6"),
        "{ciphertext}"
    );
    let plain = envelope::open(&agent_private_key(&sb), ciphertext).expect("the envelope opens");
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        format!(r#"{{"username":"alice@example.com","password":"{token}"}}"#)
    );

    // The guest decrypts it and the tool sends the typed password to Gmail as the token.
    let mark = sb.mark();
    let out = form_runtime(&sb)
        .await
        .call_tool("list_folders", "{}")
        .await
        .expect("the typed credential works");
    assert!(out.contains("\"Work\""), "{out}");
    let gmail = sb.gmail.requests();
    let labels = gmail.last().expect("Gmail was called");
    assert_eq!(
        labels.authorization.as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(sb.since(mark).gmail, ["GET /gmail/v1/users/me/labels"]);

    // Opening the link again shows that the session is done.
    browser
        .goto(challenge.url.as_deref().unwrap())
        .await
        .unwrap();
    let error = browser
        .wait_for_text("#error", "the broker's detail", |t| !t.is_empty())
        .await
        .expect("an error is shown");
    assert_eq!(error, "Session already completed.");

    browser.quit().await.expect("the browser quits");
}

#[tokio::test]
async fn the_page_shows_the_brokers_error_for_a_bad_code() {
    let Some(browser) = browser("the_page_shows_the_brokers_error_for_a_bad_code").await else {
        return;
    };
    let sb = Sandbox::start();
    let base = sb.broker.base_url();
    for code in ["ZZZZ-ZZZZ", "%3Cb%3Enot-a-code%3C%2Fb%3E"] {
        browser
            .goto(&format!("{base}/connect/{code}"))
            .await
            .unwrap();
        let error = browser
            .wait_for_text("#error", "the broker's detail", |t| !t.is_empty())
            .await
            .expect("an error is shown");
        assert_eq!(error, "Session not found or expired.", "{code}");
        assert_eq!(
            browser.text("#status").await.unwrap(),
            "Something went wrong."
        );
        assert!(!browser.is_displayed("#session").await.unwrap());
        assert!(!browser.is_displayed("#confirm").await.unwrap());
    }
    let asked: Vec<String> = sb
        .broker
        .requests()
        .iter()
        .map(|r| r.line())
        .filter(|l| l.starts_with("GET /v1/connect/"))
        .collect();
    assert_eq!(
        asked,
        [
            "GET /v1/connect/ZZZZ-ZZZZ",
            "GET /v1/connect/%3Cb%3Enot-a-code%3C%2Fb%3E"
        ]
    );

    // A code confirmed elsewhere: the page says so when the person confirms.
    let login = sb.challenge().await;
    let code = login.code.clone().unwrap();
    browser.goto(login.url.as_deref().unwrap()).await.unwrap();
    browser
        .wait_for_visible("#confirm")
        .await
        .expect("the page shows the session");
    let confirm = reqwest::Client::builder().no_proxy().build().unwrap();
    let other = confirm
        .post(format!("{base}/v1/connect/{code}/confirm"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    browser.click("#confirm").await.unwrap();
    let error = browser
        .wait_for_text("#error", "the broker's detail", |t| !t.is_empty())
        .await
        .expect("an error is shown");
    assert_eq!(error, "Session has already been confirmed.");
    assert!(!browser.is_displayed("#continue").await.unwrap());

    browser.quit().await.expect("the browser quits");
}

#[tokio::test]
async fn custom_form_fields_are_rendered_as_text_and_sent_in_field_order() {
    let Some(browser) =
        browser("custom_form_fields_are_rendered_as_text_and_sent_in_field_order").await
    else {
        return;
    };
    let sb = Sandbox::start();
    sb.seed_agent_key();
    let private = agent_private_key(&sb);
    let public = rsa::RsaPrivateKey::from_pkcs8_der(&private)
        .expect("PKCS#8")
        .to_public_key()
        .to_public_key_der()
        .expect("SPKI");
    let base = sb.broker.base_url();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // A session as an agent creates it, with every kind of field and markup in server text.
    let display_name = "<b>Acme</b> & <img src=x onerror=alert(1)>";
    let request = json!({
        "public_key": STANDARD.encode(public.as_bytes()),
        "display_name": display_name,
        "fields": [
            {"name": "account", "label": "<i>Account</i>", "type": "text", "required": true},
            {"name": "region", "label": "Region", "type": "select", "options": ["eu", "us"]},
            {"name": "notes", "label": "Notes", "type": "textarea", "required": false},
            {"name": "secret", "label": "Secret", "type": "password"},
        ],
    });
    let created: Value = http
        .post(format!("{base}/v1/sessions"))
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = |k: &str| created[k].as_str().expect(k).to_owned();
    let (url, code) = (text("url"), text("code"));

    browser.goto(&url).await.unwrap();
    browser
        .wait_for_text("#code", "the session's code", |t| t == code)
        .await
        .unwrap();
    assert_eq!(browser.text("#display-name").await.unwrap(), display_name);
    assert!(browser.try_find("#session img").await.unwrap().is_none());
    browser.click("#confirm").await.unwrap();
    browser.wait_for_visible("#form").await.unwrap();
    assert_eq!(
        browser.text("label[for='field-account']").await.unwrap(),
        "<i>Account</i>"
    );
    assert!(browser.try_find("#fields i").await.unwrap().is_none());
    let tag = |css: &'static str| {
        let browser = &browser;
        async move {
            let element = browser.find(css).await.unwrap();
            element.property("tagName").await.unwrap()
        }
    };
    assert_eq!(tag("#field-region").await, "SELECT");
    assert_eq!(tag("#field-notes").await, "TEXTAREA");
    assert_eq!(tag("#field-secret").await, "INPUT");

    // Required fields left empty: the browser refuses to submit, nothing is sent.
    browser.click("#submit").await.unwrap();
    browser.send_keys("#field-account", "acme-ä").await.unwrap();
    browser
        .click("#field-region option[value='us']")
        .await
        .unwrap();
    browser
        .send_keys("#field-secret", "s3cr3t \"quoted\" \\ ü")
        .await
        .unwrap();
    browser.click("#submit").await.unwrap();
    browser
        .wait_for_text("#status", "\"Connected\"", |t| t.starts_with("Connected"))
        .await
        .expect("the page reports success");
    let completes = sb
        .broker
        .requests()
        .iter()
        .filter(|r| r.line().ends_with("/complete"))
        .count();
    assert_eq!(completes, 1, "the empty form was never sent");

    // The agent polls and decrypts: every field, in order, the optional one empty.
    let ready: Value = http
        .get(format!("{base}/v1/sessions/{}", text("session_id")))
        .bearer_auth(text("poll_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["algorithm"], ALGORITHM);
    let plain = envelope::open(&private, ready["ciphertext"].as_str().unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        r#"{"account":"acme-ä","region":"us","notes":"","secret":"s3cr3t \"quoted\" \\ ü"}"#
    );

    browser.quit().await.expect("the browser quits");
}
