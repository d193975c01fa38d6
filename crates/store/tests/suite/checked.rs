//! Checked document writes: compare-and-set on a document's version, for
//! read-modify-write across replicas without lost updates.

use super::*;

fn cas(d: Document, expected: Option<i64>) -> DocumentCas {
    DocumentCas {
        document: d,
        expected,
    }
}

fn pathway(id: &str, step: i64) -> Document {
    let mut d = doc("pathway", id, "p1", "active", "ward-a", 10);
    d.body = json!({"step": step});
    d
}

fn is_doc_conflict<T: std::fmt::Debug>(
    r: &Result<T, StoreError>,
    kind: &str,
    id: &str,
    expected: Option<i64>,
) -> bool {
    matches!(r, Err(StoreError::DocumentConflict { kind: k, id: i, expected: e })
        if k == kind && i == id && *e == expected)
}

async fn step_and_version(s: &dyn Store, id: &str) -> Option<(i64, i64)> {
    let v = s.get_document_versioned("pathway", id).await.unwrap()?;
    Some((v.document.body["step"].as_i64().unwrap(), v.version))
}

pub async fn checked_write_compares_the_version(h: &dyn Harness) {
    let s = h.open().await;
    assert_eq!(
        s.get_document_versioned("pathway", "x").await.unwrap(),
        None
    );

    // Absent, expected absent: written at version 1.
    s.commit_checked(Commit::default(), vec![cas(pathway("x", 1), None)])
        .await
        .unwrap();
    let read = s.get_document_versioned("pathway", "x").await.unwrap();
    let read = read.expect("written");
    assert_eq!((read.document.clone(), read.version), (pathway("x", 1), 1));
    assert_eq!(
        s.get_document("pathway", "x").await.unwrap(),
        Some(pathway("x", 1))
    );

    // Present, expected absent: conflict, unchanged.
    let r = s
        .commit_checked(Commit::default(), vec![cas(pathway("x", 9), None)])
        .await;
    assert!(is_doc_conflict(&r, "pathway", "x", None), "{r:?}");
    assert!(r.unwrap_err().is_conflict());
    assert_eq!(step_and_version(&*s, "x").await, Some((1, 1)));

    // At the read version: written, one version more.
    let next = DocumentCas::over(pathway("x", 2), Some(&read));
    s.commit_checked(Commit::default(), vec![next.clone()])
        .await
        .unwrap();
    assert_eq!(step_and_version(&*s, "x").await, Some((2, 2)));

    // The same write again is at a stale version now.
    let r = s.commit_checked(Commit::default(), vec![next]).await;
    assert!(is_doc_conflict(&r, "pathway", "x", Some(1)), "{r:?}");
    assert_eq!(step_and_version(&*s, "x").await, Some((2, 2)));

    // A plain write counts as a version too: a checked write that read
    // before it conflicts.
    s.commit(Commit {
        documents: vec![pathway("x", 3)],
        ..Commit::default()
    })
    .await
    .unwrap();
    assert_eq!(step_and_version(&*s, "x").await, Some((3, 3)));
    let r = s
        .commit_checked(Commit::default(), vec![cas(pathway("x", 4), Some(2))])
        .await;
    assert!(is_doc_conflict(&r, "pathway", "x", Some(2)), "{r:?}");

    // A version expected of a document that does not exist: conflict.
    let r = s
        .commit_checked(Commit::default(), vec![cas(pathway("y", 1), Some(1))])
        .await;
    assert!(is_doc_conflict(&r, "pathway", "y", Some(1)), "{r:?}");
    assert_eq!(
        s.get_document_versioned("pathway", "y").await.unwrap(),
        None
    );

    // Repeated checked writes of one document apply in order; a plain
    // write of it in the same commit applies after them.
    s.commit_checked(
        Commit::default(),
        vec![cas(pathway("z", 1), None), cas(pathway("z", 2), Some(1))],
    )
    .await
    .unwrap();
    assert_eq!(step_and_version(&*s, "z").await, Some((2, 2)));
    s.commit_checked(
        Commit {
            documents: vec![pathway("z", 9)],
            ..Commit::default()
        },
        vec![cas(pathway("z", 3), Some(2))],
    )
    .await
    .unwrap();
    assert_eq!(step_and_version(&*s, "z").await, Some((9, 4)));
}

