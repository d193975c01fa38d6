//! The audit hash chain and tamper detection.

use super::*;

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
    h.unguard_audit().await;
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
    h.unguard_audit().await;
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
    h.unguard_audit().await;
    h.raw("UPDATE audit SET seq = -1 WHERE seq = 2").await;
    h.raw("UPDATE audit SET seq = 2 WHERE seq = 3").await;
    h.raw("UPDATE audit SET seq = 3 WHERE seq = -1").await;
    assert_eq!(
        verify_chain(&all_audit(&*s).await),
        Err(ChainError::Reordered {
            seq: 2,
            written_as: 3
        })
    );
}

pub async fn audit_is_append_only(h: &dyn Harness) {
    let s = h.open().await;
    write_audit(&*s, (0..3).map(|i| json!({"n": i})).collect()).await;
    for sql in [
        r#"UPDATE audit SET body = '{"n":99}' WHERE seq = 2"#,
        "UPDATE audit SET seq = 7 WHERE seq = 3",
        "DELETE FROM audit WHERE seq = 1",
        "DELETE FROM audit",
    ] {
        let err = h.try_raw(sql).await.expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // Appending still works, and nothing was changed.
    write_audit(&*s, vec![json!({"n": 3})]).await;
    let e = all_audit(&*s).await;
    assert_eq!(e.len(), 4);
    assert_eq!(e[1].body, json!({"n": 1}));
    assert_eq!(verify_chain(&e), Ok(()));
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
