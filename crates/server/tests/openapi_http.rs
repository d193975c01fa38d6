//! `GET /openapi.json` describes the served API: every operation of the
//! route table answers from a handler (never the router's empty 404 or a
//! 405), and the document is what the table says.

use bedside_server::openapi::{In, ROUTES};
use bedside_test_support::server::TestServer;
use serde_json::Value;

#[tokio::test]
async fn the_document_is_served_and_every_operation_is_routed() {
    let s = TestServer::start().await;
    let c = reqwest::Client::new();
    let doc: Value = c
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let ops: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(ops, ROUTES.len());
    for r in ROUTES {
        let mut path = r.path.to_string();
        for p in r.params.iter().filter(|p| matches!(p.1, In::Path)) {
            let v = if p.0 == "action" { "claim" } else { "x" };
            path = path.replace(&format!("{{{}}}", p.0), v);
        }
        let method = reqwest::Method::from_bytes(r.method.to_uppercase().as_bytes()).unwrap();
        let mut req = c.request(method, format!("{}{path}", s.base));
        if let Some((ct, _)) = r.body {
            req = req.header("content-type", ct).body("{}");
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        assert_ne!(
            status, 405,
            "{} {} is not routed for its method",
            r.method, r.path
        );
        assert!(
            !(status == 404 && body.is_empty()),
            "{} {} fell through to the router's 404",
            r.method,
            r.path
        );
        assert!(status < 500, "{} {} answered {status}", r.method, r.path);
    }
}
