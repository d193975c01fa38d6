//! Set-up shared by the app's integration tests.

use bedside_app::{App, AppConfig};
use std::path::Path;

/// An app on a fresh SQLite data dir with nothing served: no model, no
/// pathway, no hooks (a plain store of FHIR data).
pub async fn plain_app(dir: &Path) -> App {
    App::open(AppConfig {
        store: bedside_store::StoreLocation::Sqlite {
            data_dir: dir.to_path_buf(),
        },
        channels: None,
        public_url: "http://test".into(),
        models: vec![],
        feature_specs: vec![],
        record_features: false,
        pathways: vec![],
        hooks: Default::default(),
    })
    .await
    .unwrap()
}
