//! What a test decides with: a policy at a stage, a certification that
//! alerts above a threshold, and a prediction of a given probability.

use bedside_models::Prediction;
use bedside_policy::{Certification, Certified, PolicyConfig};
use chrono::{DateTime, Utc};

/// The built-in policy at `stage` (`silent`, `pilot`, `live`).
pub fn policy(stage: &str) -> PolicyConfig {
    PolicyConfig::from_toml_str(&format!("stage = \"{stage}\"")).expect("a built-in stage")
}

/// A certification that alerts at and above `threshold`, its promise
/// sentence `promise`.
pub fn certified(threshold: f64, promise: &str) -> Certification {
    Certification::Certified(Certified {
        threshold,
        ppv: 0.5,
        ppv_lower: 0.3,
        confidence: 0.95,
        ppv_floor: 0.2,
        alert_rate_per_100_patient_days: 1.0,
        alert_budget_per_100_patient_days: 5.0,
        n_alerted: 10,
        n_true_alerts: 5,
        n_rows: 100,
        patient_days: 1000.0,
        promise: promise.into(),
        ..Default::default()
    })
}

/// A prediction of `model`/`version` at `at` with probability `p`, no
/// interval, no factors, in distribution.
pub fn prediction(model: &str, version: &str, at: DateTime<Utc>, p: f64) -> Prediction {
    serde_json::from_value(serde_json::json!({
        "model_id": model, "model_version": version, "at": at, "margin": 0.0,
        "probability": p, "interval": null, "horizon_hours": 12.0,
        "base_margin": null, "base_probability": null, "top_factors": [],
        "explanation_method": "none", "in_distribution": true, "ood_reasons": [],
        "ood_distance": null, "features": [], "missing_count": 0
    }))
    .expect("a valid prediction")
}

/// The state of an inpatient admitted at `admitted`: encounter `e1`
/// (in progress) on `Location/ward-3`, attended by `Practitioner/doc-1`.
pub fn inpatient(pid: &str, admitted: DateTime<Utc>) -> bedside_core::PatientState {
    let mut s = bedside_core::PatientState::new(pid);
    s.encounters.insert(
        "e1".into(),
        bedside_core::EncounterInfo {
            id: "e1".into(),
            class: Some("IMP".into()),
            status: Some("in-progress".into()),
            start: Some(admitted),
            end: None,
            locations: vec!["Location/ward-3".into()],
            participants: vec![("Practitioner/doc-1".into(), "ATND".into())],
        },
    );
    s
}
