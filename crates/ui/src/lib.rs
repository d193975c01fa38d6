//! Bedside's web UI, rendered on the server: pages and inline SVG charts
//! built from plain view-model structs, plus the static assets they use.
//!
//! The server (crate `server`) fills the view models from the app and
//! routes `/ui/...` to the `render_*` functions; this crate only turns data
//! into HTML with [`maud`] (compile-time templates, escaped by default).
//!
//! Public API in brief:
//! - pages: [`render_dashboard`], [`render_worklist`] (+ [`worklist_fragment`]
//!   for htmx swaps), [`render_model_facts`], [`render_models`],
//!   [`render_sandbox`] (+ [`patient_list_fragment`]), [`render_pathways`]
//!   (+ [`pathway_diagram_fragment`] polled every 5 s), [`render_patient`]
//!   (one patient: risk history, factors, open Tasks), [`render_error`],
//!   [`render_not_found`]; each takes its view model (`*View`) by reference
//!   and returns [`maud::Markup`] (`.into_string()` for a `String`);
//! - charts ([`charts`]): line with a band, reliability diagram, horizontal
//!   bars with reference lines, histogram with box plot, sparkline;
//! - [`assets`]: the embedded static files served under `/ui/assets/`
//!   (vendored htmx, `bedside.css`, `bedside.js`);
//! - [`urls`]: every UI path, defined once.
//!
//! Pages load nothing from other origins and use no inline scripts or
//! styles, so `Content-Security-Policy: default-src 'self'` holds; every
//! form works without JavaScript (htmx only improves it), except firing
//! hooks in the sandbox, which is JavaScript by nature (it acts as the EHR).
//!
//! ARCHITECTURE INVARIANT: this crate does no IO and knows no other Bedside
//! crate; it renders what it is given and decides nothing.

mod assets;
pub mod charts;
mod layout;
mod markdown;
mod pages;
pub mod urls;
mod util;

pub use assets::{asset_names, assets};
pub use layout::{page, with_viewer, NavItem, Viewer};
pub use markdown::markdown_to_html;
pub use pages::dashboard::{render_dashboard, Alarm, DashboardView, PerformanceSeries, Tiles};
pub use pages::error::{render_error, render_not_found, ErrorView};
pub use pages::facts::{
    render_model_facts, render_models, CertifiedPromise, MetricRow, ModelFactsView, ModelListItem,
    ModelsIndexView, SourceAttribute, SubgroupRow,
};
pub use pages::login::{render_login, LoginView};
pub use pages::outline::OutlineError;
pub use pages::pathway::{
    pathway_diagram_fragment, render_pathways, DiagramEdge, DiagramShape, PathwayDiagram,
    PathwaysView, ShapeKind,
};
pub use pages::patient::{render_patient, OpenTask, PatientView, RiskHistory};
pub use pages::pulse::{render_pulse, PulseView};
pub use pages::sandbox::{
    default_draft_orders, patient_list_fragment, render_sandbox, CdsServiceRef, ChannelView,
    PatientListItem, PatientTimeline, SandboxView, TimelineEvent,
};
pub use pages::training::{render_training, TrainingSectionView, TrainingView};
pub use pages::worklist::{render_worklist, worklist_fragment, TaskAction, TaskRow, WorklistView};
pub use pages::{Choice, Estimate};
pub use util::encode_component;

/// Re-exported so callers can name the return type without adding maud.
pub use maud::Markup;
