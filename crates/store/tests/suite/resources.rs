//! Resources: upsert, counts, paging, per-patient order, versions.

use super::*;

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
