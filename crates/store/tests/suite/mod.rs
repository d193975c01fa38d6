//! The one store test suite, run against every engine (tests/sqlite.rs,
//! tests/postgres.rs). Each test gets a fresh, empty store location.

#![allow(dead_code)]

use async_trait::async_trait;
use bedside_core::Instant;
use bedside_store::{
    audit_hash, verify_chain, ChainError, Commit, DocFilter, Document, NewJob, ResourceKey,
    ResourceWrite, StateWrite, Store, StoreError, VersionInfo, GENESIS_HASH,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One test's store location on one engine.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Open (or reopen) the store; every call is a new handle, like a
    /// restart or another replica.
    async fn open(&self) -> Arc<dyn Store>;
    /// Run raw SQL on the database behind the store (to tamper with it).
    async fn raw(&self, sql: &str) -> u64;
}

/// Expands to one `#[tokio::test]` per suite test, each calling
/// `$make().await` for a harness (`None` = skip).
macro_rules! store_suite {
    ($make:path) => {
        store_suite!(@tests $make;
            upsert_is_idempotent_and_replaces,
            counts_and_paging_by_type,
            resources_for_patient_ordered_by_event_time,
            versions_of_many_keys,
            state_compare_and_set,
            conflict_rolls_back_whole_commit,
            concurrent_state_writers_serialize,
            documents_filter_order_limit,
            job_dedupe,
            jobs_due_pending_next,
            claim_is_exclusive_across_replicas,
            lease_expiry_allows_reclaim,
            complete_job_is_atomic,
            audit_chain_links_and_verifies,
            audit_detects_modification,
            audit_detects_deletion,
            audit_detects_reordering,
            concurrent_audit_appends_stay_linear,
            reopen_keeps_data,
            migrations_twice_are_harmless,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(h) = $make().await {
                    suite::$name(&h).await;
                }
            }
        )*
    };
}
pub(crate) use store_suite;

// ---------------------------------------------------------------- helpers

/// A fixed instant, `secs` after 2026-03-01T00:00:00Z, with microseconds.
pub fn t(secs: i64) -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
        + Duration::seconds(secs)
        + Duration::microseconds(123_456)
}

pub fn key(rtype: &str, id: &str) -> ResourceKey {
    ResourceKey {
        rtype: rtype.into(),
        id: id.into(),
    }
}

pub fn res(
    rtype: &str,
    id: &str,
    patient: Option<&str>,
    at: Option<Instant>,
    version: &str,
) -> ResourceWrite {
    let body = json!({"resourceType": rtype, "id": id, "meta": {"versionId": version}}).to_string();
    ResourceWrite {
        key: key(rtype, id),
        version: VersionInfo {
            version_id: Some(version.into()),
            last_updated: Some("2026-03-01T00:00:00Z".into()),
            hash: format!("{rtype}-{id}-{version}"),
        },
        patient_id: patient.map(Into::into),
        event_time: at,
        body,
    }
}

pub fn doc(
    kind: &str,
    id: &str,
    patient: &str,
    status: &str,
    owner: &str,
    created: i64,
) -> Document {
    Document {
        kind: kind.into(),
        id: id.into(),
        patient_id: Some(patient.into()),
        status: Some(status.into()),
        owner: Some(owner.into()),
        created_at: t(created),
        updated_at: t(created + 1),
        body: json!({"id": id, "risk": 0.731_f64, "nested": {"b": [1, 2.5, null], "a": "é"}}),
    }
}

pub fn job(kind: &str, due: Instant, dedupe: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.into(),
        due_at: due,
        dedupe_key: dedupe.map(Into::into),
        payload: json!({"kind": kind, "x": 1.25}),
    }
}

fn state(patient: &str, expected: i64, bytes: &[u8]) -> StateWrite {
    StateWrite {
        patient_id: patient.into(),
        expected,
        state: bytes.to_vec(),
    }
}

