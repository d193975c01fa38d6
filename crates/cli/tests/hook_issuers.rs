//! Acceptance of trusted hook issuers with the real binary: `bedside
//! serve` configured (config file in a temp dir) to trust the CDS Hooks
//! specification's example EHR (`../shared/cds-hooks/jwt`) through a JWK
//! Set file made here from the example's public key. A fresh token signed
//! with the example key (same alg ES384, same `iss`, the example's header
//! with its `jku`) is accepted; the example token itself (expired), a
//! replay, a wrong `aud`, a `jku` off the allow-list and the demo EHR's
//! key (not configured: `serve` has no demo key) are refused 401 with the
//! reason. Tokens are signed here with `ring`, independently of Bedside.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_test_support::process::Spawn;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_bedside");
const SERVICE: &str = "fixture-lgbm-patient-view";

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// A compact JWS over `claims` with `header`, signed with the EC private
/// JWK `key` (P-384 or P-256).
fn sign(key: &Value, header: &Value, claims: &Value) -> String {
    let alg = match key["crv"].as_str().unwrap() {
        "P-384" => &ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => &ECDSA_P256_SHA256_FIXED_SIGNING,
    };
    let mut public = vec![4u8];
    public.extend(b64(key["x"].as_str().unwrap()));
    public.extend(b64(key["y"].as_str().unwrap()));
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        alg,
        &b64(key["d"].as_str().unwrap()),
        &public,
        &rng,
    )
    .unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = pair.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn post(base: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .expect("POST to bedside");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn diagnostics(v: &Value) -> &str {
    v["issue"][0]["diagnostics"].as_str().unwrap_or("")
}

#[tokio::test]
async fn serve_trusts_the_spec_example_ehr_from_a_jwks_file() {
    let root = bedside_test_support::repo_root();
    let spec: PathBuf = root.join("../shared/cds-hooks/jwt");
    if !spec.is_dir() {
        eprintln!(
            "\n!!! SKIPPED: {} not found; hook issuer acceptance did not run !!!\n",
            spec.display()
        );
        return;
    }
    let private = read_json(&spec.join("private-jwk.json"));
    let header = read_json(&spec.join("header.json"));
    let example = read_json(&spec.join("payload.json"));
    let iss = example["iss"].as_str().unwrap().to_string();

    // The JWK Set file: the example key without its private part.
    let dir = tempfile::tempdir().unwrap();
    let mut public = private.clone();
    public.as_object_mut().unwrap().remove("d");
    std::fs::write(
        dir.path().join("ehr-jwks.json"),
        json!({"keys": [public]}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("issuers.toml"),
        format!(
            "[[issuer]]\niss = {iss:?}\njwks_file = \"ehr-jwks.json\"\njku = [{:?}]\n",
            header["jku"].as_str().unwrap()
        ),
    )
    .unwrap();
    let config = dir.path().join("bedside.toml");
    std::fs::write(
        &config,
        format!(
            "hook_issuers = {:?}\nmodels = [{:?}]\n",
            dir.path().join("issuers.toml"),
            root.join("crates/models/tests/fixtures/pkg")
        ),
    )
    .unwrap();
    let server = Spawn::serve(BIN)
        .arg("--config")
        .arg(&config)
        .fresh_data_dir()
        .start()
        .expect("bedside serve starts");
    assert!(
        server
            .log_lines()
            .iter()
            .any(|l| l.contains("trusted CDS Hooks issuer") && l.contains(&iss)),
        "the issuer is logged at start"
    );

    let path = format!("/cds-services/{SERVICE}");
    let aud = server.url(&path);
    let base = server.url("");
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, jti: &str| {
        json!({"iss": iss, "aud": aud, "iat": now - 5, "exp": now + 300, "jti": jti,
               "tenant": example["tenant"]})
    };
    let body = json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "example"}
    });

    // A fresh token with the example's header (ES384, kid, jku) is accepted.
    let fresh = sign(&private, &header, &claims(&aud, "fresh-1"));
    let (status, v) = post(&base, &path, &fresh, &body).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["cards"].is_array(), "{v}");
    assert!(bedside_cds::validate_response(&v).is_empty(), "{v}");
    // Another fresh one without jku too.
    let plain = json!({"alg": "ES384", "typ": "JWT", "kid": header["kid"]});
    let (status, v) = post(
        &base,
        &path,
        &sign(&private, &plain, &claims(&aud, "fresh-2")),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{v}");

    let demo_key = read_json(&root.join("config/demo-ehr/private-jwk.json"));
    let demo_header = json!({"alg": "ES256", "typ": "JWT", "kid": demo_key["kid"]});
    let mut demo_claims = claims(&aud, "demo-1");
    demo_claims["iss"] = json!("https://demo-ehr.bedside.invalid");
    let mut off_list = header.clone();
    off_list["jku"] = json!("https://attacker.example/jwks");
    let refused = [
        (
            "the spec's example token",
            std::fs::read_to_string(spec.join("token.txt"))
                .unwrap()
                .trim()
                .to_string(),
            "token expired at 2015-01-29T22:01:00Z".to_string(),
        ),
        ("replayed", fresh.clone(), "jti replayed".into()),
        (
            "wrong aud",
            sign(
                &private,
                &header,
                &claims("https://cds.example.org/cds-services/some-service", "a1"),
            ),
            format!("does not match service URL {aud}"),
        ),
        (
            "jku off the allow-list",
            sign(&private, &off_list, &claims(&aud, "a2")),
            "is not on the jku allow-list".into(),
        ),
        (
            "the demo EHR's key",
            sign(&demo_key, &demo_header, &demo_claims),
            "\"https://demo-ehr.bedside.invalid\" is not a trusted issuer".into(),
        ),
    ];
    for (name, token, reason) in refused {
        let (status, v) = post(&base, &path, &token, &body).await;
        assert_eq!(status, 401, "{name}: {v}");
        assert!(diagnostics(&v).contains(&reason), "{name}: {v}");
    }
}
