//! The `bedside` binary: parses arguments and wires the parts together.
//! Every clinical or statistical idea lives in a library crate.

mod access;
mod audit_cmd;
mod model_cmds;
mod pathway_cmds;
mod replay_cmd;
mod report_cmd;
mod sweep;
mod token_cmd;
mod usecase_cmds;

use anyhow::{Context, Result};
use bedside_app::{App, AppConfig};
use bedside_cli::settings::{self, Settings};
use bedside_store::StoreLocation;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bedside",
    version,
    about = "Deploy validated clinical prediction models at the bedside: FHIR in, CDS Hooks cards and BPMN pathways out."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (FHIR ingest, CDS Hooks, worklist, UI).
    Serve {
        /// TOML config file (settings as printed by `bedside config`).
        #[arg(long, env = "BEDSIDE_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Run the demo: the server on the embedded store with the demo model,
    /// pathway and the demo cohort replayed.
    Demo {
        /// Skip replaying the demo cohort.
        #[arg(long)]
        no_replay: bool,
        /// Replay the demo cohort at its recorded times. By default every
        /// time in it moves by one offset so that its last events are now
        /// (cards, deadlines and the dashboard look as on a ward today).
        #[arg(long)]
        no_time_shift: bool,
        /// Directories of bulk NDJSON to replay (repeatable). Default: every
        /// directory under `demo/` (the sepsis demo cohort and the
        /// deterioration demo cohort).
        #[arg(long)]
        cohort: Vec<PathBuf>,
        #[arg(long, env = "BEDSIDE_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Replay a bulk NDJSON directory (plain or .gz) in event-time order
    /// through the ingest path, in-process or against a server (--url).
    Replay(replay_cmd::ReplayArgs),
    /// Export the feature rows the online path scores, replaying a cohort
    /// through the real ingest path (no train/serve skew).
    Features(model_cmds::FeaturesArgs),
    /// Replay a cohort with a model: AUROC, AUPRC, ECE and the alert burden
    /// of the policy against naive baselines, on the held-out split.
    Evaluate(model_cmds::EvaluateArgs),
    /// Model packages: validate, render model facts.
    #[command(subcommand)]
    Model(model_cmds::ModelCmd),
    /// Governance reports (HTML, or JSON with --json): `readiness` answers
    /// the six adoption questions with measured evidence; `silent` gives
    /// silent-mode performance and the simulated alert burden.
    Report(report_cmd::ReportArgs),
    /// BPMN pathways: validate files before deploying them.
    #[command(subcommand)]
    Pathway(pathway_cmds::PathwayCmd),
    /// Use cases (a model, its policy, pathway and card as configuration):
    /// validate directories before serving them.
    #[command(subcommand, name = "use-case")]
    UseCase(usecase_cmds::UseCaseCmd),
    /// Print hook JWTs signed by the demo EHR key (one per line, each with
    /// its own jti) for scripts, the UI sandbox and load tests.
    Token(token_cmd::TokenArgs),
    /// The audit log: `verify` checks its hash chain (exit 1 naming the
    /// first modified, missing or reordered entry), `export` writes it as
    /// NDJSON FHIR AuditEvents.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCmd),
    /// Print a documented config file with every setting at its default.
    Config,
    /// Print a digest of the store's resources and patient state (two
    /// stores with equal digests hold the same data).
    Digest {
        #[arg(long, env = "BEDSIDE_DATA_DIR", default_value = "bedside-data")]
        data_dir: PathBuf,
        #[arg(long, env = "BEDSIDE_DATABASE_URL")]
        database_url: Option<String>,
    },
}

fn init_logging(format: &str) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_env("BEDSIDE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let b = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// Settings from flags and environment, overlaid with the config file.
fn resolve(settings: Settings, config: Option<PathBuf>, m: &clap::ArgMatches) -> Result<Settings> {
    let s = match config {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("config file {}: cannot read", p.display()))?;
            settings.overlay_file(m, &text, &p.display().to_string())?
        }
        None => settings,
    };
    s.validate()?;
    Ok(s)
}

pub(crate) fn store_location(
    data_dir: &std::path::Path,
    url: Option<&str>,
) -> Result<StoreLocation> {
    Ok(match url {
        Some(u) => StoreLocation::Postgres { url: u.to_string() },
        None => StoreLocation::Sqlite {
            data_dir: data_dir.to_path_buf(),
        },
    })
}

/// The configuration of a command that serves nothing: the store, with
/// `http://localhost` as the public URL its audit entries name.
pub(crate) fn offline_config(data_dir: &std::path::Path, url: Option<&str>) -> Result<AppConfig> {
    Ok(AppConfig::new(store_location(data_dir, url)?).public_url("http://localhost"))
}

/// What the demo serves when no use case or model is named: the shipped
/// use cases (each with its model, policy, pathway and card), the
/// governance pathway and the demo EHR key pair.
pub(crate) const DEMO_USE_CASES: &str = "use-cases";

