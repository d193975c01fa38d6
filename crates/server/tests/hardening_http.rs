//! Edge protections over real HTTP: the per-client CDS Hooks rate limit
//! (429 + Retry-After + OperationOutcome), CORS off by default and on for
//! named origins only, the request timeout on every route but a long
//! streaming `$import`.

use bedside_server::HttpConfig;
use bedside_test_support::server::TestServer;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn hook_calls_over_the_rate_get_429_with_retry_after() {
    let s = TestServer::start_http(HttpConfig {
        hook_rate_per_sec: 1,
        hook_rate_burst: 3,
        ..Default::default()
    })
    .await;
    let c = reqwest::Client::new();
    for i in 0..3 {
        let r = c
            .get(format!("{}/cds-services", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "call {i} is within the burst");
    }
    let r = c
        .post(format!("{}/cds-services/anything", s.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429, "the 4th call is over the burst");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resourceType"], "OperationOutcome");
    assert_eq!(v["issue"][0]["code"], "throttled");
    // Other routes are not limited.
    let r = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The bucket refills at the rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = c
        .get(format!("{}/cds-services", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "a token came back after a second");
}

async fn preflight(base: &str, path: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}{path}"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

async fn get_from(base: &str, path: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

const ACAO: &str = "access-control-allow-origin";

#[tokio::test]
async fn cors_is_off_by_default_on_every_route() {
    let s = TestServer::start().await;
    let o = "https://ehr.example.org";
    for path in [
        "/cds-services",
        "/cds-services/x",
        "/fhir/Patient",
        "/worklist",
        "/ui",
        "/healthz",
        "/metrics",
    ] {
        let r = preflight(&s.base, path, o).await;
        assert!(r.headers().get(ACAO).is_none(), "preflight {path}");
        let r = get_from(&s.base, path, o).await;
        assert!(r.headers().get(ACAO).is_none(), "GET {path}");
    }
}

#[tokio::test]
async fn cors_allows_only_the_named_origins_on_the_hook_routes() {
    let allowed = "https://ehr.example.org";
    let s = TestServer::start_http(HttpConfig {
        cors_origins: vec![allowed.into()],
        ..Default::default()
    })
    .await;
    let r = preflight(&s.base, "/cds-services/sepsis", allowed).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()[ACAO], allowed);
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
    let r = get_from(&s.base, "/cds-services", allowed).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()[ACAO], allowed);
    // Another origin, and the other routes, get nothing.
    let r = preflight(&s.base, "/cds-services/sepsis", "https://evil.example").await;
    assert!(r.headers().get(ACAO).is_none());
    let r = get_from(&s.base, "/fhir/Patient", allowed).await;
    assert!(r.headers().get(ACAO).is_none(), "FHIR routes stay closed");
}

/// A body that sends `parts` pieces, `gap` apart.
fn slow_body(parts: Vec<String>, gap: Duration) -> reqwest::Body {
    let s = futures_util::stream::unfold(parts.into_iter(), move |mut it| async move {
        let next = it.next()?;
        tokio::time::sleep(gap).await;
        Some((Ok::<_, std::io::Error>(next), it))
    });
    reqwest::Body::wrap_stream(s)
}

#[tokio::test]
async fn the_timeout_cuts_slow_requests_but_not_a_long_import() {
    let s = TestServer::start_http(HttpConfig {
        request_timeout: Duration::from_millis(600),
        ..Default::default()
    })
    .await;
    let c = reqwest::Client::new();
    // $import: 5 lines over ~2 s, three times the timeout.
    let lines: Vec<String> = (0..5)
        .map(|i| format!("{{\"resourceType\":\"Patient\",\"id\":\"slow{i}\"}}\n"))
        .collect();
    let r = c
        .post(format!("{}/fhir/$import", s.base))
        .header("content-type", "application/fhir+ndjson")
        .body(slow_body(lines, Duration::from_millis(400)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "a long $import is not cut");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["created"], 5, "{v}");
    // A slow body elsewhere (worklist, FHIR, hooks) is cut with 408.
    for path in [
        "/worklist/t1/claim",
        "/fhir/Patient",
        "/cds-services/x",
        "/pulse/answers",
    ] {
        let r = c
            .post(format!("{}{path}", s.base))
            .header("content-type", "application/json")
            .body(slow_body(
                vec!["{".into(), "}".into()],
                Duration::from_millis(900),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 408, "{path}");
    }
}
