//! SMART Backend Services for write-back: an in-process token endpoint and
//! FHIR server on 127.0.0.1:0. The token endpoint verifies every client
//! assertion (`private_key_jwt`: ES384 signature checked with `ring` against
//! the public half of a key pair generated here, iss = sub = client id,
//! aud = token URL, a fresh jti, exp at most five minutes ahead) and issues
//! numbered access tokens; the FHIR server accepts only the current one.
//! Bedside caches the token across writes and, when the server revokes it
//! (401), fetches a new one once and retries.

mod common;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bedside_app::worklist::TaskAction;
use bedside_app::writeback::SmartBackend;
use bedside_test_support::http::Stub;
use bedside_test_support::jobs::drain;
use chrono::{Duration, Utc};
use common::pathway_app;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "bedside-writeback";

#[derive(Clone)]
struct Fake {
    token_url: Arc<Mutex<String>>,
    public_key: Arc<Vec<u8>>,
    /// Assertion problems seen by the token endpoint (must stay empty).
    problems: Arc<Mutex<Vec<String>>>,
    jtis: Arc<Mutex<BTreeSet<String>>>,
    issued: Arc<Mutex<u32>>,
    /// The access token the FHIR server accepts now.
    current: Arc<Mutex<Option<String>>>,
    /// (bearer token, type, id) of every accepted PUT.
    puts: Arc<Mutex<Vec<(String, String, String)>>>,
    refused: Arc<Mutex<u32>>,
}

fn part(s: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap()
}

/// Every rule of a SMART client assertion; the first broken one.
fn check_assertion(f: &Fake, form: &HashMap<String, String>) -> Result<(), String> {
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err("grant_type".into());
    }
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err("client_assertion_type".into());
    }
    if !form
        .get("scope")
        .is_some_and(|s| s.contains("system/Task.write"))
    {
        return Err("scope".into());
    }
    let jwt = form.get("client_assertion").ok_or("no client_assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("assertion is not a JWS".into());
    }
    let (h, c) = (part(parts[0]), part(parts[1]));
    if h["alg"] != "ES384" || h["kid"] != "bedside-key-1" {
        return Err(format!("header {h}"));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|e| e.to_string())?;
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, f.public_key.as_slice())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .map_err(|_| "signature does not verify".to_string())?;
    if c["iss"] != CLIENT_ID || c["sub"] != CLIENT_ID {
        return Err(format!("iss/sub {c}"));
    }
    if c["aud"] != f.token_url.lock().unwrap().as_str() {
        return Err(format!("aud {}", c["aud"]));
    }
    let now = Utc::now().timestamp();
    let exp = c["exp"].as_i64().ok_or("no exp")?;
    if exp <= now || exp > now + 300 + 5 {
        return Err(format!("exp {exp} not within five minutes of {now}"));
    }
    let jti = c["jti"].as_str().ok_or("no jti")?.to_string();
    if !f.jtis.lock().unwrap().insert(jti) {
        return Err("jti reused".into());
    }
    Ok(())
}

async fn token(
    State(f): State<Fake>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if let Err(e) = check_assertion(&f, &form) {
        f.problems.lock().unwrap().push(e.clone());
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": e})),
        );
    }
    let n = {
        let mut i = f.issued.lock().unwrap();
        *i += 1;
        *i
    };
    let t = format!("access-token-{n}");
    *f.current.lock().unwrap() = Some(t.clone());
    (
        StatusCode::OK,
        Json(
            json!({"access_token": t, "token_type": "bearer", "expires_in": 3600,
                    "scope": form["scope"]}),
        ),
    )
}

