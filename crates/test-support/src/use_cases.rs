//! Use case directories for tests: a shipped use case copied into a test
//! directory with its paths made absolute, and its policy replaced.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The shipped use case `name` (`use-cases/{name}`) copied to
/// `dir/{name}` with its relative paths made absolute and its
/// `policy.toml` replaced by `policy` (TOML in the policy file format,
/// e.g. `stage = "live"`). Returns the new directory.
pub fn shipped_with_policy(dir: &Path, name: &str, policy: &str) -> PathBuf {
    let src = repo().join("use-cases").join(name);
    let out = dir.join(name);
    std::fs::create_dir_all(&out).expect("use case directory");
    let text = std::fs::read_to_string(src.join("use-case.toml")).expect("shipped use-case.toml");
    let mut abs = String::new();
    for line in text.lines() {
        // `key = "relative/path"` for the keys naming files.
        let rewritten = ["model", "file", "resource_file"].iter().find_map(|k| {
            let rest = line.strip_prefix(&format!("{k} = \""))?;
            let rel = rest.strip_suffix('"')?;
            Some(format!("{k} = \"{}\"", src.join(rel).display()))
        });
        abs.push_str(rewritten.as_deref().unwrap_or(line));
        abs.push('\n');
    }
    std::fs::write(out.join("use-case.toml"), abs).expect("write use-case.toml");
    std::fs::write(out.join("policy.toml"), policy).expect("write policy.toml");
    out
}

/// The shipped sepsis screening use case with `policy` (see
/// [`shipped_with_policy`]).
pub fn sepsis(dir: &Path, policy: &str) -> PathBuf {
    shipped_with_policy(dir, "sepsis-screening", policy)
}

/// The shipped use case `name` copied as [`shipped_with_policy`] does,
/// serving the model package at `model` instead of its own (its card,
/// suggestions and pathway kept).
pub fn with_model(dir: &Path, name: &str, model: &Path, policy: &str) -> PathBuf {
    let out = shipped_with_policy(dir, name, policy);
    let path = out.join("use-case.toml");
    let text = std::fs::read_to_string(&path).expect("use-case.toml");
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("model = ") {
                format!("model = \"{}\"\n", model.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, text).expect("write use-case.toml");
    out
}

/// The sepsis use case serving the test fixture model
/// (`crates/models/tests/fixtures/pkg`) live, written to `dir`: what the
/// HTTP tests use to get certified cards with the sepsis suggestions.
pub fn fixture_as_sepsis(dir: &Path) -> PathBuf {
    with_model(
        dir,
        "sepsis-screening",
        &repo().join("crates/models/tests/fixtures/pkg"),
        "stage = \"live\"",
    )
}
