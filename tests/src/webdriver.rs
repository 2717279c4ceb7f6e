//! A small W3C WebDriver client (<https://www.w3.org/TR/webdriver2/>) for driving headless
//! Chromium through chromedriver: start chromedriver on a free loopback port, open a session,
//! navigate, find elements by CSS selector, click, type, read text and properties, wait for a
//! condition, and quit.
//!
//! Only loopback addresses are ever used: chromedriver listens on `127.0.0.1` (and only accepts
//! local connections), the HTTP client uses no proxy, [`Browser::goto`] refuses any other host,
//! and Chromium runs without a proxy, background networking, sync or component updates.
//! Dropping a [`Browser`] ends its session (Chromium quits) and shuts chromedriver down, killing
//! it if it does not exit, so a failing test leaves no process behind.

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where Debian's `chromium-driver` package installs chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where Debian's `chromium` package installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The key of a web element reference in WebDriver JSON (W3C WebDriver §12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long chromedriver may take to answer `/status` as ready (a loaded 2-core machine
/// building in parallel needs more than the usual fraction of a second).
const DRIVER_START: Duration = Duration::from_secs(30);

/// How long [`Browser::wait_until`] waits by default.
const WAIT: Duration = Duration::from_secs(30);

/// How often [`Browser::wait_until`] probes.
const POLL: Duration = Duration::from_millis(100);

/// How long one WebDriver command may take; opening a session starts Chromium.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Free ports tried when chromedriver loses the race for the one it was given.
const PORT_ATTEMPTS: usize = 3;

/// What went wrong talking to chromedriver or the page.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// chromedriver did not start or never became ready.
    #[error("chromedriver {path:?} did not start: {reason}")]
    Launch {
        /// The chromedriver binary.
        path: PathBuf,
        /// What happened, with chromedriver's own output when there is some.
        reason: String,
    },
    /// The HTTP exchange with chromedriver failed.
    #[error("{command}: {source}")]
    Http {
        /// The WebDriver command, e.g. `POST /session/{id}/url`.
        command: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// chromedriver answered with a WebDriver error (W3C WebDriver §6.6).
    #[error("{command}: {error}: {message}")]
    WebDriver {
        /// The WebDriver command.
        command: String,
        /// The error code, e.g. `no such element`.
        error: String,
        /// chromedriver's message.
        message: String,
    },
    /// chromedriver answered something that is not a WebDriver reply.
    #[error("{command}: unexpected reply {reply}")]
    Protocol {
        /// The WebDriver command.
        command: String,
        /// The reply, as received.
        reply: String,
    },
    /// A condition did not hold in time.
    #[error("timed out after {waited:?} waiting for {what}; the page was: {page}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// The page's address and visible text at the end.
        page: String,
    },
    /// A test asked for something this client refuses to do.
    #[error("{0}")]
    Refused(String),
}

/// Results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A chromedriver process; shut down (or killed) when dropped.
struct Process {
    child: Child,
    port: u16,
}

impl Process {
    /// Asks chromedriver to quit (it closes any browser left), then kills it if it lingers.
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        request_blocking(self.port, "GET", "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running chromedriver with its directory: its log and output, and Chromium's profile.
struct Driver {
    // Declared first: the process stops before its directory is removed.
    process: Process,
    dir: tempfile::TempDir,
}

impl Driver {
    /// Starts `path` on a free loopback port and waits until `/status` says it is ready.
    async fn start(path: &Path, http: &reqwest::Client) -> Result<Self> {
        let launch = |reason: String| Error::Launch {
            path: path.to_owned(),
            reason,
        };
        let dir = tempfile::Builder::new()
            .prefix("mcs-chromium-")
            .tempdir()
            .map_err(|e| launch(format!("creating a temporary directory: {e}")))?;
        let output_path = dir.path().join("chromedriver.out");
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port().map_err(|e| launch(format!("finding a free port: {e}")))?;
            let output = File::create(&output_path)
                .and_then(|out| Ok((out.try_clone()?, out)))
                .map_err(|e| launch(format!("creating its output file: {e}")))?;
            let child = Command::new(path)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::from(output.0))
                .stderr(Stdio::from(output.1))
                .spawn()
                .map_err(|e| launch(format!("spawning it: {e}")))?;
            let mut process = Process { child, port };
            match wait_ready(&mut process, http).await {
                Ok(()) => return Ok(Self { process, dir }),
                Err(reason) => {
                    drop(process);
                    let output = std::fs::read_to_string(&output_path).unwrap_or_default();
                    last = format!("{reason}; its output: {}", output.trim());
                }
            }
        }
        Err(launch(last))
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.process.port)
    }

    /// The end of chromedriver's log, for a failing test.
    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("chromedriver.log"));
        let log = log.unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- the end of chromedriver's log ({}) ---\n{}",
                self.dir.path().display(),
                self.log_tail(40)
            );
        }
    }
}