async fn fhir_put(
    State(f): State<Fake>,
    UrlPath((rtype, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> StatusCode {
    let got = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let current = f.current.lock().unwrap().clone();
    match (got, current) {
        (Some(g), Some(c)) if g == c => {
            f.puts.lock().unwrap().push((g, rtype, id));
            StatusCode::OK
        }
        _ => {
            *f.refused.lock().unwrap() += 1;
            StatusCode::UNAUTHORIZED
        }
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn vars() -> Map<String, Value> {
    json!({
        "patient": {"identifiers": [{"value": "MRN-9"}]},
        "study": {"reference": "ImagingStudy/s1", "display": "CT head"},
        "finding": {"reference": "Observation/ai1", "display": "Intracranial haemorrhage (AI)"},
        "contrast_allergies": [],
        "prior_imaging": [],
        "responsible_radiologist": "Practitioner/rad-7"
    })
    .as_object()
    .cloned()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_back_authenticates_with_a_signed_client_assertion_and_renews_on_401() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let fake = Fake {
        token_url: Arc::default(),
        public_key: Arc::new(pair.public_key().as_ref().to_vec()),
        problems: Arc::default(),
        jtis: Arc::default(),
        issued: Arc::default(),
        current: Arc::default(),
        puts: Arc::default(),
        refused: Arc::default(),
    };
    let router = Router::new()
        .route("/auth/token", post(token))
        .route("/fhir/{rtype}/{id}", put(fhir_put))
        .with_state(fake.clone());
    let ehr = Stub::serve(router).await;
    let token_url = ehr.url("/auth/token");
    *fake.token_url.lock().unwrap() = token_url.clone();

    let dir = tempfile::tempdir().unwrap();
    let app = pathway_app(dir.path(), &["radiology-review.bpmn"]).await;

    // Bad key material is refused up front, naming the problem.
    let e = SmartBackend::new(CLIENT_ID, &token_url, "s", "not a key", None).unwrap_err();
    assert!(e.contains("not a PEM private key"), "{e}");
    let sb = SmartBackend::new(
        CLIENT_ID,
        &token_url,
        "system/Task.write system/Communication.write system/RiskAssessment.write",
        &pem(pkcs8.as_ref()),
        Some("bedside-key-1"),
    )
    .unwrap();
    assert_eq!(sb.alg(), "ES384");
    assert!(
        !format!("{sb:?}").contains("PRIVATE"),
        "Debug hides the key"
    );
    app.set_writeback_with(Some(&ehr.url("/fhir")), Some(sb))
        .unwrap();

    let t0 = Utc::now() - Duration::hours(5);
    app.start_pathway("imaging-ai-finding", "p-rad", "ai1", vars(), t0)
        .await
        .unwrap();
    drain(&app).await;
    let first: Vec<_> = fake.puts.lock().unwrap().clone();
    assert!(first.len() >= 2, "task and reminder written: {first:?}");
    assert!(first.iter().all(|(t, _, _)| t == "access-token-1"));
    assert_eq!(*fake.issued.lock().unwrap(), 1, "one token for every write");

    // The authorization server revokes the token: the next write is
    // refused once, Bedside gets a new token and the write goes through.
    *fake.current.lock().unwrap() = Some("revoked-elsewhere".into());
    let review = app.worklist(None, None, None).await.unwrap();
    let id = review[0]["id"].as_str().unwrap().to_string();
    app.task_action(
        &id,
        TaskAction::Claim,
        Some("Practitioner/rad-7"),
        None,
        Map::new(),
        Utc::now(),
    )
    .await
    .unwrap();
    drain(&app).await;
    drop(ehr);

    assert_eq!(
        fake.problems.lock().unwrap().clone(),
        Vec::<String>::new(),
        "every client assertion was valid"
    );
    assert_eq!(*fake.issued.lock().unwrap(), 2);
    assert!(
        *fake.refused.lock().unwrap() >= 1,
        "the revoked token was sent"
    );
    let puts = fake.puts.lock().unwrap().clone();
    let last = puts.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_str()),
        ("access-token-2", "Task", id.as_str())
    );
    assert_eq!(fake.jtis.lock().unwrap().len(), 2, "a fresh jti each time");
}
