//! The application: one [`App`] wires the store, ingest, models, policy,
//! pathways and monitoring into the use cases that the HTTP server and the
//! CLI expose (ingest a Bundle, import NDJSON, replay a cohort, read and
//! search resources, ...).
//!
//! Both front ends call the same methods, so an in-process replay and an
//! HTTP import go through exactly the same path.
//!
//! Invariant: the app orchestrates; clinical and statistical logic lives in
//! the part crates, and HTTP lives in `server`.

pub mod audit;
mod committer;
pub mod decisions;
pub mod detected_issue;
pub mod evaluate;
pub mod features;
pub mod governance;
pub mod group_commit;
pub mod hooks;

mod fhir_search;
mod ingest_ops;
pub mod overrides;
pub mod pathway_rt;
pub mod pathway_start;
pub mod pipeline;
pub mod pulse;
pub mod replay;
pub mod scoring;
pub mod time_shift;
pub mod timers;
pub mod training;
pub mod triggers;
pub use triggers::resource;
pub mod ui_actions;
pub mod use_cases;
pub mod worklist;
pub mod writeback;

pub use fhir_search::{search_params, RESULT_PARAMS, SEARCH_PAGE, SEARCH_PAGE_MAX};
pub use ingest_ops::{ImportLines, ImportSummary, IngestResult, Rejection, Written};
pub use pipeline::FeatureRow;

use bedside_ingest::{ChannelMap, Ingestor};
use bedside_store::{Store, StoreLocation};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// An error for a caller at the edge: an HTTP status and a FHIR
/// OperationOutcome that names what is wrong.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub outcome: Value,
}

impl ApiError {
    pub fn new(status: u16, code: &str, msg: impl AsRef<str>, path: Option<&str>) -> Self {
        Self {
            status,
            outcome: {
                let issue =
                    bedside_fhir::Issue::new(bedside_fhir::Severity::Error, code, msg.as_ref());
                let issue = match path {
                    Some(p) => issue.at(p),
                    None => issue,
                };
                bedside_fhir::OperationOutcome::new(vec![issue]).to_json()
            },
        }
    }
    pub fn bad_request(msg: impl AsRef<str>, path: Option<&str>) -> Self {
        Self::new(400, "invalid", msg, path)
    }
    pub fn not_found(msg: impl AsRef<str>) -> Self {
        Self::new(404, "not-found", msg, None)
    }
    pub fn internal(msg: impl AsRef<str>) -> Self {
        Self::new(500, "exception", msg, None)
    }
    /// The first diagnostics text, for CLI messages.
    pub fn message(&self) -> String {
        self.outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or("error")
            .to_string()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.status)
    }
}
impl std::error::Error for ApiError {}

impl From<bedside_views::ViewError> for ApiError {
    fn from(e: bedside_views::ViewError) -> Self {
        ApiError::new(e.status, e.code, e.message, e.path.as_deref())
    }
}

impl From<bedside_store::StoreError> for ApiError {
    fn from(e: bedside_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::new(503, "transient", format!("storage unavailable: {e}"), None)
    }
}

/// The patient a resource read belongs to: the Patient itself, else its
/// `subject` / `patient` / `for` reference.
fn patient_of(rtype: &str, id: &str, v: &Value) -> Option<String> {
    if rtype == "Patient" {
        return Some(id.to_string());
    }
    ["subject", "patient", "for"].iter().find_map(|k| {
        v[*k]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Patient/"))
            .map(str::to_string)
    })
}

/// A digest of a model package's spec as loaded (features, thresholds,
/// intended use), so the audit log tells two packages of one version apart.
fn model_digest(m: &bedside_models::Model) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(&m.package.spec).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What the app needs to start.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub store: StoreLocation,
    /// Channel mapping file; `None` = the built-in default.
    pub channels: Option<PathBuf>,
    /// Base URL of this server as clients reach it.
    pub public_url: String,
    /// Model packages to serve.
    pub models: Vec<PathBuf>,
    /// Model specs whose features are computed but not scored (feature
    /// export before a scorer exists).
    pub feature_specs: Vec<PathBuf>,
    /// Record every feature row the schedule would score, for an offline
    /// run (`bedside features`, `evaluate`, `model certify`): the rows are
    /// scored afterwards, so nothing is scored, stored or decided during
    /// the replay.
    pub record_features: bool,
    /// BPMN pathway files to run (see `pathway_rt`).
    pub pathways: Vec<PathBuf>,
    /// Use case directories (`use-case.toml` each): their models and
    /// pathways are served too, each deciding under its own policy.
    pub use_cases: Vec<PathBuf>,
    /// CDS Hooks: trusted issuers, hook policy, demo key.
    pub hooks: hooks::HookConfig,
}