pub async fn checked_conflict_writes_nothing(h: &dyn Harness) {
    let s = h.open().await;
    s.commit_checked(Commit::default(), vec![cas(pathway("x", 1), None)])
        .await
        .unwrap();
    s.commit_checked(Commit::default(), vec![cas(pathway("x", 2), Some(1))])
        .await
        .unwrap();
    // Everything else in the commit is valid, and so is one of the two
    // checked writes; the stale one fails it all.
    let bad = Commit {
        resources: vec![res("Observation", "o1", Some("p1"), Some(t(1)), "1")],
        states: vec![state("p1", 0, b"fresh")],
        documents: vec![doc("alert", "a1", "p1", "open", "dr", 1)],
        jobs: vec![job("timer", t(0), Some("k1"))],
        audit: vec![json!({"event": "should not be written"})],
    };
    let checked = vec![cas(pathway("new", 1), None), cas(pathway("x", 7), Some(1))];
    let r = s.commit_checked(bad, checked).await;
    assert!(is_doc_conflict(&r, "pathway", "x", Some(1)), "{r:?}");
    assert!(s.count_resources().await.unwrap().is_empty());
    assert!(s.load_states(&["p1".into()]).await.unwrap().is_empty());
    assert!(s.get_document("alert", "a1").await.unwrap().is_none());
    assert!(s.get_document("pathway", "new").await.unwrap().is_none());
    assert_eq!(step_and_version(&*s, "x").await, Some((2, 2)));
    assert_eq!(s.pending_jobs().await.unwrap(), 0);
    assert!(all_audit(&*s).await.is_empty());

    // With a job: a conflict leaves the job pending and writes nothing.
    s.commit(Commit {
        jobs: vec![job("timer", t(0), Some("advance"))],
        ..Commit::default()
    })
    .await
    .unwrap();
    let claimed = s.claim_jobs(t(0), 10, 60).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let effects = || Commit {
        audit: vec![json!({"event": "advanced"})],
        ..Commit::default()
    };
    let r = s
        .complete_job_checked(
            claimed[0].id,
            effects(),
            vec![cas(pathway("x", 3), Some(1))],
        )
        .await;
    assert!(is_doc_conflict(&r, "pathway", "x", Some(1)), "{r:?}");
    assert_eq!(s.pending_jobs().await.unwrap(), 1, "job must stay pending");
    assert!(all_audit(&*s).await.is_empty());
    s.complete_job_checked(
        claimed[0].id,
        effects(),
        vec![cas(pathway("x", 3), Some(2))],
    )
    .await
    .unwrap();
    assert_eq!(s.pending_jobs().await.unwrap(), 0);
    assert_eq!(step_and_version(&*s, "x").await, Some((3, 3)));
    assert_eq!(all_audit(&*s).await.len(), 1);
}

