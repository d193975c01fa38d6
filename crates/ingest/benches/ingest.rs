//! Per-event state update at hour 10 vs hour 200 of a stay, and the
//! parse-only floor vs parse + map + state on the dev cohort's
//! Observations (skipped if ../shared is absent).
//!
//! Run: `cargo bench -p bedside-ingest --bench ingest`

use bedside_core::PatientState;
use bedside_fhir::{parse_resource, ParsedResource};
use bedside_ingest::{apply, apply_updates, patient_of, updates_for, ChannelMap};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

fn vital(id: &str, loinc: &str, value: f64, unit: &str, minute: i64) -> ParsedResource {
    let t = chrono::DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).unwrap();
    let v = json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": bedside_fhir::format_instant(t),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    });
    bedside_fhir::parse_value(v).unwrap()
}

/// A state after `hours` of hourly vitals and 6-hourly labs.
fn stay(hours: i64, map: &ChannelMap) -> PatientState {
    let mut s = PatientState::new("p1");
    for h in 0..hours {
        let m = h * 60;
        for (i, (code, v, u)) in [
            ("8867-4", 90.0, "/min"),
            ("9279-1", 18.0, "/min"),
            ("8310-5", 37.2, "Cel"),
            ("2708-6", 95.0, "%"),
            ("8480-6", 120.0, "mm[Hg]"),
            ("8462-4", 70.0, "mm[Hg]"),
        ]
        .iter()
        .enumerate()
        {
            apply(&mut s, &vital(&format!("v{h}-{i}"), code, *v, u, m), map).unwrap();
        }
        if h % 6 == 0 {
            apply(
                &mut s,
                &vital(&format!("l{h}"), "2524-7", 2.1, "mmol/L", m),
                map,
            )
            .unwrap();
        }
    }
    s
}

/// One event on a stay of 10, 50 (past the 48 h retention window) and 200
/// hours: the in-memory update alone, and the update plus encoding the
/// state for the store (what a single-resource ingest also pays before the
/// commit; the state is kept inside the retention window, so this grows
/// until the window is full and not after).
fn state_update(c: &mut Criterion) {
    let map = ChannelMap::default_map();
    let mut g = c.benchmark_group("state_update_per_event");
    for hours in [10i64, 50, 200] {
        let base = stay(hours, &map);
        let next = vital("next", "8867-4", 101.0, "/min", hours * 60 + 5);
        g.bench_function(format!("hour_{hours}"), |b| {
            b.iter_batched_ref(
                || base.clone(),
                |s| apply(s, &next, &map).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    let mut g = c.benchmark_group("state_update_and_encode_per_event");
    for hours in [10i64, 50, 200] {
        let base = stay(hours, &map);
        let next = vital("next", "8867-4", 101.0, "/min", hours * 60 + 5);
        g.bench_function(format!("hour_{hours}"), |b| {
            b.iter_batched_ref(
                || base.clone(),
                |s| {
                    apply(s, &next, &map).unwrap();
                    std::hint::black_box(bedside_ingest::encode_state(s))
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn cohort_lines(limit: usize) -> Option<Vec<Vec<u8>>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dev-cohort/Observation.ndjson.gz");
    let f = std::fs::File::open(&p).ok()?;
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    Some(
        r.split(b'\n')
            .map_while(Result::ok)
            .filter(|l| !l.is_empty())
            .take(limit)
            .collect(),
    )
}

fn parse_vs_ingest(c: &mut Criterion) {
    let Some(lines) = cohort_lines(20_000) else {
        eprintln!("skipping parse_vs_ingest: dev cohort not found");
        return;
    };
    let bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
    let map = ChannelMap::default_map();
    let mut g = c.benchmark_group("observations");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("parse_only_floor_serde_json", |b| {
        b.iter(|| {
            for l in &lines {
                let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                std::hint::black_box(v);
            }
        })
    });
    g.bench_function("parse_check_typed", |b| {
        b.iter(|| {
            for l in &lines {
                std::hint::black_box(parse_resource(l).unwrap());
            }
        })
    });
    g.bench_function("parse_map_state_in_memory", |b| {
        b.iter_batched_ref(
            HashMap::<String, PatientState>::new,
            |states| {
                for l in &lines {
                    let p = parse_resource(l).unwrap();
                    let body = p.body();
                    std::hint::black_box(&body);
                    if let Ok(Some(pid)) = patient_of(&p) {
                        let ups = updates_for(&p, &map).unwrap();
                        let s = states
                            .entry(pid.clone())
                            .or_insert_with(|| PatientState::new(pid));
                        let src = format!("Observation/{}", p.id.as_deref().unwrap_or(""));
                        apply_updates(s, &src, ups, map.retention(), false);
                    }
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    eprintln!("({} observations, {bytes} bytes)", lines.len());
}

criterion_group!(benches, state_update, parse_vs_ingest);
criterion_main!(benches);
