//! The `bedside` binary as a child process: started listening on
//! `127.0.0.1:0`, awaited until `/healthz` answers 200, killed (SIGKILL)
//! when its [`BedsideProcess`] is dropped.
//!
//! ```no_run
//! use bedside_test_support::process::{bedside_bin, Spawn};
//! // bedside-cli's own tests pass env!("CARGO_BIN_EXE_bedside") instead.
//! let server = Spawn::serve(bedside_bin())
//!     .fresh_data_dir()
//!     .start()
//!     .unwrap();
//! let (status, _) = server.get("/fhir/Patient").unwrap();
//! assert_eq!(status, 200);
//! ```
//!
//! Nothing here links a Bedside crate: a test speaks to the process over
//! HTTP only ([`get`], or any HTTP client).

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Why a process could not be started or did not become ready.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long [`Spawn::start`] waits for the listening address and a 200
/// from `/healthz`, unless [`Spawn::ready_timeout`] says otherwise.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Log lines kept per process (the newest).
const LOG_LINES: usize = 2_000;

/// The `bedside` binary for callers without `CARGO_BIN_EXE_bedside`
/// (which Cargo sets only for `bedside-cli`'s own tests): `BEDSIDE_BIN`,
/// else `bedside` beside the running test's `deps/` directory, else
/// `$CARGO_TARGET_DIR/debug/bedside`, else the workspace's
/// `target/debug/bedside`. The path may not exist (see [`Spawn::start`]).
pub fn bedside_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BEDSIDE_BIN") {
        return PathBuf::from(p);
    }
    let beside_deps = std::env::current_exe().ok().and_then(|exe| {
        let dir = exe.parent()?;
        let profile = if dir.ends_with("deps") {
            dir.parent()?
        } else {
            dir
        };
        Some(profile.join("bedside"))
    });
    if let Some(p) = beside_deps.filter(|p| p.is_file()) {
        return p;
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("debug/bedside");
    }
    crate::repo_root().join("target/debug/bedside")
}

/// How to start one `bedside` process.
pub struct Spawn {
    bin: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    data: Option<Data>,
    ready_timeout: Duration,
    wait_for: Option<String>,
}

enum Data {
    Given(PathBuf),
    Fresh(tempfile::TempDir),
}

impl Spawn {
    /// `bin` with `args`; the process must log its bound address as
    /// `addr=HOST:PORT` on stderr (as `bedside serve` and `demo` do).
    /// Logs at `info`, uncoloured.
    pub fn new<S: AsRef<OsStr>>(
        bin: impl Into<PathBuf>,
        args: impl IntoIterator<Item = S>,
    ) -> Self {
        Spawn {
            bin: bin.into(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            envs: vec![
                ("BEDSIDE_LOG".into(), "info".into()),
                ("NO_COLOR".into(), "1".into()),
            ],
            current_dir: None,
            data: None,
            ready_timeout: READY_TIMEOUT,
            wait_for: None,
        }
    }

    /// `bedside serve --auth-mode off --listen 127.0.0.1:0`.
    pub fn serve(bin: impl Into<PathBuf>) -> Self {
        Self::new(
            bin,
            ["serve", "--auth-mode", "off", "--listen", "127.0.0.1:0"],
        )
    }

    /// `bedside demo --listen 127.0.0.1:0`, run in the workspace root
    /// (the demo reads its model, pathways and cohort from there).
    pub fn demo(bin: impl Into<PathBuf>) -> Self {
        Self::new(bin, ["demo", "--listen", "127.0.0.1:0"]).current_dir(crate::repo_root())
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable of the process.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The working directory of the process.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// `--data-dir dir` (the caller keeps the directory).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data = Some(Data::Given(dir.into()));
        self
    }

    /// `--data-dir` a new temporary directory, removed with the process.
    pub fn fresh_data_dir(mut self) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary data dir");
        self.data = Some(Data::Fresh(dir));
        self
    }

    /// Besides `/healthz`, wait for a log line containing `needle` (e.g.
    /// `demo cohort replayed`).
    pub fn wait_for_log(mut self, needle: impl Into<String>) -> Self {
        self.wait_for = Some(needle.into());
        self
    }

