//! Harness for Bedside's browser tests: starts `bedside demo` on a free
//! port with a throwaway data directory, starts `chromedriver` on a free
//! port, and opens a headless Chromium session over WebDriver
//! ([`fantoccini`]). The scenario itself is `tests/browser.rs`; it runs
//! only with `BEDSIDE_E2E=1` (see `scripts/browser-tests.sh`).
//!
//! ARCHITECTURE INVARIANT: the browser only ever talks HTTP to a real
//! `bedside` process; nothing here reaches into Bedside's crates.

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Errors of the harness (the tests print them and fail).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// True when the browser tests should run (`BEDSIDE_E2E=1`).
pub fn enabled() -> bool {
    std::env::var("BEDSIDE_E2E").is_ok_and(|v| v == "1")
}

/// The workspace root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `bedside demo`.
pub struct Bedside {
    pub proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Lines of its log (stderr), collected in the background.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _data: tempfile::TempDir,
}

impl Bedside {
    /// Starts the binary from `BEDSIDE_BIN` (default `target/debug/bedside`)
    /// as `bedside demo --listen 127.0.0.1:0 --data-dir <tmp>` in the repo
    /// root, reads the bound address from the log line containing `addr=`,
    /// then waits (up to `ready_timeout`) for the demo cohort replay to
    /// finish (the log line `demo cohort replayed`).
    pub fn start(ready_timeout: Duration) -> Result<Bedside, Error> {
        let root = repo_root();
        let bin = std::env::var("BEDSIDE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target/debug/bedside"));
        if !bin.exists() {
            return Err(format!(
                "bedside binary not found at {} (set BEDSIDE_BIN)",
                bin.display()
            )
            .into());
        }
        let data = tempfile::tempdir()?;
        let mut child = Command::new(&bin)
            .current_dir(&root)
            .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("BEDSIDE_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let proc = Proc(child);
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line.clone());
                }
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + ready_timeout;
        let mut addr = None;
        let mut replayed = false;
        while Instant::now() < deadline && !(addr.is_some() && replayed) {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if addr.is_none() {
                        if let Some(i) = line.find("addr=") {
                            addr = line[i + 5..].split_whitespace().next().map(str::to_string);
                        }
                    }
                    replayed |= line.contains("demo cohort replayed");
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let addr = addr.ok_or_else(|| {
            let l = log.lock().map(|l| l.join("\n")).unwrap_or_default();
            format!("bedside printed no addr= line; its log:\n{l}")
        })?;
        if !replayed {
            eprintln!(
                "note: no 'demo cohort replayed' line within {ready_timeout:?}; testing anyway"
            );
        }
        Ok(Bedside {
            proc,
            base: format!("http://{addr}"),
            log,
            _data: data,
        })
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
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