/// Two replicas write one document at the version both read: exactly one
/// wins, and the store holds the winner's document. Many rounds, so both
/// orders of arrival occur.
pub async fn concurrent_checked_writers_one_wins(h: &dyn Harness) {
    let replicas = [h.open().await, h.open().await];
    for round in 0..20i64 {
        let read = replicas[0]
            .get_document_versioned("pathway", "x")
            .await
            .unwrap();
        let expected = read.as_ref().map(|v| v.version);
        let writes = (0..2i64).map(|w| {
            let s = replicas[w as usize].clone();
            let d = pathway("x", round * 10 + w);
            async move {
                s.commit_checked(Commit::default(), vec![cas(d, expected)])
                    .await
            }
        });
        let results = futures_join(writes).await;
        let winners: Vec<usize> = (0..2).filter(|&w| results[w].is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let loser = 1 - winners[0];
        assert!(
            is_doc_conflict(&results[loser], "pathway", "x", expected),
            "round {round}: {results:?}"
        );
        assert_eq!(
            step_and_version(&*replicas[1], "x").await,
            Some((round * 10 + winners[0] as i64, round + 1)),
            "round {round}"
        );
    }
}

/// Read-modify-write of a counter document from four writers on two
/// replicas, retrying on conflict: no increment is lost.
pub async fn checked_counter_loses_no_update(h: &dyn Harness) {
    let replicas = [h.open().await, h.open().await];
    let mut tasks = Vec::new();
    for i in 0..4 {
        let s = replicas[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < 10 {
                let read = s
                    .get_document_versioned("pathway", "counter")
                    .await
                    .unwrap();
                let n = read
                    .as_ref()
                    .map_or(0, |v| v.document.body["step"].as_i64().unwrap());
                let next = DocumentCas::over(pathway("counter", n + 1), read.as_ref());
                match s.commit_checked(Commit::default(), vec![next]).await {
                    Ok(()) => done += 1,
                    Err(e) if e.is_conflict() => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        step_and_version(&*replicas[0], "counter").await,
        Some((40, 40)),
        "lost update"
    );
}

/// Run futures concurrently on their own tasks, results in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<Result<(), StoreError>>
where
    F: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Random checked and plain writes of three documents from two replicas,
/// one and two documents a commit, against a model of the versions: a
/// commit succeeds exactly when every checked write expects the stored
/// version, and then (only then) all of it is stored.
pub async fn checked_writes_match_a_model(h: &dyn Harness) {
    let replicas = [h.open().await, h.open().await];
    let ids = ["a", "b", "c"];
    // (version, step) per id; absent: not stored.
    let mut model: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut written, mut refused) = (0, 0);
    for op in 0..150i64 {
        let s = &replicas[next(2) as usize];
        let mut checked = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..=next(2) {
            let id = ids[next(3) as usize];
            if checked.iter().any(|c: &DocumentCas| c.document.id == id) {
                continue;
            }
            let stored = model.get(id).map(|&(v, _)| v);
            let expected = match next(4) {
                0 => None,
                1 => Some(stored.unwrap_or(0) + 1),
                _ => stored,
            };
            checked.push(cas(pathway(id, op), expected));
        }
        if next(4) == 0 {
            let id = ids[next(3) as usize];
            if checked.iter().all(|c| c.document.id != id) {
                plain.push(pathway(id, op));
            }
        }
        let fits = checked
            .iter()
            .all(|c| c.expected == model.get(c.document.id.as_str()).map(|&(v, _)| v));
        let commit = Commit {
            documents: plain.clone(),
            ..Commit::default()
        };
        let r = s.commit_checked(commit, checked.clone()).await;
        assert_eq!(r.is_ok(), fits, "op {op}: {r:?}");
        if fits {
            written += 1;
            for d in checked.iter().map(|c| &c.document).chain(&plain) {
                let id = ids.iter().copied().find(|i| *i == d.id).expect("known id");
                let v = model.get(id).map_or(1, |&(v, _)| v + 1);
                model.insert(id, (v, op));
            }
        } else {
            refused += 1;
            assert!(
                matches!(r, Err(StoreError::DocumentConflict { .. })),
                "op {op}: {r:?}"
            );
        }
        for id in ids {
            let got = step_and_version(&*replicas[0], id).await;
            let want = model.get(id).map(|&(v, step)| (step, v));
            assert_eq!(got, want, "op {op}, document {id}");
        }
    }
    assert!(
        written > 30 && refused > 30,
        "{written} written, {refused} refused"
    );
}
