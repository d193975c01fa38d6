//! Patient state compare-and-set and whole-commit rollback.

use super::*;

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
    // Versions alone agree with the states, and a patient without one is
    // absent.
    let with_unknown = vec!["p1".to_string(), "p2".to_string(), "p9".to_string()];
    let versions = s.state_versions(&with_unknown).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!((versions["p1"], versions["p2"]), (2, 2));
    s.commit(c(state("p1", 2, b"three"))).await.unwrap();
    assert_eq!(s.state_versions(&with_unknown).await.unwrap()["p1"], 3);
    assert!(s.state_versions(&[]).await.unwrap().is_empty());
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
