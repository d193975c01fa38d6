//! Scoring ahead of time: after each ingest commit, every touched patient
//! whose model inputs changed is scored, at most once per the model's
//! cadence (`prediction.every_hours`, default 1 h), while an encounter is
//! active. The same schedule drives `bedside features`, so the rows a model
//! is trained on are exactly the rows the online path scores.

use bedside_core::{Instant, PatientState};
use bedside_models::spec::ModelSpec;
use bedside_models::{FeatureSet, Model, Prediction};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// One model (or, for feature export before a model exists, just its
/// spec and features) with its input channels and the last time each
/// patient was scored.
pub struct Scheduled {
    pub spec: ModelSpec,
    pub features: FeatureSet,
    pub model: Option<Arc<Model>>,
    inputs: BTreeSet<String>,
    every: chrono::Duration,
    last: Mutex<HashMap<String, Instant>>,
}

impl Scheduled {
    pub fn new(model: Arc<Model>) -> Self {
        let spec = model.package.spec.clone();
        let features = model.package.features.clone();
        Self::build(spec, features, Some(model))
    }

    /// Features only (no scorer): for `bedside features` on a spec.
    pub fn features_only(spec: ModelSpec, features: FeatureSet) -> Self {
        Self::build(spec, features, None)
    }

    fn build(spec: ModelSpec, features: FeatureSet, model: Option<Arc<Model>>) -> Self {
        let inputs = features
            .defs
            .iter()
            .filter_map(|d| d.kind.channel().map(str::to_string))
            .collect();
        let hours = spec.prediction.every_hours.unwrap_or(1.0);
        Self {
            spec,
            features,
            model,
            inputs,
            every: chrono::Duration::milliseconds((hours * 3_600_000.0) as i64),
            last: Mutex::new(HashMap::new()),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The value channels the model's features read.
    pub fn inputs(&self) -> &BTreeSet<String> {
        &self.inputs
    }

    /// Should this patient be scored at `at`, given which channels changed?
    /// Records the scoring time when it says yes.
    pub fn due(&self, state: &PatientState, changed: &[String], at: Instant) -> bool {
        if !changed.iter().any(|c| self.inputs.contains(c)) {
            return false;
        }
        if state.encounter_at(at).is_none() {
            return false;
        }
        let mut last = self.last.lock().expect("scoring schedule lock");
        match last.get(&state.patient_id) {
            Some(prev) if at < *prev + self.every => false,
            _ => {
                last.insert(state.patient_id.clone(), at);
                true
            }
        }
    }

    /// Seed the schedule after a restart from the newest stored prediction.
    pub fn remember(&self, patient_id: &str, at: Instant) {
        let mut last = self.last.lock().expect("scoring schedule lock");
        let e = last.entry(patient_id.to_string()).or_insert(at);
        if at > *e {
            *e = at;
        }
    }

    pub fn knows(&self, patient_id: &str) -> bool {
        self.last
            .lock()
            .expect("scoring schedule lock")
            .contains_key(patient_id)
    }

    pub fn predict(&self, state: &PatientState, at: Instant) -> Option<Prediction> {
        match self.model.as_ref()?.predict(state, at) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(patient = %bedside_core::PatientRef::parse(&state.patient_id).map(|p| p.pseudonym()).unwrap_or_default(), error = %e, "scoring failed");
                None
            }
        }
    }
}

pub use bedside_record::prediction_id;

/// Document id of the latest risk of a patient under a model.
pub fn latest_id(model_id: &str, patient_id: &str) -> String {
    bedside_record::model_patient_id(model_id, patient_id)
}
