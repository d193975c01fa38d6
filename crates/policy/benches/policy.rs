//! Costs on the hook path (`decide`) and offline (`certify`, `evaluate`).
//! `cargo bench -p bedside-policy --bench policy`

use bedside_core::{Instant, Probability};
use bedside_policy::evaluate::{evaluate, EvalConfig, EvalRow, Stay};
use bedside_policy::*;
use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Deterministic uniform numbers.
fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn facts() -> PatientFacts {
    let mut f = PatientFacts {
        unit: Some("Location/icu".into()),
        participants: vec![
            ("Practitioner/b".into(), "ADM".into()),
            ("Practitioner/a".into(), "ATND".into()),
        ],
        care_team: vec![("Practitioner/c".into(), "nurse".into())],
        ..Default::default()
    };
    f.events
        .insert("lactate_ordered".into(), vec![t0() - Duration::hours(30)]);
    f
}

fn bench(c: &mut Criterion) {
    let cfg = PolicyConfig::from_toml_str("stage = \"live\"").unwrap();
    let mut u = lcg(1);
    let set = CalibrationSet {
        rows: (0..50_000)
            .map(|_| {
                let y = u() < 0.1;
                CalibrationRow {
                    score: (u() * 0.7 + if y { 0.3 } else { 0.0 }).min(1.0),
                    label: y,
                }
            })
            .collect(),
        patient_days: 200_000.0,
    };
    let cc = CertificationConfig {
        ppv_floor: 0.2,
        confidence: 0.95,
        alert_budget_per_100_patient_days: 5.0,
    };
    c.bench_function("certify_50k_rows", |b| {
        b.iter(|| certify(black_box(&set), &cc))
    });
    let cert = certify(&set, &cc);

    let input = PolicyInput {
        model_id: "sepsis@1".into(),
        role: ModelRole::Primary,
        probability: Probability::new(0.9).unwrap(),
        at: t0(),
        hook: Some(HookContext {
            hook: "order-sign".into(),
            user: Some("Practitioner/a".into()),
        }),
        facts: facts(),
    };
    let mem = AlertMemory::default();
    c.bench_function("decide_order_sign", |b| {
        b.iter(|| decide(&cfg, black_box(&cert), &mem, black_box(&input)))
    });

    // 200 patients x 72 hourly scorings.
    let mut rows = Vec::new();
    let mut stays = Vec::new();
    for p in 0..200 {
        let pid = format!("p{p}");
        let base = u() * 0.3;
        for hr in 0..72 {
            rows.push(EvalRow {
                patient: pid.clone(),
                at: t0() + Duration::hours(hr),
                probability: (base + u() * 0.4).min(1.0),
                facts: facts(),
            });
        }
        stays.push(Stay {
            patient: pid,
            start: t0(),
            end: t0() + Duration::hours(72),
            outcome_at: (p % 10 == 0).then(|| t0() + Duration::hours(40)),
        });
    }
    let eval = EvalConfig {
        baseline_threshold: Some(0.5),
        ..Default::default()
    };
    c.bench_function("evaluate_200_patients_x_72_scorings", |b| {
        b.iter(|| evaluate(black_box(&rows), &stays, &cfg, &cert, &eval))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
