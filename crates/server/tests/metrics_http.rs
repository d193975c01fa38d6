//! `GET /metrics`: Prometheus text with latency histograms per endpoint
//! (matched route, method, status class) and the record's gauges.

use bedside_test_support::server::TestServer;

async fn get(base: &str, path: &str) -> (u16, String, String) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_requests_per_endpoint_and_report_queue_depth() {
    let s = TestServer::start().await;
    for _ in 0..3 {
        assert_eq!(get(&s.base, "/healthz").await.0, 200);
    }
    assert_eq!(get(&s.base, "/fhir/Patient/nobody").await.0, 404);
    let (status, ctype, text) = get(&s.base, "/metrics").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    assert!(
        text.contains(r#"bedside_http_request_duration_seconds_count{endpoint="/healthz",method="GET",status="2xx"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"bedside_http_request_duration_seconds_count{endpoint="/fhir/{rtype}/{id}",method="GET",status="4xx"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"bedside_http_request_duration_seconds_bucket{endpoint="/healthz",method="GET",status="2xx",le="0.005"}"#));
    assert!(text.contains("bedside_job_queue_depth 0"), "{text}");
}
