//! Reopening and migrations.

use super::*;

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
