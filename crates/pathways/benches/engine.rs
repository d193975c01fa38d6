//! Cost of importing a pathway and of one engine step, and of storing an
//! instance (JSON) between steps: `cargo bench -p bedside-pathways`.

use bedside_pathways::*;
use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

fn sepsis_xml() -> String {
    let path = format!(
        "{}/../../pathways/sepsis-escalation.bpmn",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("shipped sepsis pathway")
}

fn bench(c: &mut Criterion) {
    let xml = sepsis_xml();
    c.bench_function("parse sepsis-escalation.bpmn", |b| {
        b.iter(|| Definition::parse(black_box(&xml)).is_ok())
    });
    let def = Definition::parse(&xml).expect("valid");
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let vars = json!({"risk": {"probability": 0.4}, "patient": {"identifiers": [{"value": "1"}]}})
        .as_object()
        .cloned()
        .unwrap();
    let trigger = StartTrigger::Message("sepsis-alert".into());
    c.bench_function("sepsis start + escalate + acknowledge + bundle", |b| {
        b.iter(|| {
            let (mut inst, _) = Engine::start(&def, "i", &trigger, vars.clone(), t0).unwrap();
            let t = inst.pending_timers()[0].to_string();
            Engine::on_timer(&def, &mut inst, &t, t0 + TimeDelta::minutes(15)).unwrap();
            let task = inst.open_tasks()[0].to_string();
            Engine::on_task_update(
                &def,
                &mut inst,
                &task,
                TaskStatus::Accepted,
                Default::default(),
                t0,
            )
            .unwrap();
            Engine::on_message(
                &def,
                &mut inst,
                "bundle-ordered",
                None,
                Default::default(),
                t0,
            )
            .unwrap();
            black_box(inst)
        })
    });
    let (inst, _) = Engine::start(&def, "i", &trigger, vars.clone(), t0).unwrap();
    c.bench_function("instance JSON round trip", |b| {
        b.iter(|| {
            let s = serde_json::to_string(black_box(&inst)).unwrap();
            serde_json::from_str::<Instance>(&s).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
