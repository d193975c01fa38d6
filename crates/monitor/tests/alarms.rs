//! Governance alarm rules over snapshots, including a drift scenario.

use bedside_monitor::alarms::*;
use bedside_monitor::drift::{drift_against_profile, drift_against_window, FeatureProfile};
use bedside_monitor::subgroups::{
    fairness_audit, FairnessConfig, LabeledPrediction, SummaryConfig,
};

fn kinds(a: &[Alarm]) -> Vec<AlarmKind> {
    a.iter().map(|x| x.kind).collect()
}

/// Deterministic pseudo-normal sample (sum of 12 uniforms from an LCG).
fn sample(n: usize, seed: u64, mean: f64, sd: f64) -> Vec<f64> {
    let mut s = seed;
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| mean + sd * ((0..12).map(|_| u()).sum::<f64>() - 6.0))
        .collect()
}

#[test]
fn defaults_round_trip_and_errors_name_the_key() {
    let d = AlarmConfig::default();
    assert_eq!(
        AlarmConfig::from_toml_str(&AlarmConfig::default_toml()).unwrap(),
        d
    );
    assert_eq!(AlarmConfig::from_toml_str("").unwrap(), d);
    assert_eq!(d.drift.psi_limit, 0.25);
    let e = AlarmConfig::from_toml_str("[overrides]\nrate_limit = 1.5").unwrap_err();
    assert!(
        matches!(
            e,
            AlarmConfigError::Invalid {
                key: "overrides.rate_limit",
                ..
            }
        ),
        "{e}"
    );
    let e = AlarmConfig::from_toml_str("[drift]\npsi_limt = 0.1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("psi_limt"), "{e}");
    let e = AlarmConfig::from_toml_str("[latency]\nslo_ms = \"fast\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("slo_ms"), "{e}");
}

#[test]
fn ppv_alarm_needs_the_upper_bound_below_the_floor() {
    let cfg = AlarmConfig::default();
    let snap = |k, n| MetricsSnapshot {
        model_id: "m".into(),
        ppv_floor: Some(0.3),
        alerts_with_outcome: n,
        true_alerts: k,
        ..Default::default()
    };
    // 10/50 = 0.2 < 0.3, but the 95% upper bound (0.316) is not below the floor.
    assert!(evaluate_alarms(&cfg, &snap(10, 50)).is_empty());
    // 20/200 = 0.1, upper bound ~0.142 < 0.3.
    let a = evaluate_alarms(&cfg, &snap(20, 200));
    assert_eq!(kinds(&a), vec![AlarmKind::PpvBelowFloor]);
    assert!(
        a[0].value < 0.3 && a[0].message.contains("below the certified floor 0.3"),
        "{}",
        a[0].message
    );
    // Too few outcomes yet, or not certified: no alarm.
    assert!(evaluate_alarms(&cfg, &snap(0, 5)).is_empty());
    let mut s = snap(20, 200);
    s.ppv_floor = None;
    assert!(evaluate_alarms(&cfg, &s).is_empty());
}

#[test]
fn override_latency_and_calibration_rules() {
    let cfg = AlarmConfig::from_toml_str(
        "[calibration]\nece_limit = 0.05\n[overrides]\nrate_limit = 0.5\nmin_shown = 10",
    )
    .unwrap();
    let mut s = MetricsSnapshot {
        model_id: "m".into(),
        shown: 9,
        overridden: 9,
        ece: Some(0.04),
        ..Default::default()
    };
    s.latency_ms.insert("cds-services".into(), 120.0);
    assert!(
        evaluate_alarms(&cfg, &s).is_empty(),
        "9 shown is below min_shown"
    );
    s.shown = 12;
    s.overridden = 7;
    s.ece = Some(0.08);
    s.latency_ms.insert("fhir-ingest".into(), 900.0);
    let a = evaluate_alarms(&cfg, &s);
    assert_eq!(
        kinds(&a),
        vec![
            AlarmKind::OverrideRate,
            AlarmKind::LatencySlo,
            AlarmKind::Calibration
        ]
    );
    assert_eq!(a[1].metric, "latency:fhir-ingest");
}

#[test]
fn wrong_unit_lab_raises_psi_and_missingness_alarms_and_unshifted_does_not() {
    let cfg = AlarmConfig::default();
    let train: Vec<Option<f64>> = sample(5000, 1, 2.0, 0.8).into_iter().map(Some).collect();
    let profile = FeatureProfile::from_sample("lactate", &train, 10).unwrap();
    let same: Vec<Option<f64>> = sample(800, 2, 2.0, 0.8).into_iter().map(Some).collect();
    // Lactate reported in mg/dL instead of mmol/L (x 9.01) for half the rows.
    let shifted: Vec<Option<f64>> = sample(800, 3, 2.0, 0.8)
        .into_iter()
        .enumerate()
        .map(|(i, v)| Some(if i % 2 == 0 { v * 9.01 } else { v }))
        .collect();
    let quiet = MetricsSnapshot {
        model_id: "m".into(),
        drift: vec![drift_against_profile(&profile, &same)],
        ..Default::default()
    };
    assert!(
        evaluate_alarms(&cfg, &quiet).is_empty(),
        "{:?}",
        evaluate_alarms(&cfg, &quiet)
    );
    let loud = MetricsSnapshot {
        model_id: "m".into(),
        drift: vec![drift_against_profile(&profile, &shifted)],
        ..Default::default()
    };
    let a = evaluate_alarms(&cfg, &loud);
    assert_eq!(kinds(&a), vec![AlarmKind::PsiDrift]);
    assert_eq!(a[0].metric, "psi:lactate");
    // Against a rolling window, with the lab going missing too.
    let mut gone = same.clone();
    for v in gone.iter_mut().take(400) {
        *v = None;
    }
    let ks_cfg = AlarmConfig::from_toml_str("[drift]\nks_pvalue_limit = 0.001").unwrap();
    let s = MetricsSnapshot {
        model_id: "m".into(),
        drift: vec![drift_against_window("lactate", &same, &gone, 10)],
        ..Default::default()
    };
    assert_eq!(
        kinds(&evaluate_alarms(&ks_cfg, &s)),
        vec![AlarmKind::MissingnessDrift]
    );
    let s = MetricsSnapshot {
        model_id: "m".into(),
        drift: vec![drift_against_window("lactate", &same, &shifted, 10)],
        ..Default::default()
    };
    assert_eq!(
        kinds(&evaluate_alarms(&ks_cfg, &s)),
        vec![AlarmKind::PsiDrift, AlarmKind::KsDrift]
    );
}

#[test]
fn fairness_breaches_become_alarms() {
    let mut rows = Vec::new();
    for (sex, n, tp) in [("f", 100, 40), ("m", 60, 10)] {
        for i in 0..n {
            let label = i < n / 2;
            rows.push(LabeledPrediction {
                probability: if label { 0.7 } else { 0.2 },
                label,
                flagged: label && i < tp,
                attributes: [("sex".to_string(), sex.to_string())].into_iter().collect(),
            });
        }
    }
    let cfg = FairnessConfig {
        attributes: vec!["sex".into()],
        ..Default::default()
    };
    let audit = fairness_audit(&rows, &cfg, &SummaryConfig::default());
    assert!(!audit.breaches.is_empty());
    let s = MetricsSnapshot {
        model_id: "m".into(),
        fairness: Some(audit),
        ..Default::default()
    };
    let a = evaluate_alarms(&AlarmConfig::default(), &s);
    assert!(a.iter().all(|x| x.kind == AlarmKind::Fairness) && !a.is_empty());
    assert!(
        a.iter()
            .any(|x| x.metric == "fairness:sex:m:sensitivity" && x.threshold == 0.8),
        "{a:?}"
    );
}
