//! The job queue: dedupe, due order, exclusive claims, leases, atomic completion.

use super::*;

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
