//! The audit log's hash chain: canonical JSON, the entry hash and chain
//! verification. Pure functions; the engines call them when appending.

use crate::AuditEntry;
use bedside_core::Instant;
use chrono::SecondsFormat;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// `prev_hash` of the first entry (seq 1): 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why an audit chain does not verify. Each variant names the first entry
/// (by `seq`) where the chain stops being what was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The entry's stored hash does not match its seq, time and body.
    #[error("audit entry {seq}: hash does not match its contents (modified)")]
    Modified { seq: i64 },
    /// Entries are not consecutive: one is missing or they are reordered.
    #[error("audit entry {found} follows entry {prev}: expected seq {expected} (missing or reordered entry)")]
    Sequence {
        prev: i64,
        expected: i64,
        found: i64,
    },
    /// The entry's `prev_hash` is not the previous entry's hash (or, for
    /// seq 1, not the genesis hash).
    #[error("audit entry {seq}: prev_hash does not match the hash before it (broken link)")]
    BrokenLink { seq: i64 },
}

impl ChainError {
    /// The seq of the first bad entry.
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Modified { seq } | ChainError::BrokenLink { seq } => *seq,
            ChainError::Sequence { found, .. } => *found,
        }
    }
}

/// The exact text form of an instant used in the hash:
/// RFC 3339, UTC, microseconds, `Z` (e.g. `2026-01-02T03:04:05.000006Z`).
pub fn instant_text(t: Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes at
/// every level, strings and numbers as serde_json writes them. The same
/// value always gives the same text, whatever the key order it was built
/// with.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            // Scalars: serde_json's own rendering (escapes, shortest floats).
            out.push_str(&v.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
    }
}

/// The hash of one audit entry:
/// `sha256_hex(prev_hash | "|" | seq | "|" | recorded_at | "|" | canonical body)`
/// with `recorded_at` as [`instant_text`] and the body as [`canonical_json`].
pub fn audit_hash(prev_hash: &str, seq: i64, recorded_at: Instant, body: &Value) -> String {
    hash_text(prev_hash, seq, recorded_at, &canonical_json(body))
}

/// [`audit_hash`] with the body already in canonical text form.
pub(crate) fn hash_text(
    prev_hash: &str,
    seq: i64,
    recorded_at: Instant,
    canonical: &str,
) -> String {
    let mut pre = String::with_capacity(prev_hash.len() + canonical.len() + 64);
    // Writing to a String cannot fail.
    let _ = write!(
        pre,
        "{prev_hash}|{seq}|{}|{canonical}",
        instant_text(recorded_at)
    );
    hex::encode(Sha256::digest(pre.as_bytes()))
}

/// Check a run of audit entries, in the order given: consecutive seqs, each
/// `prev_hash` equal to the previous hash (the genesis hash for seq 1), and
/// each hash equal to [`audit_hash`] of the entry. A run that starts after
/// seq 1 is checked from its first entry on (that entry's link to the one
/// before it cannot be checked). Returns the first problem found.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainError> {
    let mut prev: Option<&AuditEntry> = None;
    for e in entries {
        match prev {
            None => {
                if e.seq < 1 {
                    return Err(ChainError::Sequence {
                        prev: 0,
                        expected: 1,
                        found: e.seq,
                    });
                }
                if e.seq == 1 && e.prev_hash != GENESIS_HASH {
                    return Err(ChainError::BrokenLink { seq: e.seq });
                }
            }
            Some(p) => {
                if e.seq != p.seq + 1 {
                    return Err(ChainError::Sequence {
                        prev: p.seq,
                        expected: p.seq + 1,
                        found: e.seq,
                    });
                }
                if e.prev_hash != p.hash {
                    return Err(ChainError::BrokenLink { seq: e.seq });
                }
            }
        }
        if audit_hash(&e.prev_hash, e.seq, e.recorded_at, &e.body) != e.hash {
            return Err(ChainError::Modified { seq: e.seq });
        }
        prev = Some(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap();
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let body = json!({"event": "alert", "n": seq, "risk": 0.1 * seq as f64});
                let recorded_at = t0 + chrono::Duration::microseconds(seq * 1001);
                let hash = audit_hash(&prev, seq, recorded_at, &body);
                let e = AuditEntry {
                    seq,
                    recorded_at,
                    body,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"z":[1,{"y":2,"x":"é\n"}],"c":null}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"c":null,"z":[1,{"x":"é\n","y":2}]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"z":[1,{"x":"é\n","y":2}]},"b":1}"#
        );
    }

    #[test]
    fn instant_text_is_fixed_width_micros() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap();
        assert_eq!(instant_text(t), "2026-01-02T03:04:05.000000Z");
    }

    #[test]
    fn valid_chain_verifies_and_partial_runs_too() {
        let c = chain(6);
        assert_eq!(verify_chain(&c), Ok(()));
        assert_eq!(verify_chain(&c[2..]), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn modified_body_is_named() {
        let mut c = chain(5);
        c[2].body = json!({"event": "alert", "n": 3, "risk": 0.9});
        assert_eq!(verify_chain(&c), Err(ChainError::Modified { seq: 3 }));
    }

    #[test]
    fn rehashed_modification_breaks_the_next_link() {
        let mut c = chain(5);
        c[1].body = json!({"event": "forged"});
        c[1].hash = audit_hash(&c[1].prev_hash, 2, c[1].recorded_at, &c[1].body);
        assert_eq!(verify_chain(&c), Err(ChainError::BrokenLink { seq: 3 }));
    }

    #[test]
    fn missing_and_reordered_entries_are_named() {
        let mut c = chain(5);
        c.remove(1);
        let err = verify_chain(&c).unwrap_err();
        assert_eq!(
            err,
            ChainError::Sequence {
                prev: 1,
                expected: 2,
                found: 3
            }
        );
        assert_eq!(err.seq(), 3);

        let mut c = chain(5);
        c.swap(2, 3);
        assert_eq!(verify_chain(&c).unwrap_err().seq(), 4);
    }

    #[test]
    fn first_entry_must_link_to_genesis() {
        let mut c = chain(2);
        c[0].prev_hash = "f".repeat(64);
        assert_eq!(verify_chain(&c), Err(ChainError::BrokenLink { seq: 1 }));
    }
}
