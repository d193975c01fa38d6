//! Compare with scikit-learn / scipy / numpy fixtures from
//! tools/reference/stats_reference.py.

use bedside_monitor::cbpe::cbpe;
use bedside_monitor::drift::*;
use bedside_monitor::intervals::*;
use bedside_monitor::metrics::*;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!("{}/tests/fixtures/metrics.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: rust {a} vs reference {b}");
}

#[test]
fn discrimination_calibration_intervals_and_cbpe_match_sklearn_scipy() {
    let fx = fixture();
    for (i, c) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let p = floats(&c["probs"]);
        let y: Vec<bool> = c["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64() == Some(1))
            .collect();
        close(
            auroc(&p, &y).unwrap(),
            c["auroc"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} auroc"),
        );
        close(
            average_precision(&p, &y).unwrap(),
            c["average_precision"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} AP"),
        );
        let n_bins = c["n_bins"].as_u64().unwrap() as usize;
        let cal = calibration(&p, &y, n_bins).unwrap();
        let (pt, pp) = (floats(&c["prob_true"]), floats(&c["prob_pred"]));
        assert_eq!(cal.bins.len(), pt.len(), "case {i}: non-empty bins");
        for (b, (t, m)) in cal.bins.iter().zip(pt.iter().zip(&pp)) {
            close(b.observed, *t, 1e-12, &format!("case {i} prob_true"));
            close(b.mean_predicted, *m, 1e-12, &format!("case {i} prob_pred"));
        }
        close(
            cal.ece,
            c["ece"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} ece"),
        );
        close(
            delong_variance(&p, &y).unwrap(),
            c["delong_var"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} delong"),
        );
        let k = y.iter().filter(|&&b| b).count() as u64;
        let n = y.len() as u64;
        let w = proportion(k, n, 0.95, IntervalMethod::Wilson).unwrap();
        let cp = proportion(k, n, 0.95, IntervalMethod::ClopperPearson).unwrap();
        let (rw, rc) = (floats(&c["wilson"]), floats(&c["clopper_pearson"]));
        close(w.lower, rw[0], 1e-12, "wilson lower");
        close(w.upper, rw[1], 1e-12, "wilson upper");
        close(cp.lower, rc[0], 1e-9, "cp lower");
        close(cp.upper, rc[1], 1e-9, "cp upper");
        let est = cbpe(&p, c["cbpe_threshold"].as_f64().unwrap()).unwrap();
        close(
            est.auroc.unwrap(),
            c["cbpe_auroc"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} cbpe auroc"),
        );
        match c["cbpe_ppv"].as_f64() {
            Some(v) => close(est.ppv.unwrap(), v, 1e-12, "cbpe ppv"),
            None => assert!(est.ppv.is_none()),
        }
        for (q, v) in c["quantiles"].as_object().unwrap() {
            let q: f64 = q.parse().unwrap();
            close(
                quantile(&p, q).unwrap(),
                v.as_f64().unwrap(),
                1e-15,
                &format!("case {i} quantile {q}"),
            );
        }
    }
}

#[test]
fn psi_and_ks_match_numpy_and_scipy() {
    let fx = fixture();
    let mut exact_checked = 0;
    for (i, c) in fx["drift"].as_array().unwrap().iter().enumerate() {
        let (a, b) = (floats(&c["a"]), floats(&c["b"]));
        let bins = c["bins"].as_u64().unwrap() as usize;
        close(
            psi(&a, &b, bins).unwrap(),
            c["psi"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} psi"),
        );
        let ks = ks_2samp(&a, &b).unwrap();
        close(
            ks.statistic,
            c["ks_statistic"].as_f64().unwrap(),
            1e-12,
            &format!("case {i} ks D"),
        );
        close(
            ks_asymptotic_pvalue(ks.statistic, a.len(), b.len()),
            c["kstwobign_pvalue"].as_f64().unwrap(),
            1e-10,
            &format!("case {i} kstwobign"),
        );
        // Sizes here are <= 10000, so scipy's "auto" is exact.
        assert_eq!(ks.method, KsMethod::Exact);
        close(
            ks.pvalue,
            c["ks_pvalue_auto"].as_f64().unwrap(),
            1e-9,
            &format!("case {i} exact p"),
        );
        exact_checked += 1;
    }
    assert_eq!(exact_checked, 10);
    for c in fx["missingness"].as_array().unwrap() {
        let g = |k: &str| c[k].as_u64().unwrap();
        let m = missingness_drift((g("x1"), g("n1")), (g("x2"), g("n2"))).unwrap();
        close(
            m.pvalue.unwrap(),
            c["pvalue"].as_f64().unwrap(),
            1e-12,
            "missingness p",
        );
    }
}
