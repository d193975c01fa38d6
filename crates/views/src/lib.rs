//! The read side of Bedside: what is computed from the record for people
//! to look at. One [`Views`] holds what reads need (the store, the served
//! models, the loaded pathway definitions, the public URL, the monitoring
//! settings and a source of the policy in force) and answers:
//!
//! - [`monitoring`]: the monitoring snapshot of a model over a window
//!   ([`Views::monitoring`]) and the `/metrics` gauges ([`Views::gauges`]);
//! - [`reports`]: the readiness and silent reports (JSON, and HTML with
//!   [`reports::render_html`]);
//! - `ui` (feature `ui`, on by default): the web UI's view models
//!   (dashboard, worklist, EHR sandbox, model facts, pathway view) as
//!   `bedside-ui` types.
//!
//! Invariant: reads the record and writes nothing (no `Commit` is built
//! here); depends on the part crates and `bedside-record`, never on the
//! app. Reads that must be audited (the worklist, a patient's timeline) are
//! read here and recorded by the app; actions stay in the app.

pub mod conditions;
pub mod monitoring;
pub mod reports;
#[cfg(feature = "ui")]
pub mod ui;

pub use monitoring::{MonitoringConfig, MonitoringQuery, MonitoringSnapshot};

use bedside_models::Model;
use bedside_pathways::Definition;
use bedside_policy::PolicyView;
use bedside_store::{Store, StoreError};
use std::sync::{Arc, RwLock};

/// Who acts in the UI when authentication is off (demo mode).
pub const UI_ACTOR: &str = "Practitioner/demo";

/// Where the policy in force comes from (the app's decision service): a
/// read takes one view and reads policy and certifications from it.
pub trait PolicySource: Send + Sync {
    /// The default policy (models served without a use case).
    fn policy_view(&self) -> Arc<PolicyView>;
    /// The policy `model_id` decides under (its use case's).
    fn policy_view_for(&self, model_id: &str) -> Arc<PolicyView> {
        let _ = model_id;
        self.policy_view()
    }
}

/// Why a read failed, with the HTTP status the edge answers it with.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewError {
    pub status: u16,
    /// FHIR `issue.code` (`not-found`, `invalid`, `transient`, ...).
    pub code: &'static str,
    pub message: String,
    /// The input element at fault, if one is.
    pub path: Option<String>,
}

impl ViewError {
    pub fn new(status: u16, code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: msg.into(),
            path: None,
        }
    }
    pub fn bad_request(msg: impl Into<String>, path: Option<&str>) -> Self {
        Self {
            path: path.map(str::to_string),
            ..Self::new(400, "invalid", msg)
        }
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new(404, "not-found", msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, "exception", msg)
    }
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}
impl std::error::Error for ViewError {}

impl From<StoreError> for ViewError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ViewError::new(503, "transient", format!("storage unavailable: {e}"))
    }
}

/// What the read side is built from.
pub struct ViewsConfig {
    pub store: Arc<dyn Store>,
    /// The scored models.
    pub models: Vec<Arc<Model>>,
    /// The id of every configured model, scored or features only, in
    /// configuration order.
    pub model_ids: Vec<String>,
    /// Loaded pathway definitions.
    pub pathways: Vec<Arc<Definition>>,
    /// Base URL of this server as clients reach it.
    pub public_url: String,
    /// Input channel name -> unit (the sandbox's sparklines).
    pub channel_units: Vec<(String, String)>,
    pub policy: Arc<dyn PolicySource>,
    /// The CDS hooks each served model answers (one service each).
    pub hooks: Vec<String>,
}

/// The read side (see the crate doc).
pub struct Views {
    store: Arc<dyn Store>,
    models: Vec<Arc<Model>>,
    model_ids: Vec<String>,
    pathways: Vec<Arc<Definition>>,
    #[cfg_attr(not(feature = "ui"), allow(dead_code))]
    public_url: String,
    #[cfg_attr(not(feature = "ui"), allow(dead_code))]
    channel_units: Vec<(String, String)>,
    policy: Arc<dyn PolicySource>,
    hooks: Vec<String>,
    monitor: RwLock<MonitoringConfig>,
    /// Dashboards reused while the store is unchanged.
    #[cfg(feature = "ui")]
    dashboards: ui::DashboardCache,
}

impl Views {
    pub fn new(c: ViewsConfig) -> Self {
        Self {
            store: c.store,
            models: c.models,
            model_ids: c.model_ids,
            pathways: c.pathways,
            public_url: c.public_url,
            channel_units: c.channel_units,
            policy: c.policy,
            hooks: c.hooks,
            monitor: RwLock::new(MonitoringConfig::default()),
            #[cfg(feature = "ui")]
            dashboards: Default::default(),
        }
    }

    /// The default policy and the certifications made under it (models
    /// served without a use case).
    pub fn policy(&self) -> Arc<PolicyView> {
        self.policy.policy_view()
    }

    /// The policy `model_id` decides under (its use case's) and the
    /// certifications made under it.
    pub fn policy_for(&self, model_id: &str) -> Arc<PolicyView> {
        self.policy.policy_view_for(model_id)
    }

    /// The monitoring settings in force.
    pub fn monitoring_config(&self) -> MonitoringConfig {
        self.monitor
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replace the monitoring settings (cached dashboards are dropped).
    pub fn set_monitoring_config(&self, cfg: MonitoringConfig) {
        *self.monitor.write().unwrap_or_else(|e| e.into_inner()) = cfg;
        #[cfg(feature = "ui")]
        self.dashboards.clear();
    }

    /// A served (scored) model, 404 otherwise.
    pub fn served_model(&self, model_id: &str) -> Result<Arc<Model>, ViewError> {
        self.models
            .iter()
            .find(|m| m.id() == model_id)
            .cloned()
            .ok_or_else(|| ViewError::not_found(format!("model {model_id:?} is not served here")))
    }

    /// The loaded pathway definition `id`.
    pub fn definition(&self, id: &str) -> Option<&Arc<Definition>> {
        self.pathways.iter().find(|d| d.id == id)
    }
}
