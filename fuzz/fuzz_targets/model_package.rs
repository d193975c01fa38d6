//! A model package with one file replaced by the fuzz input: the first
//! byte picks the file of the demo package (model.toml, model.txt, the
//! calibration, the training profile, ...), the rest is its new content.
//! Loading must give a package or named problems, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FILES: &[&str] = &[
    "model.toml",
    "model.txt",
    "calibration.json",
    "training_profile.json",
    "card.md",
    "split.json",
    "calibration_set.json",
    "metrics.json",
];

struct Env {
    dir: tempfile::TempDir,
    originals: Vec<Vec<u8>>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/sepsis-demo");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut originals = Vec::new();
        for f in FILES {
            let bytes = std::fs::read(src.join(f)).unwrap_or_default();
            std::fs::write(dir.path().join(f), &bytes).expect("write package file");
            originals.push(bytes);
        }
        Env { dir, originals }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, content)) = data.split_first() else {
        return;
    };
    let env = env();
    let i = pick as usize % FILES.len();
    let path: PathBuf = env.dir.path().join(FILES[i]);
    std::fs::write(&path, content).expect("write fuzzed file");
    let _ = bedside_models::Package::load(env.dir.path());
    std::fs::write(&path, &env.originals[i]).expect("restore file");
});
