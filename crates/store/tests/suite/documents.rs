//! Documents: filters, order, limit, replace.

use super::*;

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

pub async fn document_span_from_the_index(h: &dyn Harness) {
    let s = h.open().await;
    let none = DocFilter {
        kind: "prediction".into(),
        ..DocFilter::default()
    };
    assert_eq!(s.document_span(&none).await.unwrap(), None, "no documents");
    s.commit(Commit {
        documents: vec![
            doc("prediction", "p-b", "p1", "x", "model-a", 40),
            doc("prediction", "p-a", "p2", "x", "model-a", 10),
            doc("prediction", "p-c", "p1", "x", "model-a", 25),
            doc("prediction", "p-z", "p1", "x", "model-b", 5),
            doc("card", "c", "p1", "x", "model-a", 1),
        ],
        ..Commit::default()
    })
    .await
    .unwrap();
    let f = |owner: Option<&str>, patient: Option<&str>| DocFilter {
        kind: "prediction".into(),
        owner: owner.map(Into::into),
        patient_id: patient.map(Into::into),
        limit: Some(1),
        ..DocFilter::default()
    };
    assert_eq!(
        s.document_span(&f(Some("model-a"), None)).await.unwrap(),
        Some((t(10), t(40))),
        "limit is ignored; instants keep their microseconds"
    );
    assert_eq!(
        s.document_span(&f(None, None)).await.unwrap(),
        Some((t(5), t(40)))
    );
    assert_eq!(
        s.document_span(&f(Some("model-a"), Some("p1")))
            .await
            .unwrap(),
        Some((t(25), t(40)))
    );
    assert_eq!(
        s.document_span(&f(Some("model-c"), None)).await.unwrap(),
        None
    );
    let since = DocFilter {
        since: Some(t(11)),
        ..f(Some("model-a"), None)
    };
    assert_eq!(s.document_span(&since).await.unwrap(), Some((t(25), t(40))));
}

pub async fn change_marker_changes_on_every_commit(h: &dyn Harness) {
    let s = h.open().await;
    let Some(m0) = s.change_marker().await.unwrap() else {
        panic!("both engines have a change marker")
    };
    // On SQLite the marker is this database's own (PRAGMA data_version):
    // reads leave it alone. On PostgreSQL it is the cluster's snapshot, so
    // the other tests committing in parallel move it: only the change
    // across a commit can be asserted there.
    if s.engine() == "sqlite" {
        assert_eq!(
            s.change_marker().await.unwrap().as_deref(),
            Some(m0.as_str()),
            "reads do not change it"
        );
    }
    let _ = s.list_documents(&DocFilter::default()).await.unwrap();
    s.commit(Commit {
        documents: vec![doc("card", "c1", "p1", "x", "m", 1)],
        ..Commit::default()
    })
    .await
    .unwrap();
    let m1 = s.change_marker().await.unwrap().unwrap();
    assert_ne!(m1, m0, "a commit through this handle");
    // A commit through another handle (another process or replica).
    let other = h.open().await;
    other
        .commit(Commit {
            documents: vec![doc("card", "c1", "p1", "y", "m", 2)],
            ..Commit::default()
        })
        .await
        .unwrap();
    let m2 = s.change_marker().await.unwrap().unwrap();
    assert_ne!(m2, m1, "a commit through another handle");
    assert_ne!(m2, m0);
}

/// Pages of document texts: any of several statuses, newest or oldest
/// first, offset and limit; the texts parse back to the stored bodies.
pub async fn document_text_pages(h: &dyn Harness) {
    let s = h.open().await;
    let mut docs = Vec::new();
    for i in 0..9i64 {
        let status = ["requested", "accepted", "completed"][i as usize % 3];
        let mut d = doc(
            "task",
            &format!("t{i}"),
            &format!("p{}", i % 2),
            status,
            "dr-a",
            10 * i,
        );
        d.body = json!({"n": i, "text": "a \"quoted\" line\nand ü"});
        docs.push(d);
    }
    // Two at the same time: id breaks the tie (t10 < t9 as text).
    let mut tie = doc("task", "t10", "p0", "requested", "dr-b", 80);
    tie.body = json!({"n": 10});
    docs.push(tie);
    docs.push(doc("card", "c1", "p1", "requested", "dr-a", 5));
    s.commit(Commit {
        documents: docs.clone(),
        ..Commit::default()
    })
    .await
    .unwrap();

    let open = vec!["requested".to_string(), "accepted".to_string()];
    let page =
        |status_in: Vec<String>, newest_first: bool, offset: u32, limit: Option<u32>| DocPage {
            filter: DocFilter {
                kind: "task".into(),
                limit,
                ..DocFilter::default()
            },
            status_in,
            newest_first,
            offset,
        };
    let ids = |v: &[DocText]| v.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    let all_open = s
        .list_document_texts(&page(open.clone(), true, 0, None))
        .await
        .unwrap();
    assert_eq!(
        ids(&all_open),
        ["t10", "t7", "t6", "t4", "t3", "t1", "t0"],
        "open statuses, newest first, id breaks the tie"
    );
    assert_eq!(
        ids(&s
            .list_document_texts(&page(open.clone(), true, 2, Some(3)))
            .await
            .unwrap()),
        ["t6", "t4", "t3"]
    );
    assert_eq!(
        ids(&s
            .list_document_texts(&page(open.clone(), false, 5, Some(10)))
            .await
            .unwrap()),
        ["t7", "t10"]
    );
    assert!(s
        .list_document_texts(&page(open.clone(), true, 50, Some(3)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&s
            .list_document_texts(&page(vec![], false, 0, Some(2)))
            .await
            .unwrap()),
        ["t0", "t1"],
        "no status set: any status"
    );
    let mut owned = page(open.clone(), true, 0, None);
    owned.filter.owner = Some("dr-b".into());
    assert_eq!(ids(&s.list_document_texts(&owned).await.unwrap()), ["t10"]);
    // Texts are the stored JSON, with their metadata.
    for t in &all_open {
        let d = docs.iter().find(|d| d.id == t.id).unwrap();
        let body: serde_json::Value = serde_json::from_str(&t.body).unwrap();
        assert_eq!(body, d.body, "{}", t.id);
        assert_eq!(
            (&t.patient_id, &t.status, &t.owner, t.created_at),
            (&d.patient_id, &d.status, &d.owner, d.created_at)
        );
    }
}
