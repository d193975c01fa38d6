//! Engine-independent helpers: time conversion, JSON text, error mapping,
//! and the normalisation of a [`Commit`] before it is written.

use crate::audit::{hash_text, GENESIS_HASH};
use crate::{
    Commit, Document, DocumentCas, NewJob, ResourceKey, ResourceWrite, StateWrite, StoreError,
};
use bedside_core::Instant;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Instants are stored with microsecond precision on both engines.
pub(crate) fn to_micros(t: Instant) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(m: i64, what: &str) -> crate::Result<Instant> {
    DateTime::from_timestamp_micros(m)
        .ok_or_else(|| StoreError::Corrupt(what.to_string(), format!("timestamp {m} out of range")))
}

/// Now, truncated to microseconds (what the database will keep).
pub(crate) fn now() -> Instant {
    truncate(Utc::now())
}

/// When a lease taken at `now` for `secs` seconds ends (a lease is at
/// most `i32::MAX` seconds long).
pub(crate) fn lease_until(now: Instant, secs: i64) -> Instant {
    let secs = secs.clamp(0, i64::from(i32::MAX));
    now.checked_add_signed(chrono::Duration::seconds(secs))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(crate) fn truncate(t: Instant) -> Instant {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

pub(crate) fn json_text(v: &serde_json::Value) -> String {
    // Serializing a Value cannot fail (keys are strings).
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

pub(crate) fn parse_json(
    text: &str,
    what: impl FnOnce() -> String,
) -> crate::Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(what(), format!("invalid JSON: {e}")))
}

/// Map a database error. Deadlocks and serialization failures (PostgreSQL
/// 40P01 / 40001) become `Conflict`: the caller should retry.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if let Some(code) = d.code() {
            if code == "40P01" || code == "40001" {
                return StoreError::Conflict(format!(
                    "transaction aborted by the database ({code})"
                ));
            }
        }
    }
    StoreError::Db(e.to_string())
}

/// A commit ready to write: resources and documents deduplicated (the last
/// write of a key wins) and sorted by key, states sorted by patient and
/// checked documents by key (stable, so repeated writes of one patient or
/// document keep their order). Sorting gives every transaction the same
/// lock order, which avoids deadlocks between concurrent commits on
/// PostgreSQL.
pub(crate) struct Prepared {
    pub resources: Vec<ResourceWrite>,
    pub states: Vec<StateWrite>,
    pub checked: Vec<DocumentCas>,
    pub documents: Vec<Document>,
    pub jobs: Vec<NewJob>,
    pub audit: Vec<serde_json::Value>,
}

impl Prepared {
    pub fn new(c: Commit, mut checked: Vec<DocumentCas>) -> Self {
        let mut res: BTreeMap<ResourceKey, ResourceWrite> = BTreeMap::new();
        for r in c.resources {
            res.insert(r.key.clone(), r);
        }
        let mut docs: BTreeMap<(String, String), Document> = BTreeMap::new();
        for d in c.documents {
            docs.insert((d.kind.clone(), d.id.clone()), d);
        }
        let mut states = c.states;
        states.sort_by(|a, b| a.patient_id.cmp(&b.patient_id));
        checked.sort_by(|a, b| {
            (&a.document.kind, &a.document.id).cmp(&(&b.document.kind, &b.document.id))
        });
        Prepared {
            resources: res.into_values().collect(),
            states,
            checked,
            documents: docs.into_values().collect(),
            jobs: c.jobs,
            audit: c.audit,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
            && self.states.is_empty()
            && self.checked.is_empty()
            && self.documents.is_empty()
            && self.jobs.is_empty()
            && self.audit.is_empty()
    }
}

/// Whether two neighbours of `items` are `same` (of sorted items: whether
/// any two are).
pub(crate) fn repeats<T>(items: &[T], same: impl Fn(&T, &T) -> bool) -> bool {
    items.windows(2).any(|w| same(&w[0], &w[1]))
}

/// One audit row to insert.
pub(crate) struct AuditRow {
    pub seq: i64,
    pub recorded_at: Instant,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Chain new audit bodies after the last stored entry (`None` = empty log).
pub(crate) fn chain_rows(
    last: Option<(i64, String)>,
    bodies: &[serde_json::Value],
    at: Instant,
) -> Vec<AuditRow> {
    let (mut seq, mut prev) = last.unwrap_or((0, GENESIS_HASH.to_string()));
    bodies
        .iter()
        .map(|b| {
            seq += 1;
            let body = crate::audit::canonical_json(b);
            let hash = hash_text(&prev, seq, at, &body);
            AuditRow {
                seq,
                recorded_at: at,
                body,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

/// Group resource keys by type, for `rtype = ? AND id IN (...)` lookups.
pub(crate) fn keys_by_type(keys: &[ResourceKey]) -> BTreeMap<&str, Vec<&str>> {
    let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in keys {
        m.entry(k.rtype.as_str()).or_default().push(k.id.as_str());
    }
    for ids in m.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    m
}

/// Hide the password of a URL for messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_only() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/bedside"),
            "postgres://bob:***@db:5432/bedside"
        );
        assert_eq!(redact_url("postgres://bob@db/x"), "postgres://bob@db/x");
        assert_eq!(
            redact_url("postgres:///x?host=/tmp"),
            "postgres:///x?host=/tmp"
        );
    }

    #[test]
    fn chain_rows_link_and_count_from_last() {
        let at = now();
        let rows = chain_rows(
            Some((7, "ab".repeat(32))),
            &[serde_json::json!(1), serde_json::json!({"b":1,"a":2})],
            at,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].seq, 8);
        assert_eq!(rows[0].prev_hash, "ab".repeat(32));
        assert_eq!(rows[1].prev_hash, rows[0].hash);
        assert_eq!(rows[1].body, r#"{"a":2,"b":1}"#);
        assert_eq!(
            rows[1].hash,
            crate::audit_hash(&rows[0].hash, 9, at, &serde_json::json!({"a":2,"b":1}))
        );
    }
}
