//! SMART EHR launch with PKCE over real HTTP: Bedside (access control on)
//! and a fake EHR authorization server on 127.0.0.1:0 serving
//! `.well-known/smart-configuration`, `authorize` and `token`. The fake
//! computes the S256 challenge itself (ring's SHA-256, not Bedside's code)
//! and refuses a `code_verifier` that does not match the challenge it was
//! given. Every refusal asserts the reason Bedside names.

use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_server::auth::ServiceToken;
use bedside_server::smart::{SmartLaunch, SmartLaunchConfig};
use bedside_server::{Access, AccessConfig, HttpConfig, Secret};
use bedside_test_support::http::{client, Stub};
use bedside_test_support::server::TestServer;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "bedside-smart";
const REDIRECT: &str = "https://bedside.example/smart/redirect";
const SCOPE: &str = "launch openid fhirUser patient/*.read";
const SERVICE_TOKEN: &str = "svc-0123456789abcdef0123456789abcdef0123456789abcdef";

/// What the fake authorization server remembers of one `authorize`.
#[derive(Clone)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    client_id: String,
}

/// A token request the fake saw (its form) and the status it answered.
type TokenCall = (BTreeMap<String, String>, u16);

#[derive(Clone, Default)]
struct Fake {
    base: Arc<Mutex<String>>,
    grants: Arc<Mutex<HashMap<String, Grant>>>,
    /// Store a different challenge than the one sent (the verifier Bedside
    /// later sends must then be refused).
    tamper: Arc<Mutex<bool>>,
    /// Token requests seen, with the verdict.
    token_calls: Arc<Mutex<Vec<TokenCall>>>,
    next: Arc<Mutex<u32>>,
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

async fn smart_configuration(State(f): State<Fake>) -> Json<Value> {
    let base = f.base.lock().unwrap().clone();
    Json(json!({
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "capabilities": ["launch-ehr", "context-ehr-patient", "client-public"],
        "code_challenge_methods_supported": ["S256"]
    }))
}

async fn slow_configuration() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Json(json!({}))
}

async fn no_pkce_configuration(State(f): State<Fake>) -> Json<Value> {
    let base = f.base.lock().unwrap().clone();
    Json(json!({
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "code_challenge_methods_supported": ["plain"]
    }))
}

/// The authorization endpoint: checks what SMART requires, remembers the
/// challenge under a fresh code, and sends the browser back.
async fn authorize(State(f): State<Fake>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let base = f.base.lock().unwrap().clone();
    let need = |k: &str, v: &str| q.get(k).map(String::as_str) == Some(v);
    if !need("response_type", "code")
        || !need("code_challenge_method", "S256")
        || !need("aud", &format!("{base}/fhir"))
        || !q.contains_key("launch")
        || !q.contains_key("state")
    {
        return (StatusCode::BAD_REQUEST, format!("bad authorize: {q:?}")).into_response();
    }
    let mut challenge = q["code_challenge"].clone();
    if *f.tamper.lock().unwrap() {
        challenge = s256("some other verifier");
    }
    let code = {
        let mut n = f.next.lock().unwrap();
        *n += 1;
        format!("code-{n}")
    };
    f.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge,
            redirect_uri: q["redirect_uri"].clone(),
            client_id: q["client_id"].clone(),
        },
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

/// The token endpoint: one use per code, PKCE verified, redirect_uri and
/// client_id as at `authorize`.
async fn token(State(f): State<Fake>, Form(form): Form<BTreeMap<String, String>>) -> Response {
    let verdict = (|| {
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err("unsupported_grant_type");
        }
        let g = f
            .grants
            .lock()
            .unwrap()
            .remove(form.get("code").map(String::as_str).unwrap_or(""))
            .ok_or("invalid_grant")?;
        let verifier = form.get("code_verifier").ok_or("invalid_request")?;
        if s256(verifier) != g.challenge {
            return Err("invalid_grant");
        }
        if form.get("redirect_uri") != Some(&g.redirect_uri)
            || form.get("client_id") != Some(&g.client_id)
        {
            return Err("invalid_client");
        }
        Ok(())
    })();
    let status = if verdict.is_ok() { 200 } else { 400 };
    f.token_calls.lock().unwrap().push((form, status));
    match verdict {
        Ok(()) => Json(json!({
            "access_token": "ehr-access-token", "token_type": "Bearer", "expires_in": 3600,
            "scope": SCOPE, "patient": "p1", "fhirUser": "Practitioner/dr-1"
        }))
        .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e, "error_description": "PKCE or grant check failed"})),
        )
            .into_response(),
    }
}

