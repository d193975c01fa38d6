//! Store write/read throughput. Target: committing 10k ~1 KB ResourceWrites
//! on SQLite well under 1 s (release). PostgreSQL is benched too when
//! BEDSIDE_TEST_DATABASE_URL is set (see `.ci/postgres.sh`).
//!
//!     cargo bench -p bedside-store --bench store

use bedside_store::{Commit, PgStore, ResourceKey, ResourceWrite, SqliteStore, Store, VersionInfo};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

const N: usize = 10_000;

/// A ~1 KB Observation-like JSON body.
fn body(prefix: &str, i: usize) -> String {
    let pad = "x".repeat(700);
    format!(
        r#"{{"resourceType":"Observation","id":"{prefix}{i}","meta":{{"versionId":"1","lastUpdated":"2026-03-01T00:00:00Z"}},"status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}}]}},"subject":{{"reference":"Patient/p{}"}},"valueQuantity":{{"value":{}.5,"unit":"/min"}},"note":[{{"text":"{pad}"}}]}}"#,
        i % 500,
        60 + i % 80
    )
}

fn batch(prefix: &str) -> Vec<ResourceWrite> {
    let t0 = chrono::DateTime::from_timestamp(1_772_323_200, 0).unwrap_or_default();
    (0..N)
        .map(|i| ResourceWrite {
            key: ResourceKey {
                rtype: "Observation".into(),
                id: format!("{prefix}{i}"),
            },
            version: VersionInfo {
                version_id: Some("1".into()),
                last_updated: Some("2026-03-01T00:00:00Z".into()),
                hash: format!("{:064x}", i),
            },
            patient_id: Some(format!("p{}", i % 500)),
            event_time: Some(t0 + chrono::Duration::seconds(i as i64)),
            body: body(prefix, i),
        })
        .collect()
}

fn bench_engine(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Store>) {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(N as u64));

    let mut round = 0u64;
    g.bench_function("commit_10k_new_resources_1kb", |b| {
        b.iter_batched(
            || {
                round += 1;
                Commit {
                    resources: batch(&format!("r{round}-")),
                    ..Commit::default()
                }
            },
            |commit| rt.block_on(store.commit(commit)).expect("commit"),
            BatchSize::PerIteration,
        )
    });

    let existing = batch("existing-");
    let keys: Vec<ResourceKey> = existing.iter().map(|r| r.key.clone()).collect();
    rt.block_on(store.commit(Commit {
        resources: existing.clone(),
        ..Commit::default()
    }))
    .expect("seed");
    g.bench_function("commit_10k_replaced_resources_1kb", |b| {
        b.iter_batched(
            || Commit {
                resources: existing.clone(),
                ..Commit::default()
            },
            |commit| rt.block_on(store.commit(commit)).expect("commit"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("versions_10k_keys", |b| {
        b.iter(|| {
            let v = rt.block_on(store.versions(&keys)).expect("versions");
            assert_eq!(v.len(), N);
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite: Arc<dyn Store> = Arc::new(
        rt.block_on(SqliteStore::open(dir.path()))
            .expect("open sqlite"),
    );
    bench_engine(c, &rt, "sqlite", sqlite);

    if let Ok(url) = std::env::var("BEDSIDE_TEST_DATABASE_URL") {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let admin = rt.block_on(PgStore::open(&url)).expect("open postgres");
        rt.block_on(admin.execute_raw_for_tests(&format!("CREATE SCHEMA {schema}")))
            .expect("create schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        let pg: Arc<dyn Store> = Arc::new(rt.block_on(PgStore::open(&url)).expect("open postgres"));
        bench_engine(c, &rt, "postgres", pg);
    }
}

criterion_group!(store, benches);
criterion_main!(store);