/// A configuration built step by step: start from the store
/// ([`AppConfig::sqlite`], [`AppConfig::postgres`], [`AppConfig::new`]),
/// which serves nothing with the default channels, then add what to serve.
///
/// ```
/// # use bedside_app::AppConfig;
/// let c = AppConfig::sqlite(std::path::Path::new("data"))
///     .model("models/sepsis-demo")
///     .pathway("pathways/sepsis-escalation.bpmn")
///     .public_url("https://bedside.example");
/// assert_eq!(c.models.len(), 1);
/// assert_eq!(c.public_url, "https://bedside.example");
/// ```
impl AppConfig {
    /// The public URL of a configuration that does not name one.
    pub const DEFAULT_PUBLIC_URL: &'static str = "http://127.0.0.1";

    /// A store at `store`: default channels, [`Self::DEFAULT_PUBLIC_URL`],
    /// no model, feature spec or pathway, feature rows not recorded,
    /// default hook settings.
    pub fn new(store: StoreLocation) -> Self {
        Self {
            store,
            channels: None,
            public_url: Self::DEFAULT_PUBLIC_URL.to_string(),
            models: Vec::new(),
            feature_specs: Vec::new(),
            record_features: false,
            pathways: Vec::new(),
            use_cases: Vec::new(),
            hooks: hooks::HookConfig::default(),
        }
    }

    /// The embedded SQLite store in `data_dir` (see [`Self::new`]).
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Self::new(StoreLocation::Sqlite {
            data_dir: data_dir.into(),
        })
    }

    /// PostgreSQL at `url` (see [`Self::new`]).
    pub fn postgres(url: impl Into<String>) -> Self {
        Self::new(StoreLocation::Postgres { url: url.into() })
    }

    /// Serve this model package too.
    pub fn model(mut self, path: impl Into<PathBuf>) -> Self {
        self.models.push(path.into());
        self
    }

    /// Serve these model packages too.
    pub fn models<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.models.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Compute the features of this model spec too, without scoring.
    pub fn feature_spec(mut self, path: impl Into<PathBuf>) -> Self {
        self.feature_specs.push(path.into());
        self
    }

    /// Run this BPMN pathway too.
    pub fn pathway(mut self, path: impl Into<PathBuf>) -> Self {
        self.pathways.push(path.into());
        self
    }

    /// Run these BPMN pathways too.
    pub fn pathways<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.pathways.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Serve the use case in this directory too.
    pub fn use_case(mut self, dir: impl Into<PathBuf>) -> Self {
        self.use_cases.push(dir.into());
        self
    }

    /// The CDS Hooks settings.
    pub fn hooks(mut self, hooks: hooks::HookConfig) -> Self {
        self.hooks = hooks;
        self
    }

    /// The base URL clients reach this server at.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = url.into();
        self
    }

    /// Whether every scored feature row is recorded.
    pub fn record_features(mut self, on: bool) -> Self {
        self.record_features = on;
        self
    }

    /// The channel mapping file (`None`: the built-in default).
    pub fn channels(mut self, path: impl Into<Option<PathBuf>>) -> Self {
        self.channels = path.into();
        self
    }
}

/// The running application.
pub struct App {
    pub store: Arc<dyn Store>,
    pub ingestor: Ingestor,
    pub config: AppConfig,
    /// The served models with their scoring schedules.
    pub models: Vec<scoring::Scheduled>,
    /// Rows scored, when `record_features` is on.
    pub feature_sink: Option<std::sync::Mutex<Vec<FeatureRow>>>,
    /// CDS Hooks: verifier and service table.
    pub hooks: hooks::HookRuntime,
    /// The one alert policy and the certifications made under it, used by
    /// hooks, scoring and pathways alike (and read by the read side).
    decisions: Arc<decisions::Decisions>,
    started: std::time::Instant,
    /// Loaded pathway definitions.
    pub pathways: pathway_rt::Pathways,
    /// The served use cases (model, policy, pathway, card, trigger).
    pub use_cases: use_cases::UseCases,
    /// The read side over the same store, models, pathways and policy.
    views: bedside_views::Views,
    /// Concurrent [`App::commit`]s merged into one transaction.
    committer: group_commit::GroupCommitter,
    /// Single-resource writes batched into one ingest (`ingest_ops`).
    ingest_queue: ingest_ops::IngestQueue,
    /// Running instances the bundle delivery need not look at again yet.
    bundle_checks: timers::BundleChecks,
}