/// Every use case directory under the demo's `use-cases/` (each holding
/// `use-case.toml`), in name order.
pub(crate) fn demo_use_cases() -> Vec<PathBuf> {
    let root = demo_asset(DEMO_USE_CASES.as_ref());
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(bedside_usecase::FILE).is_file())
        .collect();
    out.sort();
    out
}
/// The governance pathway: a model owner's review Task per alarm.
pub(crate) const GOVERNANCE_PATHWAY: &str = "pathways/model-governance.bpmn";
pub(crate) const DEMO_EHR: &str = "config/demo-ehr";
/// The demo's alert policy: stage `live` and an alert budget the small
/// demo calibration set can certify, so the replay starts pathways.
const DEMO_POLICY: &str = "config/demo-policy.toml";

/// The alert policy from `--policy`, else the demo's (demo only), else
/// `None` (the built-in default, stage `silent`).
fn load_policy(s: &Settings, demo: bool) -> Result<Option<bedside_policy::PolicyConfig>> {
    let path = match &s.policy {
        Some(p) => p.clone(),
        None if demo && demo_asset(DEMO_POLICY.as_ref()).exists() => {
            demo_asset(DEMO_POLICY.as_ref())
        }
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("policy {}: cannot read", path.display()))?;
    let cfg = bedside_policy::PolicyConfig::from_toml_str(&text)
        .with_context(|| format!("policy {}", path.display()))?;
    Ok(Some(cfg))
}

/// A demo file: relative to the working directory (the repository root, as
/// in the README), else to the repository this binary was built from, so
/// `bedside demo` also works when started from elsewhere.
fn demo_asset(rel: &std::path::Path) -> PathBuf {
    if rel.is_absolute() || rel.exists() {
        return rel.to_path_buf();
    }
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    if built.exists() {
        built
    } else {
        rel.to_path_buf()
    }
}

async fn open_app(s: &Settings, demo: bool) -> Result<Arc<App>> {
    let models = s.models.clone();
    let mut pathways = s.pathways.clone();
    let mut use_cases = s.use_cases.clone();
    let mut hooks = bedside_app::hooks::HookConfig::default();
    if demo {
        if use_cases.is_empty() && models.is_empty() {
            use_cases = demo_use_cases();
        }
        if pathways.is_empty() {
            let p = demo_asset(GOVERNANCE_PATHWAY.as_ref());
            if p.exists() {
                pathways.push(p);
            }
        }
        let ehr = demo_asset(DEMO_EHR.as_ref());
        hooks = bedside_app::hooks::HookConfig::demo(&ehr)
            .with_context(|| format!("demo EHR keys in {}", ehr.display()))?;
    }
    hooks.insecure_skip_auth = s.insecure_skip_hook_auth;
    hooks.ehr_timeout = std::time::Duration::from_millis(s.ehr_timeout_ms);
    if let Some(path) = &s.hook_issuers {
        let issuers = bedside_app::hooks::Issuers::load(path).context("hook_issuers")?;
        for i in &issuers.trusted {
            tracing::info!(iss = %i.iss, jwks_url = ?i.jwks_url, "trusted CDS Hooks issuer");
        }
        hooks.trusted.extend(issuers.trusted);
        hooks.jwks_timeout = issuers.jwks_timeout;
        hooks.jwks_min_refetch = issuers.jwks_min_refetch;
    }
    if hooks.trusted.is_empty() && !hooks.insecure_skip_auth {
        tracing::warn!(
            "no trusted CDS Hooks issuer (hook_issuers): every hook call is refused 401"
        );
    }
    let policy = load_policy(s, demo)?;
    if let Some(p) = &policy {
        hooks.policy = p.clone();
    }
    let config = AppConfig::new(store_location(&s.data_dir, s.database_url.as_deref())?)
        .channels(s.channels.clone())
        .public_url(s.public_url())
        .models(models)
        .pathways(pathways)
        .hooks(hooks);
    let config = use_cases.into_iter().fold(config, AppConfig::use_case);
    // Parsed before the store is opened: a bad file writes nothing.
    let monitoring = match &s.monitoring {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--monitoring {}: cannot read", p.display()))?;
            let cfg = bedside_views::MonitoringConfig::from_toml_str(&text)
                .map_err(|e| anyhow::anyhow!("--monitoring {}: {e}", p.display()))?;
            Some(cfg)
        }
        None => None,
    };
    let smart = access::smart_backend(s)?;
    let app = App::open(config).await?;
    if let Some(cfg) = monitoring {
        app.views().set_monitoring_config(cfg);
    }
    app.set_writeback_with(s.fhir_writeback_url.as_deref(), smart)
        .map_err(|e| anyhow::anyhow!("fhir_writeback_url: {}", e.message()))?;
    if let Some(p) = &policy {
        tracing::info!(stage = ?p.stage, "alert policy loaded");
    }
    Ok(Arc::new(app))
}

