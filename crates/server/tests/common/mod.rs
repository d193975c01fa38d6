//! Start the real app on 127.0.0.1:0 with a fresh data dir; stops when the
//! returned guard is dropped.

use bedside_app::{App, AppConfig};
use bedside_server::HttpConfig;
use std::sync::Arc;

pub struct TestServer {
    pub base: String,
    #[allow(dead_code)]
    pub app: Arc<App>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start_with(http: HttpConfig) -> TestServer {
    start_app(http, vec![], Default::default()).await
}

/// Start with model packages and a CDS Hooks configuration.
#[allow(dead_code)]
pub async fn start_app(
    http: HttpConfig,
    models: Vec<std::path::PathBuf>,
    hooks: bedside_app::hooks::HookConfig,
) -> TestServer {
    start_app_with(http, models, hooks, Vec::new()).await
}

/// Start with model packages, a CDS Hooks configuration and BPMN pathways.
#[allow(dead_code)]
pub async fn start_app_with(
    http: HttpConfig,
    models: Vec<std::path::PathBuf>,
    hooks: bedside_app::hooks::HookConfig,
    pathways: Vec<std::path::PathBuf>,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let app = Arc::new(
        App::open(AppConfig {
            store: bedside_store::StoreLocation::Sqlite {
                data_dir: dir.path().to_path_buf(),
            },
            channels: None,
            public_url: base.clone(),
            models,
            feature_specs: vec![],
            record_features: false,
            pathways,
            hooks,
        })
        .await
        .unwrap(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let a = app.clone();
    tokio::spawn(async move {
        bedside_server::serve(listener, a, http, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        base,
        app,
        _dir: dir,
        stop: Some(tx),
    }
}

pub async fn start() -> TestServer {
    start_with(HttpConfig::default()).await
}
