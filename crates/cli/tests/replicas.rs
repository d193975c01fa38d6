//! Two `bedside serve` replicas on one PostgreSQL database run the shipped
//! sepsis pathway (its 15 minute timers shortened to seconds); one replica
//! is SIGKILLed while timers are firing. Every timer must fire exactly once
//! (one `pathway-timer-fired` audit entry, written in the same transaction
//! as the job's completion) and every instance must end at the rapid
//! response task. Prints the lateness of the timers (fired − due).
//!
//! Needs `BEDSIDE_TEST_DATABASE_URL` (scripts/test.sh sets it from
//! .ci/postgres.sh); skipped with a note otherwise. Size with
//! `BEDSIDE_DRILL_INSTANCES` (default 120).

use bedside_app::audit::{detail, subtype_of};
use bedside_app::{App, AppConfig};
use bedside_store::DocFilter;
use bedside_test_support::postgres::{fresh_schema, test_database_url};
use bedside_test_support::process::{BedsideProcess, Spawn};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_bedside");
/// The escalation step in the drill (the shipped pathway says PT15M).
const STEP_SECS: i64 = 3;

/// The shipped sepsis pathway with its timers shortened.
fn drill_pathway(dir: &Path) -> PathBuf {
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pathways/sepsis-escalation.bpmn");
    let xml = std::fs::read_to_string(shipped).unwrap();
    assert_eq!(
        xml.matches(">PT15M<").count(),
        2,
        "the shipped timers changed"
    );
    let p = dir.join("sepsis-drill.bpmn");
    std::fs::write(&p, xml.replace(">PT15M<", &format!(">PT{STEP_SECS}S<"))).unwrap();
    p
}

/// `bedside serve` on port 0 against `url`, answering `/healthz`.
fn serve(url: &str, pathway: &Path) -> BedsideProcess {
    Spawn::serve(BIN)
        .args(["--database-url", url])
        .arg("--pathway")
        .arg(pathway)
        .start()
        .expect("start bedside serve")
}

fn vars(i: usize) -> Map<String, Value> {
    json!({
        "patient": {"identifiers": [{"system": "urn:drill", "value": format!("MRN-{i}")}],
                    "location": {"reference": "Location/ward-1"}},
        "risk": {"probability": 0.6, "model": "drill 1", "tier": "escalation",
                 "top_factors": [{"name": "lactate", "value": "4 mmol/L", "contribution": 0.1}]},
        "observations": [],
        "allergies": "none recorded",
        "medications": "none recorded",
        "covering_physician": "Practitioner/dr-1"
    })
    .as_object()
    .cloned()
    .unwrap()
}

/// A time detail of a fired timer's AuditEvent.
fn ms(body: &Value, key: &str) -> DateTime<Utc> {
    detail(body, key).unwrap().parse().unwrap()
}

