//! `bedside report readiness|silent`: open the installation's store with
//! its model, ask the read side for the report, print JSON or HTML.

use anyhow::{bail, Context, Result};
use bedside_app::App;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum ReportKind {
    /// The six questions to ask before adopting a model, with evidence.
    Readiness,
    /// Silent-mode performance and the simulated alert burden.
    Silent,
}

#[derive(Args)]
pub struct ReportArgs {
    pub kind: ReportKind,
    #[arg(long, env = "BEDSIDE_DATA_DIR", default_value = "bedside-data")]
    pub data_dir: PathBuf,
    #[arg(long, env = "BEDSIDE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Model package served by the installation (default: the demo model).
    #[arg(long)]
    pub model: Vec<PathBuf>,
    /// Which served model to report on (default: the first).
    #[arg(long)]
    pub model_id: Option<String>,
    /// Print JSON instead of HTML.
    #[arg(long)]
    pub json: bool,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(a: ReportArgs) -> Result<()> {
    if a.database_url.is_none() && !a.data_dir.join(bedside_store::SQLITE_FILE).exists() {
        bail!(
            "--data-dir {}: no Bedside data here (run `bedside demo` or `bedside replay` first)",
            a.data_dir.display()
        );
    }
    // The models named, else the demo's use cases (with their pathways).
    let mut config =
        crate::offline_config(&a.data_dir, a.database_url.as_deref())?.models(a.model.clone());
    if a.model.is_empty() {
        for u in crate::demo_use_cases() {
            config = config.use_case(u);
        }
    }
    if config.models.is_empty() && config.use_cases.is_empty() {
        bail!("--model: name the model package the installation serves");
    }
    let governance = std::path::Path::new(crate::GOVERNANCE_PATHWAY);
    if governance.exists() {
        config = config.pathway(governance);
    }
    let app = App::open(config).await?;
    let id = match &a.model_id {
        Some(id) => id.clone(),
        None => app.models[0].id().to_string(),
    };
    let report = match a.kind {
        ReportKind::Readiness => app.views().readiness_report(&id).await,
        ReportKind::Silent => app.views().silent_report(&id).await,
    }
    .map_err(|e| anyhow::anyhow!("report: {}", e.message))?;
    let text = if a.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        bedside_views::reports::render_html(&report)
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("--out {}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
