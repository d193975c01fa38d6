//! Trusted hook issuers from a `hook_issuers` file, over real HTTP: an EHR
//! whose P-384 / P-256 keys are generated here, its JWK Set served by a
//! stub on 127.0.0.1:0 that counts fetches. Tokens are signed here with
//! `ring`, independently of the code under test. Covers key rotation (a
//! new `kid` accepted after a refetch; refetches at most once per
//! `jwks_min_refetch`), a `jku` from the allow-list, and every refusal
//! answering 401 with its reason in the OperationOutcome; ES384 and RS384
//! accepted by default, ES256 and RS256 only where configured.

use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_app::hooks::{HookConfig, Issuers};
use bedside_policy::PolicyConfig;
use bedside_server::HttpConfig;
use bedside_test_support::http::Stub;
use bedside_test_support::server::TestServer;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MODEL: &str = "fixture-lgbm";
const ISS: &str = "https://ehr.test/";

struct Key {
    kid: String,
    alg: &'static str,
    crv: &'static str,
    pair: EcdsaKeyPair,
}

impl Key {
    fn generate(kid: &str, alg: &'static str) -> Self {
        let (signing, crv): (&'static EcdsaSigningAlgorithm, _) = match alg {
            "ES384" => (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
            _ => (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
        Key {
            kid: kid.into(),
            alg,
            crv,
            pair,
        }
    }

    fn jwk(&self) -> Value {
        let p = &self.pair.public_key().as_ref()[1..];
        let (x, y) = p.split_at(p.len() / 2);
        json!({"kty": "EC", "crv": self.crv, "use": "sig", "kid": self.kid,
               "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
    }

    /// A compact JWS over `claims`: header `alg`, `typ`, `kid` and `extra`.
    fn sign_with(&self, extra: Value, claims: &Value) -> String {
        let mut header = json!({"alg": self.alg, "typ": "JWT", "kid": self.kid});
        for (k, v) in extra.as_object().unwrap() {
            header[k] = v.clone();
        }
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

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(json!({}), claims)
    }
}

/// An RSA key (2048 bits) signing RS384 or RS256.
struct RsaKey {
    kid: String,
    jwk: Value,
    pair: RsaKeyPair,
}

impl RsaKey {
    fn generate(kid: &str) -> Self {
        use rsa::pkcs8::EncodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let jwk = json!({"kty": "RSA", "use": "sig", "kid": kid,
                         "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                         "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be())});
        RsaKey {
            kid: kid.into(),
            jwk,
            pair: RsaKeyPair::from_pkcs8(der.as_bytes()).unwrap(),
        }
    }

    fn sign(&self, alg: &str, claims: &Value) -> String {
        let header = json!({"alg": alg, "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let padding = if alg == "RS384" {
            &RSA_PKCS1_SHA384
        } else {
            &RSA_PKCS1_SHA256
        };
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// JWK Sets by path, served by a stub that counts the fetches of each.
#[derive(Clone, Default)]
struct Keys {
    sets: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    fetches: Arc<Mutex<BTreeMap<String, usize>>>,
    total: Arc<AtomicUsize>,
}

impl Keys {
    fn publish(&self, name: &str, keys: &[&Key]) {
        self.publish_jwks(name, keys.iter().map(|k| k.jwk()).collect());
    }

    fn publish_jwks(&self, name: &str, jwks: Vec<Value>) {
        self.sets.lock().unwrap().insert(name.into(), jwks);
    }

    fn fetches(&self, name: &str) -> usize {
        self.fetches.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    async fn serve(&self) -> Stub {
        async fn jwks(
            State(k): State<Keys>,
            UrlPath(name): UrlPath<String>,
        ) -> Result<Json<Value>, axum::http::StatusCode> {
            k.total.fetch_add(1, Ordering::SeqCst);
            *k.fetches.lock().unwrap().entry(name.clone()).or_default() += 1;
            let keys = k.sets.lock().unwrap().get(&name).cloned();
            keys.map(|keys| Json(json!({ "keys": keys })))
                .ok_or(axum::http::StatusCode::NOT_FOUND)
        }
        Stub::serve(
            Router::new()
                .route("/keys/{name}", get(jwks))
                .with_state(self.clone()),
        )
        .await
    }
}

fn model_pkg() -> std::path::PathBuf {
    bedside_test_support::repo_path("crates/models/tests/fixtures/pkg")
}

/// Bedside with the issuers of `toml` (read as `bedside serve` reads its
/// `hook_issuers` file), policy stage `live`.
async fn start(toml: &str) -> TestServer {
    let issuers = Issuers::from_toml_str(toml, Path::new(".")).expect("issuers file");
    let hooks = HookConfig {
        trusted: issuers.trusted,
        jwks_timeout: issuers.jwks_timeout,
        jwks_min_refetch: issuers.jwks_min_refetch,
        policy: PolicyConfig::from_toml_str("stage = \"live\"").unwrap(),
        ..HookConfig::default()
    };
    TestServer::start_with(HttpConfig::default(), |c| c.model(model_pkg()).hooks(hooks)).await
}

fn body() -> String {
    json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "p-none"}
    })
    .to_string()
}

async fn call(s: &TestServer, token: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(s.url(&format!("/cds-services/{MODEL}-patient-view")))
        .header("content-type", "application/json")
        .body(body());
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let reason = v["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (status, reason)
}

fn aud(s: &TestServer) -> String {
    s.url(&format!("/cds-services/{MODEL}-patient-view"))
}

fn claims(iss: &str, aud: &str, exp_in: i64, jti: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": iss, "aud": aud, "iat": now - 5, "exp": now + exp_in, "jti": jti})
}

#[tokio::test]
async fn every_refusal_answers_401_with_its_reason() {
    let keys = Keys::default();
    let stub = keys.serve().await;
    let k1 = Key::generate("k1", "ES384");
    let via_jku = Key::generate("k-jku", "ES384");
    keys.publish("ehr", &[&k1]);
    keys.publish("jku", &[&via_jku]);
    let toml = format!(
        "[[issuer]]\niss = \"{ISS}\"\njwks_url = \"{}\"\njku = [\"{}\"]\n\n\
         [[issuer]]\niss = \"https://down.test/\"\njwks_url = \"http://127.0.0.1:1/keys\"\n",
        stub.url("/keys/ehr"),
        stub.url("/keys/jku")
    );
    let s = start(&toml).await;
    let aud = aud(&s);

    let good = k1.sign(&claims(ISS, &aud, 300, "good"));
    assert_eq!(call(&s, Some(&good)).await, (200, String::new()));
    assert_eq!(keys.fetches("ehr"), 1, "fetched at the first call");
    // A jku from the allow-list is honoured: its keys are fetched from it.
    let t = via_jku.sign_with(
        json!({"jku": stub.url("/keys/jku")}),
        &claims(ISS, &aud, 300, "jku-ok"),
    );
    assert_eq!(call(&s, Some(&t)).await.0, 200);
    assert_eq!(keys.fetches("jku"), 1);

    let es256 = Key::generate("k1", "ES256");
    let stranger = Key::generate("k-unknown", "ES384");
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "k1"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims(ISS, &aud, 300, "none").to_string())
    );
    let cases: Vec<(&str, Option<String>, String)> =
        vec![
        ("no token", None, "missing Authorization".into()),
        (
            "unknown issuer",
            Some(k1.sign(&claims("https://rogue.test/", &aud, 300, "u1"))),
            "iss \"https://rogue.test/\" is not a trusted issuer".into(),
        ),
        (
            "unknown kid",
            Some(stranger.sign(&claims(ISS, &aud, 300, "u2"))),
            format!("unknown kid \"k-unknown\" for iss \"{ISS}\""),
        ),
        (
            "wrong alg",
            Some(es256.sign(&claims(ISS, &aud, 300, "u3"))),
            format!("alg ES256 is not allowed for iss \"{ISS}\" (allowed: ES384, RS384)"),
        ),
        ("alg none", Some(none), "alg none is not allowed".into()),
        (
            "expired",
            Some(k1.sign(&claims(ISS, &aud, -3600, "u4"))),
            "token expired at".into(),
        ),
        (
            "wrong aud",
            Some(k1.sign(&claims(ISS, "https://elsewhere.test/cds-services/x", 300, "u5"))),
            format!("does not match service URL {aud}"),
        ),
        ("replayed jti", Some(good.clone()), "jti replayed".into()),
        (
            "jku not on the allow-list",
            Some(k1.sign_with(
                json!({"jku": "https://evil.test/jwks"}),
                &claims(ISS, &aud, 300, "u6"),
            )),
            "jku \"https://evil.test/jwks\" is not on the jku allow-list".into(),
        ),
        (
            "keys cannot be fetched",
            Some(k1.sign(&claims("https://down.test/", &aud, 300, "u7"))),
            "the keys of iss \"https://down.test/\" cannot be fetched from http://127.0.0.1:1/keys"
                .into(),
        ),
    ];
    for (name, token, reason) in &cases {
        let (status, got) = call(&s, token.as_deref()).await;
        assert_eq!(status, 401, "{name}: {got}");
        assert!(
            got.contains(reason.as_str()),
            "{name}: {got:?} lacks {reason:?}"
        );
    }
    // The unknown kid asked for a refetch within the minute: none was made.
    assert_eq!(keys.fetches("ehr"), 1, "refetch is rate-limited");
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_a_refetch_and_refetches_are_rate_limited() {
    let keys = Keys::default();
    let stub = keys.serve().await;
    let old = Key::generate("2026-01", "ES384");
    let new = Key::generate("2026-02", "ES384");
    keys.publish("ehr", &[&old]);
    let toml = format!(
        "jwks_min_refetch_secs = 2\n[[issuer]]\niss = \"{ISS}\"\njwks_url = \"{}\"\n",
        stub.url("/keys/ehr")
    );
    let s = start(&toml).await;
    let aud = aud(&s);
    let t = old.sign(&claims(ISS, &aud, 300, "r1"));
    assert_eq!(call(&s, Some(&t)).await.0, 200);
    assert_eq!(keys.fetches("ehr"), 1);

    // The EHR rotates: the new kid appears. Within the refetch interval the
    // set is not fetched again and the new kid is refused.
    keys.publish("ehr", &[&old, &new]);
    let t = new.sign(&claims(ISS, &aud, 300, "r2"));
    let (status, reason) = call(&s, Some(&t)).await;
    assert_eq!((status, keys.fetches("ehr")), (401, 1), "{reason}");
    assert!(reason.contains("unknown kid \"2026-02\""), "{reason}");

    // After it, the unknown kid makes one refetch and is accepted; the
    // old key still works, without a fetch.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let t = new.sign(&claims(ISS, &aud, 300, "r3"));
    assert_eq!(call(&s, Some(&t)).await.0, 200);
    assert_eq!(keys.fetches("ehr"), 2);
    let t = old.sign(&claims(ISS, &aud, 300, "r4"));
    assert_eq!(call(&s, Some(&t)).await.0, 200);
    // A kid the EHR never published costs no fetch now (just fetched).
    let t = Key::generate("never", "ES384").sign(&claims(ISS, &aud, 300, "r5"));
    assert_eq!(call(&s, Some(&t)).await.0, 401);
    assert_eq!(keys.fetches("ehr"), 2);
    assert_eq!(keys.total.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn es384_and_rs384_by_default_es256_and_rs256_where_configured() {
    let keys = Keys::default();
    let stub = keys.serve().await;
    let ec384 = Key::generate("ec384", "ES384");
    let ec256 = Key::generate("ec256", "ES256");
    let rsa = RsaKey::generate("rsa");
    let jwks = vec![ec384.jwk(), ec256.jwk(), rsa.jwk.clone()];
    keys.publish_jwks("ehr", jwks);
    let other = "https://other-ehr.test/";
    let toml = format!(
        "[[issuer]]\niss = \"{ISS}\"\njwks_url = \"{url}\"\n\n\
         [[issuer]]\niss = \"{other}\"\njwks_url = \"{url}\"\nalgorithms = [\"ES256\", \"RS256\"]\n",
        url = stub.url("/keys/ehr")
    );
    let s = start(&toml).await;
    let aud = aud(&s);
    let cases = [
        (ISS, "ES384", ec384.sign(&claims(ISS, &aud, 300, "a1")), 200),
        (
            ISS,
            "RS384",
            rsa.sign("RS384", &claims(ISS, &aud, 300, "a2")),
            200,
        ),
        (ISS, "ES256", ec256.sign(&claims(ISS, &aud, 300, "a3")), 401),
        (
            ISS,
            "RS256",
            rsa.sign("RS256", &claims(ISS, &aud, 300, "a4")),
            401,
        ),
        (
            other,
            "ES256",
            ec256.sign(&claims(other, &aud, 300, "b1")),
            200,
        ),
        (
            other,
            "RS256",
            rsa.sign("RS256", &claims(other, &aud, 300, "b2")),
            200,
        ),
        (
            other,
            "ES384",
            ec384.sign(&claims(other, &aud, 300, "b3")),
            401,
        ),
        (
            other,
            "RS384",
            rsa.sign("RS384", &claims(other, &aud, 300, "b4")),
            401,
        ),
    ];
    for (iss, alg, token, want) in cases {
        let (status, reason) = call(&s, Some(&token)).await;
        assert_eq!(status, want, "{iss} {alg}: {reason}");
        if want == 401 {
            assert!(
                reason.contains(&format!("alg {alg} is not allowed for iss \"{iss}\"")),
                "{iss} {alg}: {reason}"
            );
        }
    }
}