async fn fake_server() -> (Fake, Stub) {
    let f = Fake::default();
    let stub = Stub::serve(
        Router::new()
            .route(
                "/fhir/.well-known/smart-configuration",
                get(smart_configuration),
            )
            .route(
                "/slow/.well-known/smart-configuration",
                get(slow_configuration),
            )
            .route(
                "/plain/.well-known/smart-configuration",
                get(no_pkce_configuration),
            )
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(f.clone()),
    )
    .await;
    *f.base.lock().unwrap() = stub.base.clone();
    (f, stub)
}

/// Bedside with access control on (one service token to load data), SMART
/// launch allowed from the fake's `/fhir`, `/slow` and `/plain`.
async fn bedside(fake: &Stub) -> TestServer {
    let tokens = ServiceToken::parse_list(
        &Secret::new(format!("ingest:service:{SERVICE_TOKEN}")),
        "test",
    )
    .unwrap();
    let access = Access::new(AccessConfig::new(None, tokens)).unwrap();
    let mut cfg = SmartLaunchConfig::new(
        CLIENT_ID,
        REDIRECT,
        SCOPE,
        vec![fake.url("/fhir"), fake.url("/slow/"), fake.url("/plain")],
    );
    cfg.timeout = Duration::from_millis(500);
    let s = TestServer::start_http(HttpConfig {
        access: Some(Arc::new(access)),
        smart: Some(Arc::new(SmartLaunch::new(cfg).unwrap())),
        ..Default::default()
    })
    .await;
    for (id, name) in [("p1", "Ada"), ("p2", "Bob")] {
        let r = client()
            .put(s.url(&format!("/fhir/Patient/{id}")))
            .header("authorization", format!("Bearer {SERVICE_TOKEN}"))
            .header("content-type", "application/fhir+json")
            .body(
                json!({"resourceType": "Patient", "id": id, "gender": "female",
                       "name": [{"given": [name], "family": "Tester"}]})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "store {id}: {}", r.status());
    }
    s
}

/// Status, `Location`, `Set-Cookie` and body of a GET (no redirects
/// followed), with an optional cookie.
async fn visit(url: &str, cookie: Option<&str>) -> (u16, String, String, String) {
    let mut rb = client().get(url);
    if let Some(c) = cookie {
        rb = rb.header(header::COOKIE, c);
    }
    let r = rb.send().await.unwrap();
    let h = |n: header::HeaderName| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (loc, cookie) = (h(header::LOCATION), h(header::SET_COOKIE));
    (r.status().as_u16(), loc, cookie, r.text().await.unwrap())
}

