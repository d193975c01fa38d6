//! FHIR API conformance over real HTTP: the CapabilityStatement, search by
//! patient of Bedside's own resources, `_count` paging, refused parameters
//! and media types, and bad input refused with an OperationOutcome naming
//! the element while the store digest stays the same.

use bedside_app::{App, AppConfig};
use bedside_server::HttpConfig;
use bedside_test_support::decisions::{certified, inpatient, prediction};
use bedside_test_support::fhir::{observation, patient, transaction, HEART_RATE};
use bedside_test_support::http::{get, post_fhir};
use bedside_test_support::server::TestServer;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

const MODEL: &str = "sepsis-demo";

/// A server whose sepsis pathway ran for `p1` and `p2` (Tasks,
/// RiskAssessments, Provenance are written), with a Communication each.
async fn with_pathways() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uc = bedside_test_support::use_cases::sepsis(dir.path(), "stage = \"live\"");
    let config = AppConfig::sqlite(dir.path().join("data")).use_case(uc);
    let app = App::open(config).await.unwrap();
    app.set_certification(MODEL, certified(0.3, "test"));
    let t0: DateTime<Utc> = "2024-03-01T10:00:00Z".parse().unwrap();
    for pid in ["p1", "p2"] {
        let mut commit = bedside_store::Commit::default();
        app.on_prediction(
            &inpatient(pid, t0 - Duration::days(1)),
            &prediction(MODEL, "1", t0, 0.8),
            &mut commit,
        )
        .await
        .unwrap();
        app.store.commit(commit).await.unwrap();
        // A Communication as the pathways write them (`send_communication`).
        let mut c = bedside_store::Commit::default();
        c.documents.push(bedside_store::Document {
            kind: "Communication".into(),
            id: format!("c-{pid}"),
            patient_id: Some(pid.into()),
            status: Some("completed".into()),
            owner: None,
            created_at: t0,
            updated_at: t0,
            body: json!({"resourceType": "Communication", "id": format!("c-{pid}"), "status": "completed",
                         "subject": {"reference": format!("Patient/{pid}")}}),
        });
        app.store.commit(c).await.unwrap();
    }
    let s = TestServer::serve(Arc::new(app), HttpConfig::default()).await;
    (s, dir)
}

