//! A headless Chromium driven over WebDriver (chromedriver + fantoccini) for the web UI's
//! browser tests: navigation, forms, waiting, full-page screenshots and axe-core checks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::elements::{Element, ElementRef};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long chromedriver may take to answer its status endpoint, and Chromium to open a
/// session. Both take about a second on an idle machine; this allows for a loaded, shared
/// two-core one.
pub const START_PATIENCE: Duration = Duration::from_secs(120);

/// How long a page may take to load, a script (axe) to run, or an element to appear.
pub const PAGE_PATIENCE: Duration = Duration::from_secs(60);

/// The two widths every screenshot is taken at: a laptop and a small phone.
pub const WIDTHS: [u32; 2] = [1280, 375];

/// The WebDriver key chromedriver wraps element references in.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether this run is CI's (`.ci/run` runs with `CI=true`): there a missing browser or
/// axe-core fails the test instead of skipping it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Fails in CI; elsewhere prints why the browser part of a test is skipped.
fn unavailable(what: &str) {
    assert!(!in_ci(), "{what} (required in CI; .ci/run installs it)");
    eprintln!("SKIPPED: {what}");
}

/// An executable by name on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The chromedriver to run: `LYCEUM_CHROMEDRIVER`, or `chromedriver` on `PATH` (Debian's
/// `chromium-driver` package).
fn chromedriver_path() -> Option<PathBuf> {
    match std::env::var("LYCEUM_CHROMEDRIVER") {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => on_path("chromedriver"),
    }
}

/// The browser chromedriver starts: `LYCEUM_CHROMIUM`, or `chromium` on `PATH` (Debian's
/// `/usr/bin/chromium` launcher).
fn chromium_path() -> Option<PathBuf> {
    match std::env::var("LYCEUM_CHROMIUM") {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => on_path("chromium"),
    }
}

/// The axe-core script: `LYCEUM_AXE_JS` (`.ci/run` sets it), or else what
/// `browser/install-axe.sh` prints; like the peers' `setup.sh`, it installs the pinned
/// package into `LYCEUM_PEER_HOME` on first use (npm needs the registry then).
fn axe_source() -> Option<String> {
    let path = match std::env::var("LYCEUM_AXE_JS") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/install-axe.sh");
            let output = Command::new("bash")
                .arg(&script)
                .stderr(Stdio::inherit())
                .output();
            match output {
                Ok(out) if out.status.success() => {
                    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
                }
                Ok(out) => {
                    unavailable(&format!(
                        "axe-core is not installed: {} failed ({}); set LYCEUM_AXE_JS to axe.min.js",
                        script.display(),
                        out.status
                    ));
                    return None;
                }
                Err(e) => {
                    unavailable(&format!("cannot run {}: {e}", script.display()));
                    return None;
                }
            }
        }
    };
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => panic!("cannot read axe-core from {}: {e}", path.display()),
    }
}

/// Where screenshots go: `<target>/browser-screenshots`, `<target>` being
/// `CARGO_TARGET_DIR` when set (CI shares one outside the clone), else the workspace's.
pub fn screenshot_root() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            // A relative target folder is relative to where cargo ran; the workspace root is
            // where it usually runs, while tests run in the package folder.
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        }
        _ => workspace.join("target"),
    };
    target.join("browser-screenshots")
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
    probe.local_addr().expect("its address").port()
}

