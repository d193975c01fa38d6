//! The deterioration package on deterioration-cohort data: outcome labels
//! from Encounter data (discharge disposition, `classHistory`) checked
//! against an oracle that reads the NDJSON directly, and `bedside
//! evaluate`'s report with its NEWS2 comparison.
//!
//! The committed demo subset (`demo/deterioration-cohort`) always runs;
//! the whole cohort (`../shared/data/deterioration-cohort`) runs when
//! present (skipped with a note otherwise).

use bedside_app::{App, AppConfig};
use bedside_core::Instant;
use chrono::Duration;
use flate2::read::GzDecoder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn package() -> PathBuf {
    repo().join("models/deterioration-demo")
}

fn time(v: &Value) -> Option<Instant> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// (death times, ICU transfer times) per patient, read from the cohort's
/// Encounters as its README describes them.
type Events = BTreeMap<String, (Vec<Instant>, Vec<Instant>)>;

fn oracle(cohort: &Path) -> Events {
    let f = std::fs::File::open(cohort.join("Encounter.ndjson.gz")).unwrap();
    let mut out = Events::new();
    for line in BufReader::new(GzDecoder::new(f)).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let pid = e["subject"]["reference"]
            .as_str()
            .unwrap()
            .trim_start_matches("Patient/")
            .to_string();
        let entry = out.entry(pid).or_default();
        let died = e["hospitalization"]["dischargeDisposition"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["code"] == "exp");
        if died {
            entry.0.push(time(&e["period"]["end"]).unwrap());
        }
        for h in e["classHistory"].as_array().into_iter().flatten() {
            if h["class"]["code"] == "ACUTE" {
                entry.1.push(time(&h["period"]["start"]).unwrap());
            }
        }
    }
    out
}

async fn labels_match_the_oracle(cohort: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let config = AppConfig::sqlite(dir.path())
        .feature_spec(package())
        .record_features(true);
    let app = App::open(config).await.unwrap();
    bedside_app::replay::replay_dir(&app, cohort, None)
        .await
        .unwrap();
    let rows = app.labeled_feature_rows().await.unwrap();
    assert!(rows.len() > 1000, "{} rows", rows.len());
    let events = oracle(cohort);
    let within = |ts: &[Instant], at: Instant| {
        ts.iter()
            .any(|t| *t >= at && *t <= at + Duration::hours(24))
    };
    let (mut by_death, mut by_icu, mut positives) = (0, 0, 0);
    for r in &rows {
        let (deaths, icu) = events.get(&r.row.patient_id).cloned().unwrap_or_default();
        let expected = within(&deaths, r.row.at) || within(&icu, r.row.at);
        assert_eq!(
            r.label, expected,
            "row at {} of a patient with deaths {deaths:?} and ICU transfers {icu:?}",
            r.row.at
        );
        positives += r.label as usize;
        by_death += (r.label && within(&deaths, r.row.at) && !within(&icu, r.row.at)) as usize;
        by_icu += (r.label && within(&icu, r.row.at) && !within(&deaths, r.row.at)) as usize;
    }
    // Both elements produce positives on their own, and most rows are negative.
    assert!(
        by_death > 0 && by_icu > 0,
        "death-only {by_death}, ICU-only {by_icu}"
    );
    assert!(
        positives * 5 < rows.len(),
        "{positives} of {} rows",
        rows.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_subset_labels_death_and_icu_transfer_from_encounters() {
    labels_match_the_oracle(&repo().join("demo/deterioration-cohort")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cohort_labels_death_and_icu_transfer_from_encounters() {
    let cohort = repo().join("../shared/data/deterioration-cohort");
    if !cohort.is_dir() {
        eprintln!("SKIPPED: {} not present", cohort.display());
        return;
    }
    labels_match_the_oracle(&cohort).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_reports_the_onnx_model_next_to_news2_at_the_same_alert_rate() {
    let dir = tempfile::tempdir().unwrap();
    let config = AppConfig::sqlite(dir.path())
        .model(package())
        .record_features(true);
    let app = App::open(config).await.unwrap();
    bedside_app::replay::replay_dir(&app, &repo().join("demo/deterioration-cohort"), None)
        .await
        .unwrap();
    let policy =
        bedside_policy::PolicyConfig::from_toml_str(&bedside_policy::PolicyConfig::default_toml())
            .unwrap();
    let eval = bedside_policy::evaluate::EvalConfig::default();
    let r = app.evaluation(&policy, "all", eval, 5).await.unwrap();
    let rows = r["rows"].as_u64().unwrap();
    assert!(rows > 1000, "{r}");
    assert!(r["positive_rows"].as_u64().unwrap() > 0);
    for k in ["auroc", "auprc", "ece"] {
        let v = r[k].as_f64().unwrap_or_else(|| panic!("{k}: {r}"));
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    let news2 = &r["news2"];
    let n_alerts = news2["rows"]["alert_rows"].as_u64().unwrap();
    assert!(n_alerts > 0 && n_alerts < rows, "{news2}");
    assert!(news2["auroc"].as_f64().is_some() && news2["ece"].is_null());
    // The model is held to NEWS2's alert rate: as many rows flagged (ties
    // aside, which continuous probabilities do not make here).
    let m = &r["model_at_news2_alert_rate"];
    assert_eq!(m["rows"]["alert_rows"].as_u64().unwrap(), n_alerts, "{m}");
    let t = m["threshold"].as_f64().unwrap();
    assert!(t > 0.0 && t < 1.0);
    // Per-patient alert reports for both, over the same stays.
    assert_eq!(
        news2["alerts"]["alerts"].as_u64().unwrap(),
        n_alerts,
        "{news2}"
    );
    assert_eq!(
        news2["alerts"]["outcome_positive_patients"],
        m["alerts"]["outcome_positive_patients"]
    );
    // The built-in policy certifies nothing on this data, so the baselines
    // run at the matched threshold rather than failing.
    let source = &r["baseline_threshold_source"];
    match r["certification"]["status"].as_str() {
        Some("not_certified") => {
            assert_eq!(source, "news2_alert_rate", "{r}");
            assert_eq!(r["threshold"].as_f64(), Some(t));
        }
        Some("certified") => assert_eq!(source, "policy_certification"),
        other => panic!("certification status {other:?}"),
    }
    assert!(r["policies"]["fixed_threshold"].is_object());
}
