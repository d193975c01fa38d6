//! Harness for Bedside's browser tests: starts `bedside demo` on port 0
//! with a throwaway data directory (`bedside-test-support`'s `process`),
//! starts `chromedriver` on a free port, and opens a headless Chromium
//! session over WebDriver ([`fantoccini`]). The scenario itself is
//! `tests/browser.rs`; it runs only with `BEDSIDE_E2E=1` (see
//! `scripts/browser-tests.sh`).
//!
//! ARCHITECTURE INVARIANT: the browser only ever talks HTTP to a real
//! `bedside` process; nothing here reaches into Bedside's crates
//! (`bedside-test-support` is used without its `in-process` feature, so
//! it links none of them).

pub use bedside_test_support::process::BedsideProcess;
/// Errors of the harness (the tests print them and fail).
pub use bedside_test_support::process::Error;
pub use bedside_test_support::repo_root;

use bedside_test_support::process::{bedside_bin, Spawn};
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when the browser tests should run (`BEDSIDE_E2E=1`).
pub fn enabled() -> bool {
    std::env::var("BEDSIDE_E2E").is_ok_and(|v| v == "1")
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bedside demo --listen 127.0.0.1:0 --data-dir <tmp>` in the
/// repo root (the binary from `BEDSIDE_BIN`, else the build's
/// `debug/bedside`, see [`bedside_bin`]), waits until it answers
/// `/healthz`, then (up to `ready_timeout` in all) for the demo cohort
/// replay to finish (the log line `demo cohort replayed`); without that
/// line it notes so and the test goes on.
pub fn start_bedside(ready_timeout: Duration) -> Result<BedsideProcess, Error> {
    let started = Instant::now();
    // At the cohort's recorded times: the dashboard's window ends at the
    // data clock, and a card the test records now is counted in it.
    let bedside = Spawn::demo(bedside_bin())
        .arg("--no-time-shift")
        .fresh_data_dir()
        .ready_timeout(ready_timeout)
        .start()?;
    let left = ready_timeout.saturating_sub(started.elapsed());
    if !bedside.wait_for_log("demo cohort replayed", left) {
        eprintln!("note: no 'demo cohort replayed' line within {ready_timeout:?}; testing anyway");
    }
    Ok(bedside)
}

/// A running chromedriver.
pub struct Driver {
    pub proc: Proc,
    pub url: String,
    _profile: tempfile::TempDir,
    profile_dir: PathBuf,
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

impl Driver {
    /// Starts `chromedriver` (env `CHROMEDRIVER`, else from PATH) on a
    /// free loopback port and waits until it accepts connections.
    pub fn start() -> Result<Driver, Error> {
        let bin = std::env::var("CHROMEDRIVER")
            .map(PathBuf::from)
            .ok()
            .or_else(|| which("chromedriver"))
            .ok_or(
                "chromedriver not found (apt-get install chromium-driver, or set CHROMEDRIVER)",
            )?;
        let port = free_port()?;
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let proc = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not start listening within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir()?;
        let profile_dir = profile.path().to_path_buf();
        Ok(Driver {
            proc,
            url: format!("http://127.0.0.1:{port}"),
            _profile: profile,
            profile_dir,
        })
    }

    /// A new headless Chromium session (fresh profile, 1280x900).
    pub async fn session(&self) -> Result<Client, Error> {
        let mut opts = serde_json::json!({
            "args": [
                // Without the background-networking flags the closed
                // network makes Chromium misbehave (stalls, retries).
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", self.profile_dir.display()),
            ]
        });
        let chromium = std::env::var("CHROMIUM_BIN")
            .map(PathBuf::from)
            .ok()
            .or_else(|| which("chromium"))
            .or_else(|| which("chromium-browser"));
        if let Some(b) = chromium {
            opts["binary"] = serde_json::json!(b.display().to_string());
        }
        let mut caps = Capabilities::new();
        caps.insert("goog:chromeOptions".into(), opts);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await?;
        Ok(client)
    }
}

/// Where screenshots go: `screenshots/` at the repo root (gitignored),
/// or `BEDSIDE_SCREENSHOTS`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var("BEDSIDE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("screenshots"))
}

/// Saves a PNG of the current page as `<dir>/<name>.png`.
pub async fn screenshot(c: &Client, name: &str) -> Result<PathBuf, Error> {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, c.screenshot().await?)?;
    Ok(path)
}