fn links(b: &Value) -> Vec<(String, String)> {
    b["link"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["relation"].as_str().unwrap().to_string(),
                        l["url"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn path_of(s: &TestServer, url: &str) -> String {
    let base = &s.app.config.public_url;
    url.strip_prefix(base.as_str())
        .unwrap_or_else(|| panic!("{url} not under {base}"))
        .to_string()
}

#[tokio::test]
async fn metadata_is_a_capability_statement_of_what_is_served() {
    let s = TestServer::start().await;
    let (st, c) = get(&s.base, "/fhir/metadata").await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["resourceType"], "CapabilityStatement");
    assert_eq!(c["fhirVersion"], "4.0.1");
    assert_eq!(c["kind"], "instance");
    let rest = &c["rest"][0];
    let resource = |t: &str| {
        rest["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("{t} not in the CapabilityStatement"))
    };
    let codes = |r: &Value, k: &str, f: &str| -> Vec<String> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|i| i[f].as_str().unwrap().to_string())
            .collect()
    };
    let task = resource("Task");
    assert_eq!(codes(&task, "interaction", "code"), ["read", "search-type"]);
    let mut params = codes(&task, "searchParam", "name");
    params.sort();
    assert_eq!(
        params,
        ["_count", "_offset", "_summary", "owner", "patient", "status", "subject"]
    );
    let obs = resource("Observation");
    assert!(codes(&obs, "interaction", "code").contains(&"create".to_string()));
    assert!(resource("RiskAssessment")["searchParam"]
        .to_string()
        .contains("patient"));
    // Every search parameter stated is honoured, and one not stated is not.
    for r in rest["resource"].as_array().unwrap() {
        let t = r["type"].as_str().unwrap();
        let (st, b) = get(&s.base, &format!("/fhir/{t}?patient=nobody&_count=5")).await;
        assert_eq!(st, 200, "{t}: {b}");
        assert_eq!(b["total"], 0, "{t}");
        let (st, oo) = get(&s.base, &format!("/fhir/{t}?colour=blue")).await;
        assert_eq!(st, 400, "{t}");
        assert_eq!(oo["issue"][0]["expression"][0], "colour");
    }
    // No access control in this server: the statement says so.
    assert!(rest["security"].get("service").is_none());
}

#[tokio::test]
async fn own_resources_are_found_by_patient_and_every_search_pages() {
    let (s, _dir) = with_pathways().await;
    for rtype in ["RiskAssessment", "Communication", "Task", "Provenance"] {
        let (st, b) = get(&s.base, &format!("/fhir/{rtype}?patient=p1")).await;
        assert_eq!(st, 200, "{b}");
        let total = b["total"].as_u64().unwrap();
        assert!(total > 0, "{rtype}?patient=p1 found nothing");
        for e in b["entry"].as_array().unwrap() {
            assert_eq!(e["resource"]["resourceType"], rtype);
            // A Provenance names its target, not the patient.
            if rtype != "Provenance" {
                assert!(e["resource"].to_string().contains("Patient/p1"), "{e}");
            }
            assert!(!e["resource"].to_string().contains("Patient/p2"), "{e}");
        }
        let (_, by_subject) = get(&s.base, &format!("/fhir/{rtype}?subject=Patient/p1")).await;
        if rtype != "Provenance" {
            assert_eq!(by_subject["total"], total, "{rtype}");
        }
    }
    // Paging: _count=1 walks every Task one page at a time, next to the end
    // and previous back.
    let (_, all) = get(&s.base, "/fhir/Task?_count=1000").await;
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 2, "{all}");
    let mut seen = Vec::new();
    let mut path = "/fhir/Task?_count=1".to_string();
    loop {
        let (st, page) = get(&s.base, &path).await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["total"], total);
        let entries = page["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        seen.push(entries[0]["resource"]["id"].as_str().unwrap().to_string());
        let l = links(&page);
        assert!(l.iter().any(|(r, _)| r == "self"));
        assert_eq!(l.iter().any(|(r, _)| r == "previous"), seen.len() > 1);
        match l.iter().find(|(r, _)| r == "next") {
            Some((_, next)) => path = path_of(&s, next),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, total);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len() as u64, total, "a Task on two pages");
    // _summary=count: the total, no entries.
    let (_, c) = get(&s.base, "/fhir/Communication?patient=p1&_summary=count").await;
    assert!(c["total"].as_u64().unwrap() > 0);
    assert!(c.get("entry").is_none());
}

