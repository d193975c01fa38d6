//! The shipped binary loads `kind = "onnx"` packages (tract-onnx is in the
//! default build) and refuses an unsupported operator by name.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/onnx_pkg")
}

#[test]
fn model_validate_accepts_an_onnx_tree_ensemble_package() {
    let out = Command::new(BIN)
        .args(["model", "validate"])
        .arg(fixture())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
}

#[test]
fn model_validate_names_an_unsupported_onnx_operator() {
    let dir = tempfile::tempdir().expect("tmp");
    for e in std::fs::read_dir(fixture()).expect("fixture") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy");
    }
    let toml = std::fs::read_to_string(dir.path().join("model.toml")).expect("toml");
    let toml = toml
        .replace("file = \"gbm.onnx\"", "file = \"regressor.onnx\"")
        .replace("output = \"probability\"", "output = \"margin\"");
    std::fs::write(dir.path().join("model.toml"), toml).expect("write");
    let out = Command::new(BIN)
        .args(["model", "validate"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "regressor.onnx: unsupported ONNX operator TreeEnsembleRegressor (ai.onnx.ml)"
        ),
        "{err}"
    );
}
