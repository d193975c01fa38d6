//! Errors outside any handler still answer a FHIR OperationOutcome: a path
//! no route serves (404) and a method a path does not take (405).

use bedside_test_support::server::TestServer;

#[tokio::test]
async fn unknown_paths_and_methods_answer_an_operation_outcome() {
    let s = TestServer::start().await;
    let client = reqwest::Client::new();
    let r = client.get(s.url("/no-such-route")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/fhir+json"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["resourceType"], "OperationOutcome");
    assert_eq!(v["issue"][0]["code"], "not-found");
    assert!(v["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("/no-such-route"));

    let r = client.delete(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["resourceType"], "OperationOutcome");
    assert_eq!(v["issue"][0]["code"], "not-supported");
}