fn commit_resources(rs: Vec<ResourceWrite>) -> Commit {
    Commit {
        resources: rs,
        ..Commit::default()
    }
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

async fn all_audit(s: &dyn Store) -> Vec<bedside_store::AuditEntry> {
    s.audit_entries(1, 100_000).await.expect("audit entries")
}

// ------------------------------------------------------------------ tests

pub async fn upsert_is_idempotent_and_replaces(h: &dyn Harness) {
    let s = h.open().await;
    let a1 = res("Observation", "a", Some("p1"), Some(t(10)), "1");
    s.commit(commit_resources(vec![a1.clone()])).await.unwrap();
    s.commit(commit_resources(vec![a1.clone()])).await.unwrap();
    assert_eq!(
        s.count_resources().await.unwrap().get("Observation"),
        Some(&1)
    );
    let got = s
        .get_resource(&key("Observation", "a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body, a1.body);
    assert_eq!(got.version, a1.version);
    assert_eq!(got.event_time, Some(t(10)));
    assert_eq!(got.patient_id.as_deref(), Some("p1"));

    // A new version replaces the old one, including the indexed columns.
    let a2 = res("Observation", "a", Some("p2"), None, "2");
    s.commit(commit_resources(vec![a2.clone()])).await.unwrap();
    let got = s
        .get_resource(&key("Observation", "a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.version.version_id.as_deref(), Some("2"));
    assert_eq!(got.body, a2.body);
    assert_eq!(got.event_time, None);
    assert!(s
        .resources_for_patient("Observation", "p1")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.resources_for_patient("Observation", "p2")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.count_resources().await.unwrap().get("Observation"),
        Some(&1)
    );

    // The same key twice in one commit: the last write wins.
    let b1 = res("Condition", "b", None, None, "1");
    let b2 = res("Condition", "b", None, None, "2");
    s.commit(commit_resources(vec![b1, b2.clone()]))
        .await
        .unwrap();
    assert_eq!(
        s.get_resource(&key("Condition", "b"))
            .await
            .unwrap()
            .unwrap()
            .body,
        b2.body
    );
    assert!(s
        .get_resource(&key("Condition", "zzz"))
        .await
        .unwrap()
        .is_none());
}

pub async fn counts_and_paging_by_type(h: &dyn Harness) {
    let s = h.open().await;
    // Byte order: "B" < "a" < "a10" < "a2" < "b".
    let ids = ["a2", "b", "a10", "B", "a"];
    let mut rs: Vec<_> = ids
        .iter()
        .map(|id| res("Observation", id, None, None, "1"))
        .collect();
    rs.push(res("Condition", "c1", None, None, "1"));
    rs.push(res("Condition", "c2", None, None, "1"));
    s.commit(commit_resources(rs)).await.unwrap();

    let counts = s.count_resources().await.unwrap();
    let expected: BTreeMap<String, u64> =
        [("Condition".to_string(), 2), ("Observation".to_string(), 5)].into();
    assert_eq!(counts, expected);

    let page1 = s.resources_of_type("Observation", None, 2).await.unwrap();
    let ids1: Vec<_> = page1.iter().map(|r| r.key.id.as_str()).collect();
    assert_eq!(ids1, ["B", "a"]);
    let page2 = s
        .resources_of_type("Observation", Some("a"), 2)
        .await
        .unwrap();
    let ids2: Vec<_> = page2.iter().map(|r| r.key.id.as_str()).collect();
    assert_eq!(ids2, ["a10", "a2"]);
    let page3 = s
        .resources_of_type("Observation", Some("a2"), 2)
        .await
        .unwrap();
    let ids3: Vec<_> = page3.iter().map(|r| r.key.id.as_str()).collect();
    assert_eq!(ids3, ["b"]);
    assert!(s
        .resources_of_type("Observation", Some("b"), 2)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .resources_of_type("Patient", None, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn resources_for_patient_ordered_by_event_time(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(commit_resources(vec![
        res("Observation", "late", Some("p1"), Some(t(300)), "1"),
        res("Observation", "none", Some("p1"), None, "1"),
        res("Observation", "early", Some("p1"), Some(t(-100)), "1"),
        res("Observation", "mid", Some("p1"), Some(t(5)), "1"),
        res("Observation", "other", Some("p2"), Some(t(1)), "1"),
        res("Condition", "cond", Some("p1"), Some(t(2)), "1"),
    ]))
    .await
    .unwrap();
    let got = s.resources_for_patient("Observation", "p1").await.unwrap();
    let ids: Vec<_> = got.iter().map(|r| r.key.id.as_str()).collect();
    assert_eq!(ids, ["early", "mid", "late", "none"]);
    assert_eq!(got[0].event_time, Some(t(-100)));
}

pub async fn versions_of_many_keys(h: &dyn Harness) {
    let s = h.open().await;
    let mut rs = Vec::new();
    for i in 0..1200 {
        let rtype = if i % 3 == 0 {
            "Condition"
        } else {
            "Observation"
        };
        rs.push(res(
            rtype,
            &format!("r{i}"),
            Some("p"),
            Some(t(i)),
            &format!("v{i}"),
        ));
    }
    s.commit(commit_resources(rs.clone())).await.unwrap();
    let mut keys: Vec<_> = rs.iter().map(|r| r.key.clone()).collect();
    for i in 0..100 {
        keys.push(key("Observation", &format!("missing{i}")));
    }
    keys.push(rs[0].key.clone()); // duplicates are fine
    let got = s.versions(&keys).await.unwrap();
    assert_eq!(got.len(), 1200);
    for r in &rs {
        assert_eq!(got.get(&r.key), Some(&r.version), "{:?}", r.key);
    }
    assert!(s.versions(&[]).await.unwrap().is_empty());
}

pub async fn state_compare_and_set(h: &dyn Harness) {
    let s = h.open().await;
    let ids = vec!["p1".to_string(), "p2".to_string()];
    assert!(s.load_states(&ids).await.unwrap().is_empty());

    let c = |w: StateWrite| Commit {
        states: vec![w],
        ..Commit::default()
    };
    s.commit(c(state("p1", 0, b"one"))).await.unwrap();
    let got = s.load_states(&ids).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got["p1"].version, 1);
    assert_eq!(got["p1"].state, b"one");

    s.commit(c(state("p1", 1, b"two"))).await.unwrap();
    assert!(is_conflict(&s.commit(c(state("p1", 1, b"stale"))).await));
    assert!(is_conflict(&s.commit(c(state("p1", 0, b"again"))).await));
    assert!(is_conflict(&s.commit(c(state("p3", 4, b"never"))).await));
    let got = s.load_states(&ids).await.unwrap();
    assert_eq!(got["p1"].version, 2);
    assert_eq!(got["p1"].state, b"two");

    // Two writes of one patient in one commit apply in order.
    s.commit(Commit {
        states: vec![state("p2", 0, b"a"), state("p2", 1, b"b")],
        ..Commit::default()
    })
    .await
    .unwrap();
    let got = s.load_states(&ids).await.unwrap();
    assert_eq!(
        (got["p2"].version, got["p2"].state.as_slice()),
        (2, &b"b"[..])
    );
    assert_eq!(s.state_patient_ids().await.unwrap(), ids);
}

pub async fn conflict_rolls_back_whole_commit(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(Commit {
        states: vec![state("p1", 0, b"v1")],
        ..Commit::default()
    })
    .await
    .unwrap();
    let bad = Commit {
        resources: vec![res("Observation", "o1", Some("p1"), Some(t(1)), "1")],
        states: vec![state("p0", 0, b"fresh"), state("p1", 0, b"conflicts")],
        documents: vec![doc("alert", "a1", "p1", "open", "dr", 1)],
        jobs: vec![job("timer", t(0), Some("k1"))],
        audit: vec![json!({"event": "should not be written"})],
    };
    let r = s.commit(bad).await;
    assert!(is_conflict(&r), "{r:?}");
    assert!(s.count_resources().await.unwrap().is_empty());
    assert!(s
        .get_resource(&key("Observation", "o1"))
        .await
        .unwrap()
        .is_none());
    let states = s.load_states(&["p0".into(), "p1".into()]).await.unwrap();
    assert!(
        !states.contains_key("p0"),
        "state of p0 written by a failed commit"
    );
    assert_eq!(states["p1"].state, b"v1");
    assert!(s.get_document("alert", "a1").await.unwrap().is_none());
    assert_eq!(s.pending_jobs().await.unwrap(), 0);
    assert!(all_audit(&*s).await.is_empty());

    // The dedupe key of the rolled-back job is free again.
    s.commit(Commit {
        jobs: vec![job("timer", t(0), Some("k1"))],
        ..Commit::default()
    })
    .await
    .unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 1);
}

pub async fn concurrent_state_writers_serialize(h: &dyn Harness) {
    let replicas = [h.open().await, h.open().await];
    let mut tasks = Vec::new();
    for i in 0..4 {
        let s = replicas[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            let mut conflicts = 0;
            while done < 10 {
                let cur = s.load_states(&["counter".to_string()]).await.unwrap();
                let (version, n) = match cur.get("counter") {
                    Some(row) => (
                        row.version,
                        u64::from_le_bytes(row.state.clone().try_into().unwrap()),
                    ),
                    None => (0, 0),
                };
                let w = state("counter", version, &(n + 1).to_le_bytes());
                match s
                    .commit(Commit {
                        states: vec![w],
                        ..Commit::default()
                    })
                    .await
                {
                    Ok(()) => done += 1,
                    Err(StoreError::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            conflicts
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let row = replicas[0]
        .load_states(&["counter".to_string()])
        .await
        .unwrap()["counter"]
        .clone();
    assert_eq!(row.version, 40);
    assert_eq!(
        u64::from_le_bytes(row.state.try_into().unwrap()),
        40,
        "lost update"
    );
}

pub async fn documents_filter_order_limit(h: &dyn Harness) {
    let s = h.open().await;
    let docs = vec![
        doc("alert", "a3", "p1", "open", "dr-a", 30),
        doc("alert", "a1", "p1", "open", "dr-b", 10),
        doc("alert", "a2", "p2", "closed", "dr-a", 20),
        doc("alert", "a0", "p2", "open", "dr-a", 20), // same time as a2: id breaks the tie
        doc("card", "c1", "p1", "open", "dr-a", 5),
    ];
    s.commit(Commit {
        documents: docs.clone(),
        ..Commit::default()
    })
    .await
    .unwrap();
    let f = |patch: fn(&mut DocFilter)| {
        let mut f = DocFilter {
            kind: "alert".into(),
            ..DocFilter::default()
        };
        patch(&mut f);
        f
    };
    let ids = |v: Vec<Document>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();

    assert_eq!(
        ids(s.list_documents(&f(|_| {})).await.unwrap()),
        ["a1", "a0", "a2", "a3"]
    );
    assert_eq!(s.count_documents(&f(|_| {})).await.unwrap(), 4);
    assert_eq!(
        ids(s
            .list_documents(&f(|f| f.patient_id = Some("p1".into())))
            .await
            .unwrap()),
        ["a1", "a3"]
    );
    assert_eq!(
        ids(s
            .list_documents(&f(|f| f.status = Some("open".into())))
            .await
            .unwrap()),
        ["a1", "a0", "a3"]
    );
    assert_eq!(
        ids(s
            .list_documents(&f(|f| f.owner = Some("dr-a".into())))
            .await
            .unwrap()),
        ["a0", "a2", "a3"]
    );
    assert_eq!(
        ids(s
            .list_documents(&f(|f| f.since = Some(t(20))))
            .await
            .unwrap()),
        ["a0", "a2", "a3"]
    );
    assert_eq!(
        ids(s.list_documents(&f(|f| f.limit = Some(2))).await.unwrap()),
        ["a1", "a0"]
    );
    let combined = f(|f| {
        f.status = Some("open".into());
        f.owner = Some("dr-a".into());
        f.limit = Some(1);
    });
    assert_eq!(ids(s.list_documents(&combined).await.unwrap()), ["a0"]);
    assert_eq!(
        s.count_documents(&combined).await.unwrap(),
        2,
        "count ignores limit"
    );
    assert_eq!(
        s.count_documents(&f(|f| f.patient_id = Some("nobody".into())))
            .await
            .unwrap(),
        0
    );

    // Round trip, then replace by (kind, id).
    assert_eq!(
        s.get_document("alert", "a1").await.unwrap().as_ref(),
        Some(&docs[1])
    );
    let mut changed = docs[1].clone();
    changed.status = Some("closed".into());
    changed.body = json!({"closed_by": "dr-b"});
    s.commit(Commit {
        documents: vec![changed.clone()],
        ..Commit::default()
    })
    .await
    .unwrap();
    assert_eq!(s.get_document("alert", "a1").await.unwrap(), Some(changed));
    assert_eq!(
        ids(s
            .list_documents(&f(|f| f.status = Some("open".into())))
            .await
            .unwrap()),
        ["a0", "a3"]
    );
    assert!(s.get_document("card", "a1").await.unwrap().is_none());
}

pub async fn job_dedupe(h: &dyn Harness) {
    let s = h.open().await;
    let jobs = |v: Vec<NewJob>| Commit {
        jobs: v,
        ..Commit::default()
    };
    s.commit(jobs(vec![
        job("timer", t(0), Some("k")),
        job("timer", t(5), Some("k")),
    ]))
    .await
    .unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 1);
    s.commit(jobs(vec![job("timer", t(9), Some("k"))]))
        .await
        .unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 1);
    assert_eq!(
        s.next_due().await.unwrap(),
        Some(t(0)),
        "the first scheduling wins"
    );

    // Once done, the key still blocks re-scheduling.
    let claimed = s.claim_jobs(t(0), 10, 60).await.unwrap();
    assert_eq!(claimed.len(), 1);
    s.complete_job(claimed[0].id, Commit::default())
        .await
        .unwrap();
    s.commit(jobs(vec![job("timer", t(0), Some("k"))]))
        .await
        .unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 0);

    // Jobs without a key are never deduplicated.
    s.commit(jobs(vec![job("x", t(1), None), job("x", t(1), None)]))
        .await
        .unwrap();
    s.commit(jobs(vec![job("x", t(1), None)])).await.unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 3);
}

pub async fn jobs_due_pending_next(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(s.next_due().await.unwrap(), None);
    assert!(s.claim_jobs(t(0), 10, 60).await.unwrap().is_empty());
    s.commit(Commit {
        jobs: vec![
            job("b", t(20), None),
            job("a", t(10), Some("a")),
            job("c", t(30), None),
        ],
        ..Commit::default()
    })
    .await
    .unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 3);
    assert_eq!(s.next_due().await.unwrap(), Some(t(10)));
    assert!(
        s.claim_jobs(t(9), 10, 60).await.unwrap().is_empty(),
        "nothing due yet"
    );

    let got = s.claim_jobs(t(20), 10, 60).await.unwrap();
    let kinds: Vec<_> = got.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["a", "b"], "due jobs in due order");
    assert_eq!(got[0].due_at, t(10));
    assert_eq!(got[0].dedupe_key.as_deref(), Some("a"));
    assert_eq!(got[0].payload, json!({"kind": "a", "x": 1.25}));
    assert_eq!(got[0].attempts, 1);
    // Claimed jobs are still pending until completed.
    assert_eq!(s.pending_jobs().await.unwrap(), 3);
    s.complete_job(got[0].id, Commit::default()).await.unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 2);
    assert_eq!(s.next_due().await.unwrap(), Some(t(20)));

    // The limit is honoured.
    let got = s.claim_jobs(t(70), 1, 60).await.unwrap(); // "b" is leased until t(80)
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kind, "c");
}

pub async fn claim_is_exclusive_across_replicas(h: &dyn Harness) {
    let replicas = [h.open().await, h.open().await];
    let n = 300;
    let all: Vec<NewJob> = (0..n)
        .map(|i| job("fire", t(i % 7), Some(&format!("j{i}"))))
        .collect();
    replicas[0]
        .commit(Commit {
            jobs: all,
            ..Commit::default()
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = replicas[w % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s.claim_jobs(t(100), 7, 3600).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|j| j.id));
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "job {id} handed to two claimers");
        }
    }
    assert_eq!(total, n as usize);
    assert_eq!(seen.len(), n as usize);
}

pub async fn lease_expiry_allows_reclaim(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(Commit {
        jobs: vec![job("timer", t(0), Some("lease"))],
        ..Commit::default()
    })
    .await
    .unwrap();
    let first = s.claim_jobs(t(0), 10, 60).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts, 1);
    assert!(
        s.claim_jobs(t(30), 10, 60).await.unwrap().is_empty(),
        "lease still held"
    );
    assert!(
        s.claim_jobs(t(59), 10, 60).await.unwrap().is_empty(),
        "lease still held"
    );
    let again = s.claim_jobs(t(61), 10, 60).await.unwrap();
    assert_eq!(again.len(), 1, "expired lease must be claimable");
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].attempts, 2);

    // The first worker's late completion loses to whoever completes first.
    s.complete_job(again[0].id, Commit::default())
        .await
        .unwrap();
    let late = s
        .complete_job(
            first[0].id,
            Commit {
                audit: vec![json!({"late": true})],
                ..Commit::default()
            },
        )
        .await;
    assert!(is_conflict(&late), "{late:?}");
    assert!(all_audit(&*s).await.is_empty());
    assert!(
        s.claim_jobs(t(1000), 10, 60).await.unwrap().is_empty(),
        "done jobs are never claimed"
    );
}