/// Documents the CDS Hooks path reads by key on every call, kept in
/// memory by [`bedside_store::CachedStore`].
pub const CACHED_KINDS: [&str; 3] = [
    pipeline::LATEST_RISK,
    hooks::ALERT_MEMORY,
    pulse::PULSE_OFFER,
];

/// Documents cached at most (about 1 KB each: a few MB).
const DOCUMENT_CACHE: usize = 20_000;

/// The embedded SQLite engine has one writer, this process: its commits
/// all go through the cache, which therefore stays exact. PostgreSQL is
/// shared by replicas whose commits this cache would never see, so it is
/// not cached (every read goes to the database).
fn with_document_cache(store: Arc<dyn Store>) -> Arc<dyn Store> {
    if store.engine() == "sqlite" {
        Arc::new(bedside_store::CachedStore::new(
            store,
            &CACHED_KINDS,
            DOCUMENT_CACHE,
        ))
    } else {
        store
    }
}

/// Errors while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] bedside_store::StoreError),
    #[error("channel mapping {path}: {msg}")]
    Channels { path: String, msg: String },
    #[error("model package {path}: {msg}")]
    Model { path: String, msg: String },
    #[error("pathway {path}: {msg}")]
    Pathway { path: String, msg: String },
    #[error("use case {path}:\n{msg}")]
    UseCase { path: String, msg: String },
}