fn query_of(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Launch from `iss`, let the fake authorize: the redirect back to
/// Bedside (as a path on the test server) and the authorize query.
async fn launch_and_authorize(s: &TestServer, iss: &str) -> (String, BTreeMap<String, String>) {
    let (st, loc, _, body) = visit(
        &s.url(&format!("/smart/launch?iss={iss}&launch=xyz123")),
        None,
    )
    .await;
    assert!(matches!(st, 302 | 303 | 307), "launch: {st} {body}");
    let q = query_of(&loc);
    let (st, back, _, body) = visit(&loc, None).await;
    assert_eq!(st, 303, "authorize: {body}");
    assert!(back.starts_with(REDIRECT), "{back}");
    let path = back.trim_start_matches("https://bedside.example");
    (s.url(path), q)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_with_pkce_opens_the_patients_page_once() {
    let (fake, stub) = fake_server().await;
    let s = bedside(&stub).await;
    let iss = stub.url("/fhir");

    let (back, q) = launch_and_authorize(&s, &iss).await;
    // Everything SMART's authorization request needs, exactly.
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], SCOPE);
    assert_eq!(q["aud"], iss);
    assert_eq!(q["launch"], "xyz123");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "base64url SHA-256");
    assert!(q["state"].len() >= 22, "state has at least 128 bits");

    let (st, loc, cookie, body) = visit(&back, None).await;
    assert_eq!(st, 303, "{body}");
    assert_eq!(loc, "/ui/patients/p1");
    assert!(cookie.starts_with("bedside_smart="), "{cookie}");
    assert!(cookie.contains("Path=/ui/patients"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    // The fake saw the verifier and accepted it against its own S256.
    {
        let calls = fake.token_calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1, 200);
        assert_eq!(s256(&calls[0].0["code_verifier"]), q["code_challenge"]);
    }
    let session = cookie.split(';').next().unwrap().to_string();

    // The session opens p1's page, named as the EHR's user...
    let (st, _, _, page) = visit(&s.url("/ui/patients/p1"), Some(&session)).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Ada Tester"), "{page}");
    assert!(
        page.contains("Opened from the EHR by Practitioner/dr-1"),
        "{page}"
    );
    assert!(page.contains("Risk history") && page.contains("Open tasks"));
    // ...and no other patient; without it nothing opens.
    let (st, _, _, page) = visit(&s.url("/ui/patients/p2"), Some(&session)).await;
    assert_eq!(st, 401, "{page}");
    assert!(!page.contains("Bob Tester"));
    assert_eq!(visit(&s.url("/ui/patients/p1"), None).await.0, 401);
    assert_eq!(
        visit(&s.url("/ui/patients/p1"), Some("bedside_smart=forged"))
            .await
            .0,
        401
    );
    // The read is in the audit log as the EHR's user.
    let reads: Vec<String> = s
        .app
        .store
        .audit_entries(1, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| bedside_app::audit::subtype_of(&e.body) == Some("ui-patient-timeline"))
        .map(|e| e.body.to_string())
        .collect();
    assert!(
        reads
            .iter()
            .any(|b| b.contains("Practitioner/dr-1") && b.contains("Patient/p1")),
        "{reads:?}"
    );
    assert!(
        !reads.iter().any(|b| b.contains("Tester")),
        "a name in the audit log"
    );

    // The same state again: refused, and no second token request.
    let (st, _, cookie, body) = visit(&back, None).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("unknown or already used"), "{body}");
    assert!(cookie.is_empty());
    assert_eq!(fake.token_calls.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_refusals_name_the_reason() {
    let (fake, stub) = fake_server().await;
    let s = bedside(&stub).await;
    let iss = stub.url("/fhir");
    let launch = |iss: &str| s.url(&format!("/smart/launch?iss={iss}&launch=l1"));

    // An issuer not configured.
    let (st, loc, _, body) = visit(&launch("https://evil.example/fhir"), None).await;
    assert_eq!(st, 403, "{body}");
    assert!(loc.is_empty());
    assert!(body.contains("not an allowed SMART issuer"), "{body}");
    // Missing parameters.
    let (st, _, _, body) = visit(&s.url(&format!("/smart/launch?iss={iss}")), None).await;
    assert_eq!(st, 400);
    assert!(body.contains("missing query parameter `launch`"), "{body}");
    let (st, _, _, body) = visit(&s.url("/smart/launch?launch=l1"), None).await;
    assert_eq!(st, 400);
    assert!(body.contains("missing query parameter `iss`"), "{body}");
    // Discovery that does not answer in time (500 ms here).
    let t = Instant::now();
    let (st, _, _, body) = visit(&launch(&stub.url("/slow")), None).await;
    assert_eq!(st, 502, "{body}");
    assert!(body.contains("no answer within 500 ms"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // An authorization server without S256.
    let (st, _, _, body) = visit(&launch(&stub.url("/plain")), None).await;
    assert_eq!(st, 502, "{body}");
    assert!(body.contains("lacks S256"), "{body}");

    // Missing and unknown state.
    let (st, _, _, body) = visit(&s.url("/smart/redirect?code=c"), None).await;
    assert_eq!(st, 400);
    assert!(body.contains("missing query parameter `state`"), "{body}");
    let (st, _, _, body) = visit(&s.url("/smart/redirect?code=c&state=made-up"), None).await;
    assert_eq!(st, 400);
    assert!(body.contains("unknown or already used"), "{body}");
    assert!(fake.token_calls.lock().unwrap().is_empty());

    // The authorization server answers the redirect with an error.
    let (st, loc, _, _) = visit(&launch(&iss), None).await;
    assert_eq!(st, 303);
    let state = query_of(&loc)["state"].clone();
    let (st, _, _, body) = visit(
        &s.url(&format!(
            "/smart/redirect?state={state}&error=access_denied&error_description=user+said+no"
        )),
        None,
    )
    .await;
    assert_eq!(st, 400);
    assert!(body.contains("access_denied"), "{body}");

    // A challenge that does not match the verifier: the token endpoint
    // refuses, Bedside says so and opens nothing.
    *fake.tamper.lock().unwrap() = true;
    let (back, _) = launch_and_authorize(&s, &iss).await;
    let (st, _, cookie, body) = visit(&back, None).await;
    assert_eq!(st, 502, "{body}");
    assert!(body.contains("token endpoint"), "{body}");
    assert!(body.contains("400 invalid_grant"), "{body}");
    assert!(cookie.is_empty());
    assert_eq!(fake.token_calls.lock().unwrap().last().unwrap().1, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_refuses_a_wrong_verifier() {
    // The fake's own check, so the tests above prove something: a
    // verifier other than the challenge's is refused, the right one taken.
    let (fake, stub) = fake_server().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    for (code, v, want) in [("a", "wrong-verifier", 400), ("b", verifier, 200)] {
        fake.grants.lock().unwrap().insert(
            code.into(),
            Grant {
                challenge: s256(verifier),
                redirect_uri: REDIRECT.into(),
                client_id: CLIENT_ID.into(),
            },
        );
        let r = client()
            .post(stub.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT_ID),
                ("code_verifier", v),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{v}");
    }
}