pub async fn complete_job_is_atomic(h: &dyn Harness) {
    let s = h.open().await;
    s.commit(Commit {
        jobs: vec![
            job("timer", t(0), Some("escalate")),
            job("timer", t(0), Some("other")),
        ],
        states: vec![state("p1", 0, b"v1")],
        ..Commit::default()
    })
    .await
    .unwrap();
    let claimed = s.claim_jobs(t(0), 10, 60).await.unwrap();
    assert_eq!(claimed.len(), 2);

    // Effects that conflict: neither the effects nor the completion land.
    let bad = Commit {
        documents: vec![doc("task", "t1", "p1", "open", "nurse", 1)],
        states: vec![state("p1", 0, b"conflict")],
        jobs: vec![job("timer", t(600), Some("followup"))],
        ..Commit::default()
    };
    assert!(is_conflict(&s.complete_job(claimed[0].id, bad).await));
    assert!(s.get_document("task", "t1").await.unwrap().is_none());
    assert_eq!(s.pending_jobs().await.unwrap(), 2, "job must stay pending");

    // Effects that apply: all land with the completion.
    let good = Commit {
        documents: vec![doc("task", "t1", "p1", "open", "nurse", 1)],
        states: vec![state("p1", 1, b"v2")],
        jobs: vec![job("timer", t(600), Some("followup"))],
        audit: vec![json!({"event": "escalated"})],
        ..Commit::default()
    };
    s.complete_job(claimed[0].id, good).await.unwrap();
    assert!(s.get_document("task", "t1").await.unwrap().is_some());
    assert_eq!(
        s.load_states(&["p1".into()]).await.unwrap()["p1"].version,
        2
    );
    assert_eq!(
        s.pending_jobs().await.unwrap(),
        2,
        "one done, one follow-up added"
    );
    assert_eq!(all_audit(&*s).await.len(), 1);

    // Completing twice is a conflict and writes nothing.
    let twice = s
        .complete_job(
            claimed[0].id,
            Commit {
                documents: vec![doc("task", "t2", "p1", "open", "nurse", 2)],
                ..Commit::default()
            },
        )
        .await;
    assert!(is_conflict(&twice), "{twice:?}");
    assert!(s.get_document("task", "t2").await.unwrap().is_none());
    assert!(
        is_conflict(&s.complete_job(987_654, Commit::default()).await),
        "unknown job"
    );
}