#[tokio::test]
async fn bad_search_values_are_refused_with_an_operation_outcome() {
    let s = TestServer::start().await;
    for path in [
        "/fhir/Task?_count=abc",
        "/fhir/Observation?patient=p1&_count=-1",
        "/fhir/Observation?patient=p1&_offset=x",
        "/fhir/Observation?patient=p1&_summary=true",
        "/fhir/Observation?patient=p1&code=8867-4",
        "/fhir/Observation?patient=",
        "/fhir/Provenance?owner=x",
    ] {
        let (st, oo) = get(&s.base, path).await;
        assert_eq!(st, 400, "{path}: {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome", "{path}");
        assert!(oo["issue"][0]["diagnostics"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn every_error_status_has_an_operation_outcome() {
    let http = HttpConfig {
        max_body_bytes: 1000,
        hook_rate_per_sec: 1,
        hook_rate_burst: 1,
        ..HttpConfig::default()
    };
    let s = TestServer::start_http(http).await;
    let c = reqwest::Client::new();
    let big = json!({"resourceType": "Patient", "id": "p", "text": {"status": "generated", "div": "x".repeat(2000)}});
    let cases: Vec<(u16, reqwest::RequestBuilder)> = vec![
        (404, c.get(s.url("/fhir/Patient/none"))),
        (405, c.delete(s.url("/fhir/Patient/p"))),
        (
            406,
            c.get(s.url("/fhir/metadata"))
                .header("accept", "application/xml"),
        ),
        (406, c.get(s.url("/fhir/metadata?_format=xml"))),
        (
            413,
            c.post(s.url("/fhir/Patient"))
                .header("content-type", "application/fhir+json")
                .body(big.to_string()),
        ),
        (
            415,
            c.post(s.url("/fhir/Patient"))
                .header("content-type", "application/xml")
                .body("<Patient/>"),
        ),
    ];
    // Over the hook rate (1/s, burst 1): one of a quick run of calls is a 429.
    let mut throttled = None;
    for _ in 0..20 {
        let r = c.get(s.url("/cds-services")).send().await.unwrap();
        if r.status().as_u16() == 429 {
            throttled = Some(r);
            break;
        }
    }
    let throttled = throttled.expect("no 429 over the hook rate");
    let mut responses = vec![(429, throttled)];
    for (want, req) in cases {
        responses.push((want, req.send().await.unwrap()));
    }
    for (want, r) in responses {
        assert_eq!(r.status().as_u16(), want);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/fhir+json"), "{want}: {ct}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["resourceType"], "OperationOutcome", "{want}");
        assert_eq!(v["issue"][0]["severity"], "error", "{want}");
    }
    // JSON asked for in any of the usual ways is served.
    for accept in [
        "application/fhir+json",
        "application/json",
        "*/*",
        "text/html, application/json;q=0.9",
    ] {
        let r = c
            .get(s.url("/fhir/metadata"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{accept}");
    }
}

#[tokio::test]
async fn the_worklist_is_labelled_plain_json() {
    let s = TestServer::start().await;
    let r = reqwest::get(s.url("/worklist")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert!(v.is_array());
}

/// Each bad resource is refused with a 4xx and an OperationOutcome naming
/// the element, by `POST`, by `PUT` and inside a transaction, and the store
/// digest is the same afterwards.
#[tokio::test]
async fn bad_input_is_refused_naming_the_element_and_nothing_is_stored() {
    let s = TestServer::start().await;
    let (st, _) = post_fhir(&s.base, "/fhir", &transaction([patient("p1")])).await;
    assert_eq!(st, 200);
    let before = s.app.digest().await.unwrap();
    let good = observation("o1", "p1", HEART_RATE, 88.0, "/min", "2024-01-01T10:00:00Z");
    let edit = |k: &str, v: Value| {
        let mut o = good.clone();
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v;
        }
        o
    };
    let mut robot = patient("p2");
    robot["gender"] = json!("robot");
    let mut enc = bedside_test_support::fhir::encounter("e1", "p1", "2024-01-01T00:00:00Z");
    enc["status"] = json!("done");
    let cases: Vec<(Value, &str)> = vec![
        (edit("status", json!(null)), "Observation.status"),
        (edit("code", json!(null)), "Observation.code"),
        (edit("status", json!("bogus")), "Observation.status"),
        (edit("colour", json!("blue")), "Observation.colour"),
        (robot, "Patient.gender"),
        (enc, "Encounter.status"),
    ];
    for (r, element) in &cases {
        let rtype = r["resourceType"].as_str().unwrap();
        let id = r["id"].as_str().unwrap();
        let (st, oo) = post_fhir(&s.base, &format!("/fhir/{rtype}"), r).await;
        assert_eq!(st, 400, "POST {element}: {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome");
        assert_eq!(oo["issue"][0]["expression"][0], *element, "{oo}");
        let put = bedside_test_support::http::client()
            .put(s.url(&format!("/fhir/{rtype}/{id}")))
            .header("content-type", "application/fhir+json")
            .body(r.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 400, "PUT {element}");
        let oo: Value = put.json().await.unwrap();
        assert_eq!(oo["issue"][0]["expression"][0], *element, "{oo}");
        // In a transaction the whole Bundle is refused, naming the entry.
        let (st, oo) = post_fhir(&s.base, "/fhir", &transaction([patient("p3"), r.clone()])).await;
        assert!((400..500).contains(&st), "transaction {element}: {st} {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome", "{oo}");
        assert!(oo.to_string().contains("Bundle.entry[1].resource"), "{oo}");
        assert_eq!(
            s.app.digest().await.unwrap(),
            before,
            "{element}: the store changed"
        );
    }
}
