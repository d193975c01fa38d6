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
