//! JWT verification against the specification's example key and token
//! (read in place from ../shared/cds-hooks/jwt) and the committed demo EHR
//! key (config/demo-ehr).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bedside_cds::{
    sign_demo_token, sign_with_jwk, AuthError, JwkSet, JwtVerifier, SignError, TrustedIssuer,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;

const SPEC_ISS: &str = "https://fhir-ehr.example.com/";
const SPEC_AUD: &str = "https://cds.example.org/cds-services/some-service";
const AUD: &str = "https://bedside.example.org/cds-services/sepsis-patient-view";

fn spec_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cds-hooks/jwt");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "\n!!! SKIPPED: {} not found; spec JWT tests did not run !!!\n",
            d.display()
        );
        None
    }
}

fn read_json(p: PathBuf) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/demo-ehr")
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .unwrap()
}

struct Spec {
    jwks: JwkSet,
    private: Value,
    token: String,
}

fn spec() -> Option<Spec> {
    let d = spec_dir()?;
    Some(Spec {
        jwks: serde_json::from_value(read_json(d.join("jwks.json"))).unwrap(),
        private: read_json(d.join("private-jwk.json")),
        token: std::fs::read_to_string(d.join("token.txt"))
            .unwrap()
            .trim()
            .to_string(),
    })
}

/// The spec token's `jku` header.
const SPEC_JKU: &str = "https://fhir-ehr.example.com/jwk_uri";

fn verifier(s: &Spec) -> JwtVerifier {
    JwtVerifier::new(vec![
        TrustedIssuer::with_jwks(SPEC_ISS, s.jwks.clone()).allow_jku(SPEC_JKU)
    ])
}

fn claims(aud: &str, iat: i64, exp: i64, jti: &str) -> Value {
    json!({"iss": SPEC_ISS, "aud": aud, "iat": iat, "exp": exp, "jti": jti})
}