/// Every directory under the demo's `demo/`, in name order.
fn demo_cohorts() -> Vec<PathBuf> {
    let root = demo_asset("demo".as_ref());
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// The cohorts `bedside demo` replays before serving.
struct DemoReplay {
    dirs: Vec<PathBuf>,
    /// Move its times so that its last events are now.
    shift: bool,
}

async fn run_server(s: Settings, before_serve: Option<DemoReplay>, demo: bool) -> Result<()> {
    init_logging(&s.log_format);
    if s.insecure_skip_hook_auth {
        tracing::warn!("INSECURE: CDS Hooks JWT verification is OFF (--insecure-skip-hook-auth); never use this with real patients");
    }
    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .with_context(|| format!("listen: cannot bind {}", s.listen))?;
    let addr = listener.local_addr()?;
    let mut s = s;
    if s.public_url.is_none() {
        // The bound address (port 0 picks one): CDS Hooks JWT audiences and
        // card links must name the port clients actually reach.
        s.public_url = Some(format!("http://{addr}"));
    }
    // Before the store is opened: a bad setting writes nothing.
    let access = access::access(&s, demo).await?;
    let app = open_app(&s, demo).await?;
    tracing::info!(%addr, store = app.store.engine(), "bedside listening");
    if let Some(r) = before_serve {
        let now = chrono::Utc::now();
        for dir in &r.dirs {
            let (summary, offset) = if r.shift {
                bedside_app::replay::replay_dir_ending_at(&app, dir, now, None).await?
            } else {
                (
                    bedside_app::replay::replay_dir(&app, dir, None).await?,
                    chrono::Duration::zero(),
                )
            };
            tracing::info!(
                cohort = %dir.display(),
                resources = summary.read_total(),
                created = summary.created,
                rejected = summary.rejected,
                shifted_days = offset.num_days(),
                "demo cohort directory replayed"
            );
        }
        tracing::info!(cohorts = r.dirs.len(), "demo cohort replayed");
    }
    app.clone().spawn_timer_worker();
    let http = bedside_server::HttpConfig {
        max_body_bytes: (s.max_body_mib as usize) << 20,
        request_timeout: std::time::Duration::from_secs(s.request_timeout_secs),
        access,
        hook_rate_per_sec: s.hook_rate_limit_per_sec,
        hook_rate_burst: s.hook_rate_limit_burst,
        cors_origins: s.cors_allowed_origins.clone(),
        smart: access::smart_launch(&s)?,
    };
    bedside_server::serve(listener, app, http, bedside_server::shutdown_signal()).await?;
    tracing::info!("bedside stopped");
    Ok(())
}

/// Errors are printed as one readable chain (`error: what: why`) with exit
/// status 1; never a backtrace for a user's mistake.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let m = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&m)?;
    let sub = m.subcommand().map(|(_, sm)| sm.clone());
    let rt = tokio::runtime::Runtime::new()?;
    match cli.cmd {
        Cmd::Serve { config, settings } => {
            let s = resolve(settings, config, sub.as_ref().expect("subcommand"))?;
            rt.block_on(run_server(s, None, false))
        }
        Cmd::Demo {
            no_replay,
            no_time_shift,
            cohort,
            config,
            settings,
        } => {
            let s = resolve(settings, config, sub.as_ref().expect("subcommand"))?;
            let replay = (!no_replay).then(|| DemoReplay {
                dirs: if cohort.is_empty() {
                    demo_cohorts()
                } else {
                    cohort.iter().map(|c| demo_asset(c)).collect()
                },
                shift: !no_time_shift,
            });
            rt.block_on(run_server(s, replay, true))
        }
        Cmd::Replay(args) => rt.block_on(replay_cmd::run(args)),
        Cmd::Features(args) => rt.block_on(model_cmds::features(args)),
        Cmd::Evaluate(args) => rt.block_on(model_cmds::evaluate(args)),
        Cmd::Model(model_cmds::ModelCmd::Certify(args)) => rt.block_on(model_cmds::certify(args)),
        Cmd::Model(cmd) => model_cmds::model(cmd),
        Cmd::Report(args) => rt.block_on(report_cmd::run(args)),
        Cmd::Pathway(cmd) => pathway_cmds::pathway(cmd),
        Cmd::UseCase(cmd) => usecase_cmds::use_case(cmd),
        Cmd::Token(args) => token_cmd::run(args),
        Cmd::Audit(cmd) => rt.block_on(audit_cmd::run(cmd)),
        Cmd::Digest {
            data_dir,
            database_url,
        } => rt.block_on(async {
            let app = App::open(offline_config(&data_dir, database_url.as_deref())?).await?;
            println!("{}", app.digest().await?);
            Ok(())
        }),
        Cmd::Config => {
            print!("{}", settings::config_template());
            Ok(())
        }
    }
}
