//! `bedside features`, `bedside model validate|card|certify`, `bedside
//! evaluate`: thin calls into the app and the models crate.

use anyhow::{bail, Context, Result};
use bedside_app::App;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct FeaturesArgs {
    /// Cohort directory (bulk NDJSON, plain or .gz).
    pub dir: PathBuf,
    /// Model package (only its model.toml is needed).
    #[arg(long)]
    pub model: PathBuf,
    /// Output CSV file.
    #[arg(long)]
    pub out: PathBuf,
    /// Data directory to replay into (default: a fresh temporary one).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Channel mapping file (default: built in).
    #[arg(long)]
    pub channels: Option<PathBuf>,
}

/// Replay the cohort through the real ingest path with the model's schedule
/// and write every row the online path would have scored.
pub async fn features(a: FeaturesArgs) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let data_dir = a
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let config = crate::offline_config(&data_dir, None)?
        .channels(a.channels.clone())
        .feature_spec(&a.model)
        .record_features(true);
    let app = App::open(config).await?;
    let summary = bedside_app::replay::replay_dir(&app, &a.dir, None).await?;
    if summary.rejected > 0 {
        eprintln!(
            "warning: {} resources rejected during replay",
            summary.rejected
        );
    }
    let rows = app.labeled_feature_rows().await?;
    let names: Vec<String> = app.models[0]
        .features
        .names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut w = csv::Writer::from_path(&a.out).with_context(|| format!("{}", a.out.display()))?;
    let mut header = vec!["patient_id", "encounter_id", "at", "split", "label"];
    header.extend(names.iter().map(String::as_str));
    w.write_record(&header)?;
    for r in &rows {
        let mut rec = vec![
            r.row.patient_id.clone(),
            r.row.encounter_id.clone().unwrap_or_default(),
            r.row.at.to_rfc3339(),
            r.split.to_string(),
            (r.label as u8).to_string(),
        ];
        rec.extend(
            r.row
                .values
                .iter()
                .map(|v| v.map(|x| x.to_string()).unwrap_or_default()),
        );
        w.write_record(&rec)?;
    }
    w.flush()?;
    eprintln!(
        "wrote {} rows x {} features to {}",
        rows.len(),
        names.len(),
        a.out.display()
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum ModelCmd {
    /// Check a model package; list every problem with its location.
    Validate { package: PathBuf },
    /// Render the model facts (Markdown, or HTML with --html).
    Card {
        package: PathBuf,
        #[arg(long)]
        html: bool,
        /// Alert policy (TOML) whose certified promise the card states
        /// (default: the built-in policy).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Certify the policy on a cohort's calibration split (its patients
    /// replayed through the whole policy) and store the certification in
    /// the package (`certification.json`, named in model.toml).
    Certify(CertifyArgs),
}

#[derive(Args)]
pub struct CertifyArgs {
    /// Model package directory.
    pub package: PathBuf,
    /// Cohort directory (bulk NDJSON, plain or .gz); its calibration split
    /// (tools/split.py) is certified on.
    #[arg(long)]
    pub cohort: PathBuf,
    /// Alert policy (TOML); default: the built-in default policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Detection window in hours (default: the package's
    /// `outcome.detection_window_hours`, else 0).
    #[arg(long)]
    pub sensitivity_window_hours: Option<f64>,
}

/// The name of the stored certification in a package.
const CERTIFICATION_FILE: &str = "certification.json";

/// Replay the cohort with the model, certify on its calibration split and
/// write the certification into the package.
pub async fn certify(a: CertifyArgs) -> Result<()> {
    let policy = read_policy(a.policy.as_deref())?;
    let (app, _store) = replay_with_model(&a.cohort, &a.package).await?;
    let window = detection_window(&app, a.sensitivity_window_hours)?;
    let cohort = app.scored_cohort().await?;
    let set = cohort.replay_set("calibration", window);
    if set.trajectories.is_empty() {
        bail!(
            "{}: no patient of the calibration split was scored",
            a.cohort.display()
        );
    }
    let model_id = app.models[0].id().to_string();
    let stored = bedside_policy::StoredCertification::make(set, &policy, &model_id);
    let out = a.package.join(CERTIFICATION_FILE);
    std::fs::write(&out, serde_json::to_string(&stored)? + "\n")
        .with_context(|| format!("{}", out.display()))?;
    let toml_path = a.package.join("model.toml");
    let toml =
        std::fs::read_to_string(&toml_path).with_context(|| format!("{}", toml_path.display()))?;
    let named = toml::from_str::<toml::Value>(&toml)
        .ok()
        .and_then(|v| v.get("certification").cloned())
        .is_some();
    if !named {
        let mut text = toml;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "\n# Written by `bedside model certify`: the calibration patients and the\n\
             # whole-policy certification made on them.\n[certification]\nfile = \"{CERTIFICATION_FILE}\"\n"
        ));
        std::fs::write(&toml_path, text).with_context(|| format!("{}", toml_path.display()))?;
    }
    println!(
        "{}: {} calibration patients; {}",
        out.display(),
        stored.replay.trajectories.len(),
        stored.certification.statement()
    );
    if let Some(c) = stored.certification.certified() {
        println!(
            "threshold {:.4}; per-alert PPV {:.3} (lower bound {:.3}); {:.2} interruptive alerts per 100 patient-days (upper bound {:.2}); sensitivity {}",
            c.threshold,
            c.ppv,
            c.ppv_lower,
            c.alert_rate_per_100_patient_days,
            c.alert_rate_upper_per_100_patient_days.unwrap_or(f64::NAN),
            c.sensitivity.map_or("-".into(), |s| format!("{s:.3}")),
        );
    }
    Ok(())
}

