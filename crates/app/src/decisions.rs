//! The one decision service: each use case's alert policy and its models'
//! certifications behind one lock. CDS Hooks calls, scoring after ingest
//! and pathway starts all decide through it, so a policy change is seen by
//! all of them at once, and a caller always decides with a policy and the
//! certification made under that same policy (one [`PolicyView`] per
//! scope: a use case, or the default policy of models deployed without
//! one). Use cases are independent: each certifies its own models under
//! its own policy, and changing one's policy leaves the others alone.
//!
//! State is private: it changes only through [`Decisions::set_policy`] /
//! [`Decisions::set_scope_policy`] (which re-certify the scope's models
//! under the new policy) and [`Decisions::set_certification`].

use bedside_core::Probability;
use bedside_models::Model;
use bedside_policy::{certify, CalibrationSet, Certification, PolicyConfig, StoredCertification};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

pub use bedside_policy::PolicyView;

/// The scope of a policy: a use case (by id), or the default policy of
/// models deployed without one.
pub const DEFAULT_SCOPE: &str = "";

/// The decision service (see the module doc).
pub struct Decisions {
    /// One view per scope: each use case decides with its own policy and
    /// the certifications made under it.
    views: RwLock<HashMap<String, Arc<PolicyView>>>,
    /// The scope of each scored model (its use case, primary or shadow).
    model_scope: HashMap<String, String>,
    /// The scored models, re-certified when their scope's policy changes.
    models: Vec<Arc<Model>>,
}

impl Decisions {
    /// Certify every model under `policy` (no use case).
    pub fn new(policy: PolicyConfig, models: Vec<Arc<Model>>) -> Self {
        Self::with_scopes(policy, Vec::new(), models)
    }

    /// Certify every model under the policy of its scope: `scopes` lists
    /// each use case's id, policy and model ids (primary and shadow);
    /// models in none take `default`.
    pub fn with_scopes(
        default: PolicyConfig,
        scopes: Vec<(String, PolicyConfig, Vec<String>)>,
        models: Vec<Arc<Model>>,
    ) -> Self {
        let mut model_scope = HashMap::new();
        let mut policies = vec![(DEFAULT_SCOPE.to_string(), default)];
        for (id, policy, ids) in scopes {
            for m in ids {
                model_scope.insert(m, id.clone());
            }
            policies.push((id, policy));
        }
        let mut views = HashMap::new();
        for (scope, policy) in policies {
            let members = members(&model_scope, &scope, &models);
            let view = certify_all(policy, &members);
            for m in &members {
                let id = m.id();
                tracing::info!(
                    model = id,
                    use_case = scope.as_str(),
                    certification = %view.certification(id).statement(),
                    "model certification"
                );
            }
            views.insert(scope, Arc::new(view));
        }
        Self {
            views: RwLock::new(views),
            model_scope,
            models,
        }
    }

    /// The scope (use case id, or [`DEFAULT_SCOPE`]) a model decides in.
    pub fn scope_of(&self, model_id: &str) -> &str {
        self.model_scope
            .get(model_id)
            .map(String::as_str)
            .unwrap_or(DEFAULT_SCOPE)
    }

    /// The default policy and the certifications made under it (models
    /// deployed without a use case).
    pub fn view(&self) -> Arc<PolicyView> {
        self.scope_view(DEFAULT_SCOPE)
    }

    /// The policy in force for `model_id` (its use case's) and the
    /// certifications made under it.
    pub fn view_for(&self, model_id: &str) -> Arc<PolicyView> {
        self.scope_view(self.scope_of(model_id))
    }

    /// The view of one scope (the default one when the scope is unknown).
    pub fn scope_view(&self, scope: &str) -> Arc<PolicyView> {
        let guard = self.views.read().unwrap_or_else(|e| e.into_inner());
        guard
            .get(scope)
            .or_else(|| guard.get(DEFAULT_SCOPE))
            .cloned()
            .expect("the default scope always has a view")
    }

    /// Replace the default policy; every model without a use case is
    /// certified again under it. Callers that took a view before keep
    /// deciding with the old one until they take a new view.
    pub fn set_policy(&self, policy: PolicyConfig) {
        self.set_scope_policy(DEFAULT_SCOPE, policy);
    }

    /// Replace the policy of one scope (a use case id); its models are
    /// certified again under it. An unknown scope is added (it has no
    /// models).
    pub fn set_scope_policy(&self, scope: &str, policy: PolicyConfig) {
        let members = members(&self.model_scope, scope, &self.models);
        let view = certify_all(policy, &members);
        self.views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope.to_string(), Arc::new(view));
    }

    /// Replace one model's certification under the policy in force for it
    /// (e.g. certified elsewhere).
    pub fn set_certification(&self, model_id: &str, cert: Certification) {
        let scope = self.scope_of(model_id).to_string();
        let mut guard = self.views.write().unwrap_or_else(|e| e.into_inner());
        let Some(old) = guard.get(&scope).cloned() else {
            return;
        };
        guard.insert(scope, Arc::new(old.with_certification(model_id, cert)));
    }
}

impl bedside_views::PolicySource for Decisions {
    fn policy_view(&self) -> Arc<PolicyView> {
        self.view()
    }
    fn policy_view_for(&self, model_id: &str) -> Arc<PolicyView> {
        self.view_for(model_id)
    }
}

fn members(
    model_scope: &HashMap<String, String>,
    scope: &str,
    models: &[Arc<Model>],
) -> Vec<Arc<Model>> {
    models
        .iter()
        .filter(|m| {
            model_scope
                .get(m.id())
                .map(String::as_str)
                .unwrap_or(DEFAULT_SCOPE)
                == scope
        })
        .cloned()
        .collect()
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

/// The package's stored certification when it has one
/// (`bedside_policy::StoredCertification`: reused as stored under the
/// policy it was made under, else its calibration patients replayed
/// through `policy`). Otherwise (older packages) certify on the package's
/// calibration rows, one alerting unit per
/// patient (peak probability, positive if any row is, exposure summed; the
/// demo package already writes one row per patient, by the rule of
/// `bedside_policy::evaluate::patient_calibration_set`). Also returns the
/// outcome prevalence of those patients.
pub fn certify_model(model: &Model, policy: &PolicyConfig) -> (Certification, Option<Probability>) {
    // The package's stored certification (its calibration patients
    // replayed through the whole policy) comes first.
    if let Some(v) = &model.package.certification {
        return match StoredCertification::deserialize(v) {
            Ok(stored) => (
                stored.for_policy(policy, model.id()),
                stored.base_rate().map(Probability::clamped),
            ),
            Err(e) => (
                Certification::NotCertified {
                    reason: format!("the model package's certification file cannot be read: {e}"),
                },
                None,
            ),
        };
    }
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
