//! The audit hash against values computed independently in Python
//! (tools/reference/store_audit_hash.py -> tests/fixtures/audit_hash.json).

use bedside_store::{audit_hash, canonical_json, verify_chain, AuditEntry, GENESIS_HASH};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    seq: i64,
    prev_hash: String,
    recorded_at: String,
    body: serde_json::Value,
    canonical: String,
    hash: String,
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("fixtures/audit_hash.json");
    serde_json::from_str::<Fixture>(text)
        .expect("fixture parses")
        .cases
}

#[test]
fn canonical_json_matches_python() {
    for c in cases() {
        assert_eq!(canonical_json(&c.body), c.canonical, "seq {}", c.seq);
    }
}

#[test]
fn audit_hash_matches_python_and_chain_verifies() {
    let cases = cases();
    assert_eq!(cases[0].prev_hash, GENESIS_HASH);
    let mut entries = Vec::new();
    for c in cases {
        let at = chrono::DateTime::parse_from_rfc3339(&c.recorded_at)
            .expect("fixture time")
            .with_timezone(&chrono::Utc);
        assert_eq!(bedside_store::instant_text(at), c.recorded_at);
        assert_eq!(
            audit_hash(&c.prev_hash, c.seq, at, &c.body),
            c.hash,
            "seq {}",
            c.seq
        );
        entries.push(AuditEntry {
            seq: c.seq,
            recorded_at: at,
            body: c.body,
            prev_hash: c.prev_hash,
            hash: c.hash,
        });
    }
    assert_eq!(verify_chain(&entries), Ok(()));
}