/// Replay `dir` in-process with the model loaded and its rows recorded.
/// The temporary store directory is returned with the app: keep it
/// alive as long as the app.
async fn replay_with_model(
    dir: &std::path::Path,
    package: &std::path::Path,
) -> Result<(App, tempfile::TempDir)> {
    let tmp = tempfile::tempdir()?;
    let mut config = crate::offline_config(tmp.path(), None)?
        .model(package)
        .record_features(true);
    // Thrown away after the run: see `StoreLocation::SqliteScratch`.
    config.store = bedside_store::StoreLocation::SqliteScratch {
        data_dir: tmp.path().to_path_buf(),
    };
    let app = App::open(config).await?;
    bedside_app::replay::replay_dir(&app, dir, None).await?;
    Ok((app, tmp))
}

fn detection_window(app: &App, given: Option<f64>) -> Result<f64> {
    if given.is_some_and(|w| !(w.is_finite() && w >= 0.0)) {
        bail!("--sensitivity-window-hours: must be a number >= 0");
    }
    Ok(given.unwrap_or_else(|| {
        app.models
            .first()
            .and_then(|m| m.spec.outcome.detection_window_hours)
            .unwrap_or(0.0)
    }))
}

pub fn model(cmd: ModelCmd) -> Result<()> {
    match cmd {
        ModelCmd::Validate { package } => {
            let problems = bedside_models::validate_package(&package);
            if problems.is_empty() {
                println!("{}: ok", package.display());
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
                bail!("{}: {} problem(s)", package.display(), problems.len())
            }
        }
        // Async: run by `main` on the runtime.
        ModelCmd::Certify(_) => bail!("bedside model certify runs on the async runtime"),
        ModelCmd::Card {
            package,
            html,
            policy,
        } => {
            let model = bedside_models::Model::load(&package)
                .map_err(|e| anyhow::anyhow!("{}: {e}", package.display()))?;
            let policy = read_policy(policy.as_deref())?;
            let statement = bedside_app::hooks::certify_model(&model, &policy)
                .0
                .statement();
            let pkg = &model.package;
            if html {
                print!(
                    "{}",
                    bedside_models::render_card_html_with(pkg, Some(&statement))
                );
            } else {
                print!(
                    "{}",
                    bedside_models::render_card_markdown_with(pkg, Some(&statement))
                );
            }
            Ok(())
        }
    }
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Cohort directory (bulk NDJSON, plain or .gz).
    pub dir: PathBuf,
    /// Model package.
    #[arg(long)]
    pub model: PathBuf,
    /// Alert policy (TOML); default: the built-in default policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Which patients to report on: test (held out), calibration, train, all.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// An alert up to this many hours after the outcome's time still counts
    /// as detecting it (screening at and after admission), for sensitivity
    /// and for the calibration set the threshold is certified on. Default:
    /// the package's `outcome.detection_window_hours`, else 0.
    #[arg(long)]
    pub sensitivity_window_hours: Option<f64>,
    /// NEWS2 at or above this score is an alert of the NEWS2 baseline,
    /// which the model is compared with at the same alert rate.
    #[arg(long, default_value_t = bedside_app::evaluate::NEWS2_TRIGGER)]
    pub news2_trigger: u32,
    /// Check the package's stored certification as shipped (no re-fit on
    /// this cohort) and print the "promise kept?" table.
    #[arg(long)]
    pub certified: bool,
    /// Sweep the re-alert, quiet-period and suppression settings on the
    /// cohort's calibration split: certify each combination (whole-policy
    /// replay) and print the table (Markdown, or JSON with --json).
    #[arg(long, conflicts_with = "certified")]
    pub sweep: bool,
    /// Print JSON (otherwise the text table).
    #[arg(long)]
    pub json: bool,
}

/// The alert policy from a TOML file, or the built-in one.
fn read_policy(path: Option<&std::path::Path>) -> Result<bedside_policy::PolicyConfig> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            bedside_policy::PolicyConfig::from_toml_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
        None => bedside_policy::PolicyConfig::from_toml_str(
            &bedside_policy::PolicyConfig::default_toml(),
        )
        .map_err(|e| anyhow::anyhow!("built-in policy: {e}")),
    }
}

/// Replay a cohort with the model and report performance and alert burden.
pub async fn evaluate(a: EvaluateArgs) -> Result<()> {
    if !matches!(a.split.as_str(), "test" | "calibration" | "train" | "all") {
        bail!("--split: must be test, calibration, train or all");
    }
    if !(1..=20).contains(&a.news2_trigger) {
        bail!("--news2-trigger: must be 1 to 20 (NEWS2 ranges from 0 to 20)");
    }
    let policy = read_policy(a.policy.as_deref())?;
    let (app, _store) = replay_with_model(&a.dir, &a.model).await?;
    let window = detection_window(&app, a.sensitivity_window_hours)?;
    let cohort = app.scored_cohort().await?;
    if a.sweep {
        let rows = crate::sweep::sweep(&cohort, &policy, window, app.models[0].id());
        if a.json {
            println!("{}", serde_json::to_string(&rows)?);
        } else {
            print!("{}", crate::sweep::markdown(&rows));
        }
        return Ok(());
    }
    let eval = bedside_policy::evaluate::EvalConfig {
        sensitivity_window_hours: window,
        ..Default::default()
    };
    let source = if a.certified {
        bedside_app::evaluate::CertificationSource::Package
    } else {
        bedside_app::evaluate::CertificationSource::CalibrationSplit
    };
    let report = app.evaluation_of(&cohort, &policy, &a.split, eval, a.news2_trigger, source)?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if a.certified {
        print!("{}", crate::sweep::promise_text(&report));
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
