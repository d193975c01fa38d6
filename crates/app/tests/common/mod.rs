//! Set-up shared by the app's integration tests. Each test binary uses part
//! of it, so what one binary leaves unused is not dead code.
#![allow(dead_code)]

use bedside_app::{App, AppConfig};
use bedside_test_support::repo_path;
use std::path::Path;

/// An app on a fresh SQLite data dir with nothing served: no model, no
/// pathway, no hooks (a plain store of FHIR data).
pub async fn plain_app(dir: &Path) -> App {
    pathway_app(dir, &[]).await
}

/// An app on a fresh SQLite data dir serving these pathways of the
/// repository's `pathways/` (file names), and no model.
pub async fn pathway_app(dir: &Path, pathways: &[&str]) -> App {
    let root = repo_path("pathways");
    let config = AppConfig::sqlite(dir).pathways(pathways.iter().map(|p| root.join(p)));
    App::open(config).await.unwrap()
}
