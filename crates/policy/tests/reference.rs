//! Compare against scipy fixtures from tools/reference/stats_reference.py.

use bedside_policy::binomial::{beta_ppf, clopper_pearson_lower, clopper_pearson_upper};
use bedside_policy::certify::{certify, CalibrationRow, CalibrationSet, CertificationConfig};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("fixture field {key} missing in {v}"))
}

#[test]
fn clopper_pearson_matches_scipy_beta_ppf() {
    let fx = fixture("clopper_pearson.json");
    let cases = fx["bounds"].as_array().unwrap();
    assert!(cases.len() > 300);
    let mut edge = 0;
    for c in cases {
        let (k, n, conf) = (f(c, "k") as u64, f(c, "n") as u64, f(c, "confidence"));
        edge += (k == 0 || k == n) as usize;
        let lo = clopper_pearson_lower(k, n, conf).unwrap();
        let hi = clopper_pearson_upper(k, n, conf).unwrap();
        assert!(
            (lo - f(c, "lower")).abs() < 1e-9,
            "lower k={k} n={n} c={conf}: {lo} vs {}",
            f(c, "lower")
        );
        assert!(
            (hi - f(c, "upper")).abs() < 1e-9,
            "upper k={k} n={n} c={conf}: {hi} vs {}",
            f(c, "upper")
        );
    }
    assert!(edge >= 40, "fixture must cover k=0 and k=n");
    for c in fx["beta_ppf"].as_array().unwrap() {
        let x = beta_ppf(f(c, "q"), f(c, "a"), f(c, "b")).unwrap();
        assert!((x - f(c, "x")).abs() < 1e-9, "ppf {c}: {x}");
    }
}

#[test]
fn certification_matches_independent_python_rule() {
    let fx = fixture("certification.json");
    let mut certified = 0;
    for (i, c) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let scores = c["scores"].as_array().unwrap();
        let labels = c["labels"].as_array().unwrap();
        let rows = scores
            .iter()
            .zip(labels)
            .map(|(s, l)| CalibrationRow {
                score: s.as_f64().unwrap(),
                label: l.as_i64() == Some(1),
            })
            .collect();
        let set = CalibrationSet {
            rows,
            patient_days: f(c, "patient_days"),
        };
        let cfg = CertificationConfig {
            ppv_floor: f(c, "ppv_floor"),
            confidence: f(c, "confidence"),
            alert_budget_per_100_patient_days: f(c, "budget"),
        };
        let got = certify(&set, &cfg);
        let exp = &c["expected"];
        match (got.certified(), exp.is_null()) {
            (None, true) => {}
            (Some(g), false) => {
                certified += 1;
                assert_eq!(g.threshold, f(exp, "threshold"), "case {i}");
                assert_eq!(g.n_alerted, f(exp, "n_alerted") as u64, "case {i}");
                assert_eq!(g.n_true_alerts, f(exp, "true_alerts") as u64, "case {i}");
                assert!((g.ppv_lower - f(exp, "ppv_lower")).abs() < 1e-9, "case {i}");
                assert!((g.alert_rate_per_100_patient_days - f(exp, "alert_rate")).abs() < 1e-9);
            }
            (g, _) => panic!("case {i}: rust {g:?} vs python {exp}"),
        }
    }
    assert!(
        certified >= 3,
        "fixture should include certified cases, got {certified}"
    );
}

#[test]
fn clustered_bounds_match_the_numpy_scipy_restatement() {
    use bedside_policy::clustered::{cluster_bootstrap, poisson_upper, Cluster};
    let fx = fixture("clustered.json");
    let boot = fx["bootstrap"].as_array().unwrap();
    assert!(boot.len() >= 8);
    for c in boot {
        let clusters: Vec<Cluster> = c["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| Cluster {
                true_alerts: x[0].as_u64().unwrap(),
                alerts: x[1].as_u64().unwrap(),
                days: x[2].as_f64().unwrap(),
            })
            .collect();
        let b = cluster_bootstrap(
            &clusters,
            f(c, "confidence"),
            c["replicates"].as_u64().unwrap() as usize,
            c["seed"].as_u64().unwrap(),
        );
        let close = |a: Option<f64>, b: &Value| match (a, b.as_f64()) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() < 1e-12,
            _ => false,
        };
        assert!(close(b.ppv_lower, &c["ppv_lower"]), "{b:?} vs {c}");
        assert!(close(b.rate_upper, &c["rate_upper"]), "{b:?} vs {c}");
    }
    for c in fx["poisson_upper"].as_array().unwrap() {
        let got = poisson_upper(c["count"].as_u64().unwrap(), f(c, "confidence")).unwrap();
        let want = f(c, "upper");
        assert!((got - want).abs() < 1e-9 * want.max(1.0), "{c}: got {got}");
    }
}