/// Polls chromedriver's `/status` until it reports ready; the reason it never did, otherwise.
async fn wait_ready(process: &mut Process, http: &reqwest::Client) -> Result<(), String> {
    let deadline = Instant::now() + DRIVER_START;
    let url = format!("http://127.0.0.1:{}/status", process.port);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = process.child.try_wait() {
            return Err(format!("it exited with {status}"));
        }
        if let Ok(reply) = http.get(&url).send().await {
            let body: Value = reply.json().await.unwrap_or_default();
            if body["value"]["ready"] == true {
                return Ok(());
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!("/status was not ready within {DRIVER_START:?}"))
}

/// A loopback port nobody listens on right now (bound, then released for chromedriver).
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// `method path` to the chromedriver on `port`, waiting for the reply but ignoring it; for
/// `Drop`, which cannot await.
fn request_blocking(port: u16, method: &str, path: &str) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// Whether `url` is `http(s)` on `127.0.0.1`, `[::1]` or `localhost`.
fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    matches!(url.scheme(), "http" | "https") && loopback
}

/// Headless Chromium under chromedriver, with one WebDriver session.
pub struct Browser {
    http: reqwest::Client,
    session: Option<String>,
    wait: Duration,
    // Declared last: dropped after the session is ended.
    driver: Driver,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("driver", &self.driver.base_url())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// An element of the current page (a W3C web element reference).
#[derive(Debug, Clone)]
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts [`CHROMEDRIVER`] and opens a session of headless [`CHROMIUM`] with a fresh profile.
    ///
    /// # Errors
    ///
    /// When chromedriver does not start or Chromium does not open.
    pub async fn launch() -> Result<Self> {
        Self::launch_with(Path::new(CHROMEDRIVER), Path::new(CHROMIUM)).await
    }

