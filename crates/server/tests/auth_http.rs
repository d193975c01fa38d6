//! Access control over real HTTP: the router with authentication on, an
//! OpenID Connect issuer whose P-256 key pair is generated here, its JWK
//! Set served by a tiny server on 127.0.0.1:0 (counting fetches), and one
//! static service token. Tokens are signed here with `ring`, independently
//! of the code under test. Every refusal asserts the reason it names.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_server::auth::{JwksSource, OidcConfig, ServiceToken};
use bedside_server::{Access, AccessConfig, HttpConfig, Role, Secret};
use bedside_test_support::http::{client, Stub};
use bedside_test_support::repo_path;
use bedside_test_support::server::TestServer;
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ISS: &str = "https://idp.test/realms/hospital";
const AUD: &str = "bedside";
const SERVICE_TOKEN: &str = "svc-0123456789abcdef0123456789abcdef0123456789abcdef";

struct Key {
    kid: String,
    pair: EcdsaKeyPair,
}

impl Key {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Key {
            kid: kid.into(),
            pair,
        }
    }

    fn jwk(&self) -> Value {
        let p = self.pair.public_key().as_ref();
        assert_eq!(p.len(), 65, "uncompressed P-256 point");
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
               "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..])})
    }

    /// A compact JWS over `claims` (ES256, this key's kid).
    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Standard claims for `sub` with provider roles `roles`.
fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({"iss": ISS, "aud": [AUD, "account"], "sub": sub, "iat": now(), "exp": now() + 300,
           "realm_access": {"roles": roles}})
}

#[derive(Clone, Default)]
struct Jwks {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks(State(j): State<Jwks>) -> Json<Value> {
    j.fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({"keys": *j.keys.lock().unwrap()}))
}

/// The JWKS server: its `/certs` URL, and the server, which stops when
/// dropped.
async fn jwks_server(j: Jwks) -> (String, Stub) {
    let stub = Stub::serve(Router::new().route("/certs", get(jwks)).with_state(j)).await;
    (stub.url("/certs"), stub)
}

fn access_config(jwks_url: &str, min_refetch: Duration) -> AccessConfig {
    let role_map: BTreeMap<String, Role> = [
        ("ehr-nurse", Role::Clinician),
        ("cds-team", Role::Informatics),
        ("quality", Role::Governance),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect();
    let oidc = OidcConfig {
        issuer: ISS.into(),
        audience: AUD.into(),
        jwks: JwksSource::Url(jwks_url.into()),
        role_claim: "realm_access.roles".into(),
        role_map,
        practitioner_claim: "fhirUser".into(),
    };
    let tokens = ServiceToken::parse_list(
        &Secret::new(format!("ingest:service:{SERVICE_TOKEN}")),
        "test",
    )
    .unwrap();
    let mut cfg = AccessConfig::new(Some(oidc), tokens);
    cfg.jwks_min_refetch = min_refetch;
    cfg
}

/// Status, `WWW-Authenticate` and body text of `GET base+path` with
/// `Authorization: auth`.
async fn get_with(base: &str, path: &str, auth: Option<&str>) -> (StatusCode, String, String) {
    let mut rb = client().get(format!("{base}{path}"));
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    let r = rb.send().await.unwrap();
    let status = r.status();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, r.text().await.unwrap())
}

