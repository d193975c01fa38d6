//! Crash drill (issue 9): replay the dev cohort over HTTP (`POST
//! /fhir/$import`, in the event-time chunks of `bedside replay --url`) to
//! `bedside demo --no-replay` (demo model, sepsis and governance pathways,
//! the demo's live alert policy; timers fire on the wall clock), SIGKILL
//! the server at random moments (during a chunk's request or just after
//! it, while pathways and timers run), restart it, and resume from the
//! first chunk not acknowledged. Both runs wait after each chunk until no
//! timer is due (`drain_due`), so timers and data interleave the same way
//! in both. Then, against a clean uninterrupted run of the same replay:
//!
//! - no acknowledged resource is lost: every (type, id) of every chunk
//!   answered 200 is stored, and the stored counts, resources and patient
//!   states equal the clean run's (`bedside digest`);
//! - no duplicate alert or Task: at most one running pathway instance per
//!   patient and pathway, at most one open Task per patient and Task code,
//!   and as many alert decisions, instances and Tasks as the clean run;
//! - every due timer fired: after the last restart no job is left due in
//!   the past, and no timer fired twice (one `pathway-timer-fired` audit
//!   entry per timer);
//! - the audit chain verifies (`bedside audit verify` when the binary has
//!   it, and `bedside_store::verify_chain` over every entry).
//!
//! Long (minutes in release): `#[ignore]`d, run by `bench/crash-drill.sh`.
//! Environment: `BEDSIDE_DRILL_COHORT` (default `../shared/data/dev-cohort`
//! beside the repository), `BEDSIDE_DRILL_KILLS` (20), `BEDSIDE_DRILL_SEED`
//! (default: the clock; printed, so a run can be repeated).

use bedside_app::replay::{read_dir_sorted, replay_chunks};
use bedside_store::{DocFilter, Store, StoreLocation};
use bedside_test_support::process::{self, BedsideProcess, Spawn};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cohort() -> Option<PathBuf> {
    let p = std::env::var_os("BEDSIDE_DRILL_COHORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data/dev-cohort"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: no cohort at {}", p.display());
        None
    }
}

/// xorshift64*: twenty reproducible draws from a printed seed need no
/// dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `bedside demo --no-replay` on port 0 with `data` (demo model, pathways
/// and policy from the repository), answering `/healthz`.
fn start(data: &Path) -> BedsideProcess {
    Spawn::demo(BIN)
        .arg("--no-replay")
        .data_dir(data)
        .start()
        .expect("start bedside demo")
}

async fn post_chunk(client: &reqwest::Client, base: &str, body: Vec<u8>) -> Result<(), String> {
    let r = client
        .post(format!("{base}/fhir/$import"))
        .header("content-type", "application/fhir+ndjson")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let text = r.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", &text[..text.len().min(300)]))
    }
}

/// Job queue depth from `/metrics` (None when the server does not answer).
async fn queue_depth(client: &reqwest::Client, base: &str) -> Option<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("bedside_job_queue_depth"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// Wait until the job queue has been steady for 3 s (timers due in the
/// past have fired), at least the timer lease, at most 120 s.
async fn settle(client: &reqwest::Client, base: &str) {
    let start = Instant::now();
    let mut last = None;
    let mut steady_since = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    while start.elapsed() < Duration::from_secs(120) {
        let d = queue_depth(client, base).await;
        if d != last {
            last = d;
            steady_since = Instant::now();
        } else if steady_since.elapsed() >= Duration::from_secs(3) {
            return;
        }
        // /metrics reads the record: once a second is enough.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn open(data: &Path) -> Arc<dyn Store> {
    bedside_store::open(&StoreLocation::Sqlite {
        data_dir: data.to_path_buf(),
    })
    .await
    .expect("open the drill's store")
}

/// Wait until no timer is due (at most 30 s): the server's timers run on
/// the wall clock, on which every timer of a 2024 cohort is due at once,
/// so without this a timer firing before or after the next chunk would be
/// a race of two clocks, and two clean runs could differ in the Tasks
/// that race decides (e.g. escalating before the lactate of the next
/// chunk arrives). With it, both runs fire every timer due after chunk k
/// before chunk k+1 is sent; a timer claimed by a killed server fires
/// when its lease runs out.
async fn drain_due(store: &dyn Store) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        match store.next_due().await {
            Ok(Some(due)) if due <= chrono::Utc::now() => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            _ => return,
        }
    }
}