fn unsigned(header: Value, payload: Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

#[test]
fn spec_token_signature_verifies_but_it_is_expired_and_for_another_audience() {
    let Some(s) = spec() else { return };
    let v = verifier(&s);
    // Today: refused because it expired in 2015.
    let e = v.verify(&s.token, SPEC_AUD, now()).unwrap_err();
    assert_eq!(e, AuthError::Expired(1422568860));
    assert_eq!(e.to_string(), "token expired at 2015-01-29T22:01:00Z");
    // Inside its lifetime the signature and claims check out for its own aud...
    let inside = at(1_400_000_000);
    let c = v.verify_stateless(&s.token, SPEC_AUD, inside).unwrap();
    assert_eq!(c.jti, "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e");
    assert_eq!(
        c.tenant.as_deref(),
        Some("2ddd6c3a-8e9a-44c6-a305-52111ad302a2")
    );
    assert_eq!(c.alg, "ES384");
    // ...but not for Bedside's service URL.
    let e = v.verify_stateless(&s.token, AUD, inside).unwrap_err();
    assert!(matches!(e, AuthError::WrongAudience { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("aud {SPEC_AUD} does not match service URL {AUD}")
    );
}

#[test]
fn tampered_spec_token_fails_the_signature_check() {
    let Some(s) = spec() else { return };
    let parts: Vec<&str> = s.token.split('.').collect();
    // Same header and signature, payload with a later exp.
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["exp"] = json!(4_000_000_000i64);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(
        verifier(&s).verify(&forged, SPEC_AUD, now()).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn fresh_es384_token_verifies_once_then_is_a_replay() {
    let Some(s) = spec() else { return };
    let v = verifier(&s);
    let t = now().timestamp();
    let token = sign_with_jwk(&s.private, &claims(AUD, t, t + 300, "jti-1")).unwrap();
    let c = v.verify(&token, AUD, now()).unwrap();
    assert_eq!(
        (c.iss.as_str(), c.kid.as_str(), c.exp),
        (SPEC_ISS, "example-kid", t + 300)
    );
    let e = v.verify(&token, AUD, now()).unwrap_err();
    assert_eq!(e, AuthError::Replayed);
    assert_eq!(e.to_string(), "jti replayed");
    // A different jti is fine.
    let token2 = sign_with_jwk(&s.private, &claims(AUD, t, t + 300, "jti-2")).unwrap();
    assert!(v.verify(&token2, AUD, now()).is_ok());
}

#[test]
fn aud_may_be_an_array_and_trailing_slash_is_ignored() {
    let Some(s) = spec() else { return };
    let t = now().timestamp();
    let mut c = claims(AUD, t, t + 300, "a");
    c["aud"] = json!(["https://other.example.org", format!("{AUD}/")]);
    let token = sign_with_jwk(&s.private, &c).unwrap();
    assert!(verifier(&s).verify(&token, AUD, now()).is_ok());
}

#[test]
fn time_checks_use_a_30_second_leeway() {
    let Some(s) = spec() else { return };
    let v = verifier(&s);
    let t = now().timestamp();
    let ok = sign_with_jwk(&s.private, &claims(AUD, t - 320, t - 20, "late-but-ok")).unwrap();
    assert!(v.verify(&ok, AUD, now()).is_ok());
    let expired = sign_with_jwk(&s.private, &claims(AUD, t - 400, t - 31, "late")).unwrap();
    assert_eq!(
        v.verify(&expired, AUD, now()).unwrap_err(),
        AuthError::Expired(t - 31)
    );
    let future = sign_with_jwk(&s.private, &claims(AUD, t + 120, t + 400, "future")).unwrap();
    assert_eq!(
        v.verify(&future, AUD, now()).unwrap_err(),
        AuthError::IssuedInFuture(t + 120)
    );
}

#[test]
fn negative_cases_are_refused_with_their_reason() {
    let Some(s) = spec() else { return };
    let v = verifier(&s);
    let t = now().timestamp();
    let good_claims = claims(AUD, t, t + 300, "n1");

    // Unsigned / alg none.
    let none = unsigned(
        json!({"alg": "none", "typ": "JWT", "kid": "example-kid"}),
        good_claims.clone(),
    );
    let e = v.verify(&none, AUD, now()).unwrap_err();
    assert_eq!(e.to_string(), "alg none is not allowed");
    // Signature stripped from a real token: header says ES384, no signature.
    let real = sign_with_jwk(&s.private, &good_claims).unwrap();
    let stripped = format!("{}.", real.rsplit_once('.').unwrap().0);
    assert!(matches!(
        v.verify(&stripped, AUD, now()).unwrap_err(),
        AuthError::BadSignature | AuthError::Malformed(_)
    ));

    // HS256 with a shared secret.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some("example-kid".into());
    let hs = jsonwebtoken::encode(
        &h,
        &good_claims,
        &jsonwebtoken::EncodingKey::from_secret(b"shared"),
    )
    .unwrap();
    assert_eq!(
        v.verify(&hs, AUD, now()).unwrap_err(),
        AuthError::SymmetricAlg("HS256".into())
    );

    // Wrong audience.
    let wrong_aud = sign_with_jwk(
        &s.private,
        &claims("https://evil.example.org/cds-services/x", t, t + 300, "n2"),
    )
    .unwrap();
    assert!(matches!(
        v.verify(&wrong_aud, AUD, now()).unwrap_err(),
        AuthError::WrongAudience { .. }
    ));

    // Unknown kid: same key, a kid the issuer's JWKS does not list.
    let mut other = s.private.clone();
    other["kid"] = json!("rotated-away");
    let unknown = sign_with_jwk(&other, &claims(AUD, t, t + 300, "n3")).unwrap();
    let e = v.verify(&unknown, AUD, now()).unwrap_err();
    assert!(matches!(e, AuthError::UnknownKid { .. }));
    assert!(e.to_string().starts_with("unknown kid"), "{e}");

    // Untrusted issuer.
    let mut c = claims(AUD, t, t + 300, "n4");
    c["iss"] = json!("https://rogue-ehr.example.com/");
    let rogue = sign_with_jwk(&s.private, &c).unwrap();
    assert_eq!(
        v.verify(&rogue, AUD, now()).unwrap_err(),
        AuthError::UntrustedIssuer("https://rogue-ehr.example.com/".into())
    );

    // Missing jti.
    let mut c = claims(AUD, t, t + 300, "x");
    c.as_object_mut().unwrap().remove("jti");
    let no_jti = sign_with_jwk(&s.private, &c).unwrap();
    assert_eq!(
        v.verify(&no_jti, AUD, now()).unwrap_err(),
        AuthError::MissingClaim("jti")
    );

    // Garbage.
    assert!(matches!(
        v.verify("abc", AUD, now()).unwrap_err(),
        AuthError::Malformed(_)
    ));
    assert!(matches!(
        v.verify("a.b.c", AUD, now()).unwrap_err(),
        AuthError::Malformed(_)
    ));
}

#[test]
fn jku_must_be_allowed_and_keys_can_be_loaded_later() {
    let Some(s) = spec() else { return };
    let inside = at(1_400_000_000);
    // The spec token carries jku https://fhir-ehr.example.com/jwk_uri.
    let not_listed = JwtVerifier::new(vec![TrustedIssuer::with_jwks(SPEC_ISS, s.jwks.clone())]);
    let e = not_listed
        .verify_stateless(&s.token, SPEC_AUD, inside)
        .unwrap_err();
    assert!(matches!(e, AuthError::UntrustedJku { .. }), "{e}");
    assert!(e.to_string().contains("allow-list"), "{e}");
    let pinned_elsewhere = JwtVerifier::new(vec![TrustedIssuer::with_jwks_url(
        SPEC_ISS,
        "https://keys.example.net/jwks",
    )]);
    assert!(matches!(
        pinned_elsewhere
            .verify_stateless(&s.token, SPEC_AUD, inside)
            .unwrap_err(),
        AuthError::UntrustedJku { .. }
    ));
    // The issuer's own JWK Set URL is trusted as a jku: the caller is told
    // to fetch it, and the fetched set verifies.
    let by_url = JwtVerifier::new(vec![TrustedIssuer::with_jwks_url(SPEC_ISS, SPEC_JKU)]);
    let e = by_url
        .verify_stateless(&s.token, SPEC_AUD, inside)
        .unwrap_err();
    assert!(matches!(e, AuthError::JwksNotLoaded { .. }), "{e}");
    assert_eq!(e.fetch_url(), Some(SPEC_JKU));
    assert!(by_url.set_jwks_at(SPEC_JKU, s.jwks.clone()));
    assert!(
        !by_url.set_jwks_at("https://unknown.example/jwks", s.jwks.clone()),
        "a URL no issuer names is not kept"
    );
    assert!(!by_url.set_jwks("https://unknown/", s.jwks.clone()));
    assert!(by_url.verify_stateless(&s.token, SPEC_AUD, inside).is_ok());
    // An allow-listed jku other than the issuer's URL: keys configured with
    // the issuer are used first; a kid they lack is fetched from the jku.
    let file_and_jku = JwtVerifier::new(vec![TrustedIssuer::with_jwks(
        SPEC_ISS,
        JwkSet { keys: Vec::new() },
    )
    .allow_jku(SPEC_JKU)]);
    let e = file_and_jku
        .verify_stateless(&s.token, SPEC_AUD, inside)
        .unwrap_err();
    assert!(matches!(e, AuthError::UnknownKid { .. }), "{e}");
    assert_eq!(e.fetch_url(), Some(SPEC_JKU));
    assert!(file_and_jku.set_jwks_at(&format!("{SPEC_JKU}/"), s.jwks.clone()));
    assert!(file_and_jku
        .verify_stateless(&s.token, SPEC_AUD, inside)
        .is_ok());
}

#[test]
fn algorithms_are_allowed_per_issuer() {
    let Some(s) = spec() else { return };
    let t = now().timestamp();
    let es384_only_elsewhere =
        JwtVerifier::new(vec![TrustedIssuer::with_jwks(SPEC_ISS, s.jwks.clone())
            .algorithms([
                bedside_cds::Algorithm::ES256,
                bedside_cds::Algorithm::RS384,
            ])]);
    let token = sign_with_jwk(&s.private, &claims(AUD, t, t + 300, "alg-1")).unwrap();
    let e = es384_only_elsewhere.verify(&token, AUD, now()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("alg ES384 is not allowed for iss {SPEC_ISS:?} (allowed: ES256, RS384)")
    );
    // Configured names: asymmetric ones only, with the reason.
    assert_eq!(
        bedside_cds::parse_algorithm("RS384"),
        Ok(bedside_cds::Algorithm::RS384)
    );
    assert!(bedside_cds::parse_algorithm("HS256")
        .unwrap_err()
        .contains("symmetric"));
    assert!(bedside_cds::parse_algorithm("none")
        .unwrap_err()
        .contains("never"));
    assert!(bedside_cds::parse_algorithm("ES999")
        .unwrap_err()
        .contains("unknown algorithm"));
}

#[test]
fn endpoint_audience_follows_the_issuers_public_url() {
    let Some(s) = spec() else { return };
    let t = now().timestamp();
    let paths = ["/cds-services/svc".to_string()];
    let at_default = bedside_cds::Endpoint {
        base: "https://bedside.example.org/",
        paths: &paths,
    };
    let v = verifier(&s);
    let token = sign_with_jwk(
        &s.private,
        &claims(
            "https://bedside.example.org/cds-services/svc",
            t,
            t + 300,
            "e1",
        ),
    )
    .unwrap();
    assert!(v.verify_endpoint(&token, at_default, now()).is_ok());
    let behind_proxy = JwtVerifier::new(vec![TrustedIssuer::with_jwks(SPEC_ISS, s.jwks.clone())
        .public_url("https://cds.hospital.internal:8443")]);
    let token = sign_with_jwk(
        &s.private,
        &claims(
            "https://bedside.example.org/cds-services/svc",
            t,
            t + 300,
            "e2",
        ),
    )
    .unwrap();
    let e = behind_proxy
        .verify_endpoint(&token, at_default, now())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "aud https://bedside.example.org/cds-services/svc does not match service URL https://cds.hospital.internal:8443/cds-services/svc"
    );
    let token = sign_with_jwk(
        &s.private,
        &claims(
            "https://cds.hospital.internal:8443/cds-services/svc",
            t,
            t + 300,
            "e3",
        ),
    )
    .unwrap();
    assert!(behind_proxy
        .verify_endpoint(&token, at_default, now())
        .is_ok());
}

#[test]
fn demo_ehr_key_signs_tokens_its_jwks_verifies() {
    let private = read_json(demo_dir().join("private-jwk.json"));
    let jwks: JwkSet = serde_json::from_value(read_json(demo_dir().join("jwks.json"))).unwrap();
    let iss = "https://demo-ehr.bedside.invalid";
    let v = JwtVerifier::new(vec![
        TrustedIssuer::with_jwks(iss, jwks).algorithms([bedside_cds::Algorithm::ES256])
    ]);
    let token = sign_demo_token(&private, iss, AUD, now()).unwrap();
    let c = v.verify(&token, AUD, now()).unwrap();
    assert_eq!(
        (c.alg.as_str(), c.kid.as_str()),
        ("ES256", "bedside-demo-ehr-1")
    );
    assert_eq!(c.exp - c.iat, 300);
    // Two demo tokens never share a jti.
    let token2 = sign_demo_token(&private, iss, AUD, now()).unwrap();
    assert!(v.verify(&token2, AUD, now()).is_ok());
    // Expired five minutes later (plus leeway).
    let later = now() + chrono::Duration::seconds(331);
    let token3 = sign_demo_token(&private, iss, AUD, now()).unwrap();
    assert!(matches!(
        v.verify(&token3, AUD, later).unwrap_err(),
        AuthError::Expired(_)
    ));
}

#[test]
fn signing_refuses_inconsistent_private_keys() {
    let mut private = read_json(demo_dir().join("private-jwk.json"));
    private["x"] = json!("46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0");
    assert!(matches!(
        sign_demo_token(&private, "i", AUD, now()).unwrap_err(),
        SignError::Key(_)
    ));
    let mut private = read_json(demo_dir().join("private-jwk.json"));
    private.as_object_mut().unwrap().remove("d");
    assert_eq!(
        sign_demo_token(&private, "i", AUD, now()).unwrap_err(),
        SignError::Key("`d` is missing".into())
    );
}