    /// Starts `chromedriver` and opens a session of headless `chromium` with a fresh profile.
    ///
    /// # Errors
    ///
    /// When chromedriver does not start or Chromium does not open.
    pub async fn launch_with(chromedriver: &Path, chromium: &Path) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .map_err(|source| Error::Http {
                command: "building the HTTP client".into(),
                source,
            })?;
        let driver = Driver::start(chromedriver, &http).await?;
        let mut browser = Self {
            http,
            session: None,
            wait: WAIT,
            driver,
        };
        let profile = browser.driver.dir.path().join("profile");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-proxy-server",
                    "--window-size=1024,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 10_000},
        }}});
        // Chromium occasionally fails its first start on a loaded machine; one retry.
        let mut reply = browser
            .command("POST", "/session", Some(&capabilities))
            .await;
        if matches!(&reply, Err(Error::WebDriver { error, .. }) if error == "session not created") {
            reply = browser
                .command("POST", "/session", Some(&capabilities))
                .await;
        }
        let reply = reply?;
        let id = reply["sessionId"].as_str().ok_or_else(|| Error::Protocol {
            command: "POST /session".into(),
            reply: reply.to_string(),
        })?;
        browser.session = Some(id.to_owned());
        Ok(browser)
    }

    /// How long the `wait_*` methods wait from now on.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// Sends one WebDriver command; its `value`.
    async fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let command = format!("{method} {path}");
        let url = format!("{}{path}", self.driver.base_url());
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(body.unwrap_or(&json!({}))),
        };
        let http = |source| Error::Http {
            command: command.clone(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        let text = response.text().await.map_err(http)?;
        let reply: Value = serde_json::from_str(&text).map_err(|_| Error::Protocol {
            command: command.clone(),
            reply: text.clone(),
        })?;
        let value = reply.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            let message = value["message"].as_str().unwrap_or_default();
            // The first line says it; the rest is chromedriver's own backtrace.
            let message = message.lines().next().unwrap_or_default().to_owned();
            return Err(Error::WebDriver {
                command,
                error: error.to_owned(),
                message,
            });
        }
        Ok(value)
    }

    /// A command on the current session: `path` is relative to `/session/{id}`.
    async fn session_command(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let id = self
            .session
            .as_deref()
            .ok_or_else(|| Error::Refused("the session has ended".into()))?;
        self.command(method, &format!("/session/{id}{path}"), body)
            .await
    }

    /// Navigates to `url` and waits for the page to load.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] for anything but a loopback `http(s)` URL; else when navigation fails.
    pub async fn goto(&self, url: &str) -> Result<()> {
        if !is_loopback(url) {
            return Err(Error::Refused(format!(
                "{url:?} is not a loopback http(s) URL; the browser tests never leave the machine"
            )));
        }
        self.session_command("POST", "/url", Some(&json!({"url": url})))
            .await
            .map(drop)
    }

    /// The current page's address.
    ///
    /// # Errors
    ///
    /// When chromedriver fails.
    pub async fn url(&self) -> Result<String> {
        let value = self.session_command("GET", "/url", None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The first element matching the CSS selector, if there is one now.
    ///
    /// # Errors
    ///
    /// When chromedriver fails (a missing element is `Ok(None)`).
    pub async fn try_find(&self, css: &str) -> Result<Option<Element<'_>>> {
        let query = json!({"using": "css selector", "value": css});
        match self.session_command("POST", "/element", Some(&query)).await {
            Ok(value) => {
                let id = value[ELEMENT_KEY].as_str().ok_or_else(|| Error::Protocol {
                    command: format!("find {css:?}"),
                    reply: value.to_string(),
                })?;
                Ok(Some(Element {
                    browser: self,
                    id: id.to_owned(),
                }))
            }
            Err(Error::WebDriver { error, .. }) if error == "no such element" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The first element matching the CSS selector.
    ///
    /// # Errors
    ///
    /// When there is none, or chromedriver fails.
    pub async fn find(&self, css: &str) -> Result<Element<'_>> {
        match self.try_find(css).await? {
            Some(element) => Ok(element),
            None => Err(Error::WebDriver {
                command: format!("find {css:?}"),
                error: "no such element".into(),
                message: format!("nothing matches {css:?} on {}", self.describe().await),
            }),
        }
    }

    /// Clicks the element matching `css`.
    ///
    /// # Errors
    ///
    /// When there is none, it cannot be clicked, or chromedriver fails.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.find(css).await?.click().await
    }

    /// Types `text` into the element matching `css`.
    ///
    /// # Errors
    ///
    /// When there is none, it takes no input, or chromedriver fails.
    pub async fn send_keys(&self, css: &str, text: &str) -> Result<()> {
        self.find(css).await?.send_keys(text).await
    }

    /// The rendered text of the element matching `css` (empty when it is hidden).
    ///
    /// # Errors
    ///
    /// When there is none, or chromedriver fails.
    pub async fn text(&self, css: &str) -> Result<String> {
        self.find(css).await?.text().await
    }

    /// Whether an element matches `css` and is displayed.
    ///
    /// # Errors
    ///
    /// When chromedriver fails.
    pub async fn is_displayed(&self, css: &str) -> Result<bool> {
        match self.try_find(css).await? {
            Some(element) => element.is_displayed().await.or_else(stale_is(false)),
            None => Ok(false),
        }
    }

    /// Polls `probe` until it yields a value, for at most the wait time (30 s unless
    /// [`set_wait`](Self::set_wait) changed it).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] naming `what`, with the page's address and text; or the probe's error.
    pub async fn wait_until<T, F, Fut>(&self, what: &str, mut probe: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + self.wait;
        loop {
            if let Some(found) = probe().await? {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    waited: self.wait,
                    page: self.describe().await,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matching `css` is displayed; returns it.
    ///
    /// # Errors
    ///
    /// As [`wait_until`](Self::wait_until).
    pub async fn wait_for_visible(&self, css: &str) -> Result<Element<'_>> {
        let what = format!("{css:?} to be displayed");
        self.wait_until(&what, || async move {
            let Some(element) = self.try_find(css).await? else {
                return Ok(None);
            };
            let shown = element.is_displayed().await.or_else(stale_is(false))?;
            Ok(shown.then_some(element))
        })
        .await
    }

    /// Waits until the element matching `css` is displayed with text that satisfies `accept`;
    /// returns the text.
    ///
    /// # Errors
    ///
    /// As [`wait_until`](Self::wait_until); `what` describes the awaited text.
    pub async fn wait_for_text(
        &self,
        css: &str,
        what: &str,
        accept: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let what = format!("{css:?} to show {what}");
        let accept = &accept;
        self.wait_until(&what, || async move {
            let Some(element) = self.try_find(css).await? else {
                return Ok(None);
            };
            let text = element.text().await.map(Some).or_else(stale_is(None))?;
            Ok(text.filter(|t| accept(t)))
        })
        .await
    }

    /// The page's address and visible text, for failure messages.
    pub async fn describe(&self) -> String {
        let url = self.url().await.unwrap_or_else(|e| format!("<{e}>"));
        let body = match self.try_find("body").await {
            Ok(Some(body)) => body.text().await.unwrap_or_else(|e| format!("<{e}>")),
            Ok(None) => "<no body>".into(),
            Err(e) => format!("<{e}>"),
        };
        format!("{url} showing {body:?}")
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    ///
    /// # Errors
    ///
    /// When chromedriver fails to end the session; it is stopped all the same.
    pub async fn quit(mut self) -> Result<()> {
        let ended = match &self.session {
            Some(_) => self.session_command("DELETE", "", None).await.map(drop),
            None => Ok(()),
        };
        if ended.is_ok() {
            self.session = None;
        }
        ended
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            request_blocking(
                self.driver.process.port,
                "DELETE",
                &format!("/session/{id}"),
            );
        }
    }
}

/// Maps a stale element reference (the page changed under the probe) to `value`.
fn stale_is<T>(value: T) -> impl FnOnce(Error) -> Result<T> {
    move |e| match e {
        Error::WebDriver { error, .. } if error == "stale element reference" => Ok(value),
        other => Err(other),
    }
}

impl Element<'_> {
    async fn command(&self, method: &str, action: &str, body: Option<&Value>) -> Result<Value> {
        let path = format!("/element/{}{action}", self.id);
        self.browser.session_command(method, &path, body).await
    }

    /// Clicks it (W3C element click: scrolled into view, must be interactable).
    ///
    /// # Errors
    ///
    /// When it cannot be clicked, or chromedriver fails.
    pub async fn click(&self) -> Result<()> {
        self.command("POST", "/click", None).await.map(drop)
    }

    /// Types `text` into it.
    ///
    /// # Errors
    ///
    /// When it takes no input, or chromedriver fails.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        let body = json!({"text": text});
        self.command("POST", "/value", Some(&body)).await.map(drop)
    }

    /// Its rendered text (empty when hidden).
    ///
    /// # Errors
    ///
    /// When chromedriver fails.
    pub async fn text(&self) -> Result<String> {
        let value = self.command("GET", "/text", None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// A DOM property, e.g. `href` (resolved) or `value`; `null` when unset.
    ///
    /// # Errors
    ///
    /// When chromedriver fails.
    pub async fn property(&self, name: &str) -> Result<Value> {
        self.command("GET", &format!("/property/{name}"), None)
            .await
    }

    /// Whether it is displayed.
    ///
    /// # Errors
    ///
    /// When chromedriver fails.
    pub async fn is_displayed(&self) -> Result<bool> {
        let value = self.command("GET", "/displayed", None).await?;
        Ok(value.as_bool().unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_urls_are_loopback() {
        for url in [
            "http://127.0.0.1:8080/connect/AB-CD",
            "https://localhost/x",
            "http://[::1]:1/",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://example.com/",
            "http://10.0.0.1/",
            "file:///etc/passwd",
            "http://127.0.0.1.evil.test/",
            "not a url",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