async fn docs(store: &dyn Store, kind: &str) -> Vec<bedside_store::Document> {
    store
        .list_documents(&DocFilter {
            kind: kind.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The timer id of a `pathway-timer-fired` AuditEvent (its entity
/// `urn:bedside:pathway-timer`), else `None`.
fn fired_timer(body: &Value) -> Option<&str> {
    if bedside_app::audit::subtype_of(body) != Some("pathway-timer-fired") {
        return None;
    }
    body["entity"].as_array()?.iter().find_map(|e| {
        let id = &e["what"]["identifier"];
        (id["system"] == "urn:bedside:pathway-timer")
            .then(|| id["value"].as_str())
            .flatten()
    })
}

/// What the checks compare between the clean and the drilled run.
#[derive(Debug, PartialEq)]
struct Outcome {
    counts: BTreeMap<String, u64>,
    instances: usize,
    tasks: usize,
    alert_decisions: usize,
    timers_fired: usize,
}

/// The invariants of one finished store; returns what is compared.
async fn check(store: &dyn Store, stopped_at: chrono::DateTime<chrono::Utc>) -> Outcome {
    // One running instance per patient and pathway (one open alert).
    let instances = docs(store, "pathway_instance").await;
    let mut running: BTreeMap<(String, String), u32> = BTreeMap::new();
    for d in &instances {
        if d.status.as_deref() == Some("running") {
            let def = d.body["definition_id"].as_str().unwrap_or("").to_string();
            *running
                .entry((d.patient_id.clone().unwrap_or_default(), def))
                .or_default() += 1;
        }
    }
    for (k, n) in &running {
        assert_eq!(*n, 1, "{n} running instances of {k:?}: a duplicate alert");
    }
    // One open Task per patient and Task code.
    let tasks = docs(store, "Task").await;
    let mut open: BTreeMap<(String, String), u32> = BTreeMap::new();
    for t in &tasks {
        if matches!(
            t.status.as_deref(),
            Some("requested" | "accepted" | "in-progress" | "received" | "ready")
        ) {
            let code = t.body["code"].to_string();
            *open
                .entry((t.patient_id.clone().unwrap_or_default(), code))
                .or_default() += 1;
        }
    }
    for (k, n) in &open {
        assert_eq!(*n, 1, "{n} open Tasks for {k:?}: a duplicate Task");
    }
    let alert_decisions = docs(store, "decision")
        .await
        .iter()
        .filter(|d| d.status.as_deref() == Some("alert"))
        .count();
    // Every due timer fired: none left due before the server stopped.
    if let Some(due) = store.next_due().await.unwrap() {
        assert!(
            due > stopped_at,
            "a job due at {due} was still pending when the server stopped at {stopped_at}"
        );
    }
    // The audit chain verifies; no timer fired twice.
    let mut entries = Vec::new();
    loop {
        let from = entries
            .last()
            .map_or(1, |e: &bedside_store::AuditEntry| e.seq + 1);
        let page = store.audit_entries(from, 10_000).await.unwrap();
        if page.is_empty() {
            break;
        }
        entries.extend(page);
    }
    bedside_store::verify_chain(&entries).expect("the audit chain verifies");
    let mut fired = BTreeSet::new();
    for e in &entries {
        if let Some(t) = fired_timer(&e.body) {
            assert!(fired.insert(t.to_string()), "timer {t} fired twice");
        }
    }
    Outcome {
        counts: store.count_resources().await.unwrap(),
        instances: instances.len(),
        tasks: tasks.len(),
        alert_decisions,
        timers_fired: fired.len(),
    }
}

/// `bedside audit verify` when the binary has it (else: only the in-process
/// check above).
fn audit_verify_cli(data: &Path) -> &'static str {
    let has = Command::new(BIN)
        .args(["audit", "verify", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        return "not in this binary (checked in process)";
    }
    let out = Command::new(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bedside audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    "exit 0"
}

/// (type, id) of an NDJSON line.
fn key(line: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(line).ok()?;
    Some((
        v["resourceType"].as_str()?.to_string(),
        v["id"].as_str()?.to_string(),
    ))
}

#[test]
#[ignore = "minutes long; run by bench/crash-drill.sh"]
fn sigkill_at_random_moments_loses_nothing_duplicates_nothing() {
    let Some(dir) = cohort() else { return };
    let kills: usize = std::env::var("BEDSIDE_DRILL_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("BEDSIDE_DRILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lines = read_dir_sorted(&dir).expect("read the cohort");
    let chunks: Vec<Vec<u8>> = replay_chunks(&lines)
        .into_iter()
        .map(|c| {
            let mut b = Vec::new();
            for l in c {
                b.extend_from_slice(&l.bytes);
                b.push(b'\n');
            }
            b
        })
        .collect();
    let keys: Vec<Vec<(String, String)>> = replay_chunks(&lines)
        .into_iter()
        .map(|c| c.iter().filter_map(|l| key(&l.bytes)).collect())
        .collect();
    drop(lines);
    let client = reqwest::Client::new();
    println!(
        "crash drill: {} lines in {} chunks, {kills} kills, seed {seed}",
        keys.iter().map(Vec::len).sum::<usize>(),
        chunks.len()
    );

    // --- the clean, uninterrupted run ----------------------------------
    let clean = tempfile::tempdir().unwrap();
    let s = start(clean.path());
    let t0 = Instant::now();
    let mut chunk_ms = Vec::with_capacity(chunks.len());
    rt.block_on(async {
        let watch = open(clean.path()).await;
        for c in &chunks {
            let t = Instant::now();
            post_chunk(&client, &s.base, c.clone())
                .await
                .expect("clean import");
            chunk_ms.push(t.elapsed().as_millis() as u64);
            drain_due(&*watch).await;
        }
        settle(&client, &s.base).await;
    });
    let clean_secs = t0.elapsed().as_secs_f64();
    let stopped = chrono::Utc::now();
    s.terminate();
    let want_digest = process::digest(BIN, clean.path());
    let want = rt.block_on(async { check(&*open(clean.path()).await, stopped).await });
    chunk_ms.sort_unstable();
    let p90 = chunk_ms[chunk_ms.len() * 9 / 10].max(1);
    println!("clean run: {clean_secs:.1} s, chunk p90 {p90} ms; {want:?}");
    assert!(
        want.timers_fired > 0,
        "the clean run fired no timer: the drill would not test timers"
    );

    // --- the drilled run -------------------------------------------------
    let mut rng = Rng(seed);
    let mut at: BTreeSet<usize> = BTreeSet::new();
    while at.len() < kills.min(chunks.len().saturating_sub(1)) {
        at.insert(1 + rng.below(chunks.len() as u64 - 1) as usize);
    }
    let drill = tempfile::tempdir().unwrap();
    let mut acked = vec![false; chunks.len()];
    let (mut in_flight, mut after_ack) = (0, 0);
    let t0 = Instant::now();
    let s = rt.block_on(async {
        let mut s = start(drill.path());
        let watch = open(drill.path()).await;
        let mut i = 0;
        while i < chunks.len() {
            if !at.remove(&i) {
                post_chunk(&client, &s.base, chunks[i].clone())
                    .await
                    .expect("import");
                acked[i] = true;
                i += 1;
                drain_due(&*watch).await;
                continue;
            }
            // Kill somewhere within twice a slow chunk's time from its send:
            // mid-request, or after the answer while timers run.
            let base = s.base.clone();
            let c = client.clone();
            let body = chunks[i].clone();
            let req = tokio::spawn(async move { post_chunk(&c, &base, body).await });
            tokio::time::sleep(Duration::from_millis(rng.below(2 * p90 + 1))).await;
            let done_before = req.is_finished();
            s.sigkill();
            let r = req.await.unwrap();
            if r.is_ok() {
                acked[i] = true;
                i += 1;
            }
            if done_before && r.is_ok() {
                after_ack += 1;
            } else {
                in_flight += 1;
            }
            s = start(drill.path());
            drain_due(&*watch).await;
        }
        settle(&client, &s.base).await;
        s
    });
    let drill_secs = t0.elapsed().as_secs_f64();
    let stopped = chrono::Utc::now();
    s.terminate();
    let got_digest = process::digest(BIN, drill.path());
    let store = rt.block_on(open(drill.path()));
    let got = rt.block_on(check(&*store, stopped));
    // Every acknowledged line is stored.
    let mut missing = Vec::new();
    let mut acked_lines = 0usize;
    rt.block_on(async {
        for (i, ks) in keys.iter().enumerate() {
            if !acked[i] {
                continue;
            }
            for (t, id) in ks {
                acked_lines += 1;
                let k = bedside_store::ResourceKey {
                    rtype: t.clone(),
                    id: id.clone(),
                };
                if store.get_resource(&k).await.unwrap().is_none() {
                    missing.push(format!("{t}/{id}"));
                }
            }
        }
    });
    drop(store);
    let audit_cli = audit_verify_cli(drill.path());
    println!(
        "drilled run: {drill_secs:.1} s, {} kills ({in_flight} with the chunk in flight, {after_ack} after its answer), {} restarts",
        in_flight + after_ack,
        in_flight + after_ack
    );
    println!("drilled run: {got:?}");
    println!(
        "acknowledged lines {acked_lines}, missing {}; digest equal: {}; bedside audit verify: {audit_cli}",
        missing.len(),
        got_digest == want_digest
    );
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {:?}",
        &missing[..missing.len().min(20)]
    );
    assert_eq!(
        got_digest, want_digest,
        "resources and states differ from the clean run"
    );
    assert_eq!(
        got, want,
        "alerts, instances, Tasks or timers differ from the clean run"
    );
}