async fn write_audit(s: &dyn Store, bodies: Vec<serde_json::Value>) {
    s.commit(Commit {
        audit: bodies,
        ..Commit::default()
    })
    .await
    .unwrap();
}

pub async fn audit_chain_links_and_verifies(h: &dyn Harness) {
    let s = h.open().await;
    let before = Utc::now() - Duration::seconds(5);
    write_audit(
        &*s,
        vec![json!({"event": "a", "risk": 0.123_456_789_012_345_67})],
    )
    .await;
    write_audit(
        &*s,
        vec![
            json!({"z": 1, "a": {"y": [1, 2], "b": "ü"}}),
            json!("plain"),
            json!(null),
        ],
    )
    .await;
    write_audit(&*s, vec![json!({"event": "c", "x": 1e-7})]).await;
    let e = all_audit(&*s).await;
    assert_eq!(e.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(e[0].prev_hash, GENESIS_HASH);
    for w in e.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    for x in &e {
        assert_eq!(
            x.hash,
            audit_hash(&x.prev_hash, x.seq, x.recorded_at, &x.body)
        );
        assert!(x.recorded_at >= before && x.recorded_at <= Utc::now() + Duration::seconds(5));
    }
    assert_eq!(e[1].body, json!({"a": {"b": "ü", "y": [1, 2]}, "z": 1}));
    assert_eq!(e[0].body["risk"].as_f64(), Some(0.123_456_789_012_345_67));
    assert_eq!(verify_chain(&e), Ok(()));

    // Paging.
    let page = s.audit_entries(2, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(verify_chain(&page), Ok(()));
    assert!(s.audit_entries(6, 10).await.unwrap().is_empty());
}

pub async fn audit_detects_modification(h: &dyn Harness) {
    let s = h.open().await;
    write_audit(&*s, (0..5).map(|i| json!({"n": i})).collect()).await;
    assert_eq!(verify_chain(&all_audit(&*s).await), Ok(()));
    assert_eq!(
        h.raw(r#"UPDATE audit SET body = '{"n":99}' WHERE seq = 3"#)
            .await,
        1
    );
    assert_eq!(
        verify_chain(&all_audit(&*s).await),
        Err(ChainError::Modified { seq: 3 })
    );
}

pub async fn audit_detects_deletion(h: &dyn Harness) {
    let s = h.open().await;
    write_audit(&*s, (0..5).map(|i| json!({"n": i})).collect()).await;
    assert_eq!(h.raw("DELETE FROM audit WHERE seq = 2").await, 1);
    assert_eq!(
        verify_chain(&all_audit(&*s).await),
        Err(ChainError::Sequence {
            prev: 1,
            expected: 2,
            found: 3
        })
    );
}

pub async fn audit_detects_reordering(h: &dyn Harness) {
    let s = h.open().await;
    write_audit(&*s, (0..5).map(|i| json!({"n": i})).collect()).await;
    h.raw("UPDATE audit SET seq = -1 WHERE seq = 2").await;
    h.raw("UPDATE audit SET seq = 2 WHERE seq = 3").await;
    h.raw("UPDATE audit SET seq = 3 WHERE seq = -1").await;
    let err = verify_chain(&all_audit(&*s).await).unwrap_err();
    assert_eq!(err.seq(), 2, "{err}");
}

pub async fn concurrent_audit_appends_stay_linear(h: &dyn Harness) {
    let replicas = [h.open().await, h.open().await];
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = replicas[w % 2].clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                write_audit(
                    &*s,
                    vec![
                        json!({"w": w, "i": i}),
                        json!({"w": w, "i": i, "second": true}),
                    ],
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let e = all_audit(&*replicas[1]).await;
    assert_eq!(e.len(), 4 * 15 * 2);
    assert_eq!(verify_chain(&e), Ok(()));
    // The two entries of one commit are adjacent.
    for pair in e.chunks(2) {
        assert_eq!(pair[0].body["w"], pair[1].body["w"]);
        assert_eq!(pair[1].body["second"], json!(true));
    }
}

pub async fn reopen_keeps_data(h: &dyn Harness) {
    {
        let s = h.open().await;
        s.commit(Commit {
            resources: vec![res("Observation", "o", Some("p"), Some(t(1)), "1")],
            states: vec![state("p", 0, b"s")],
            documents: vec![doc("alert", "a", "p", "open", "dr", 1)],
            jobs: vec![job("timer", t(50), Some("k"))],
            audit: vec![json!({"n": 1})],
        })
        .await
        .unwrap();
    }
    let s = h.open().await;
    assert_eq!(
        s.count_resources().await.unwrap().get("Observation"),
        Some(&1)
    );
    assert_eq!(s.load_states(&["p".into()]).await.unwrap()["p"].state, b"s");
    assert!(s.get_document("alert", "a").await.unwrap().is_some());
    assert_eq!(s.next_due().await.unwrap(), Some(t(50)));
    // The chain continues where it stopped.
    write_audit(&*s, vec![json!({"n": 2})]).await;
    let e = all_audit(&*s).await;
    assert_eq!(e.len(), 2);
    assert_eq!(verify_chain(&e), Ok(()));
}

pub async fn migrations_twice_are_harmless(h: &dyn Harness) {
    let (a, b) = tokio::join!(h.open(), h.open());
    a.commit(commit_resources(vec![res("Patient", "p", None, None, "1")]))
        .await
        .unwrap();
    assert_eq!(b.count_resources().await.unwrap().get("Patient"), Some(&1));
    let c = h.open().await;
    assert_eq!(c.count_resources().await.unwrap().get("Patient"), Some(&1));
    assert!(matches!(c.engine(), "sqlite" | "postgres"));
}
