//! `bedside evaluate --certified` as a site's local validation runs it: the
//! committed demo cohort replayed (on the throwaway scratch store) with the
//! package's stored whole-policy certification, no re-fit, and the
//! "promise kept?" table in JSON: each measure with its certified figure,
//! what was observed and whether the promise was kept, and the baselines.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

#[test]
fn the_promise_table_uses_the_packages_certification() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(BIN)
        .arg("evaluate")
        .arg(repo.join("demo/cohort"))
        .arg("--model")
        .arg(repo.join("models/sepsis-demo"))
        .arg("--policy")
        .arg(repo.join("use-cases/sepsis-screening/policy.toml"))
        .args(["--certified", "--split", "all", "--json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("models/sepsis-demo/certification.json")).unwrap(),
    )
    .unwrap();
    // As shipped: the stored certification's threshold, not a re-fit.
    assert_eq!(v["promise"]["certification_source"], "package", "{v}");
    let threshold = v["certification"]["threshold"].as_f64().unwrap();
    let stored_threshold = stored["certification"]["threshold"]
        .as_f64()
        .or_else(|| stored["threshold"].as_f64())
        .unwrap_or_else(|| panic!("no threshold in {stored}"));
    assert!((threshold - stored_threshold).abs() < 1e-12, "{v}");
    assert_eq!(v["certification"]["method"], "whole_policy_replay");
    let measures = v["promise"]["measures"].as_array().expect("measures");
    let names: Vec<&str> = measures
        .iter()
        .map(|m| m["measure"].as_str().unwrap())
        .collect();
    for m in [
        "per_alert_ppv",
        "interruptive_alerts_per_100_patient_days",
        "sensitivity",
        "recognized_sensitivity",
        "alerts_per_clinician_per_12h_shift",
    ] {
        assert!(names.contains(&m), "{m} missing from {names:?}");
    }
    let ppv = measures
        .iter()
        .find(|m| m["measure"] == "per_alert_ppv")
        .unwrap();
    assert!(
        ppv["kept"].is_boolean() && ppv["observed"].is_number(),
        "{ppv}"
    );
    for b in ["naive_15min", "fixed_threshold"] {
        assert!(
            v["promise"]["baselines"][b]["alerts_per_100_patient_days"].is_number(),
            "{b}: {v}"
        );
    }
}
