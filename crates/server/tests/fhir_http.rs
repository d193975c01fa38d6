//! The FHIR ingest and read endpoints over real HTTP.

use bedside_test_support::fhir::{bundle, heart_rate, patient};
use bedside_test_support::http::{get, post_fhir};
use bedside_test_support::server::TestServer;
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_answers() {
    let s = TestServer::start().await;
    let (st, v) = get(&s.base, "/healthz").await;
    assert_eq!(st, 200);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["store"], "sqlite");
}

#[tokio::test]
async fn transaction_writes_all_and_reads_back() {
    let s = TestServer::start().await;
    let b = bundle(
        "transaction",
        vec![
            patient("p1"),
            heart_rate("o1", "p1", "2024-01-01T10:00:00Z", 88.0),
        ],
    );
    let (st, v) = post_fhir(&s.base, "/fhir", &b).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["type"], "transaction-response");
    assert_eq!(
        v["entry"][0]["response"]["status"].as_str().unwrap(),
        "201 Created"
    );
    let (st, o) = get(&s.base, "/fhir/Observation/o1").await;
    assert_eq!(st, 200);
    assert_eq!(o["valueQuantity"]["value"], 88.0);
    // Same bundle again: nothing changes.
    let (st, v) = post_fhir(&s.base, "/fhir", &b).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["entry"][1]["response"]["status"].as_str().unwrap(),
        "200 OK"
    );
    let (_, found) = get(&s.base, "/fhir/Observation?patient=p1").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["type"], "searchset");
    let (_, found) = get(&s.base, "/fhir/Observation?subject=Patient/p1").await;
    assert_eq!(found["total"], 1);

    // Each read and search is in the audit log, about Patient/p1, by no
    // one authenticated (no auth layer in this test server).
    let audit = s.app.store.audit_entries(1, 1000).await.unwrap();
    let sub =
        |e: &bedside_store::AuditEntry| bedside_app::audit::subtype_of(&e.body).map(str::to_string);
    let reads: Vec<_> = audit
        .iter()
        .filter(|e| sub(e).as_deref() == Some("fhir-read"))
        .collect();
    let searches: Vec<_> = audit
        .iter()
        .filter(|e| sub(e).as_deref() == Some("fhir-search"))
        .collect();
    assert_eq!((reads.len(), searches.len()), (1, 2));
    assert_eq!(
        reads[0].body["entity"][0]["what"]["reference"],
        "Observation/o1"
    );
    assert_eq!(
        reads[0].body["entity"][1]["what"]["reference"],
        "Patient/p1"
    );
    assert_eq!(
        reads[0].body["agent"][0]["who"]["display"],
        bedside_app::audit::ANONYMOUS
    );
    assert_eq!(
        bedside_app::audit::detail(&searches[0].body, "total"),
        Some("1")
    );
    assert_eq!(bedside_store::verify_chain(&audit), Ok(()));
}

#[tokio::test]
async fn failing_transaction_names_the_entry_and_writes_nothing() {
    let s = TestServer::start().await;
    let mut bad = heart_rate("o2", "p1", "2024-01-01T10:00:00Z", 88.0);
    bad["valueQuantity"]["value"] = json!("eighty");
    let b = bundle("transaction", vec![patient("p9"), bad]);
    let (st, v) = post_fhir(&s.base, "/fhir", &b).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["resourceType"], "OperationOutcome");
    let text = v.to_string();
    assert!(text.contains("entry[1]"), "{text}");
    assert!(text.contains("valueQuantity"), "{text}");
    let (st, _) = get(&s.base, "/fhir/Patient/p9").await;
    assert_eq!(st, 404, "nothing of a failed transaction is written");
}

