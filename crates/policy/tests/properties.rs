//! Property tests: certification is the lowest qualifying threshold;
//! decide never broadcasts and never shows in silent stage.

use bedside_core::{Instant, Probability};
use bedside_policy::binomial::clopper_pearson_lower;
use bedside_policy::*;
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn certified_threshold_is_lowest_qualifying(
        rows in prop::collection::vec((0u8..20, any::<bool>()), 1..150),
        floor in 0.05f64..0.9,
        budget in 1.0f64..200.0,
        days in 10.0f64..500.0,
    ) {
        let set = CalibrationSet {
            rows: rows.iter().map(|&(s, l)| CalibrationRow { score: s as f64 / 20.0, label: l }).collect(),
            patient_days: days,
        };
        let cfg = CertificationConfig { ppv_floor: floor, confidence: 0.95, alert_budget_per_100_patient_days: budget };
        // Brute force over candidate thresholds.
        let qualifies = |t: f64| {
            let n = set.rows.iter().filter(|r| r.score >= t).count() as u64;
            let k = set.rows.iter().filter(|r| r.score >= t && r.label).count() as u64;
            n > 0 && 100.0 * n as f64 / days <= budget && clopper_pearson_lower(k, n, 0.95).unwrap() >= floor
        };
        let mut cands: Vec<f64> = set.rows.iter().map(|r| r.score).collect();
        cands.sort_by(|a, b| a.total_cmp(b));
        cands.dedup();
        let expected = cands.into_iter().find(|&t| qualifies(t));
        prop_assert_eq!(certify(&set, &cfg).certified().map(|c| c.threshold), expected);
    }

    #[test]
    fn decide_never_broadcasts_and_silent_stage_shows_nothing(
        steps in prop::collection::vec((0.0f64..=1.0, 0i64..600, any::<bool>(), 0u8..4), 1..40),
        live in any::<bool>(),
    ) {
        let cfg = PolicyConfig::from_toml_str(if live { "stage = \"live\"" } else { "stage = \"silent\"" }).unwrap();
        let cert = Certification::Certified(Certified {
            threshold: 0.4, ppv: 0.5, ppv_lower: 0.3, confidence: 0.95, ppv_floor: 0.2,
            alert_rate_per_100_patient_days: 1.0, alert_budget_per_100_patient_days: 5.0,
            n_alerted: 10, n_true_alerts: 5, n_rows: 100, patient_days: 1000.0, promise: String::new(), ..Default::default()
        });
        let mut at: Instant = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut mem = AlertMemory::default();
        let mut alerts = 0u32;
        for (p, gap, on_path, hook) in steps {
            at += Duration::minutes(gap);
            let input = PolicyInput {
                model_id: "m".into(),
                role: ModelRole::Primary,
                probability: Probability::new(p).unwrap(),
                at,
                hook: match hook {
                    0 => None,
                    1 => Some(HookContext { hook: "patient-view".into(), user: Some("Practitioner/a".into()) }),
                    _ => Some(HookContext { hook: "order-sign".into(), user: Some("Practitioner/a".into()) }),
                },
                facts: PatientFacts {
                    participants: vec![("Practitioner/a".into(), "ATND".into()), ("Practitioner/b".into(), "ADM".into())],
                    on_pathway: on_path,
                    ..Default::default()
                },
            };
            let d = decide(&cfg, &cert, &mem, &input);
            prop_assert!(d.route_to.len() <= 1);
            prop_assert!(live || !d.shown);
            if d.new_alert {
                prop_assert!(p >= 0.4 && !on_path);
                alerts += 1;
            }
            mem = d.memory;
        }
        prop_assert!(mem.open.map_or(0, |o| o.alert_count) <= alerts);
    }
}
