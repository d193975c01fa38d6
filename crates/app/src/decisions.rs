//! The one decision service: the alert policy and each model's
//! certification behind one lock. CDS Hooks calls, scoring after ingest and
//! pathway starts all decide through it, so a policy change is seen by all
//! of them at once, and a caller always decides with a policy and the
//! certification made under that same policy (one [`PolicyView`]).
//!
//! State is private: it changes only through [`Decisions::set_policy`]
//! (which re-certifies every served model under the new policy) and
//! [`Decisions::set_certification`].

use bedside_core::Probability;
use bedside_models::Model;
use bedside_policy::{certify, CalibrationSet, Certification, PolicyConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

pub use bedside_policy::PolicyView;

/// The decision service (see the module doc).
pub struct Decisions {
    view: RwLock<Arc<PolicyView>>,
    /// The scored models, re-certified on every policy change.
    models: Vec<Arc<Model>>,
}

impl Decisions {
    /// Certify every model under `policy`.
    pub fn new(policy: PolicyConfig, models: Vec<Arc<Model>>) -> Self {
        let view = certify_all(policy, &models);
        for m in &models {
            let id = m.id();
            tracing::info!(
                model = id,
                certification = %view.certification(id).statement(),
                "model certification"
            );
        }
        Self {
            view: RwLock::new(Arc::new(view)),
            models,
        }
    }

    /// The policy and certifications in force now.
    pub fn view(&self) -> Arc<PolicyView> {
        self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the policy; every served model is certified again under it.
    /// Callers that took a view before keep deciding with the old one
    /// until they take a new view.
    pub fn set_policy(&self, policy: PolicyConfig) {
        let view = certify_all(policy, &self.models);
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(view);
    }

    /// Replace one model's certification under the policy in force (e.g.
    /// certified elsewhere).
    pub fn set_certification(&self, model_id: &str, cert: Certification) {
        let mut guard = self.view.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(guard.with_certification(model_id, cert));
    }
}

impl bedside_views::PolicySource for Decisions {
    fn policy_view(&self) -> Arc<PolicyView> {
        self.view()
    }
}

fn certify_all(policy: PolicyConfig, models: &[Arc<Model>]) -> PolicyView {
    let mut certifications = HashMap::new();
    let mut base_rates = HashMap::new();
    for m in models {
        let (cert, base) = certify_model(m, &policy);
        certifications.insert(m.id().to_string(), cert);
        if let Some(b) = base {
            base_rates.insert(m.id().to_string(), b);
        }
    }
    PolicyView::new(policy, certifications, base_rates)
}

/// Certify on the package's calibration rows, one alerting unit per
/// patient (peak probability, positive if any row is, exposure summed; the
/// demo package already writes one row per patient, by the rule of
/// `bedside_policy::evaluate::patient_calibration_set`). Also returns the
/// outcome prevalence of those patients.
pub fn certify_model(model: &Model, policy: &PolicyConfig) -> (Certification, Option<Probability>) {
    let Some(rows) = &model.package.calibration_set else {
        return (
            Certification::NotCertified {
                reason: "the model package has no calibration set".into(),
            },
            None,
        );
    };
    let mut by_patient: BTreeMap<&str, (f64, bool, f64)> = BTreeMap::new();
    for r in rows {
        let e = by_patient
            .entry(r.patient_id.as_str())
            .or_insert((f64::NEG_INFINITY, false, 0.0));
        e.0 = e.0.max(r.p);
        e.1 |= r.label == 1;
        e.2 += r.exposure_days;
    }
    let n = by_patient.len();
    let pos = by_patient.values().filter(|v| v.1).count();
    let base = (n > 0).then(|| Probability::clamped(pos as f64 / n as f64));
    let set = CalibrationSet::with_row_exposure(by_patient.into_values());
    (certify(&set, &policy.certification), base)
}
