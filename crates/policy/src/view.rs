//! A consistent view of the policy in force: the policy and the
//! certifications made under it, with each model's base rate. Whoever
//! holds the policy (the app's decision service) hands these out; the
//! deciding side and the reading side both take one per use.

use crate::{decide, AlertMemory, Certification, Decision, PolicyConfig, PolicyInput};
use bedside_core::Probability;
use std::collections::HashMap;

/// The policy and the certifications made under it (see the module doc).
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub policy: PolicyConfig,
    certifications: HashMap<String, Certification>,
    /// Outcome prevalence of each model's calibration set.
    base_rates: HashMap<String, Probability>,
}

impl PolicyView {
    /// A view of `policy` with the certifications made under it.
    pub fn new(
        policy: PolicyConfig,
        certifications: HashMap<String, Certification>,
        base_rates: HashMap<String, Probability>,
    ) -> Self {
        Self {
            policy,
            certifications,
            base_rates,
        }
    }

    /// This view with `model_id`'s certification replaced.
    pub fn with_certification(&self, model_id: &str, cert: Certification) -> Self {
        let mut v = self.clone();
        v.certifications.insert(model_id.to_string(), cert);
        v
    }

    /// The certification of `model_id` under this policy; a model never
    /// certified is `NotCertified` (it alerts on nothing).
    pub fn certification(&self, model_id: &str) -> Certification {
        self.certifications
            .get(model_id)
            .cloned()
            .unwrap_or_else(|| Certification::NotCertified {
                reason: format!("model {model_id} has no certification"),
            })
    }

    /// The certification of `model_id`, if one is recorded.
    pub fn certification_of(&self, model_id: &str) -> Option<&Certification> {
        self.certifications.get(model_id)
    }

    /// The outcome prevalence of the model's calibration set, if known.
    pub fn base_rate(&self, model_id: &str) -> Option<Probability> {
        self.base_rates.get(model_id).copied()
    }

    /// Decide for one prediction (or hook call) under this view.
    pub fn decide(&self, memory: &AlertMemory, input: &PolicyInput) -> Decision {
        let cert = self.certification(&input.model_id);
        decide(&self.policy, &cert, memory, input)
    }
}
