//! `bedside token --demo --aud URL --count N` prints N distinct hook JWTs
//! that the demo EHR's public keys verify for that audience (once each),
//! and refuses what it cannot sign with a message and a non-zero exit.

use bedside_cds::{JwkSet, JwtVerifier, TrustedIssuer};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");
const AUD: &str = "http://127.0.0.1:9/cds-services/sepsis-demo-patient-view";

fn demo_ehr() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/demo-ehr")
}

#[test]
fn prints_distinct_tokens_the_demo_jwks_verifies_once_each() {
    let out = Command::new(BIN)
        .args([
            "token",
            "--demo",
            "--aud",
            AUD,
            "--count",
            "5",
            "--demo-ehr",
        ])
        .arg(demo_ehr())
        .output()
        .expect("run bedside token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let tokens: Vec<&str> = text.lines().collect();
    assert_eq!(tokens.len(), 5);
    let jwks: JwkSet =
        serde_json::from_str(&std::fs::read_to_string(demo_ehr().join("jwks.json")).unwrap())
            .unwrap();
    let v = JwtVerifier::new(vec![TrustedIssuer::with_jwks(
        bedside_app::hooks::DEMO_ISSUER,
        jwks,
    )
    .algorithms([bedside_cds::Algorithm::ES256])]);
    let now = chrono::Utc::now();
    let mut jtis = std::collections::BTreeSet::new();
    for t in &tokens {
        let c = v.verify(t, AUD, now).expect("a printed token verifies");
        jtis.insert(c.jti);
        assert!(
            v.verify(t, AUD, now).is_err(),
            "the same token twice is a replay"
        );
    }
    assert_eq!(jtis.len(), 5, "every token has its own jti");
    assert!(
        v.verify(tokens[0], "http://127.0.0.1:9/cds-services/other", now)
            .is_err(),
        "a token is only for its audience"
    );
}

#[test]
fn refuses_without_demo_or_with_a_non_url_audience() {
    for args in [
        vec!["token", "--aud", AUD],
        vec!["token", "--demo", "--aud", "sepsis-demo-patient-view"],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("token:"), "{args:?}: {err}");
    }
}
