//! Set-up shared by the app's integration tests. Each test binary uses part
//! of it, so what one binary leaves unused is not dead code.
#![allow(dead_code)]

use bedside_app::{App, AppConfig};
use std::path::Path;

/// An app on a fresh SQLite data dir with nothing served: no model, no
/// pathway, no hooks (a plain store of FHIR data).
pub async fn plain_app(dir: &Path) -> App {
    pathway_app(dir, &[]).await
}

/// An app on a fresh SQLite data dir serving these pathways of the
/// repository's `pathways/` (file names), and no model.
pub async fn pathway_app(dir: &Path, pathways: &[&str]) -> App {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pathways");
    App::open(AppConfig {
        store: bedside_store::StoreLocation::Sqlite {
            data_dir: dir.to_path_buf(),
        },
        channels: None,
        public_url: "http://test".into(),
        models: vec![],
        feature_specs: vec![],
        record_features: false,
        pathways: pathways.iter().map(|p| root.join(p)).collect(),
        hooks: Default::default(),
    })
    .await
    .unwrap()
}
