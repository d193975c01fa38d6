//! Whole-policy certification (`bedside_policy::replay`): the calibration
//! patients replayed through `decide`, re-alerts and suppression included.

use bedside_policy::certify::{certify, CalibrationSet, Certified, METHOD_WHOLE_POLICY};
use bedside_policy::replay::{
    certify_policy, figures_at, replay_alerts, ReplaySet, StoredCertification, Trajectory,
};
use bedside_policy::{Certification, PolicyConfig};
use chrono::{Duration, TimeZone, Utc};
use std::collections::BTreeMap;

fn at(h: f64) -> bedside_core::Instant {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes((h * 60.0) as i64)
}

/// 10 outcome patients at risk 0.9 for 5 days (outcome 12 h in), 30
/// others at 0.1, each stay 10 days: 400 patient-days. With `acted`, the
/// outcome patients' team has the sepsis bundle under way from hour 1 on
/// (antibiotics and cultures daily, lactate every 4 h).
fn cohort(acted: bool) -> ReplaySet {
    let mut trajectories = Vec::new();
    for i in 0..40 {
        let positive = i < 10;
        let p = if positive { 0.9 } else { 0.1 };
        let scores = (0..240)
            .map(|h| (at(h as f64), if h < 120 { p } else { 0.05 }))
            .collect();
        let mut events = BTreeMap::new();
        if positive && acted {
            let daily: Vec<_> = (0..10).map(|d| at(1.0 + 24.0 * d as f64)).collect();
            events.insert("antibiotic_ordered".to_string(), daily.clone());
            events.insert("blood_culture_ordered".to_string(), daily);
            events.insert(
                "lactate_ordered".to_string(),
                (0..60).map(|k| at(1.0 + 4.0 * k as f64)).collect(),
            );
        }
        trajectories.push(Trajectory {
            patient: format!("p{i}"),
            start: at(0.0),
            end: at(240.0),
            outcome_at: positive.then(|| at(12.0)),
            events,
            scores,
        });
    }
    ReplaySet {
        horizon_hours: 24.0,
        detection_window_hours: 6.0,
        trajectories,
    }
}

fn policy() -> PolicyConfig {
    let mut p = PolicyConfig::default();
    p.certification.ppv_floor = 0.2;
    p.certification.alert_budget_per_100_patient_days = 5.0;
    p.realert.rise_absolute = Some(0.15);
    p.realert.quiet_period_hours = 24.0;
    p.pathway_actions.mode = bedside_policy::config::ActionsMode::All;
    p
}

#[test]
fn re_alerts_that_break_a_first_alert_budget_are_not_certified() {
    let set = cohort(false);
    let pol = policy();
    // The old rule (one row per patient, its peak) certifies 0.9: 10
    // alerted patients over 400 patient-days = 2.5 per 100, all positive.
    let peaks = CalibrationSet::with_row_exposure(
        set.trajectories
            .iter()
            .map(|t| (t.scores[0].1, t.outcome_at.is_some(), 10.0)),
    );
    let old = certify(&peaks, &pol.certification);
    assert_eq!(old.certified().map(|c| c.threshold), Some(0.9));
    // What is shown: the quiet period re-alerts every day for 5 days.
    let alerts = replay_alerts(&pol, 0.9, "m", &set.trajectories[0]);
    assert_eq!(alerts.len(), 5, "{alerts:?}");
    let f = figures_at(&set, &pol, 0.9, "m").unwrap();
    assert_eq!((f.alerts, f.true_alerts), (50, 10));
    assert!((f.alerts_per_100_patient_days - 12.5).abs() < 1e-9);
    // Certified on the whole policy: no threshold holds both promises.
    match certify_policy(&set, &pol, "m") {
        Certification::NotCertified { reason } => {
            assert!(
                reason.contains("no threshold keeps both promises"),
                "{reason}"
            );
            assert!(
                reason.contains("12.50 alerts per 100 patient-days"),
                "{reason}"
            );
        }
        other => panic!("expected NotCertified, got {other:?}"),
    }
}

