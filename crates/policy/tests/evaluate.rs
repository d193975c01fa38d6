//! The evaluation harness on a hand-checked cohort.

use bedside_core::Instant;
use bedside_policy::config::ActionsMode;
use bedside_policy::evaluate::*;
use bedside_policy::*;
use chrono::{Duration, TimeZone, Utc};

fn h(x: f64) -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 1, 7, 0, 0).unwrap() + Duration::minutes((x * 60.0) as i64)
}

fn cert() -> Certification {
    Certification::Certified(Certified {
        threshold: 0.3,
        ppv: 0.4,
        ppv_lower: 0.25,
        confidence: 0.95,
        ppv_floor: 0.2,
        alert_rate_per_100_patient_days: 3.0,
        alert_budget_per_100_patient_days: 5.0,
        n_alerted: 100,
        n_true_alerts: 40,
        n_rows: 1000,
        patient_days: 3000.0,
        promise: String::new(),
        ..Default::default()
    })
}

fn row(p: &str, at: f64, prob: f64, doc: &str) -> EvalRow {
    EvalRow {
        patient: p.into(),
        at: h(at),
        probability: prob,
        facts: PatientFacts {
            participants: vec![(doc.into(), "ATND".into())],
            ..Default::default()
        },
    }
}

fn cohort() -> (Vec<EvalRow>, Vec<Stay>) {
    let mut rows = Vec::new();
    // a: hourly 0..=47, risk 0.5 from 10 h to 30 h; outcome at 20 h.
    for i in 0..48 {
        let p = if (10..=30).contains(&i) { 0.5 } else { 0.1 };
        rows.push(row("a", i as f64, p, "Practitioner/doc1"));
    }
    // b: one scoring above threshold at 5 h, below at 6 h; no outcome.
    rows.push(row("b", 5.0, 0.4, "Practitioner/doc1"));
    rows.push(row("b", 6.0, 0.1, "Practitioner/doc1"));
    // c: outcome at 3 h, first alert at 5 h (too late unless the window allows).
    rows.push(row("c", 5.0, 0.9, "Practitioner/doc2"));
    rows.push(row("c", 5.5, 0.1, "Practitioner/doc2"));
    let stays = vec![
        Stay {
            patient: "a".into(),
            start: h(0.0),
            end: h(48.0),
            outcome_at: Some(h(20.0)),
        },
        Stay {
            patient: "b".into(),
            start: h(0.0),
            end: h(24.0),
            outcome_at: None,
        },
        Stay {
            patient: "c".into(),
            start: h(0.0),
            end: h(24.0),
            outcome_at: Some(h(3.0)),
        },
    ];
    (rows, stays)
}