/// Assert a 401 whose challenge and OperationOutcome both name `reason`.
fn assert_401(r: &(StatusCode, String, String), reason: &str) {
    assert_eq!(r.0, StatusCode::UNAUTHORIZED, "{r:?}");
    assert!(
        r.1.starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{r:?}"
    );
    assert!(r.1.contains(reason), "challenge lacks {reason:?}: {}", r.1);
    let body: Value = serde_json::from_str(&r.2).unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    let diag = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(diag.contains(reason), "outcome lacks {reason:?}: {diag}");
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refuses_every_bad_credential_and_admits_the_right_role() {
    let k1 = Key::new("k1");
    let k2 = Key::new("k2"); // never published
    let j = Jwks::default();
    j.keys.lock().unwrap().push(k1.jwk());
    let (jwks_url, _stop) = jwks_server(j.clone()).await;
    let access = Access::new(access_config(&jwks_url, Duration::from_secs(60))).unwrap();
    let s = TestServer::start_http(HttpConfig {
        access: Some(Arc::new(access)),
        ..Default::default()
    })
    .await;
    let b = &s.base;

    // Open: liveness and CDS Hooks discovery (hooks verify the EHR's JWT).
    assert_eq!(get_with(b, "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(get_with(b, "/cds-services", None).await.0, StatusCode::OK);
    // The CapabilityStatement is public (FHIR: a client reads it before it
    // has a token); the resources behind it are not.
    let meta = get_with(b, "/fhir/metadata", None).await;
    assert_eq!(meta.0, StatusCode::OK, "{meta:?}");
    let cs: Value = serde_json::from_str(&meta.2).unwrap();
    assert_eq!(cs["resourceType"], "CapabilityStatement", "{cs}");
    assert_401(&get_with(b, "/fhir/Patient", None).await, "missing token");

    // No token, malformed tokens.
    assert_401(&get_with(b, "/worklist", None).await, "missing token");
    assert_401(
        &get_with(b, "/worklist", Some("Basic dXNlcjpwdw==")).await,
        "malformed Authorization header",
    );
    assert_401(
        &get_with(b, "/worklist", Some("Bearer abc.def")).await,
        "malformed token",
    );
    assert_401(
        &get_with(b, "/worklist", Some("Bearer a.b.c")).await,
        "malformed token",
    );
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
        URL_SAFE_NO_PAD.encode(claims("u", &["ehr-nurse"]).to_string())
    );
    assert_401(
        &get_with(b, "/worklist", Some(&bearer(&none_alg))).await,
        "alg none is not allowed",
    );

    // Expired, wrong issuer, wrong audience.
    let mut c = claims("nurse-1", &["ehr-nurse"]);
    c["exp"] = json!(now() - 3600);
    assert_401(
        &get_with(b, "/worklist", Some(&bearer(&k1.sign(&c)))).await,
        "token expired at",
    );
    let mut c = claims("nurse-1", &["ehr-nurse"]);
    c["iss"] = json!("https://evil.test");
    assert_401(
        &get_with(b, "/worklist", Some(&bearer(&k1.sign(&c)))).await,
        "wrong issuer",
    );
    let mut c = claims("nurse-1", &["ehr-nurse"]);
    c["aud"] = json!("someone-else");
    assert_401(
        &get_with(b, "/worklist", Some(&bearer(&k1.sign(&c)))).await,
        "wrong audience",
    );

    // Bad signature: a valid token with its payload swapped for another.
    let good = k1.sign(&claims("nurse-1", &["ehr-nurse"]));
    let forged_payload = URL_SAFE_NO_PAD.encode(claims("admin-1", &["ehr-nurse"]).to_string());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_401(
        &get_with(b, "/worklist", Some(&bearer(&forged))).await,
        "bad signature",
    );

    // Unknown kid: refused, and the JWKS is refetched at most once a
    // minute however many such tokens arrive.
    let fetches_before = j.fetches.load(Ordering::SeqCst);
    for _ in 0..3 {
        assert_401(
            &get_with(
                b,
                "/worklist",
                Some(&bearer(&k2.sign(&claims("x", &["ehr-nurse"])))),
            )
            .await,
            "unknown kid",
        );
    }
    let fetched = j.fetches.load(Ordering::SeqCst) - fetches_before;
    assert!(fetched <= 1, "{fetched} JWKS fetches for 3 unknown kids");

    // Wrong role: 403 naming the roles needed and the ones held.
    let quality = k1.sign(&claims("q-1", &["quality"]));
    let r = get_with(b, "/worklist", Some(&bearer(&quality))).await;
    assert_eq!(r.0, StatusCode::FORBIDDEN, "{r:?}");
    let outcome: Value = serde_json::from_str(&r.2).unwrap();
    let diag = outcome["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diag.contains("needs role clinician or informatics; q-1 has governance"),
        "{diag}"
    );
    // ... while the same token may read metrics.
    assert_eq!(
        get_with(b, "/metrics", Some(&bearer(&quality))).await.0,
        StatusCode::OK
    );

    // Right role (mapped from the provider's role name at a dotted path).
    let r = get_with(b, "/worklist", Some(&bearer(&good))).await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    // No role at all: 403.
    let r = get_with(
        b,
        "/worklist",
        Some(&bearer(&k1.sign(&claims("nobody", &[])))),
    )
    .await;
    assert_eq!(r.0, StatusCode::FORBIDDEN);
    assert!(r.2.contains("nobody has none"), "{}", r.2);

    // A clinician may not ingest.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p-auth-1"},
         "request": {"method": "PUT", "url": "Patient/p-auth-1"}}]});
    let post = |auth: String| {
        client()
            .post(format!("{b}/fhir"))
            .header("authorization", auth)
            .header("content-type", "application/fhir+json")
            .body(bundle.to_string())
            .send()
    };
    let r = post(bearer(&good)).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("needs role service or admin"));

    // The static service token: allowed to ingest, refused on the worklist
    // and on reading patient data back.
    let r = post(bearer(SERVICE_TOKEN)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let r = get_with(b, "/worklist", Some(&bearer(SERVICE_TOKEN))).await;
    assert_eq!(r.0, StatusCode::FORBIDDEN);
    assert!(r.2.contains("ingest has service"), "{}", r.2);
    let r = get_with(b, "/fhir/Patient/p-auth-1", Some(&bearer(SERVICE_TOKEN))).await;
    assert_eq!(r.0, StatusCode::FORBIDDEN);
    // A wrong static token of the same shape is refused as unknown.
    assert_401(
        &get_with(
            b,
            "/worklist",
            Some("Bearer svc-0123456789abcdef0123456789abcdef0123456789abcdeX"),
        )
        .await,
        "malformed token: neither a JWT",
    );
    // The clinician reads what the service wrote.
    let r = get_with(b, "/fhir/Patient/p-auth-1", Some(&bearer(&good))).await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");

    // Routes not in the permission table are admin only (deny by default).
    let r = get_with(b, "/not-yet-listed", Some(&bearer(&good))).await;
    assert_eq!(r.0, StatusCode::FORBIDDEN);
    assert!(r.2.contains("needs role admin"), "{}", r.2);
    // The API description is public.
    let r = get_with(b, "/openapi.json", None).await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_signs_in_with_a_session_cookie_and_shows_only_what_the_role_may_open() {
    let k1 = Key::new("k1");
    let j = Jwks::default();
    j.keys.lock().unwrap().push(k1.jwk());
    let (jwks_url, _stop) = jwks_server(j).await;
    let access = Access::new(access_config(&jwks_url, Duration::from_secs(60))).unwrap();
    let s = TestServer::start_http(HttpConfig {
        access: Some(Arc::new(access)),
        ..Default::default()
    })
    .await;
    let b = &s.base;

    // Not signed in: the sign-in page, 401, naming why.
    let r = get_with(b, "/ui/models", None).await;
    assert_eq!(r.0, StatusCode::UNAUTHORIZED);
    assert!(r.1.contains("missing token"), "{}", r.1);
    assert!(r.2.contains("Sign in") && r.2.contains("name=\"token\""));
    assert!(
        r.2.contains("value=\"/ui/models\""),
        "returns to the page asked for"
    );
    // Assets stay open (the sign-in page needs its stylesheet).
    assert_eq!(
        get_with(b, "/ui/assets/bedside.css", None).await.0,
        StatusCode::OK
    );

    // A refused sign-in names the reason and sets no cookie.
    let mut expired = claims("nurse-1", &["ehr-nurse"]);
    expired["exp"] = json!(now() - 600);
    let r = client()
        .post(format!("{b}/ui/login"))
        .form(&[
            ("token", k1.sign(&expired).as_str()),
            ("next", "/ui/models"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Sign-in refused: token expired at"));

    // A good token: 303 back to the page, with a locked-down cookie.
    let token = k1.sign(&claims("nurse-1", &["ehr-nurse"]));
    let r = client()
        .post(format!("{b}/ui/login"))
        .form(&[("token", token.as_str()), ("next", "/ui/models")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ui/models");
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in [
        "bedside_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/ui",
    ] {
        assert!(set_cookie.contains(attr), "{set_cookie} lacks {attr}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http: no Secure flag");
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let ui_get = |path: &str| {
        client()
            .get(format!("{b}{path}"))
            .header("cookie", cookie.clone())
            .send()
    };
    let r = ui_get("/ui/models").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("nurse-1 (clinician)") && html.contains("Sign out"));
    // The clinician's menu: worklist and models, not sandbox or dashboard.
    assert!(html.contains("href=\"/ui/worklist\""), "{html}");
    assert!(!html.contains("href=\"/ui/sandbox\""), "sandbox link shown");
    assert!(!html.contains(">Dashboard<"), "dashboard link shown");
    assert_eq!(
        ui_get("/ui/worklist").await.unwrap().status(),
        StatusCode::OK
    );
    // Pages the role may not open: 403 naming the roles needed.
    let r = ui_get("/ui/sandbox").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("needs role informatics or admin"));
    // The UI cookie is no credential for the API.
    let r = client()
        .get(format!("{b}/worklist"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Signing out clears the cookie.
    let r = client()
        .post(format!("{b}/ui/logout"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cleared = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("bedside_session=;") && cleared.contains("Max-Age=0"));

    // An informatics user lands on the dashboard and sees the sandbox.
    let token = k1.sign(&claims("cds-1", &["cds-team"]));
    let r = client()
        .post(format!("{b}/ui/login"))
        .form(&[("token", token.as_str()), ("next", "/ui")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/ui");
    // A clinician sent to the dashboard (which they may not open) lands on
    // their first section instead; an off-site `next` is ignored.
    let token = k1.sign(&claims("nurse-1", &["ehr-nurse"]));
    for next in ["/ui", "https://evil.test/ui"] {
        let r = client()
            .post(format!("{b}/ui/login"))
            .form(&[("token", token.as_str()), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/ui/worklist", "next={next}");
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_so_rotated_keys_are_accepted() {
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let j = Jwks::default();
    j.keys.lock().unwrap().push(k1.jwk());
    let (jwks_url, _stop) = jwks_server(j.clone()).await;
    let access = Access::new(access_config(&jwks_url, Duration::ZERO)).unwrap();
    let t1 = k1.sign(&claims("nurse-1", &["ehr-nurse"]));
    let p = access.authenticate(&t1, chrono::Utc::now()).await.unwrap();
    assert_eq!(p.subject, "nurse-1");
    assert_eq!(p.roles, vec![Role::Clinician]);
    assert_eq!(j.fetches.load(Ordering::SeqCst), 1, "first use fetches");
    access.authenticate(&t1, chrono::Utc::now()).await.unwrap();
    assert_eq!(j.fetches.load(Ordering::SeqCst), 1, "known kid: cached");

    // The provider rotates to k2.
    let t2 = k2.sign(&claims("nurse-2", &["ehr-nurse"]));
    let e = access
        .authenticate(&t2, chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(e.contains("unknown kid \"k2\""), "{e}");
    j.keys.lock().unwrap().push(k2.jwk());
    let p = access.authenticate(&t2, chrono::Utc::now()).await.unwrap();
    assert_eq!(p.subject, "nurse-2");
}

#[tokio::test]
async fn an_unreachable_jwks_url_is_an_unknown_kid_not_a_hang() {
    // Bind and drop: nothing listens on the port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let access = Access::new(access_config(
        &format!("http://127.0.0.1:{port}/certs"),
        Duration::from_secs(60),
    ))
    .unwrap();
    assert!(access.prefetch().await.is_err());
    let t = Key::new("k1").sign(&claims("n", &["ehr-nurse"]));
    let e = access
        .authenticate(&t, chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(e.contains("cannot be fetched"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worklist_actions_show_only_for_roles_that_may_take_them() {
    let k1 = Key::new("k1");
    let j = Jwks::default();
    j.keys.lock().unwrap().push(k1.jwk());
    let (jwks_url, _stop) = jwks_server(j).await;
    let access = Access::new(access_config(&jwks_url, Duration::from_secs(60))).unwrap();
    let http = HttpConfig {
        access: Some(Arc::new(access)),
        ..Default::default()
    };
    let s = TestServer::start_with(http, |c| {
        c.pathway(repo_path("pathways/radiology-review.bpmn"))
    })
    .await;
    let vars = json!({
        "patient": {"identifiers": [{"value": "MRN-9"}]},
        "study": {"reference": "ImagingStudy/s1", "display": "CT head"},
        "finding": {"reference": "Observation/ai1", "display": "Intracranial haemorrhage (AI)"},
        "contrast_allergies": [], "prior_imaging": [],
        "responsible_radiologist": "Practitioner/rad-7"
    });
    s.app
        .start_pathway(
            "imaging-ai-finding",
            "p-rad",
            "ai1",
            vars.as_object().cloned().unwrap(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let task = s.app.worklist(None, None, None).await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let page = |sub: &str, role: &str| {
        let t = k1.sign(&claims(sub, &[role]));
        let b = s.base.clone();
        async move {
            let r = get_with(&b, "/ui/worklist", Some(&bearer(&t))).await;
            assert_eq!(r.0, StatusCode::OK, "{r:?}");
            r.2
        }
    };
    let nurse = page("nurse-1", "ehr-nurse").await;
    assert!(nurse.contains(&format!("data-task-id=\"{task}\"")));
    assert!(nurse.contains("btn-claim"), "the clinician may claim");
    let informatics = page("cds-1", "cds-team").await;
    assert!(
        informatics.contains(&format!("data-task-id=\"{task}\"")),
        "sees the task"
    );
    assert!(!informatics.contains("btn-claim"), "but no action buttons");
    // Every worklist view is in the audit log: who, through what (UI or
    // API), and each patient it listed.
    let nurse_token = k1.sign(&claims("nurse-1", &["ehr-nurse"]));
    let r = get_with(&s.base, "/worklist", Some(&bearer(&nurse_token))).await;
    assert_eq!(r.0, StatusCode::OK, "{r:?}");
    let audit = s.app.store.audit_entries(1, 10_000).await.unwrap();
    let reads: Vec<&serde_json::Value> = audit
        .iter()
        .map(|e| &e.body)
        .filter(|b| bedside_app::audit::subtype_of(b) == Some("worklist-read"))
        .collect();
    let seen: Vec<(String, String)> = reads
        .iter()
        .map(|b| {
            (
                b["agent"][0]["who"]["identifier"]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                bedside_app::audit::detail(b, "via")
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    for want in [("nurse-1", "ui"), ("cds-1", "ui"), ("nurse-1", "api")] {
        assert!(
            seen.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in {seen:?}"
        );
    }
    for b in &reads {
        let entities = b["entity"].as_array().unwrap();
        assert!(
            entities
                .iter()
                .any(|e| e["what"]["reference"] == "Patient/p-rad"),
            "the listed patient is named: {b}"
        );
    }
    // ... and cannot take the action by posting the form anyway.
    let t = k1.sign(&claims("cds-1", &["cds-team"]));
    let r = client()
        .post(format!("{}/ui/worklist/{task}/claim", s.base))
        .header("authorization", bearer(&t))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("needs role clinician"));
}

/// A worklist action acts as the signed-in person: a nurse whose token
/// names her Practitioner (`fhirUser`) claims and completes the nurse
/// reassessment; the Task's owner and note, and the AuditEvent's agent,
/// are that nurse. An `actor` in the body naming someone else is refused
/// and changes nothing. Completing with "escalate" opens the physician
/// review at once, and the decision is in `Task.output`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_nurse_acts_as_herself_and_a_body_actor_is_refused() {
    let k1 = Key::new("k1");
    let j = Jwks::default();
    j.keys.lock().unwrap().push(k1.jwk());
    let (jwks_url, _stop) = jwks_server(j).await;
    let access = Access::new(access_config(&jwks_url, Duration::from_secs(60))).unwrap();
    let http = HttpConfig {
        access: Some(Arc::new(access)),
        ..Default::default()
    };
    let s = TestServer::start_with(http, |c| {
        c.pathway(repo_path("pathways/sepsis-escalation.bpmn"))
    })
    .await;
    let vars = json!({"patient": {"identifiers": [{"value": "MRN-1"}]}});
    s.app
        .start_pathway(
            "sepsis-alert",
            "p-n",
            "alert-1",
            vars.as_object().cloned().unwrap(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let task = s.app.worklist(None, Some("nurse"), None).await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = claims("nurse-7", &["ehr-nurse"]);
    c["fhirUser"] = json!("https://ehr.test/fhir/Practitioner/n-7");
    let nurse = bearer(&k1.sign(&c));
    let act = |action: &str, body: Value| {
        client()
            .post(format!("{}/worklist/{task}/{action}", s.base))
            .header("authorization", nurse.clone())
            .json(&body)
            .send()
    };

    // Someone else named in the body: refused, nothing changes.
    let r = act("claim", json!({"actor": "Practitioner/someone-else"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let oo: Value = r.json().await.unwrap();
    let diag = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diag.contains("acts as the signed-in person (Practitioner/n-7)"),
        "{diag}"
    );
    assert_eq!(s.app.read_task(&task).await.unwrap()["status"], "requested");

    // Her own claim: she owns the Task.
    let r = act("claim", json!({})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["owner"]["reference"], "Practitioner/n-7");
    // Naming herself is the same as naming no one.
    let r = act("acknowledge", json!({"actor": "Practitioner/n-7"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Completing needs the decision the step offers.
    let r = act("complete", json!({})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let oo: Value = r.json().await.unwrap();
    let diag = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diag.contains("escalate") && diag.contains("resolved"),
        "{diag}"
    );
    let r = act("complete", json!({"decision": "escalate"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["status"], "completed");
    assert_eq!(
        t["note"][0]["authorReference"]["reference"],
        "Practitioner/n-7"
    );
    let decision = t["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"]["coding"][0]["code"] == "decision")
        .expect("the decision is an output");
    assert_eq!(
        decision["valueCodeableConcept"]["coding"][0]["code"],
        "escalate"
    );
    // The escalation opened the physician review at once.
    let phys = s.app.worklist(None, Some("physician"), None).await.unwrap();
    assert_eq!(phys.len(), 1, "{phys:?}");
    assert_eq!(phys[0]["code"]["coding"][0]["code"], "Task_PhysicianReview");

    // The audit log names her, as principal and as Practitioner.
    let audit = s.app.store.audit_entries(1, 10_000).await.unwrap();
    let actions: Vec<&Value> = audit
        .iter()
        .map(|e| &e.body)
        .filter(|b| {
            matches!(
                bedside_app::audit::subtype_of(b),
                Some("task-claim" | "task-acknowledge" | "task-complete")
            )
        })
        .collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    for b in &actions {
        assert_eq!(b["agent"][0]["who"]["reference"], "Practitioner/n-7", "{b}");
        assert_eq!(b["agent"][0]["who"]["identifier"]["value"], "nurse-7");
    }
    let complete = actions
        .iter()
        .find(|b| bedside_app::audit::subtype_of(b) == Some("task-complete"))
        .unwrap();
    assert_eq!(
        bedside_app::audit::detail(complete, "decision"),
        Some("escalate")
    );
}
