//! `bedside use-case validate` as an informatics team runs it: the shipped
//! use cases pass (exit 0); a broken one (unknown event channel, a pathway
//! message the BPMN does not wait for, a policy key typo, a missing model
//! package, a model with an unsupported ONNX operator) has every problem
//! named with its location, and the exit status is 1.

use bedside_test_support::use_cases::{repo, shipped_with_policy, with_model};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn validate(dirs: &[&Path]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["use-case", "validate"])
        .args(dirs)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    assert!(t.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_shipped_use_cases_pass() {
    let dirs: Vec<_> = ["sepsis-screening", "deterioration", "imaging-ai-review"]
        .iter()
        .map(|n| repo().join("use-cases").join(n))
        .collect();
    let refs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
    let (code, out) = validate(&refs);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(": ok").count(), 3, "{out}");
}

#[test]
fn a_broken_use_case_names_every_problem_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let uc = shipped_with_policy(
        tmp.path(),
        "sepsis-screening",
        "stage = \"live\"\nre_alert_dela = 3\n",
    );
    let toml = uc.join("use-case.toml");
    edit(
        &toml,
        "\"blood_culture_ordered\"]",
        "\"blood_culture_orderd\"]",
    );
    edit(
        &toml,
        "actions_under_way = \"bundle-ordered\"",
        "actions_under_way = \"bundle-done\"",
    );
    let (code, out) = validate(&[&uc]);
    assert_eq!(code, 1, "{out}");
    for (location, words) in [
        (
            "use-case.toml:actions_under_way.all_of[1]",
            "blood_culture_orderd",
        ),
        ("use-case.toml:pathway.actions_under_way", "bundle-done"),
        ("policy.toml", "re_alert_dela"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(location) && l.contains(words)),
            "{location} / {words} not named:\n{out}"
        );
    }

    // No model package where the use case says.
    let missing = with_model(
        &tmp.path().join("m"),
        "sepsis-screening",
        Path::new("no-such-model"),
        "stage = \"live\"\n",
    );
    let (code, out) = validate(&[&missing]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("use-case.toml:model") && l.contains("no-such-model")),
        "{out}"
    );

    // A model whose ONNX graph uses an operator the runtime lacks.
    let pkg = tmp.path().join("onnx-pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let fixture = repo().join("crates/models/tests/fixtures/onnx_pkg");
    for e in std::fs::read_dir(&fixture).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), pkg.join(e.file_name())).unwrap();
    }
    edit(
        &pkg.join("model.toml"),
        "file = \"gbm.onnx\"",
        "file = \"regressor.onnx\"",
    );
    edit(
        &pkg.join("model.toml"),
        "output = \"probability\"",
        "output = \"margin\"",
    );
    let onnx = with_model(
        &tmp.path().join("o"),
        "sepsis-screening",
        &pkg,
        "stage = \"live\"\n",
    );
    let (code, out) = validate(&[&onnx]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("unsupported ONNX operator TreeEnsembleRegressor (ai.onnx.ml)"),
        "{out}"
    );
}
