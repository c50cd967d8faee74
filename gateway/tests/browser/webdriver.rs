//! A small W3C WebDriver client over reqwest, enough to drive headless Chromium through
//! chromedriver: the driver process, one browser session per [`Session`], elements found
//! by CSS selector, scripts, cookies, screenshots and poll-based waits.
//!
//! Everything started here stops on `Drop`, also when a test panics: a session is deleted
//! (which quits its browser) and chromedriver is killed with its whole process group, so a
//! browser it launched cannot outlive it.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

/// The key under which W3C WebDriver names an element.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How often waits look again.
const POLL: Duration = Duration::from_millis(100);

/// What went wrong talking to chromedriver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP exchange itself failed.
    #[error("chromedriver unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// chromedriver answered with a WebDriver error (the error JSON, without its stack trace).
    #[error("{method} {path}: HTTP {status}: {body}")]
    WebDriver {
        /// The request's method.
        method: Method,
        /// The request's path below the driver's root.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The `value` object: `error`, `message` and `data`.
        body: Value,
    },
    /// The answer was not what the protocol promises.
    #[error("unexpected answer to {0}")]
    Protocol(String),
    /// Starting chromedriver or writing a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A directory of its own under the system's temporary directory, removed on `Drop`.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> std::io::Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
}

/// The HTTP side shared by the driver and its sessions.
#[derive(Clone, Debug)]
struct Wire {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    root: String,
}

impl Wire {
    /// Sends one command; answers its `value`, or the WebDriver error.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Error> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.root));
        // chromedriver wants a JSON body on every POST, even an empty one.
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == Method::POST {
            request = request.json(&json!({}));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let mut answer: Value = serde_json::from_str(&text)
            .map_err(|_| Error::Protocol(format!("{method} {path} (HTTP {status}): {text}")))?;
        let mut value = answer.get_mut("value").map(Value::take).unwrap_or_default();
        if !(200..300).contains(&status) {
            if let Some(error) = value.as_object_mut() {
                error.remove("stacktrace");
            }
            return Err(Error::WebDriver {
                method,
                path: path.to_owned(),
                status,
                body: value,
            });
        }
        Ok(value)
    }
}

/// A running chromedriver on a port of its own; killed, with every browser it started, on
/// `Drop`.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    wire: Wire,
    /// Where chromedriver writes its log.
    log: PathBuf,
}

impl Driver {
    /// Starts `binary` on a free port and waits until `GET /status` says it is ready.
    pub async fn start(binary: &Path, log: &Path) -> Result<Driver, Error> {
        let port = free_port()?;
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: Drop kills chromedriver and the browsers it launched.
            .process_group(0)
            .spawn()?;
        let driver = Driver {
            child,
            wire: Wire {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()?,
                root: format!("http://127.0.0.1:{port}"),
            },
            log: log.to_owned(),
        };
        driver.ready(Duration::from_secs(20)).await?;
        Ok(driver)
    }

