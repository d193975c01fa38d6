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

/// A commit whose caller goes away mid-flight (an HTTP client that
/// disconnects, a request timeout: the future is dropped) must not leave
/// the store unable to write: the next commits succeed, and the abandoned
/// one is applied whole or not at all. Each commit is polled a different
/// number of times before being dropped, to hit every await point.
pub async fn dropped_commit_leaves_store_writable(h: &dyn Harness) {
    use std::task::{Context, Poll, Waker};
    let s = h.open().await;
    let mut cx = Context::from_waker(Waker::noop());
    for polls in 0..40usize {
        let id = format!("dropped-{polls}");
        let mut c = commit_resources(vec![res("Observation", &id, Some("p"), Some(t(1)), "1")]);
        c.documents.push(doc("card", &id, "p", "shown", "m", 1));
        let mut fut = s.commit(c);
        for _ in 0..polls {
            if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
                r.unwrap();
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(fut);
        let ok = format!("after-{polls}");
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            s.commit(commit_resources(vec![res(
                "Observation",
                &ok,
                Some("p"),
                Some(t(2)),
                "1",
            )])),
        )
        .await
        .expect("a commit after a dropped one must not hang")
        .unwrap_or_else(|e| panic!("commit after a commit dropped at poll {polls} fails: {e}"));
    }
    // Every abandoned commit is whole or absent: its resource and its
    // document are both there or both missing.
    for polls in 0..40usize {
        let id = format!("dropped-{polls}");
        let has_res = !s
            .versions(&[key("Observation", &id)])
            .await
            .unwrap()
            .is_empty();
        let has_doc = s.get_document("card", &id).await.unwrap().is_some();
        assert_eq!(
            has_res, has_doc,
            "commit dropped at poll {polls} is half-applied"
        );
    }
}

/// The liveness query answers on an empty and on a written store.
pub async fn ping_answers(h: &dyn Harness) {
    let s = h.open().await;
    s.ping().await.expect("ping on an empty store");
    s.commit(commit_resources(vec![res("Patient", "p", None, None, "1")]))
        .await
        .unwrap();
    s.ping().await.expect("ping after a commit");
}