#[test]
fn three_policies_on_a_hand_checked_cohort() {
    let (rows, stays) = cohort();
    let cfg = PolicyConfig::from_toml_str("stage = \"silent\"").unwrap();
    let r = evaluate(&rows, &stays, &cfg, &cert(), &EvalConfig::default()).unwrap();
    assert_eq!(r.patient_days, 4.0);
    let fixed = &r.policies["fixed_threshold"];
    assert_eq!(fixed.alerts, 21 + 1 + 1);
    let naive = &r.policies["naive_15min"];
    // a: 10 h..31 h at 15-minute ticks = 84; b: 5 h..6 h = 4; c: 5 h..5.5 h = 2.
    assert_eq!(naive.alerts, 84 + 4 + 2);
    assert!((naive.alerts_per_100_patient_days - 100.0 * 90.0 / 4.0).abs() < 1e-9);
    let bed = &r.policies["bedside"];
    assert_eq!(
        bed.alerts, 3,
        "one alert per patient: silent stage still counts the burden"
    );
    for p in [bed, naive, fixed] {
        assert_eq!(p.patients_alerted, 3);
        assert_eq!(p.outcome_positive_patients, 2);
        assert_eq!(p.patients_detected, 1, "c's alert came after its outcome");
        assert_eq!(p.sensitivity, Some(0.5));
        assert!((p.ppv.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(p.median_lead_time_hours, Some(10.0));
    }
    // doc1 is on duty in shifts 0..=3 (07-19, 19-07, ...; a's rows 0..47 h) and gets
    // a's and b's alerts; doc2 one shift with c's alert.
    assert_eq!(bed.alerts_per_clinician_shift, Some(3.0 / 5.0));
    assert_eq!(bed.max_alerts_per_clinician_shift, 2);
    // doc1 in shift 1 (19:00-07:00, a above threshold throughout): 12 h x 4 ticks.
    assert_eq!(naive.max_alerts_per_clinician_shift, 48);
}

#[test]
fn sensitivity_window_counts_late_alerts_with_negative_lead() {
    let (rows, stays) = cohort();
    let cfg = PolicyConfig::default();
    let eval = EvalConfig {
        sensitivity_window_hours: 2.0,
        ..Default::default()
    };
    let r = evaluate(&rows, &stays, &cfg, &cert(), &eval).unwrap();
    let bed = &r.policies["bedside"];
    assert_eq!(bed.sensitivity, Some(1.0));
    assert_eq!(bed.median_lead_time_hours, Some((10.0 - 2.0) / 2.0));
}

#[test]
fn naive_carries_risk_to_the_end_of_the_stay_and_restarts_after_a_drop() {
    let cfg = PolicyConfig::default();
    let rows = vec![
        row("d", 0.0, 0.5, "Practitioner/x"),
        row("d", 0.1, 0.6, "Practitioner/x"),
    ];
    let ends = [("d".to_string(), h(1.0))].into_iter().collect();
    let a = simulate_naive(&rows, &cfg, 0.3, &ends, Duration::minutes(15));
    let times: Vec<_> = a.iter().map(|e| e.at).collect();
    assert_eq!(
        times,
        vec![h(0.0), h(0.25), h(0.5), h(0.75)],
        "ticks continue across scorings"
    );
    let rows = vec![
        row("d", 0.0, 0.5, "x"),
        row("d", 0.1, 0.1, "x"),
        row("d", 0.2, 0.5, "x"),
    ];
    let ends = [("d".to_string(), h(0.3))].into_iter().collect();
    let times: Vec<_> = simulate_naive(&rows, &cfg, 0.3, &ends, Duration::minutes(15))
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(times, vec![h(0.0), h(0.2)]);
}

#[test]
fn bedside_respects_suppression_in_replay() {
    let mut cfg = PolicyConfig::default();
    let mut rows = vec![row("e", 1.0, 0.9, "x")];
    for kind in [
        "antibiotic_ordered",
        "blood_culture_ordered",
        "lactate_ordered",
    ] {
        rows[0].facts.events.insert(kind.into(), vec![h(0.5)]);
    }
    // Built-in mode "off": the whole bundle under way does not suppress.
    assert_eq!(simulate_bedside(&rows, &cfg, &cert(), "m").len(), 1);
    cfg.pathway_actions.mode = ActionsMode::All;
    rows[0].facts.events.remove("lactate_ordered");
    // Mode "all": antibiotics and cultures alone are not the bundle.
    assert_eq!(simulate_bedside(&rows, &cfg, &cert(), "m").len(), 1);
    rows[0]
        .facts
        .events
        .insert("lactate_ordered".into(), vec![h(0.5)]);
    assert!(simulate_bedside(&rows, &cfg, &cert(), "m").is_empty());
    assert_eq!(simulate_fixed(&rows, &cfg, 0.3).len(), 1);
}

#[test]
fn errors_name_the_row_and_never_the_patient_id() {
    let (mut rows, stays) = cohort();
    let cfg = PolicyConfig::default();
    rows.push(row("zz-secret", 1.0, 0.2, "x"));
    let e = evaluate(&rows, &stays, &cfg, &cert(), &EvalConfig::default()).unwrap_err();
    assert!(matches!(e, EvalError::NoStay { index: 52, .. }), "{e}");
    assert!(!e.to_string().contains("zz-secret"));
    let (mut rows, stays) = cohort();
    rows[0].probability = 1.5;
    assert!(matches!(
        evaluate(&rows, &stays, &cfg, &cert(), &EvalConfig::default()),
        Err(EvalError::Probability { index: 0, .. })
    ));
    let nc = Certification::NotCertified { reason: "x".into() };
    let (rows, stays) = cohort();
    assert_eq!(
        evaluate(&rows, &stays, &cfg, &nc, &EvalConfig::default()).unwrap_err(),
        EvalError::NoThreshold
    );
    let eval = EvalConfig {
        baseline_threshold: Some(0.3),
        ..Default::default()
    };
    let r = evaluate(&rows, &stays, &cfg, &nc, &eval).unwrap();
    assert_eq!(
        r.policies["bedside"].alerts, 0,
        "not certified: alerts on nothing"
    );
    assert_eq!(r.policies["fixed_threshold"].alerts, 23);
}

#[test]
fn patient_calibration_set_uses_peak_before_outcome() {
    let (rows, stays) = cohort();
    let set = patient_calibration_set(&rows, &stays, 0.0);
    assert_eq!(set.patient_days, 4.0);
    // a: peak before 20 h is 0.5; b: 0.4; c: no scoring before its outcome at 3 h.
    let got: Vec<(f64, bool)> = set.rows.iter().map(|r| (r.score, r.label)).collect();
    assert_eq!(got, vec![(0.5, true), (0.4, false)]);
}

#[test]
fn patient_calibration_set_detection_window_matches_sensitivity() {
    let (rows, stays) = cohort();
    // c's outcome is at 3 h and its scorings at 5 h (0.9) and 5.5 h: a 2 h
    // window reaches the 5 h one, a 1 h window reaches none.
    let got = |w: f64| -> Vec<(f64, bool)> {
        patient_calibration_set(&rows, &stays, w)
            .rows
            .iter()
            .map(|r| (r.score, r.label))
            .collect()
    };
    assert_eq!(got(1.0), vec![(0.5, true), (0.4, false)]);
    assert_eq!(got(2.0), vec![(0.5, true), (0.4, false), (0.9, true)]);
    // the same window makes c detected in the evaluation.
    let cfg = PolicyConfig::from_toml_str("stage = \"silent\"").unwrap();
    let eval = EvalConfig {
        sensitivity_window_hours: 2.0,
        ..Default::default()
    };
    let r = evaluate(&rows, &stays, &cfg, &cert(), &eval).unwrap();
    assert_eq!(r.policies["fixed_threshold"].patients_detected, 2);
}

#[test]
fn recognized_sensitivity_counts_a_team_already_acting_but_not_too_late() {
    let (mut rows, stays) = cohort();
    // c (outcome at 3 h, alert only at 5 h): lactate ordered at 2 h, known
    // from its 5 h scoring on.
    for r in rows.iter_mut().filter(|r| r.patient == "c") {
        r.facts
            .events
            .insert("lactate_ordered".into(), vec![h(2.0)]);
    }
    let cfg = PolicyConfig::default();
    let r = evaluate(&rows, &stays, &cfg, &cert(), &EvalConfig::default()).unwrap();
    let f = &r.policies["fixed_threshold"];
    // by alert only a is detected (c's alert at 5 h is after its outcome).
    assert_eq!((f.patients_detected, f.patients_recognized), (1, 2));
    assert_eq!(f.recognized_sensitivity, Some(1.0));
    assert_eq!(f.sensitivity, Some(0.5));
    // an action after the outcome (and outside the window) does not count.
    for r in rows.iter_mut().filter(|r| r.patient == "c") {
        r.facts
            .events
            .insert("lactate_ordered".into(), vec![h(4.0)]);
    }
    let r = evaluate(&rows, &stays, &cfg, &cert(), &EvalConfig::default()).unwrap();
    assert_eq!(r.policies["fixed_threshold"].patients_recognized, 1);
    // an event kind the policy does not list is not a pathway action.
    for r in rows.iter_mut().filter(|r| r.patient == "c") {
        r.facts.events.clear();
        r.facts.events.insert("xray_ordered".into(), vec![h(2.0)]);
    }
    let r = evaluate(&rows, &stays, &cfg, &cert(), &EvalConfig::default()).unwrap();
    assert_eq!(r.policies["fixed_threshold"].patients_recognized, 1);
}

#[test]
fn per_alert_ppv_and_lead_time_before_and_after_the_outcome() {
    let (rows, stays) = cohort();
    let cfg = PolicyConfig::from_toml_str("stage = \"silent\"").unwrap();
    let eval = EvalConfig {
        sensitivity_window_hours: 2.0,
        horizon_hours: 24.0,
        ..Default::default()
    };
    let r = evaluate(&rows, &stays, &cfg, &cert(), &eval).unwrap();
    // fixed: a alerts 10..=30 h, outcome at 20 h: true when the outcome is
    // at most 24 h after and at most 2 h before the alert (10..=22 h: 13);
    // b's alert is false; c's alert at 5 h is 2 h after its outcome: true.
    let fixed = &r.policies["fixed_threshold"];
    assert_eq!((fixed.alerts, fixed.true_alerts), (23, 14));
    assert!((fixed.alert_ppv.unwrap() - 14.0 / 23.0).abs() < 1e-12);
    let (lo, hi) = fixed.alert_ppv_interval.unwrap();
    assert!(lo < 14.0 / 23.0 && 14.0 / 23.0 < hi && lo >= 0.0 && hi <= 1.0);
    let bed = &r.policies["bedside"];
    assert_eq!((bed.alerts, bed.true_alerts), (3, 2));
    // a first alerted 10 h before its outcome, c 2 h after.
    assert_eq!(
        (
            bed.detected_before_outcome,
            bed.median_lead_time_before_hours
        ),
        (1, Some(10.0))
    );
    assert_eq!(
        (bed.detected_after_outcome, bed.median_time_after_hours),
        (1, Some(2.0))
    );
    let (rlo, rhi) = bed.alerts_per_100_patient_days_interval.unwrap();
    assert!(rlo < 75.0 && 75.0 < rhi, "{rlo} {rhi}");
}
