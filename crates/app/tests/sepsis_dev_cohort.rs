//! Replay the dev cohort (`../shared/data/dev-cohort`; skipped with a note
//! when absent) with the demo model, the shipped sepsis pathway and the
//! demo policy, run every timer, and compare the Tasks with an oracle that
//! never runs the pathway engine: it reads the policy's escalation
//! decisions and the patients' recorded order events, and applies the
//! pathway's documented rules (pathways/README.md):
//!
//! - an escalation starts one instance unless the patient's previous one
//!   is still running (it runs until the bundle is ordered);
//! - nurse task (role `nurse`) at the alert, deadline 15 min; physician
//!   task (the routed practitioner, else role `physician`) at +15 min,
//!   deadline +30 min; rapid response task (role `rrt`) at +30 min;
//! - the bundle counts as ordered at the later of the first antibiotic
//!   order and the first blood culture order at or after the alert; an
//!   order at or before a deadline wins over the timer; ordering the
//!   bundle cancels the open task and ends the instance.

use bedside_app::{App, AppConfig};
use bedside_core::{Instant, PatientState};
use bedside_store::DocFilter;
use chrono::Duration;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// (step element id, authoredOn, owner, status)
type Row = (String, String, String, String);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ts(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn filter(kind: &str, status: Option<&str>) -> DocFilter {
    DocFilter {
        kind: kind.into(),
        patient_id: None,
        status: status.map(str::to_string),
        owner: None,
        since: None,
        limit: None,
    }
}

/// First recorded `kind` at or after `since`.
fn first_after(state: &PatientState, kind: &str, since: Instant) -> Option<Instant> {
    let s = state.events.get(kind)?;
    s.points.iter().map(|p| p.t).filter(|t| *t >= since).min()
}

fn bundle_at(state: &PatientState, since: Instant) -> Option<Instant> {
    let a = first_after(state, "antibiotic_ordered", since)?;
    let b = first_after(state, "blood_culture_ordered", since)?;
    Some(a.max(b))
}

/// The Tasks the documented rules give for one instance started at `t0`.
fn expected_rows(t0: Instant, physician: &str, bundle: Option<Instant>) -> Vec<Row> {
    let step = Duration::minutes(15);
    let row = |id: &str, at: Instant, owner: &str, status: &str| {
        (id.into(), ts(at), owner.into(), status.into())
    };
    let before = |deadline: Instant| bundle.is_some_and(|b| b <= deadline);
    let mut rows = vec![row("Task_NurseReassessment", t0, "nurse", "cancelled")];
    if before(t0 + step) {
        return rows;
    }
    rows.push(row(
        "Task_PhysicianReview",
        t0 + step,
        physician,
        "cancelled",
    ));
    if before(t0 + step * 2) {
        return rows;
    }
    let rrt = if bundle.is_some() {
        "cancelled"
    } else {
        "requested"
    };
    rows.push(row("Task_RapidResponse", t0 + step * 2, "rrt", rrt));
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_cohort_tasks_match_an_oracle_written_without_the_engine() {
    let cohort = repo().join("../shared/data/dev-cohort");
    if !cohort.is_dir() {
        eprintln!("SKIPPED: {} not present", cohort.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Keep every recorded event in the state so the oracle can read the
    // order times after the replay (the default keeps 48 h; the cohort
    // spans less than the year allowed).
    let channels = dir.path().join("channels.toml");
    let map = bedside_ingest::ChannelMap::default_toml();
    assert!(map.contains("retention_hours = 48"));
    std::fs::write(
        &channels,
        map.replace("retention_hours = 48", "retention_hours = 8760"),
    )
    .unwrap();
    let policy = std::fs::read_to_string(repo().join("config/demo-policy.toml")).unwrap();
    let config = AppConfig::sqlite(dir.path().join("data"))
        .channels(channels)
        .use_case(bedside_test_support::use_cases::sepsis(dir.path(), &policy));
    let app = App::open(config).await.unwrap();
    bedside_app::replay::replay_dir(&app, &cohort, None)
        .await
        .unwrap();

    // Escalations the policy decided and showed, by patient, in time order.
    let mut escalations: BTreeMap<String, Vec<(Instant, String)>> = BTreeMap::new();
    for d in app
        .store
        .list_documents(&filter("decision", Some("escalate")))
        .await
        .unwrap()
    {
        if d.body["shown"] != true {
            continue;
        }
        let physician = d.body["route_to"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["kind"] == "practitioner")
            .and_then(|r| r["reference"].as_str())
            .unwrap_or("physician")
            .to_string();
        let pid = d.patient_id.clone().unwrap();
        escalations
            .entry(pid)
            .or_default()
            .push((d.created_at, physician));
    }
    let last = escalations.values().flatten().map(|e| e.0).max();
    let Some(last) = last else {
        panic!("the demo policy escalated nobody in the dev cohort: nothing to check");
    };
    // Every timer is due by now; run them (what a server does on its clock).
    app.run_due_timers(last + Duration::hours(1)).await.unwrap();

    let mut expected: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    let states = app
        .store
        .load_states(&escalations.keys().cloned().collect::<Vec<_>>())
        .await
        .unwrap();
    for (pid, list) in &mut escalations {
        list.sort();
        let state = bedside_ingest::decode_state(&states[pid].state).unwrap();
        let mut running_until: Option<Option<Instant>> = None;
        for (t0, physician) in list.iter() {
            if let Some(end) = running_until {
                if end.is_none_or(|e| e > *t0) {
                    continue; // still on the pathway
                }
            }
            let bundle = bundle_at(&state, *t0);
            running_until = Some(bundle);
            expected
                .entry(pid.clone())
                .or_default()
                .extend(expected_rows(*t0, physician, bundle));
        }
    }

    let mut actual: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for d in app
        .store
        .list_documents(&filter("Task", None))
        .await
        .unwrap()
    {
        let t = &d.body;
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        actual
            .entry(d.patient_id.clone().unwrap())
            .or_default()
            .push((
                s(&t["code"]["coding"][0]["code"]),
                s(&t["authoredOn"]),
                d.owner.clone().unwrap_or_default(),
                s(&t["status"]),
            ));
    }
    for rows in expected.values_mut().chain(actual.values_mut()) {
        rows.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    }
    let count = |m: &BTreeMap<String, Vec<Row>>, step: &str| {
        m.values().flatten().filter(|r| r.0 == step).count()
    };
    eprintln!(
        "dev cohort: {} patients escalated; oracle expects {} nurse, {} physician, {} rapid response tasks",
        expected.len(),
        count(&expected, "Task_NurseReassessment"),
        count(&expected, "Task_PhysicianReview"),
        count(&expected, "Task_RapidResponse"),
    );
    for (pid, rows) in &expected {
        assert_eq!(actual.get(pid), Some(rows), "patient {pid}");
    }
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "Tasks for patients the oracle did not expect"
    );
}
