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
    /// Entries are not consecutive: some are missing (`found > expected`)
    /// or out of order.
    #[error("{}", sequence_text(*prev, *expected, *found))]
    Sequence {
        prev: i64,
        expected: i64,
        found: i64,
    },
    /// The entry's `prev_hash` is not the previous entry's hash (or, for
    /// seq 1, not the genesis hash).
    #[error("audit entry {seq}: prev_hash does not match the hash before it (broken link)")]
    BrokenLink { seq: i64 },
    /// The entry at `seq` is an intact entry that was written as seq
    /// `written_as`: entries were moved (reordered).
    #[error("audit entry {seq}: holds the entry written as seq {written_as} (reordered)")]
    Reordered { seq: i64, written_as: i64 },
}

fn sequence_text(prev: i64, expected: i64, found: i64) -> String {
    if found > expected {
        let missing = if found - 1 == expected {
            format!("entry {expected} is")
        } else {
            format!("entries {expected}..{} are", found - 1)
        };
        format!("audit {missing} missing (entry {found} follows entry {prev})")
    } else {
        format!("audit entry {found} follows entry {prev}: expected seq {expected} (reordered)")
    }
}

impl ChainError {
    /// The seq of the first bad entry (for a gap: the first missing seq).
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Modified { seq }
            | ChainError::BrokenLink { seq }
            | ChainError::Reordered { seq, .. } => *seq,
            ChainError::Sequence {
                expected, found, ..
            } => {
                if found > expected {
                    *expected
                } else {
                    *found
                }
            }
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
    // Serialized in one pass by serde_json (it writes no whitespace and
    // escapes strings and formats numbers as `serde_json::to_string`),
    // through a wrapper that visits object keys in sorted order. The
    // earlier hand-written walk rendered every scalar and key into a
    // String of its own: ~5% of a CDS Hooks call's CPU, on the single
    // writer, for each card's AuditEvent.
    serde_json::to_string(&Canonical(v)).expect("a serde_json::Value always serializes")
}

/// A [`Value`] serialized with object keys in sorted order.
struct Canonical<'a>(&'a Value);

impl serde::Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Array(items) => s.collect_seq(items.iter().map(Canonical)),
            Value::Object(map) => {
                // serde_json's map is a BTreeMap (sorted) unless a crate in
                // the build turns on `preserve_order`; sort only then.
                let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a <= b);
                if sorted {
                    s.collect_map(map.iter().map(|(k, v)| (k, Canonical(v))))
                } else {
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    s.collect_map(entries.into_iter().map(|(k, v)| (k, Canonical(v))))
                }
            }
            scalar => scalar.serialize(s),
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

/// How far from its position a moved entry is looked for (on the error
/// path only: one hash per candidate seq).
const REORDER_WINDOW: i64 = 4096;

/// The seq an entry was written as, when its hash verifies under another
/// seq than the one it is stored at (the entry was moved, not changed).
fn written_as(e: &AuditEntry) -> Option<i64> {
    let canonical = canonical_json(&e.body);
    let lo = (e.seq - REORDER_WINDOW).max(1);
    (lo..=e.seq + REORDER_WINDOW)
        .filter(|m| *m != e.seq)
        .find(|m| hash_text(&e.prev_hash, *m, e.recorded_at, &canonical) == e.hash)
}

/// Checks a log entry by entry, in order, keeping only the previous
/// entry's seq and hash (so a log of any length is checked in pages).
#[derive(Debug, Clone, Default)]
pub struct ChainVerifier {
    /// `(seq, hash)` of the last entry checked.
    last: Option<(i64, String)>,
    /// Whether the run must start at seq 1 (a whole log).
    from_genesis: bool,
    checked: u64,
}

impl ChainVerifier {
    /// A verifier for a whole log: the first entry must be seq 1 and link
    /// to [`GENESIS_HASH`].
    pub fn whole_log() -> Self {
        Self {
            from_genesis: true,
            ..Self::default()
        }
    }

    /// A verifier for a run that may start after seq 1 (its first entry's
    /// link to the one before it cannot be checked).
    pub fn run() -> Self {
        Self::default()
    }

    /// Entries checked so far (all passed).
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// `(seq, hash)` of the last entry checked: the head of the chain.
    pub fn head(&self) -> Option<(i64, &str)> {
        self.last.as_ref().map(|(s, h)| (*s, h.as_str()))
    }

