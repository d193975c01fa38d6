//! The app served in process (`bedside_server::serve`) on `127.0.0.1:0`.
//!
//! ```no_run
//! # async fn f() {
//! use bedside_test_support::{http, repo_path, server::TestServer};
//! let s = TestServer::start_with(Default::default(), |c| {
//!     c.pathway(repo_path("pathways/sepsis-escalation.bpmn"))
//! })
//! .await;
//! assert_eq!(http::get(&s.base, "/healthz").await.0, 200);
//! # }
//! ```

use bedside_app::{App, AppConfig};
use bedside_server::HttpConfig;
use std::sync::Arc;

/// A served app; the server stops (in-flight requests finish) when this
/// is dropped, and a data dir it made is removed.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub app: Arc<App>,
    _dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Nothing served (no model, no pathway), default HTTP settings.
    pub async fn start() -> TestServer {
        Self::start_with(HttpConfig::default(), |c| c).await
    }

    /// Nothing served, with these HTTP settings.
    pub async fn start_http(http: HttpConfig) -> TestServer {
        Self::start_with(http, |c| c).await
    }

    /// A fresh SQLite data dir; `config` adds to
    /// `AppConfig::sqlite(dir).public_url(base)` what to serve.
    pub async fn start_with(
        http: HttpConfig,
        config: impl FnOnce(AppConfig) -> AppConfig,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("create a data dir");
        let listener = bind().await;
        let base = base_of(&listener);
        let app = App::open(config(
            AppConfig::sqlite(dir.path()).public_url(base.clone()),
        ))
        .await
        .expect("open the app");
        let mut s = Self::serve_on(listener, Arc::new(app), http);
        s._dir = Some(dir);
        s
    }

    /// Serve an app the caller opened (its store stays the caller's).
    pub async fn serve(app: Arc<App>, http: HttpConfig) -> TestServer {
        Self::serve_on(bind().await, app, http)
    }

    fn serve_on(listener: tokio::net::TcpListener, app: Arc<App>, http: HttpConfig) -> TestServer {
        let base = base_of(&listener);
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let a = app.clone();
        tokio::spawn(async move {
            bedside_server::serve(listener, a, http, async {
                let _ = rx.await;
            })
            .await
            .expect("serve the app");
        });
        TestServer {
            base,
            app,
            _dir: None,
            stop: Some(stop),
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The stored documents of `kind`.
    pub async fn documents(&self, kind: &str) -> Vec<bedside_store::Document> {
        self.app
            .store
            .list_documents(&bedside_store::DocFilter {
                kind: kind.into(),
                ..Default::default()
            })
            .await
            .expect("list documents")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

fn base_of(listener: &tokio::net::TcpListener) -> String {
    format!("http://{}", listener.local_addr().expect("local address"))
}
