//! Audit chain verification throughput: 10k AuditEvent-sized entries
//! (~1 KB each), hashed in memory (`ChainVerifier`), and read back from
//! SQLite and verified page by page as `bedside audit verify` does.
//!
//!     cargo bench -p bedside-store --bench audit

use bedside_store::{ChainVerifier, Commit, SqliteStore, Store};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use serde_json::json;
use std::time::Duration;
use tokio::runtime::Runtime;

const N: usize = 10_000;
const PAGE: u32 = 2000;

/// An AuditEvent the size of a pathway write's (~1 KB of JSON).
fn event(i: usize) -> serde_json::Value {
    json!({
        "resourceType": "AuditEvent",
        "id": format!("00000000-0000-4000-8000-{i:012}"),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "create"},
                    {"system": "https://bedside.dev/audit-event-subtype", "code": "pathway-write"}],
        "action": "C",
        "recorded": "2026-03-01T00:00:00.123456Z",
        "outcome": "0",
        "agent": [{"type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110150", "display": "Application"}]},
                   "who": {"reference": "Device/bedside", "display": "Bedside 0.1.0"}, "requestor": true}],
        "source": {"site": "http://bedside.example:8080", "observer": {"reference": "Device/bedside", "display": "Bedside 0.1.0"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]},
        "entity": [
            {"what": {"reference": format!("Patient/p-{}", i % 300)}, "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"}, "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}},
            {"what": {"reference": format!("Task/pw-t-{i:030}")}, "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
             "detail": [{"type": "status", "valueString": "requested"}, {"type": "model", "valueString": "sepsis-demo|1.0.0"}]},
            {"what": {"identifier": {"system": "urn:bedside:pathway-instance", "value": format!("sepsis-demo|p-{}|2026-03-01T00:00:00Z", i % 300)}}, "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"}}
        ]
    })
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = rt
        .block_on(SqliteStore::open(dir.path()))
        .expect("open sqlite");
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        rt.block_on(store.commit(Commit {
            audit: chunk.iter().map(|i| event(*i)).collect(),
            ..Commit::default()
        }))
        .expect("append");
    }
    let entries = rt.block_on(store.audit_entries(1, N as u32)).expect("read");
    assert_eq!(entries.len(), N);

    let mut g = c.benchmark_group("audit_verify");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(N as u64));
    g.bench_function("hash_chain_in_memory_10k", |b| {
        b.iter(|| {
            let mut v = ChainVerifier::whole_log();
            for e in &entries {
                v.push(e).expect("verifies");
            }
            v.checked()
        })
    });
    g.bench_function("sqlite_read_and_verify_10k", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut v = ChainVerifier::whole_log();
                let mut from = 1;
                loop {
                    let page = store.audit_entries(from, PAGE).await.expect("read");
                    let Some(last) = page.last() else { break };
                    from = last.seq + 1;
                    for e in &page {
                        v.push(e).expect("verifies");
                    }
                }
                v.checked()
            })
        })
    });
    g.finish();
}

criterion_group!(audit, benches);
criterion_main!(audit);