    /// Check the next entry.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainError> {
        let hash_ok = || audit_hash(&e.prev_hash, e.seq, e.recorded_at, &e.body) == e.hash;
        match &self.last {
            None => {
                let first_needed = self.from_genesis && e.seq != 1;
                if e.seq < 1 || first_needed {
                    return Err(ChainError::Sequence {
                        prev: 0,
                        expected: 1,
                        found: e.seq,
                    });
                }
                if e.seq == 1 && e.prev_hash != GENESIS_HASH {
                    return Err(match (hash_ok(), written_as(e)) {
                        (false, Some(m)) => ChainError::Reordered {
                            seq: e.seq,
                            written_as: m,
                        },
                        _ => ChainError::BrokenLink { seq: e.seq },
                    });
                }
            }
            Some((pseq, phash)) => {
                if e.seq != pseq + 1 {
                    return Err(ChainError::Sequence {
                        prev: *pseq,
                        expected: pseq + 1,
                        found: e.seq,
                    });
                }
                if e.prev_hash != *phash {
                    // A moved entry still verifies under the seq it was
                    // written as; an intact entry after a changed one is
                    // a broken link.
                    return Err(match (hash_ok(), written_as(e)) {
                        (false, Some(m)) => ChainError::Reordered {
                            seq: e.seq,
                            written_as: m,
                        },
                        _ => ChainError::BrokenLink { seq: e.seq },
                    });
                }
            }
        }
        if !hash_ok() {
            return Err(match written_as(e) {
                Some(m) => ChainError::Reordered {
                    seq: e.seq,
                    written_as: m,
                },
                None => ChainError::Modified { seq: e.seq },
            });
        }
        self.last = Some((e.seq, e.hash.clone()));
        self.checked += 1;
        Ok(())
    }
}

/// Check a run of audit entries, in the order given: consecutive seqs, each
/// `prev_hash` equal to the previous hash (the genesis hash for seq 1), and
/// each hash equal to [`audit_hash`] of the entry. A run that starts after
/// seq 1 is checked from its first entry on (that entry's link to the one
/// before it cannot be checked). Returns the first problem found.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainError> {
    let mut v = ChainVerifier::run();
    entries.iter().try_for_each(|e| v.push(e))
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

    /// The walk `canonical_json` was before it became one serde pass: every
    /// scalar and key rendered by serde_json on its own, keys sorted. Kept
    /// as the reference: stored chains were hashed with its output.
    fn reference_canonical(v: &Value, out: &mut String) {
        match v {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    reference_canonical(item, out);
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
                    reference_canonical(&map[k.as_str()], out);
                }
                out.push('}');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC*".prop_map(Value::String),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn canonical_json_is_the_reference_walk(v in json_value()) {
            let mut want = String::new();
            reference_canonical(&v, &mut want);
            proptest::prop_assert_eq!(canonical_json(&v), want);
        }
    }

    #[test]
    fn canonical_json_of_an_audit_like_body_is_the_reference_walk() {
        let v = json!({
            "resourceType": "AuditEvent",
            "recorded": "2026-01-02T03:04:05Z",
            "entity": [{"detail": [{"type": "shown", "valueString": "true"}],
                        "what": {"identifier": {"system": "urn:bedside:card", "value": "0193"}}}],
            "agent": [{"requestor": true, "who": {"reference": "Practitioner/x\u{7f}\"q\""}}],
            "p": 0.1234567890123, "n": -3, "big": 18446744073709551615u64, "e": 1e300
        });
        let mut want = String::new();
        reference_canonical(&v, &mut want);
        assert_eq!(canonical_json(&v), want);
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
        assert_eq!(err.seq(), 2, "the first missing seq");
        assert!(err.to_string().contains("entry 2 is missing"), "{err}");

        // Swapped positions: each keeps its contents and hash, the seqs
        // are relabelled (as a row swap in the database would).
        let mut c = chain(5);
        c.swap(2, 3);
        c[2].seq = 3;
        c[3].seq = 4;
        assert_eq!(
            verify_chain(&c),
            Err(ChainError::Reordered {
                seq: 3,
                written_as: 4
            })
        );
        // Out of order without relabelling.
        let mut c = chain(5);
        c.swap(2, 3);
        assert_eq!(verify_chain(&c).unwrap_err().seq(), 3);
    }

    #[test]
    fn whole_log_must_start_at_one() {
        let c = chain(3);
        let mut v = ChainVerifier::whole_log();
        let err = v.push(&c[1]).unwrap_err();
        assert_eq!(err.seq(), 1);
        assert!(err.to_string().contains("entry 1 is missing"), "{err}");
        let mut v = ChainVerifier::whole_log();
        for e in &c {
            v.push(e).unwrap();
        }
        assert_eq!(v.checked(), 3);
        assert_eq!(v.head(), Some((3, c[2].hash.as_str())));
    }

    #[test]
    fn first_entry_must_link_to_genesis() {
        let mut c = chain(2);
        c[0].prev_hash = "f".repeat(64);
        assert_eq!(verify_chain(&c), Err(ChainError::BrokenLink { seq: 1 }));
    }
}
