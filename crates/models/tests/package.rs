//! Package validation: every problem found, each with its location.

mod common;
use bedside_models::{validate_package, validate_package_with, LoadOptions, Model, Package};
use common::fixture;
use std::path::Path;

fn copy_pkg() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(fixture("pkg")).expect("fixture") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy");
    }
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let s = std::fs::read_to_string(&p).expect("read");
    assert!(s.contains(from), "{file} contains {from:?}");
    std::fs::write(&p, s.replacen(from, to, 1)).expect("write");
}

fn problems(dir: &Path) -> Vec<String> {
    validate_package(dir)
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn fixture_package_is_valid() {
    assert_eq!(problems(&fixture("pkg")), Vec::<String>::new());
}

#[test]
fn missing_scorer_file_is_located() {
    let d = copy_pkg();
    std::fs::remove_file(d.path().join("model.txt")).expect("rm");
    assert_eq!(problems(d.path()), vec!["model.txt: missing file"]);
}

#[test]
fn unknown_channel_is_reported() {
    let d = copy_pkg();
    edit(
        d.path(),
        "model.toml",
        "name = \"wbc\"",
        "name = \"white_cells\"",
    );
    let p = problems(d.path());
    assert!(
        p.iter()
            .any(|m| m.starts_with("model.toml:channels[6].name: unknown channel \"white_cells\"")),
        "{p:?}"
    );
    // The feature that reads it now points at an undeclared channel.
    assert!(
        p.iter()
            .any(|m| m.starts_with("model.toml:features[7].channel")),
        "{p:?}"
    );
}

#[test]
fn explicit_channel_list_is_honoured() {
    let opts = LoadOptions {
        known_channels: Some(vec!["heart_rate".into()]),
    };
    let p = validate_package_with(&fixture("pkg"), &opts);
    assert_eq!(p.len(), 7, "{p:?}");
}

#[test]
fn feature_name_mismatch_between_scorer_and_definitions() {
    let d = copy_pkg();
    edit(
        d.path(),
        "model.toml",
        "name = \"wbc_last\"",
        "name = \"wbc_latest\"",
    );
    let p = problems(d.path());
    assert!(
        p.iter().any(|m| m == "model.txt:feature_names[7]: scorer feature \"wbc_last\" does not match model.toml features[7].name \"wbc_latest\""),
        "{p:?}"
    );
}

#[test]
fn nan_and_non_monotone_calibration_fail() {
    let d = copy_pkg();
    edit(
        d.path(),
        "calibration.json",
        "\"y\": [\n   0.0",
        "\"y\": [\n   NaN",
    );
    let p = problems(d.path());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("calibration.json:line "), "{p:?}");

    let d = copy_pkg();
    let path = d.path().join("calibration.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    v["map"]["y"][3] = serde_json::json!(0.99);
    std::fs::write(&path, v.to_string()).expect("write");
    let p = problems(d.path());
    assert!(
        p.iter()
            .any(|m| m.starts_with("calibration.json:map.y[4]: y must be non-decreasing")),
        "{p:?}"
    );
}

#[test]
fn unsupported_format_version_and_several_problems_at_once() {
    let d = copy_pkg();
    edit(
        d.path(),
        "model.toml",
        "format_version = 1",
        "format_version = 7",
    );
    edit(
        d.path(),
        "model.toml",
        "kind = \"max\"",
        "kind = \"median\"",
    );
    std::fs::remove_file(d.path().join("card.md")).expect("rm");
    let p = problems(d.path());
    assert!(
        p.contains(
            &"model.toml:format_version: unsupported format_version 7 (this build reads 1)"
                .to_string()
        ),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("model.toml:features[2].kind: unknown feature kind \"median\"")),
        "{p:?}"
    );
    assert!(p.contains(&"card.md: missing file".to_string()), "{p:?}");
}

#[test]
fn toml_syntax_error_has_a_line() {
    let d = copy_pkg();
    edit(
        d.path(),
        "model.toml",
        "horizon_hours = 24\nevery_hours",
        "horizon_hours = = 24\nevery_hours",
    );
    let p = problems(d.path());
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("model.toml:line 1"), "{p:?}");
}

#[test]
fn broken_tree_is_reported_not_panicked() {
    let d = copy_pkg();
    edit(d.path(), "model.txt", "left_child=1 2", "left_child=0 2");
    edit(d.path(), "model.txt", "num_cat=0", "num_cat=2");
    let p = problems(d.path());
    assert!(
        p.iter()
            .any(|m| m.starts_with("model.txt:Tree=0.left_child[0]: invalid child 0")),
        "{p:?}"
    );
    assert!(
        p.iter().any(
            |m| m.starts_with("model.txt:Tree=0.num_cat: categorical splits are not supported")
        ),
        "{p:?}"
    );
    std::fs::write(d.path().join("model.txt"), "garbage\n").expect("write");
    assert!(!problems(d.path()).is_empty());
}

#[test]
fn tarball_loads_like_the_directory() {
    let d = tempfile::tempdir().expect("tempdir");
    let tgz = d.path().join("pkg.tar.gz");
    let f = std::fs::File::create(&tgz).expect("create");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        f,
        flate2::Compression::fast(),
    ));
    b.append_dir_all("fixture-lgbm", fixture("pkg"))
        .expect("append");
    b.into_inner().expect("tar").finish().expect("gz");
    let a = Package::load(&tgz).expect("tarball loads");
    let m = Model::load(&fixture("pkg")).expect("dir loads");
    assert_eq!(a.spec, m.package.spec);
    assert_eq!(validate_package(&d.path().join("nope.tar.gz")).len(), 1);
}
