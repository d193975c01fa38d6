//! The live watch's confidence rules against scipy fixtures from
//! tools/reference/watch_reference.py.

use bedside_monitor::watch::*;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!("{}/tests/fixtures/watch.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn close(a: f64, b: f64, rel: f64, what: &str) {
    assert!(
        (a - b).abs() <= rel * b.abs().max(1e-12),
        "{what}: rust {a} vs scipy {b}"
    );
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn proportion_and_rate_bounds_match_scipy() {
    let fx = fixture();
    for c in fx["proportions"].as_array().unwrap() {
        let (k, n, deff, conf) = (u(c, "k"), u(c, "n"), f(c, "deff"), f(c, "confidence"));
        close(
            proportion_lower(k, n, deff, conf).unwrap(),
            f(c, "lower"),
            1e-7,
            &format!("lower {c}"),
        );
        close(
            proportion_upper(k, n, deff, conf).unwrap(),
            f(c, "upper"),
            1e-7,
            &format!("upper {c}"),
        );
    }
    for c in fx["rates"].as_array().unwrap() {
        let (k, d, deff, conf) = (
            u(c, "k"),
            f(c, "exposure"),
            f(c, "deff"),
            f(c, "confidence"),
        );
        close(
            rate_lower(k, d, deff, conf).unwrap(),
            f(c, "lower"),
            1e-7,
            &format!("rate lower {c}"),
        );
        close(
            rate_upper(k, d, deff, conf).unwrap(),
            f(c, "upper"),
            1e-7,
            &format!("rate upper {c}"),
        );
    }
    assert!(rate_lower(3, 0.0, 1.0, 0.95).is_none());
    assert!(proportion_upper(3, 2, 1.0, 0.95).is_none());
    assert!(proportion_upper(1, 2, 0.5, 0.95).is_none());
}

#[test]
fn chi2_psi_null_and_bh_match_scipy() {
    let fx = fixture();
    for c in fx["chi2"].as_array().unwrap() {
        close(
            chi2_sf(f(c, "x"), f(c, "df")).unwrap(),
            f(c, "sf"),
            1e-7,
            &format!("chi2 {c}"),
        );
    }
    for c in fx["psi"].as_array().unwrap() {
        let m = c["m"].as_f64().unwrap_or(f64::INFINITY);
        let p = psi_pvalue(f(c, "psi"), u(c, "bins") as usize, f(c, "n"), m).unwrap();
        close(p, f(c, "pvalue"), 1e-6, &format!("psi {c}"));
    }
    for c in fx["bh"].as_array().unwrap() {
        let p: Vec<f64> = c["pvalues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let want: Vec<bool> = c["discoveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_bool().unwrap())
            .collect();
        assert_eq!(benjamini_hochberg(&p, f(c, "q")), want, "{c}");
    }
}

#[test]
fn design_effects_match_the_numpy_restatement() {
    let fx = fixture();
    for c in fx["design_effects"].as_array().unwrap() {
        let b: Vec<(u64, u64)> = c["binomial"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x[0].as_u64().unwrap(), x[1].as_u64().unwrap()))
            .collect();
        close(
            binomial_design_effect(&b),
            f(c, "binomial_deff"),
            1e-9,
            "binomial deff",
        );
        let p: Vec<(u64, f64)> = c["poisson"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x[0].as_u64().unwrap(), x[1].as_f64().unwrap()))
            .collect();
        close(
            poisson_design_effect(&p),
            f(c, "poisson_deff"),
            1e-9,
            "poisson deff",
        );
    }
}

#[test]
fn holm_matches_the_restatement() {
    let fx = fixture();
    for c in fx["holm"].as_array().unwrap() {
        let p: Vec<f64> = c["pvalues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN))
            .collect();
        let want: Vec<bool> = c["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_bool().unwrap())
            .collect();
        assert_eq!(holm(&p, f(c, "alpha")), want, "{c}");
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn exact_ks_at_window_sizes_matches_scipy() {
    use bedside_monitor::drift::{ks_2samp, ks_exact_pvalue, KsMethod};
    for c in fixture()["ks_exact"].as_array().unwrap() {
        let (a, b) = (floats(&c["reference"]), floats(&c["current"]));
        let r = ks_2samp(&a, &b).unwrap();
        assert_eq!(r.method, KsMethod::Exact);
        assert_eq!((r.n, r.m), (Some(b.len() as f64), Some(a.len() as f64)));
        close(r.statistic, f(c, "statistic"), 1e-12, "D");
        close(
            r.pvalue,
            f(c, "pvalue"),
            1e-6,
            &format!("p at {}x{}", a.len(), b.len()),
        );
        close(
            ks_exact_pvalue(f(c, "statistic"), b.len(), a.len()),
            f(c, "pvalue"),
            1e-6,
            "p, sizes swapped",
        );
    }
}

#[test]
fn clustered_profile_ks_matches_the_restatement() {
    use bedside_monitor::drift::{binned_ks_pvalue, ks_against_clustered, BinProfile};
    for c in fixture()["ks_profile"].as_array().unwrap() {
        let points: Vec<(f64, f64)> = c["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        let clusters: Vec<Vec<f64>> = c["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let profile = BinProfile::from_quantiles(&points, 10_000).unwrap();
        let r = ks_against_clustered(&profile, &clusters, f(c, "m")).unwrap();
        close(r.statistic, f(c, "statistic"), 1e-9, "D");
        assert_eq!(r.n, Some(f(c, "n")), "Kish n");
        assert_eq!(r.m, Some(f(c, "m_units")));
        let (n, m) = (f(c, "n"), f(c, "m_units"));
        let cdf: Vec<f64> = points.iter().map(|p| p.0).collect();
        let want = binned_ks_pvalue(r.statistic, &cdf, (n * m / (n + m)).floor() as usize);
        close(r.pvalue, want, 1e-12, "p");
    }
}

#[test]
fn binned_ks_null_matches_binomial_and_approaches_kstwo() {
    use bedside_monitor::drift::binned_ks_pvalue;
    let fx = fixture();
    for c in fx["binned_ks"].as_array().unwrap() {
        let p = binned_ks_pvalue(f(c, "d"), &floats(&c["cdf"]), u(c, "n") as usize);
        close(p, f(c, "pvalue"), 1e-9, &format!("binomial {c}"));
    }
    for c in fx["binned_ks_grid"].as_array().unwrap() {
        let k = u(c, "points") as usize;
        let cdf: Vec<f64> = (1..k).map(|i| i as f64 / k as f64).collect();
        let p = binned_ks_pvalue(f(c, "d"), &cdf, u(c, "n") as usize);
        let want = f(c, "kstwo_sf");
        // A supremum over a grid is at most the continuous one.
        assert!(
            p <= want + 1e-9 && p >= 0.9 * want,
            "grid {p} vs kstwo {want} {c}"
        );
    }
}