/// Lateness in ms: (count, p50, p99, max).
fn stats(mut v: Vec<i64>) -> (usize, i64, i64, i64) {
    if v.is_empty() {
        return (0, 0, 0, 0);
    }
    v.sort_unstable();
    let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    (v.len(), q(0.5), q(0.99), *v.last().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_killed_fire_every_timer_exactly_once() {
    let Some(base) = test_database_url("two_replicas_one_killed_fire_every_timer_exactly_once")
    else {
        return;
    };
    let n: usize = std::env::var("BEDSIDE_DRILL_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let dir = tempfile::tempdir().unwrap();
    let pathway = drill_pathway(dir.path());
    let url = fresh_schema(&base, "drill").await;
    let config = AppConfig::postgres(url.clone()).pathway(pathway.clone());
    let app = App::open(config).await.expect("open app on postgres");

    // Instances whose first timers fall due over 4 s, starting once the
    // instances are written and both replicas are up (4 s + 8 ms per
    // instance from now); each escalates once more STEP_SECS later.
    let lead = Duration::seconds(4) + Duration::milliseconds(8 * n as i64);
    let t0 = Utc::now() + lead - Duration::seconds(STEP_SECS);
    for i in 0..n {
        let at = t0 + Duration::milliseconds((4000 * i / n) as i64);
        app.start_pathway("sepsis-alert", &format!("drill-{i}"), "k", vars(i), at)
            .await
            .unwrap();
    }
    assert_eq!(app.store.pending_jobs().await.unwrap(), n as u64);

    let a = serve(&url, &pathway);
    let b = serve(&url, &pathway);
    let (pid_a, pid_b) = (a.pid(), b.pid());
    // Kill replica A in the middle of the first wave of timers.
    let kill_at = t0 + Duration::seconds(STEP_SECS) + Duration::milliseconds(2000);
    tokio::time::sleep((kill_at - Utc::now()).to_std().unwrap_or_default()).await;
    a.sigkill();
    let killed = Utc::now();

    // All timers due by t0 + 2 steps + 4 s; a claim A held runs out 5 s
    // after A claimed it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.store.pending_jobs().await.unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "timers still pending after 60 s: {} (lost?)",
            app.store.pending_jobs().await.unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.sigkill();

    let mut fired: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut from = 1;
    loop {
        let page = app.store.audit_entries(from, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        for e in page {
            if subtype_of(&e.body) == Some("pathway-timer-fired") {
                let t = e.body["entity"][0]["what"]["identifier"]["value"]
                    .as_str()
                    .unwrap_or_default();
                fired.entry(t.to_string()).or_default().push(e.body.clone());
            }
        }
    }
    assert_eq!(
        fired.len(),
        2 * n,
        "every instance has two escalation timers"
    );
    let twice: Vec<_> = fired.iter().filter(|(_, v)| v.len() != 1).collect();
    assert!(twice.is_empty(), "timers fired more than once: {twice:?}");
    assert!(
        fired
            .values()
            .all(|v| detail(&v[0], "noop") == Some("false")),
        "a timer fired without effect"
    );

    let by = |pid: u32| {
        fired
            .values()
            .filter(|v| detail(&v[0], "worker_pid") == Some(pid.to_string().as_str()))
            .count()
    };
    let (n_a, n_b) = (by(pid_a), by(pid_b));
    assert_eq!(n_a + n_b, 2 * n, "a timer fired by neither replica");
    assert!(n_b > 0, "the surviving replica fired nothing");

    // Every instance escalated to the rapid response team, nothing else open.
    let open = app.worklist(None, None, None).await.unwrap();
    assert_eq!(open.len(), n, "one open task per instance");
    assert!(open
        .iter()
        .all(|t| t["code"]["coding"][0]["code"] == "Task_RapidResponse"));
    let cancelled = app
        .store
        .count_documents(&DocFilter {
            kind: "Task".into(),
            patient_id: None,
            status: Some("cancelled".into()),
            owner: None,
            since: None,
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(
        cancelled,
        2 * n as u64,
        "nurse and physician tasks cancelled"
    );

    // Lateness, split by whether the timer was due around the kill (a
    // claim held by the killed replica waits for its lease to run out).
    let (mut calm, mut around) = (Vec::new(), Vec::new());
    let retried = fired
        .values()
        .filter(|v| detail(&v[0], "attempts") != Some("1"))
        .count();
    for v in fired.values() {
        let due = ms(&v[0], "due_at");
        let late = (ms(&v[0], "fired_at") - due).num_milliseconds();
        if (due - killed).num_milliseconds().abs() < 1000 || detail(&v[0], "attempts") != Some("1")
        {
            around.push(late);
        } else {
            calm.push(late);
        }
    }
    let (c, p50, p99, max) = stats(calm);
    let (ca, _, _, maxa) = stats(around);
    eprintln!(
        "replica drill: {n} instances, {} timers, each fired once; lateness of {c} timers away \
         from the kill: p50 {p50} ms, p99 {p99} ms, max {max} ms; {ca} timers due within 1 s of \
         the kill or re-claimed ({retried} re-claimed): max {maxa} ms; fired by replica A \
         (killed) {n_a}, by replica B {n_b}",
        2 * n
    );
}