/// `a` and `b` name the same file or directory.
fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl App {
    pub async fn open(config: AppConfig) -> Result<Self, StartError> {
        let store = with_document_cache(bedside_store::open(&config.store).await?);
        let map = match &config.channels {
            None => ChannelMap::default_map(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| StartError::Channels {
                    path: p.display().to_string(),
                    msg: e.to_string(),
                })?;
                ChannelMap::from_toml_str(&text).map_err(|e| StartError::Channels {
                    path: p.display().to_string(),
                    msg: e.to_string(),
                })?
            }
        };
        let mut loaded_cases = Vec::new();
        for dir in &config.use_cases {
            let uc = bedside_usecase::UseCase::load(dir, &map).map_err(|problems| {
                StartError::UseCase {
                    path: dir.display().to_string(),
                    msg: problems
                        .iter()
                        .map(|p| format!("  {p}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                }
            })?;
            loaded_cases.push(uc);
        }
        // The models and pathways to serve: those named directly, then
        // each use case's (a file named twice is served once).
        let mut model_paths: Vec<PathBuf> = Vec::new();
        for p in config
            .models
            .iter()
            .chain(loaded_cases.iter().filter_map(|u| u.model.as_ref()))
        {
            if !model_paths.iter().any(|q| same_path(q, p)) {
                model_paths.push(p.clone());
            }
        }
        let mut pathway_paths: Vec<PathBuf> = Vec::new();
        for p in config.pathways.iter().chain(
            loaded_cases
                .iter()
                .filter_map(|u| u.pathway.as_ref().map(|pw| &pw.file)),
        ) {
            if !pathway_paths.iter().any(|q| same_path(q, p)) {
                pathway_paths.push(p.clone());
            }
        }
        let mut models = Vec::new();
        let mut model_ids: Vec<(PathBuf, String)> = Vec::new();
        let opts = bedside_models::LoadOptions {
            known_channels: Some(map.channels().iter().map(|c| c.name.clone()).collect()),
        };
        for path in &model_paths {
            let m =
                bedside_models::Model::load_with(path, &opts).map_err(|e| StartError::Model {
                    path: path.display().to_string(),
                    msg: e.to_string(),
                })?;
            model_ids.push((path.clone(), m.id().to_string()));
            models.push(scoring::Scheduled::new(Arc::new(m)));
        }
        let use_cases = use_cases::UseCases::new(
            loaded_cases
                .into_iter()
                .map(|uc| {
                    let id = uc.model.as_ref().and_then(|mp| {
                        model_ids
                            .iter()
                            .find(|(p, _)| same_path(p, mp))
                            .map(|(_, id)| id.clone())
                    });
                    (uc, id)
                })
                .collect(),
        );
        for path in &config.feature_specs {
            let (spec, features) =
                bedside_models::load_spec(path, &opts).map_err(|e| StartError::Model {
                    path: path.display().to_string(),
                    msg: e.to_string(),
                })?;
            models.push(scoring::Scheduled::features_only(spec, features));
        }
        let mut ingestor = Ingestor::new(store.clone(), map);
        // A scratch store is this run's own: when it opens empty, the
        // ingestor knows everything it will hold.
        if matches!(
            config.store,
            bedside_store::StoreLocation::SqliteScratch { .. }
        ) && store.count_resources().await?.is_empty()
            && store.state_patient_ids().await?.is_empty()
        {
            ingestor = ingestor.sole_writer();
        }
        let loaded: Vec<_> = models.iter().filter_map(|m| m.model.clone()).collect();
        let pathways = pathway_rt::Pathways::load(&pathway_paths)?;
        let decisions = Arc::new(decisions::Decisions::with_scopes(
            config.hooks.policy.clone(),
            use_cases.scopes(),
            loaded.clone(),
        ));
        let views = bedside_views::Views::new(bedside_views::ViewsConfig {
            store: store.clone(),
            models: loaded,
            model_ids: models.iter().map(|m| m.id().to_string()).collect(),
            pathways: pathways
                .definitions
                .iter()
                .map(|(_, d)| d.clone())
                .collect(),
            public_url: config.public_url.clone(),
            channel_units: ingestor
                .map()
                .channels()
                .iter()
                .map(|c| (c.name.clone(), c.unit.clone()))
                .collect(),
            policy: decisions.clone(),
            hooks: hooks::HOOKS.iter().map(|h| h.to_string()).collect(),
        });
        let feature_sink = config
            .record_features
            .then(|| std::sync::Mutex::new(Vec::new()));
        let hooks = hooks::HookRuntime::new(&config.hooks, &models, &use_cases);
        let committer = group_commit::GroupCommitter::start(
            store.clone(),
            if store.engine() == "sqlite" { 1 } else { 4 },
        );
        let app = Self {
            committer,
            decisions,
            ingest_queue: Default::default(),
            bundle_checks: Default::default(),
            hooks,
            store,
            ingestor,
            config,
            models,
            feature_sink,
            started: std::time::Instant::now(),
            pathways,
            use_cases,
            views,
        };
        app.record_start().await?;
        Ok(app)
    }

    /// The read side: monitoring, reports and the UI's view models, over
    /// this app's record.
    pub fn views(&self) -> &bedside_views::Views {
        &self.views
    }

    /// Whether anything runs on the event time of the data (a model's
    /// scoring cadence, pathway timers and starts, governance, recorded
    /// features): then a replay commits in event-time steps, as a live
    /// feed would arrive.
    pub fn runs_on_event_time(&self) -> bool {
        !self.models.is_empty()
            || !self.pathways.definitions.is_empty()
            || self.feature_sink.is_some()
    }

    /// Write `c` durably, merged with other concurrent callers' commits
    /// into one transaction (see [`group_commit`]); a failure is this
    /// commit's own.
    pub async fn commit(&self, c: bedside_store::Commit) -> Result<(), ApiError> {
        let mut c = c;
        self.seal(&mut c);
        Ok(self.committer.commit(c).await?)
    }

    /// Liveness and a few facts for operators.
    pub async fn health(&self) -> Value {
        // A trivial query: a liveness check must not cost more as the
        // store grows (counting resources here scanned the whole table).
        let db = self.store.ping().await.is_ok();
        json!({
            "status": if db { "ok" } else { "degraded" },
            "store": self.store.engine(),
            "database": if db { "ok" } else { "unavailable" },
            "uptime_seconds": self.started.elapsed().as_secs(),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// `GET /fhir/{type}/{id}` by `who`, recorded in the audit log (a
    /// failed read too) before the resource is returned.
    pub async fn read_resource_as(
        &self,
        who: &audit::Actor,
        rtype: &str,
        id: &str,
    ) -> Result<Value, ApiError> {
        let r = self.read_resource(rtype, id).await;
        let reference = format!("{rtype}/{id}");
        let mut ev = audit::Event::rest("read", "fhir-read", audit::Action::Read)
            .by(who)
            .entity(audit::Entity::reference(&reference));
        match &r {
            Ok(v) => ev = ev.patient(patient_of(rtype, id, v).as_deref()),
            Err(e) => ev = ev.outcome(audit::Outcome::MinorFailure, Some(&e.message())),
        }
        self.record_access(ev, r).await
    }

    /// `GET /fhir/{type}?...` by `who`, recorded like
    /// [`App::read_resource_as`].
    pub async fn search_as(
        &self,
        who: &audit::Actor,
        rtype: &str,
        q: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let r = self.search(rtype, q).await;
        let params: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut query = audit::Entity::query(rtype, &params.join("&"));
        if let Ok(b) = &r {
            query = query.detail("total", &b["total"]);
        }
        let patient = q
            .get("patient")
            .or_else(|| q.get("subject"))
            .map(|p| p.strip_prefix("Patient/").unwrap_or(p));
        let mut ev = audit::Event::rest("search-type", "fhir-search", audit::Action::Execute)
            .by(who)
            .entity(query)
            .patient(patient);
        if let Err(e) = &r {
            ev = ev.outcome(audit::Outcome::MinorFailure, Some(&e.message()));
        }
        self.record_access(ev, r).await
    }

    /// Record an access, then hand back its result: data is returned only
    /// once its access is recorded (a failed access keeps its own error).
    pub(crate) async fn record_access<T>(
        &self,
        ev: audit::Event,
        r: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let recorded = self.record_now(ev).await;
        let v = r?;
        recorded?;
        Ok(v)
    }

    /// The start-up AuditEvent: the served models, the pathways and the
    /// alert policy (a configuration or model change shows up as a new
    /// start). Nothing when nothing is served (e.g. `bedside digest`).
    async fn record_start(&self) -> Result<(), StartError> {
        if self.models.is_empty() && self.pathways.definitions.is_empty() {
            return Ok(());
        }
        let mut ev = audit::Event::dicom(
            "110100",
            "Application Activity",
            "application-start",
            audit::Action::Execute,
        )
        .dicom_subtype("110120", "Application Start")
        .by_bedside();
        for m in &self.models {
            ev = ev.entity(match &m.model {
                Some(model) => audit::Entity::model(model.id(), model.version())
                    .detail("role", "scored")
                    .detail("spec_sha256", model_digest(model)),
                None => {
                    audit::Entity::model(m.id(), &m.spec.version).detail("role", "features only")
                }
            });
        }
        for (path, def) in &self.pathways.definitions {
            ev = ev.entity(
                audit::Entity::identifier("urn:bedside:pathway", &def.id)
                    .detail("file", path.display()),
            );
        }
        ev = ev.entity(pathway_rt::policy_entity(&self.policy()));
        let mut c = bedside_store::Commit::default();
        self.record(&mut c, ev);
        self.seal(&mut c);
        self.store.commit(c).await?;
        Ok(())
    }

    /// `GET /fhir/{type}/{id}`.
    pub async fn read_resource(&self, rtype: &str, id: &str) -> Result<Value, ApiError> {
        if rtype == "Task" {
            return self.read_task(id).await;
        }
        // Resources Bedside writes itself (pathway documents).
        if matches!(
            rtype,
            "RiskAssessment" | "Communication" | "Provenance" | "DetectedIssue"
        ) {
            if let Some(d) = self.store.get_document(rtype, id).await? {
                return Ok(d.body);
            }
        }
        let key = bedside_store::ResourceKey {
            rtype: rtype.to_string(),
            id: id.to_string(),
        };
        let r = self
            .store
            .get_resource(&key)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("{rtype}/{id} is not stored")))?;
        serde_json::from_str(&r.body)
            .map_err(|e| ApiError::internal(format!("stored {rtype}/{id} is unreadable: {e}")))
    }

    /// Counts the replay summary reports: stored per type, patients,
    /// encounters.
    pub async fn stored_counts(&self) -> Result<(BTreeMap<String, u64>, u64, u64), ApiError> {
        let stored = self.store.count_resources().await?;
        let patients = stored.get("Patient").copied().unwrap_or(0);
        let encounters = stored.get("Encounter").copied().unwrap_or(0);
        Ok((stored, patients, encounters))
    }
}

impl App {
    /// A digest of everything ingested: every stored resource's type, id
    /// and content hash, and every patient's state. Two stores with equal
    /// digests hold the same data (used by the crash-safety tests).
    pub async fn digest(&self) -> Result<String, ApiError> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for rtype in self.store.count_resources().await?.keys() {
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .store
                    .resources_of_type(rtype, after.as_deref(), 1000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.key.id.clone());
                for r in &page {
                    h.update(format!("{}/{} {}\n", rtype, r.key.id, r.version.hash));
                }
            }
        }
        let mut ids = self.store.state_patient_ids().await?;
        ids.sort();
        for chunk in ids.chunks(500) {
            let rows = self.store.load_states(chunk).await?;
            for (id, row) in rows {
                h.update(format!("state {id} "));
                h.update(&row.state);
                h.update(b"\n");
            }
        }
        Ok(hex::encode(h.finalize()))
    }
}
