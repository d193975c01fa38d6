//! Any bytes through the ingest path, as `$import` and `POST /fhir` use it:
//! once as NDJSON (each line its own entry), once as a Bundle; the entries
//! go through `Ingestor::ingest` (outcome decision, channel mapping, state
//! update, the store commit) on an embedded store. Nothing may panic.
#![no_main]

use bedside_fhir::{BundleType, ParsedEntry};
use bedside_ingest::{ChannelMap, Ingestor, Mode};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Env {
    rt: tokio::runtime::Runtime,
    ingestor: Ingestor,
    _dir: tempfile::TempDir,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let loc = bedside_store::StoreLocation::Sqlite {
            data_dir: dir.path().to_path_buf(),
        };
        let store = rt
            .block_on(bedside_store::open(&loc))
            .expect("open the embedded store");
        Env {
            rt,
            ingestor: Ingestor::new(store, ChannelMap::default_map()),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    let lines: Vec<ParsedEntry> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .enumerate()
        .map(|(i, l)| ParsedEntry::from_ndjson_line(i, l))
        .collect();
    env.rt.block_on(async {
        // Rejections are answers, not failures; only a panic is a bug.
        let _ = env.ingestor.ingest(lines, Mode::PerEntry).await;
        if let Ok(b) = bedside_fhir::parse_bundle(data) {
            let mode = match b.btype {
                BundleType::Transaction => Mode::Atomic,
                _ => Mode::PerEntry,
            };
            let _ = env.ingestor.ingest(b.entries, mode).await;
        }
    });
});