#[tokio::test]
async fn batch_reports_each_entry() {
    let s = TestServer::start().await;
    let mut bad = heart_rate("o3", "p2", "2024-01-01T10:00:00Z", 88.0);
    bad["subject"]["reference"] = json!("not a reference");
    let b = bundle("batch", vec![patient("p2"), bad]);
    let (st, v) = post_fhir(&s.base, "/fhir", &b).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["type"], "batch-response");
    assert_eq!(
        v["entry"][0]["response"]["status"].as_str().unwrap(),
        "201 Created"
    );
    let second = v["entry"][1]["response"]["status"].as_str().unwrap();
    assert!(second.starts_with("4"), "{v}");
    let (st, _) = get(&s.base, "/fhir/Patient/p2").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn bad_input_is_4xx_with_operation_outcome() {
    let s = TestServer::start().await;
    let c = reqwest::Client::new();
    for (body, want) in [
        ("{not json", 400u16),
        (r#"{"id": "x"}"#, 400),
        (r#"{"resourceType": "Bundle", "type": "searchset"}"#, 400),
    ] {
        let r = c
            .post(format!("{}/fhir", s.base))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["resourceType"], "OperationOutcome", "{body}");
    }
    let (st, v) = post_fhir(
        &s.base,
        "/fhir/Observation",
        &json!({"resourceType": "Patient", "id": "x"}),
    )
    .await;
    assert_eq!(st, 400, "type in URL and body must agree: {v}");
    let (st, _) = get(&s.base, "/fhir/Patient/nope").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn oversized_body_is_413_with_outcome() {
    let http = bedside_server::HttpConfig {
        max_body_bytes: 1024,
        ..Default::default()
    };
    let s = TestServer::start_http(http).await;
    let big = json!({"resourceType": "Patient", "id": "big", "text": {"div": "x".repeat(4096)}});
    let (st, v) = post_fhir(&s.base, "/fhir/Patient", &big).await;
    assert_eq!(st, 413);
    assert_eq!(v["resourceType"], "OperationOutcome");
}

#[tokio::test]
async fn put_creates_then_newer_version_updates() {
    let s = TestServer::start().await;
    let c = reqwest::Client::new();
    let mut p = patient("p5");
    p["meta"] = json!({"versionId": "1"});
    let r = c
        .put(format!("{}/fhir/Patient/p5", s.base))
        .body(p.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    p["meta"] = json!({"versionId": "2"});
    p["gender"] = json!("male");
    let r = c
        .put(format!("{}/fhir/Patient/p5", s.base))
        .body(p.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = get(&s.base, "/fhir/Patient/p5").await;
    assert_eq!(v["gender"], "male");
}

#[tokio::test]
async fn import_streams_gzip_ndjson_with_summary() {
    use std::io::Write;
    let s = TestServer::start().await;
    let mut nd = String::new();
    nd.push_str(&patient("p7").to_string());
    nd.push('\n');
    for h in 0..30 {
        nd.push_str(
            &heart_rate(
                &format!("i{h}"),
                "p7",
                &format!("2024-01-01T{:02}:00:00Z", h % 24),
                80.0 + h as f64,
            )
            .to_string(),
        );
        nd.push('\n');
    }
    nd.push_str("{broken\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(nd.as_bytes()).unwrap();
    let body = gz.finish().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/fhir/$import", s.base))
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["created"], 31, "{v}");
    assert_eq!(v["rejected"], 1, "{v}");
    assert_eq!(v["stored"]["Observation"], 30, "{v}");
    assert!(
        v["rejections"][0]["reason"].as_str().unwrap().len() > 5,
        "{v}"
    );
}

#[tokio::test]
async fn subscription_notification_is_ingested() {
    let s = TestServer::start().await;
    let n = json!({
        "resourceType": "Bundle", "type": "history",
        "entry": [
            {"fullUrl": "urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400",
             "resource": {"resourceType": "Parameters", "id": "9e41ff6d-5be6-4e6a-8b85-abd4e7f58400",
               "meta": {"profile": ["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"]},
               "parameter": [{"name": "subscription", "valueReference": {"reference": "Subscription/s1"}},
                             {"name": "status", "valueCode": "active"},
                             {"name": "type", "valueCode": "event-notification"}]}},
            {"fullUrl": "http://ehr.example/fhir/Patient/p8", "resource": patient("p8"),
             "request": {"method": "PUT", "url": "Patient/p8"}, "response": {"status": "200"}}
        ]
    });
    let (st, v) = post_fhir(&s.base, "/fhir", &n).await;
    assert_eq!(st, 200, "{v}");
    let (st, _) = get(&s.base, "/fhir/Patient/p8").await;
    assert_eq!(st, 200);
}