    /// How long to wait for readiness in all.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Start the process and wait until it logged its address, answers
    /// `/healthz` with 200 and (when asked) logged the awaited line. On
    /// failure the process is killed and the error quotes its log.
    pub fn start(self) -> Result<BedsideProcess, Error> {
        if !self.bin.is_file() {
            return Err(format!(
                "bedside binary not found at {} (build it, or set BEDSIDE_BIN)",
                self.bin.display()
            )
            .into());
        }
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(d) = &self.current_dir {
            cmd.current_dir(d);
        }
        let (data_dir, owned) = match self.data {
            None => (None, None),
            Some(Data::Given(p)) => (Some(p), None),
            Some(Data::Fresh(t)) => (Some(t.path().to_path_buf()), Some(t)),
        };
        if let Some(d) = &data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        let log = Log::collect(child.stderr.take().ok_or("no stderr")?);
        let mut process = BedsideProcess {
            child: Some(child),
            base: String::new(),
            addr: String::new(),
            log,
            data_dir,
            _owned: owned,
        };
        let deadline = Instant::now() + self.ready_timeout;
        let addr = process
            .log
            .wait_map(deadline, |line| {
                let i = line.find("addr=")?;
                line[i + 5..].split_whitespace().next().map(str::to_string)
            })
            .ok_or_else(|| process.failure("logged no addr= line"))?;
        process.base = format!("http://{addr}");
        process.addr = addr;
        while !matches!(process.get("/healthz"), Ok((200, _))) {
            if Instant::now() > deadline || process.log.closed() {
                return Err(process.failure("never answered /healthz with 200"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(needle) = &self.wait_for {
            if process
                .log
                .wait_map(deadline, |l| l.contains(needle.as_str()).then_some(()))
                .is_none()
            {
                return Err(process.failure(&format!("logged no line with {needle:?}")));
            }
        }
        Ok(process)
    }
}

/// A running `bedside` process; SIGKILLed and reaped when dropped.
pub struct BedsideProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: Arc<Log>,
    data_dir: Option<PathBuf>,
    _owned: Option<tempfile::TempDir>,
}

impl BedsideProcess {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The `--data-dir` it was started with.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Its stderr so far (the newest 2 000 lines).
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lines()
    }

    /// Wait up to `timeout` for a log line containing `needle` (kept
    /// lines included); false when none came.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.log
            .wait_map(Instant::now() + timeout, |l| {
                l.contains(needle).then_some(())
            })
            .is_some()
    }

    /// `GET path` (see [`get`]).
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        get(&self.base, path)
    }

    /// `GET path`, which must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// SIGKILL and reap (nothing in flight finishes).
    pub fn sigkill(mut self) {
        self.kill();
    }

    /// SIGTERM and wait for the exit (in-flight work finishes).
    pub fn terminate(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kill the process and describe the failure with its log.
    fn failure(&mut self, what: &str) -> Error {
        self.kill();
        let lines = self.log.lines();
        let tail = &lines[lines.len().saturating_sub(40)..];
        format!("bedside {what}; the end of its log:\n{}", tail.join("\n")).into()
    }
}

impl Drop for BedsideProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A child's stderr, read on a thread of its own so the child never
/// blocks on a full pipe.
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: std::collections::VecDeque<String>,
    closed: bool,
}

impl Log {
    fn collect(stderr: impl Read + Send + 'static) -> Arc<Log> {
        let log = Arc::new(Log {
            state: Mutex::new(LogState::default()),
            changed: Condvar::new(),
        });
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut s = sink.state.lock().unwrap();
                if s.lines.len() == LOG_LINES {
                    s.lines.pop_front();
                }
                s.lines.push_back(line);
                sink.changed.notify_all();
            }
            sink.state.lock().unwrap().closed = true;
            sink.changed.notify_all();
        });
        log
    }

    fn lines(&self) -> Vec<String> {
        self.state.lock().unwrap().lines.iter().cloned().collect()
    }

    fn closed(&self) -> bool {
        self.state.lock().unwrap().closed
    }

    /// The first kept line `f` maps to something, waiting for more lines
    /// until `deadline` or the end of the stream.
    fn wait_map<T>(&self, deadline: Instant, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        let mut s = self.state.lock().unwrap();
        let mut seen = 0;
        loop {
            // Lines dropped from the front shift the rest: look at all of
            // them again when that happened.
            let from = if s.lines.len() < seen { 0 } else { seen };
            if let Some(v) = s.lines.iter().skip(from).find_map(|l| f(l)) {
                return Some(v);
            }
            seen = s.lines.len();
            let now = Instant::now();
            if s.closed || now >= deadline {
                return None;
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap().0;
        }
    }
}

/// What `bedside digest --data-dir data_dir` prints (the stored counts,
/// resources and patient states, by digest); panics with its stderr when
/// it fails.
pub fn digest(bin: impl AsRef<OsStr>, data_dir: &Path) -> String {
    let out = Command::new(bin)
        .args(["digest", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run bedside digest");
    assert!(
        out.status.success(),
        "bedside digest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 digest")
}

/// `GET base + path` over a plain HTTP/1.0 connection (no client library,
/// no chunked answer): the status and the body. 30 s at most.
pub fn get(base: &str, path: &str) -> std::io::Result<(u16, String)> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("no address for {host}")))?;
    let timeout = Duration::from_secs(30);
    let mut c = TcpStream::connect_timeout(&addr, timeout)?;
    c.set_read_timeout(Some(timeout))?;
    c.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head}")))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_reads_the_status_and_body_of_a_plain_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            c.write_all(
                b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nnot yet",
            )
            .unwrap();
            String::from_utf8(request).unwrap()
        });
        let (status, body) = get(&base, "/healthz").unwrap();
        assert_eq!((status, body.as_str()), (503, "not yet"));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /healthz HTTP/1.0\r\n"),
            "{request}"
        );
    }

    #[test]
    fn a_missing_binary_is_an_error_naming_it() {
        let e = Spawn::serve("/nonexistent/bedside")
            .start()
            .err()
            .expect("no such binary")
            .to_string();
        assert!(
            e.contains("/nonexistent/bedside") && e.contains("BEDSIDE_BIN"),
            "{e}"
        );
    }

    #[test]
    fn a_process_that_logs_no_address_fails_quoting_its_log() {
        let e = Spawn::new("/bin/sh", ["-c", "echo warming up >&2"])
            .ready_timeout(Duration::from_secs(10))
            .start()
            .err()
            .expect("no address was logged")
            .to_string();
        assert!(e.contains("logged no addr= line"), "{e}");
        assert!(e.contains("warming up"), "{e}");
    }
}