/// chromedriver in a process group of its own, so that dropping it also ends the Chromium
/// it started even when no session was closed (a panicking test).
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    async fn start(executable: &Path, dir: &Path) -> Driver {
        let mut last_log = String::new();
        // The port is free when probed, but another process may take it before chromedriver
        // binds it; a second port then does.
        for _ in 0..3 {
            let port = free_port();
            let log = dir.join(format!("chromedriver-{port}.log"));
            let out = std::fs::File::create(&log).expect("chromedriver log");
            let err = out.try_clone().expect("chromedriver log");
            let mut command = Command::new(executable);
            command
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", executable.display()));
            let mut driver = Driver {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
            };
            if driver.ready().await {
                return driver;
            }
            last_log = driver.log();
        }
        panic!(
            "chromedriver ({}) did not become ready within {START_PATIENCE:?} (three ports \
             tried); its log:\n{last_log}",
            executable.display()
        );
    }

    /// Polls `/status` until chromedriver says it is ready; false when it exited or the
    /// patience ran out.
    async fn ready(&mut self) -> bool {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_PATIENCE;
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            let status = client
                .get(format!("{}/status", self.url))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (`process_group(0)`); Chromium and its helpers
        // are in it unless they moved themselves out, which Chromium does not do.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Chrome DevTools command sent through chromedriver's `goog/cdp/execute` endpoint; the
/// WebDriver screenshot covers only the viewport.
#[derive(Debug)]
struct DevTools {
    method: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.method, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// One axe-core finding: a rule that failed on some elements of a page.
#[derive(Debug, Clone)]
pub struct AxeViolation {
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    pub help: String,
    pub help_url: String,
    /// The CSS selectors of the failing elements (nested frames joined with ` >> `).
    pub targets: Vec<String>,
}

impl AxeViolation {
    /// Whether the issue's bar ("no serious or critical violations") fails on it.
    pub fn blocks(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }

    fn line(&self) -> String {
        format!(
            "[{}] {}: {} ({}) at {}",
            self.impact,
            self.id,
            self.help,
            self.help_url,
            self.targets.join(", ")
        )
    }
}

/// Browsers of one test binary take turns: tests run in parallel threads, and two
/// Chromiums beside the servers on a shared two-core machine make every timeout tighter.
/// A tokio mutex, because a panicking test must not poison it for the others.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A headless Chromium session for one test. Helpers panic with what they were looking
/// for, on which page, so that a failing test says what the page lacked.
pub struct Browser {
    client: Client,
    test: String,
    axe: Option<String>,
    width: u32,
    // Dropped after the client and before the profile: Chromium is killed before its
    // profile folder is removed.
    driver: Driver,
    _profile: tempfile::TempDir,
    // Released last, once this Chromium is gone.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts chromedriver and a Chromium session at 1280 px wide. `test` names the folder
    /// the screenshots go to (emptied first). `None` when chromedriver or Chromium is not installed outside
    /// CI (the test then skips its browser part, with a message); in CI that fails. Waits
    /// while another test of the same binary has its browser open.
    pub async fn start(test: &str) -> Option<Browser> {
        let Some(chromedriver) = chromedriver_path().filter(|p| p.is_file()) else {
            unavailable(
                "chromedriver not found: install Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver) or set LYCEUM_CHROMEDRIVER",
            );
            return None;
        };
        let Some(chromium) = chromium_path().filter(|p| p.is_file()) else {
            unavailable(
                "chromium not found: install Debian's chromium (apt-get install chromium) \
                 or set LYCEUM_CHROMIUM",
            );
            return None;
        };
        let axe = axe_source();
        let turn = ONE_AT_A_TIME.lock().await;
        // The folder then holds this run's pictures only.
        let shots = screenshot_root().join(test);
        if let Err(e) = std::fs::remove_dir_all(&shots)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            panic!("cannot clear {}: {e}", shots.display());
        }
        let profile = tempfile::tempdir().expect("a browser profile folder");
        let driver = Driver::start(&chromedriver, profile.path()).await;
        let user_data = profile.path().join("chromium");
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("pageLoadStrategy".into(), json!("normal"));
        capabilities.insert(
            "timeouts".into(),
            json!({
                "pageLoad": PAGE_PATIENCE.as_millis() as u64,
                "script": PAGE_PATIENCE.as_millis() as u64,
                "implicit": 0,
            }),
        );
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless",
                    // Tests run as root, and Chromium refuses to start its sandbox as root.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    // The machine's network is closed: everything Chromium would fetch on its
                    // own (updates, sync, field trials, QUIC probes) is refused and slows it.
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    // Scrollbars would take 15 px of a 375 px viewport from the layout (and
                    // from a full-page screenshot); phones overlay theirs.
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", user_data.display()),
                    format!("--window-size={},900", WIDTHS[0]),
                ],
            }),
        );
        let connect = async {
            ClientBuilder::rustls()
                .expect("a WebDriver client")
                .capabilities(capabilities)
                .connect(&driver.url)
                .await
        };
        let client = match tokio::time::timeout(START_PATIENCE, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "chromedriver could not start {}: {e}\nchromedriver's log:\n{}",
                chromium.display(),
                driver.log()
            ),
            Err(_) => panic!(
                "no Chromium session within {START_PATIENCE:?}\nchromedriver's log:\n{}",
                driver.log()
            ),
        };
        let mut browser = Browser {
            client,
            test: test.to_owned(),
            axe,
            width: 0,
            driver,
            _profile: profile,
            _turn: turn,
        };
        browser.set_width(WIDTHS[0]).await;
        Some(browser)
    }

    /// The underlying WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the Chromium session (chromedriver is killed when the browser is dropped).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Where the browser is and what the page says, for failure messages.
    async fn whereabouts(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map_or_else(|e| format!("<no URL: {e}>"), |u| u.to_string());
        let title = self.client.title().await.unwrap_or_default();
        let text: String = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut shown: String = text.chars().take(600).collect();
        if shown.len() < text.len() {
            shown.push_str(" ...");
        }
        format!("page {url} (title {title:?}); its text: {shown:?}")
    }

    /// Opens `url` and waits for it to load (`PAGE_PATIENCE`).
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!(
                "opening {url} failed: {e}\n{}\nchromedriver's log:\n{}",
                self.whereabouts().await,
                self.driver.log()
            );
        }
        self.wait_for_load().await;
    }

    /// Waits until the document has loaded (after a click that navigated, for instance).
    pub async fn wait_for_load(&self) {
        let loaded = self
            .poll(|| async {
                self.client
                    .execute("return document.readyState;", vec![])
                    .await
                    .is_ok_and(|state| state == "complete")
            })
            .await;
        if !loaded {
            panic!(
                "the page did not finish loading within {PAGE_PATIENCE:?}: {}",
                self.whereabouts().await
            );
        }
    }

    /// The document's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("the page's title")
    }

    /// The current URL.
    pub async fn current_url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    /// Polls `check` every 100 ms until it holds or `PAGE_PATIENCE` passes.
    async fn poll<F, Fut>(&self, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + PAGE_PATIENCE;
        loop {
            if check().await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching the CSS `selector`; `what` says what it is in the
    /// failure message ("the thread's title").
    pub async fn wait_for(&self, selector: &str, what: &str) -> Element {
        let found = std::sync::Mutex::new(None);
        let appeared = self
            .poll(|| async {
                let first = self
                    .client
                    .find_all(Locator::Css(selector))
                    .await
                    .ok()
                    .and_then(|all| all.into_iter().next());
                let seen = first.is_some();
                *found.lock().expect("lock") = first;
                seen
            })
            .await;
        if !appeared {
            panic!(
                "{what} ({selector}) did not appear within {PAGE_PATIENCE:?} on {}",
                self.whereabouts().await
            );
        }
        found.into_inner().expect("lock").expect("found")
    }

    /// Waits until the element matching `selector` contains `expected` in its visible text.
    pub async fn wait_for_text(&self, selector: &str, expected: &str, what: &str) -> String {
        let last = std::sync::Mutex::new(String::new());
        let appeared = self
            .poll(|| async {
                let text = match self.client.find_all(Locator::Css(selector)).await {
                    Ok(all) => match all.first() {
                        Some(element) => element.text().await.unwrap_or_default(),
                        None => return false,
                    },
                    Err(_) => return false,
                };
                let seen = text.contains(expected);
                *last.lock().expect("lock") = text;
                seen
            })
            .await;
        let last = last.into_inner().expect("lock");
        if !appeared {
            panic!(
                "{what}: {selector} never contained {expected:?} within {PAGE_PATIENCE:?} \
                 (last {last:?}) on {}",
                self.whereabouts().await
            );
        }
        last
    }

    /// The visible text of the first element matching `selector`, once it exists.
    pub async fn text(&self, selector: &str) -> String {
        let element = self.wait_for(selector, selector).await;
        element.text().await.expect("an element's text")
    }

    /// Waits for an element a script finds (`arguments[0]` is `key`) and returns it.
    async fn wait_for_script(&self, script: &str, key: &str, what: &str) -> Element {
        let found = std::sync::Mutex::new(None);
        let appeared = self
            .poll(|| async {
                let value = self.client.execute(script, vec![json!(key)]).await;
                let element = value.ok().and_then(|v| {
                    v.get(ELEMENT_KEY)
                        .and_then(Value::as_str)
                        .map(|id| ElementRef::from(id.to_owned()))
                });
                let seen = element.is_some();
                *found.lock().expect("lock") = element;
                seen
            })
            .await;
        if !appeared {
            panic!(
                "{what} not found within {PAGE_PATIENCE:?} on {}",
                self.whereabouts().await
            );
        }
        let id = found.into_inner().expect("lock").expect("found");
        Element::from_element_id(self.client.clone(), id)
    }

    /// Types `value` into the form control whose label reads `label` (whitespace and case
    /// aside), or whose `id` or `name` is `label`, replacing what it held. A `<select>`
    /// gets the option whose text is `value`.
    pub async fn fill(&self, label: &str, value: &str) {
        const FIND: &str = r#"
            const wanted = arguments[0];
            const norm = s => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
            const byId = document.getElementById(wanted);
            if (byId && byId.matches('input, textarea, select')) return byId;
            for (const label of document.querySelectorAll('label')) {
                // The label's own text, without the text of the control it may wrap.
                const copy = label.cloneNode(true);
                copy.querySelectorAll('input, textarea, select').forEach(c => c.remove());
                if (norm(copy.textContent).replace(/\s*\*$/, '') !== norm(wanted)) continue;
                if (label.control) return label.control;
            }
            for (const c of document.querySelectorAll('input, textarea, select')) {
                if (c.name === wanted || norm(c.getAttribute('aria-label')) === norm(wanted)) return c;
            }
            return null;
        "#;
        let what = format!("a form field labelled or with the id {label:?}");
        let field = self.wait_for_script(FIND, label, &what).await;
        let tag = field.tag_name().await.unwrap_or_default();
        let result = if tag.eq_ignore_ascii_case("select") {
            field.select_by_label(value).await
        } else {
            match field.clear().await {
                Ok(()) => field.send_keys(value).await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            panic!(
                "filling {what} with {value:?} failed: {e}\n{}",
                self.whereabouts().await
            );
        }
    }

    /// Clicks the button (`<button>`, a submit/button `<input>`, or `role="button"`) whose
    /// text or accessible label is `text`, then waits for the page to be loaded (a form
    /// submit navigates; the new page has loaded when this returns).
    pub async fn click_button(&self, text: &str) {
        const FIND: &str = r#"
            const wanted = arguments[0];
            const norm = s => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
            const all = document.querySelectorAll(
                'button, input[type=submit], input[type=button], input[type=reset], [role=button]');
            for (const b of all) {
                const names = [b.innerText, b.textContent, b.value, b.getAttribute('aria-label')];
                if (names.some(n => norm(n) === norm(wanted)) && b.getClientRects().length) return b;
            }
            return null;
        "#;
        let what = format!("a visible button {text:?}");
        let button = self.wait_for_script(FIND, text, &what).await;
        if let Err(e) = button.click().await {
            panic!("clicking {what} failed: {e}\n{}", self.whereabouts().await);
        }
        self.wait_for_load().await;
    }

    /// Follows the visible link whose text is `text`, and waits for the page to load.
    pub async fn click_link(&self, text: &str) {
        const FIND: &str = r#"
            const wanted = arguments[0];
            const norm = s => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
            for (const a of document.querySelectorAll('a[href]')) {
                const names = [a.innerText, a.getAttribute('aria-label')];
                if (names.some(n => norm(n) === norm(wanted)) && a.getClientRects().length) return a;
            }
            return null;
        "#;
        let what = format!("a visible link {text:?}");
        let link = self.wait_for_script(FIND, text, &what).await;
        if let Err(e) = link.click().await {
            panic!("clicking {what} failed: {e}\n{}", self.whereabouts().await);
        }
        self.wait_for_load().await;
    }

    /// Makes the viewport `width` CSS pixels wide (the window's height stays 900).
    pub async fn set_width(&mut self, width: u32) {
        // Headless Chromium's window has no frame today, but ask the page rather than assume.
        let mut window = width;
        for _ in 0..3 {
            self.client
                .set_window_size(window, 900)
                .await
                .unwrap_or_else(|e| panic!("cannot resize the window to {window} px: {e}"));
            let inner = self
                .client
                .execute("return window.innerWidth;", vec![])
                .await
                .ok()
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as u32;
            if inner == width {
                self.width = width;
                return;
            }
            window = (window + width).saturating_sub(inner);
        }
        panic!("the viewport does not become {width} px wide (window {window} px)");
    }

    /// Sends a Chrome DevTools Protocol command (`Domain.method`) to the page and returns
    /// its result, for what WebDriver cannot do.
    pub async fn devtools(&self, method: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(DevTools { method, params })
            .await
            .unwrap_or_else(|e| panic!("DevTools {method} failed: {e}"))
    }

    /// Makes the page see `prefers-color-scheme: scheme` (`light` or `dark`), to check and
    /// picture both themes.
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        self.devtools(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    /// Saves a PNG of the whole page (not only the viewport) at the current width as
    /// `<target>/browser-screenshots/<test>/<name>-<width>.png`, prints its path and
    /// returns it.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // The size of the laid-out document, as Puppeteer's full-page screenshots take it.
        let metrics = self.devtools("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        // Never narrower than the viewport; wider when the page overflows it, which the
        // picture then shows.
        let width = size["width"]
            .as_f64()
            .unwrap_or(0.0)
            .max(f64::from(self.width))
            .ceil();
        let height = size["height"].as_f64().unwrap_or(900.0).ceil();
        let shot = self
            .devtools(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                }),
            )
            .await;
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("screenshot data is base64");
        let dir = screenshot_root().join(&self.test);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}-{}.png", self.width));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
        path
    }

    /// Screenshots the current page at each of `WIDTHS`, ending at the first width.
    pub async fn screenshots(&mut self, name: &str) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for width in WIDTHS {
            self.set_width(width).await;
            paths.push(self.screenshot(name).await);
        }
        self.set_width(WIDTHS[0]).await;
        paths
    }

    /// What every page of a browser test gets: at each of `WIDTHS`, a full-page screenshot
    /// (`<name>-<width>.png`), then the axe-core check (so a failing page has its picture).
    /// `page` names the page in messages ("the community page").
    pub async fn audit(&mut self, name: &str, page: &str) {
        for width in WIDTHS {
            self.set_width(width).await;
            self.screenshot(name).await;
            self.check_accessibility(page).await;
        }
        self.set_width(WIDTHS[0]).await;
    }

    /// Runs axe-core on the current page and returns every violation, whatever its
    /// impact; `None` when axe-core is unavailable outside CI. `page` names the page in
    /// failure messages.
    pub async fn axe_violations(&self, page: &str) -> Option<Vec<AxeViolation>> {
        let axe = self.axe.as_ref()?;
        // The UMD bundle defines `window.axe` when there is no module system, as here.
        if let Err(e) = self.client.execute(axe, vec![]).await {
            panic!("injecting axe-core into {page} failed: {e}");
        }
        const RUN: &str = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
                .then(r => done({
                    version: axe.version,
                    violations: r.violations.map(v => ({
                        id: v.id,
                        impact: v.impact || 'unknown',
                        help: v.help,
                        helpUrl: v.helpUrl,
                        targets: v.nodes.map(n => n.target.map(
                            t => Array.isArray(t) ? t.join(' >> ') : String(t)).join(' >> ')),
                    })),
                }))
                .catch(e => done({error: String(e && e.stack || e)}));
        "#;
        let result = self
            .client
            .execute_async(RUN, vec![])
            .await
            .unwrap_or_else(|e| panic!("running axe-core on {page} failed: {e}"));
        if let Some(error) = result["error"].as_str() {
            panic!("axe-core failed on {page}: {error}");
        }
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
        let violations = result["violations"]
            .as_array()
            .unwrap_or_else(|| panic!("axe-core on {page} answered no violations list: {result}"))
            .iter()
            .map(|v| AxeViolation {
                id: text(v, "id"),
                impact: text(v, "impact"),
                help: text(v, "help"),
                help_url: text(v, "helpUrl"),
                targets: v["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            })
            .collect();
        println!(
            "axe-core {} on {page} at {} px",
            result["version"].as_str().unwrap_or("?"),
            self.width
        );
        Some(violations)
    }

    /// Runs axe-core on the current page. Fails listing every serious or critical violation
    /// (rule, help, failing elements); prints the moderate and minor ones. `page` names the
    /// page in the messages. Skipped, with a message, when axe-core is unavailable outside
    /// CI.
    pub async fn check_accessibility(&self, page: &str) {
        let Some(violations) = self.axe_violations(page).await else {
            eprintln!("SKIPPED: the axe-core check of {page} (axe-core unavailable)");
            return;
        };
        let url = self.current_url().await;
        let (blocking, other): (Vec<_>, Vec<_>) = violations.iter().partition(|v| v.blocks());
        println!(
            "  {url}: {} serious or critical, {} moderate or minor",
            blocking.len(),
            other.len()
        );
        for v in &other {
            println!("  {}", v.line());
        }
        if !blocking.is_empty() {
            let mut message = format!(
                "axe-core found {} serious or critical violation(s) on {page} ({url}, {} px):",
                blocking.len(),
                self.width
            );
            for v in &blocking {
                let _ = write!(message, "\n  {}", v.line());
            }
            panic!("{message}");
        }
    }
}