    async fn ready(&self, within: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + within;
        loop {
            match self.wire.call(Method::GET, "/status", None).await {
                Ok(status) if status["ready"] == json!(true) => return Ok(()),
                Ok(_) | Err(Error::Transport(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Ok(status) => {
                    return Err(Error::Protocol(format!(
                        "chromedriver never became ready: {status}"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// chromedriver's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a browser is started.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The Chromium binary.
    pub binary: PathBuf,
    /// Command-line switches (the profile directory is added per session).
    pub args: Vec<String>,
}

/// One browser session: its own Chromium with a fresh profile and download directory.
/// Deleted (the browser quits) on `Drop`.
#[derive(Debug)]
pub struct Session {
    wire: Wire,
    /// `/session/<id>`.
    prefix: String,
    downloads: TempDir,
    // Removed after `Drop` has quit the browser.
    _profile: TempDir,
    closed: bool,
}

impl Session {
    /// Starts a browser through `driver`.
    pub async fn new(driver: &Driver, browser: &Browser) -> Result<Session, Error> {
        let profile = TempDir::new("console-browser-profile")?;
        let downloads = TempDir::new("console-browser-downloads")?;
        let mut args = browser.args.clone();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": browser.binary,
                        "args": args,
                        "prefs": {
                            "download.default_directory": downloads.path(),
                            "download.prompt_for_download": false,
                        },
                    },
                },
            },
        });
        let created = driver
            .wire
            .call(Method::POST, "/session", Some(capabilities))
            .await?;
        let id = created["sessionId"]
            .as_str()
            .ok_or_else(|| Error::Protocol(format!("POST /session: {created}")))?
            .to_owned();
        Ok(Session {
            wire: driver.wire.clone(),
            prefix: format!("/session/{id}"),
            downloads,
            _profile: profile,
            closed: false,
        })
    }

    /// Where this browser saves downloads.
    pub fn downloads(&self) -> &Path {
        self.downloads.path()
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.wire
            .call(method, &format!("{}{path}", self.prefix), body)
            .await
    }

    /// Quits the browser now.
    pub async fn close(mut self) -> Result<(), Error> {
        self.closed = true;
        self.wire
            .call(Method::DELETE, &self.prefix, None)
            .await
            .map(|_| ())
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.call(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(|_| ())
    }

    /// The page's URL.
    pub async fn current_url(&self) -> Result<String, Error> {
        string(self.call(Method::GET, "/url", None).await?, "GET /url")
    }

    /// The page's title.
    pub async fn title(&self) -> Result<String, Error> {
        string(self.call(Method::GET, "/title", None).await?, "GET /title")
    }

    /// The first element matching a CSS selector (a `no such element` error when none does).
    pub async fn find(&self, css: &str) -> Result<Element<'_>, Error> {
        let found = self
            .call(
                Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        self.element(&found)
    }

    /// Every element matching a CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>, Error> {
        let found = self
            .call(
                Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        found
            .as_array()
            .ok_or_else(|| Error::Protocol(format!("POST /elements: {found}")))?
            .iter()
            .map(|e| self.element(e))
            .collect()
    }

    fn element(&self, reference: &Value) -> Result<Element<'_>, Error> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| Error::Protocol(format!("an element reference: {reference}")))?;
        Ok(Element {
            session: self,
            id: id.to_owned(),
        })
    }

    /// Runs `script` as the body of a function called with `args`; answers what it returns.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Result<Value, Error> {
        self.call(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The cookie `name` as the browser holds it for the current page, if any.
    pub async fn cookie(&self, name: &str) -> Result<Option<Value>, Error> {
        let all = self.call(Method::GET, "/cookie", None).await?;
        Ok(all
            .as_array()
            .and_then(|cookies| cookies.iter().find(|c| c["name"] == json!(name)))
            .cloned())
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let encoded = string(
            self.call(Method::GET, "/screenshot", None).await?,
            "GET /screenshot",
        )?;
        STANDARD
            .decode(encoded)
            .map_err(|e| Error::Protocol(format!("GET /screenshot: {e}")))
    }

    /// Resizes the browser's window.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), Error> {
        self.call(
            Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await
        .map(|_| ())
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, command: &str, params: Value) -> Result<Value, Error> {
        self.call(
            Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": command, "params": params })),
        )
        .await
    }

    /// The visible text of the page's body.
    pub async fn page_text(&self) -> Result<String, Error> {
        let text = self
            .execute("return document.body ? document.body.innerText : '';", &[])
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Where the browser is and the start of what it shows, for failure messages.
    pub async fn context(&self) -> String {
        let url = self
            .current_url()
            .await
            .unwrap_or_else(|e| format!("<no URL: {e}>"));
        let text = self
            .page_text()
            .await
            .unwrap_or_else(|e| format!("<no text: {e}>"));
        let excerpt: String = text.chars().take(800).collect();
        format!("the browser is at {url}, showing:\n{excerpt}")
    }

    /// Polls `probe` until it answers `Ok` and returns that; panics after `timeout` with
    /// what was awaited, the last reason it was not there yet, the page's URL and an
    /// excerpt of its text.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl AsyncFnMut(&Session) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let reason = match probe(self).await {
                Ok(found) => return found,
                Err(reason) => reason,
            };
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {what} in vain (last: {reason}); {}",
                    self.context().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for an element matching `css` to be on the page.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let what = format!("an element matching `{css}`");
        let id = self
            .wait_until(&what, timeout, async |s: &Session| {
                s.find(css).await.map(|e| e.id).map_err(|e| e.to_string())
            })
            .await;
        Element { session: self, id }
    }

    /// Waits for the page's path (without the query) to be `path`, loaded.
    pub async fn wait_for_path(&self, path: &str, timeout: Duration) {
        let what = format!("the page {path}");
        self.wait_until(&what, timeout, async |s: &Session| {
            let url = s.current_url().await.map_err(|e| e.to_string())?;
            let parsed = url::Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
            let loaded = s
                .execute("return document.readyState;", &[])
                .await
                .map_err(|e| e.to_string())?;
            if parsed.path() == path && loaded == json!("complete") {
                Ok(())
            } else {
                Err(format!("{url} is {loaded}"))
            }
        })
        .await;
    }

    /// Waits for the page's text to contain `needle`.
    pub async fn wait_for_text(&self, needle: &str, timeout: Duration) {
        let what = format!("the text {needle:?}");
        self.wait_until(&what, timeout, async |s: &Session| {
            let text = s.page_text().await.map_err(|e| e.to_string())?;
            if text.contains(needle) {
                Ok(())
            } else {
                Err("not in the page yet".to_owned())
            }
        })
        .await;
    }

    /// Opens `url` again and again until its text contains `needle` (for pages that do not
    /// update themselves).
    pub async fn reload_until_text(&self, url: &str, needle: &str, timeout: Duration) {
        let what = format!("{url} to show {needle:?}");
        self.wait_until(&what, timeout, async |s: &Session| {
            s.goto(url).await.map_err(|e| e.to_string())?;
            let text = s.page_text().await.map_err(|e| e.to_string())?;
            if text.contains(needle) {
                Ok(())
            } else {
                Err("not in the page yet".to_owned())
            }
        })
        .await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.closed {
            delete_blocking(&self.wire.root, &self.prefix);
        }
    }
}

/// `DELETE <path>` without an async runtime (for `Drop`): best effort, bounded in time.
fn delete_blocking(root: &str, path: &str) {
    let Some(address) = root.strip_prefix("http://") else {
        return;
    };
    let Ok(mut stream) = TcpStream::connect(address) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let request = format!("DELETE {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        // Wait for the answer: the browser has quit once chromedriver replies.
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

/// An element of a session's current page.
#[derive(Debug)]
pub struct Element<'s> {
    session: &'s Session,
    id: String,
}

impl Element<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.session
            .call(method, &format!("/element/{}{path}", self.id), body)
            .await
    }

    /// Clicks it.
    pub async fn click(&self) -> Result<(), Error> {
        self.call(Method::POST, "/click", None).await.map(|_| ())
    }

    /// Types `text` into it.
    pub async fn send_keys(&self, text: &str) -> Result<(), Error> {
        self.call(Method::POST, "/value", Some(json!({ "text": text })))
            .await
            .map(|_| ())
    }

    /// Its rendered text.
    pub async fn text(&self) -> Result<String, Error> {
        let path = format!("GET element {} text", self.id);
        string(self.call(Method::GET, "/text", None).await?, &path)
    }

    /// An HTML attribute, when present.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>, Error> {
        let value = self
            .call(Method::GET, &format!("/attribute/{name}"), None)
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// A DOM property.
    pub async fn property(&self, name: &str) -> Result<Value, Error> {
        self.call(Method::GET, &format!("/property/{name}"), None)
            .await
    }
}

fn string(value: Value, what: &str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(Error::Protocol(format!("{what}: {other}"))),
    }
}

/// Polls `check` every short interval until it answers `Some`, or `None` after `timeout`.
pub async fn poll<T, F: Future<Output = Option<T>>>(
    timeout: Duration,
    mut check: impl FnMut() -> F,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}