#[test]
fn suppression_by_actions_under_way_is_certified_with_clustered_bounds() {
    let set = cohort(true);
    let pol = policy();
    let c = certify_policy(&set, &pol, "m");
    let c = c.certified().expect("certified");
    assert_eq!(c.method, METHOD_WHOLE_POLICY);
    assert_eq!(c.threshold, 0.9);
    // One alert per outcome patient: the bundle under way silences the rest.
    assert_eq!((c.n_alerted, c.n_true_alerts), (10, 10));
    assert_eq!(c.n_patients_alerted, Some(10));
    assert_eq!(c.sensitivity, Some(1.0));
    // All alerts true: the bootstrap says 1.0, the exact bound 0.05^(1/10).
    assert!(
        (c.ppv_lower - 0.05f64.powf(0.1)).abs() < 1e-9,
        "{}",
        c.ppv_lower
    );
    let upper = c.alert_rate_upper_per_100_patient_days.unwrap();
    assert!(upper > 2.5 && upper <= 5.0, "{upper}");
    // Garwood bound for 10 events (scipy gamma.ppf(0.95, 11) = 15.7052).
    assert!(upper >= 100.0 * 15.705 / 400.0, "{upper}");
}

#[test]
fn stored_certification_is_reused_for_its_policy_and_redone_for_another() {
    let set = cohort(true);
    let pol = policy();
    let stored = StoredCertification::make(set, &pol, "m");
    assert_eq!(stored.for_policy(&pol, "m"), stored.certification);
    assert_eq!(stored.base_rate(), Some(0.25));
    // Without suppression the same patients re-alert: not certified.
    let mut other = pol.clone();
    other.pathway_actions.lookback_hours.clear();
    assert!(stored.for_policy(&other, "m").certified().is_none());
    let json = serde_json::to_string(&stored).unwrap();
    let back: StoredCertification = serde_json::from_str(&json).unwrap();
    assert_eq!(back, stored);
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let pol = policy();
    let empty = ReplaySet {
        horizon_hours: 24.0,
        detection_window_hours: 0.0,
        trajectories: vec![],
    };
    assert!(certify_policy(&empty, &pol, "m")
        .statement()
        .contains("no patients"));
    let mut set = cohort(false);
    set.trajectories[3].scores.swap(0, 5);
    assert!(certify_policy(&set, &pol, "m")
        .statement()
        .contains("time order"));
    let mut set = cohort(false);
    set.trajectories[0].scores[0].1 = 1.5;
    assert!(certify_policy(&set, &pol, "m")
        .statement()
        .contains("[0, 1]"));
}

#[test]
fn promise_sentence_in_plain_words_never_overstates() {
    let c = Certified {
        threshold: 0.3,
        ppv: 0.34,
        ppv_lower: 0.26,
        confidence: 0.95,
        alert_rate_per_100_patient_days: 2.1,
        alert_rate_upper_per_100_patient_days: Some(2.6),
        horizon_hours: Some(24.0),
        method: METHOD_WHOLE_POLICY.into(),
        ..Certified::default()
    };
    assert_eq!(
        c.promise_sentence("sepsis"),
        "About 1 in 3 of these alerts is followed by sepsis within 24 h \
         (at least 1 in 4 with 95% confidence). Expect about 2 such alerts \
         per 100 patient-days (at most 3)."
    );
    // A lower bound of exactly 1/4 still reads "1 in 4"; just below, "1 in 5".
    let c4 = Certified {
        ppv_lower: 0.25,
        ..c.clone()
    };
    assert!(c4.promise_sentence("x").contains("at least 1 in 4 "));
    let c5 = Certified {
        ppv_lower: 0.2499,
        ..c.clone()
    };
    assert!(c5.promise_sentence("x").contains("at least 1 in 5 "));
    let all = Certified { ppv: 0.97, ..c };
    assert!(all
        .promise_sentence("sepsis")
        .starts_with("Nearly all of these alerts are followed by sepsis"));
}
