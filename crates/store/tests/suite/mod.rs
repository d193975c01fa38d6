//! The one store test suite, run against every engine (tests/sqlite.rs,
//! tests/postgres.rs). Each test gets a fresh, empty store location.

#![allow(dead_code)]

use async_trait::async_trait;
use bedside_core::Instant;
use bedside_store::{
    audit_hash, verify_chain, ChainError, Commit, DocFilter, DocPage, DocText, Document,
    DocumentCas, NewJob, ResourceKey, ResourceWrite, StateWrite, Store, StoreError, VersionInfo,
    GENESIS_HASH,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One test's store location on one engine.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Open (or reopen) the store; every call is a new handle, like a
    /// restart or another replica.
    async fn open(&self) -> Arc<dyn Store>;
    /// Run raw SQL on the database behind the store (to tamper with it).
    async fn raw(&self, sql: &str) -> u64 {
        self.try_raw(sql).await.expect("raw sql")
    }
    /// [`Harness::raw`], returning the engine's refusal.
    async fn try_raw(&self, sql: &str) -> Result<u64, String>;
    /// Drop the triggers that make the audit log append-only, as an
    /// attacker with database access would before tampering.
    async fn unguard_audit(&self);
}

/// Expands to one `#[tokio::test]` per suite test, each calling
/// `$make().await` for a harness (`None` = skip).
macro_rules! store_suite {
    ($make:path) => {
        store_suite!(@tests $make;
            upsert_is_idempotent_and_replaces,
            counts_and_paging_by_type,
            resources_for_patient_ordered_by_event_time,
            versions_of_many_keys,
            state_compare_and_set,
            conflict_rolls_back_whole_commit,
            concurrent_state_writers_serialize,
            documents_filter_order_limit,
            document_text_pages,
            document_span_from_the_index,
            change_marker_changes_on_every_commit,
            job_dedupe,
            jobs_due_pending_next,
            claim_is_exclusive_across_replicas,
            lease_expiry_allows_reclaim,
            complete_job_is_atomic,
            audit_chain_links_and_verifies,
            audit_detects_modification,
            audit_detects_deletion,
            audit_detects_reordering,
            audit_is_append_only,
            concurrent_audit_appends_stay_linear,
            reopen_keeps_data,
            migrations_twice_are_harmless,
            dropped_commit_leaves_store_writable,
            ping_answers,
            checked_write_compares_the_version,
            checked_conflict_writes_nothing,
            concurrent_checked_writers_one_wins,
            checked_counter_loses_no_update,
            checked_writes_match_a_model,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(h) = $make().await {
                    suite::$name(&h).await;
                }
            }
        )*
    };
}
pub(crate) use store_suite;

mod audit;
mod checked;
mod documents;
mod jobs;
mod lifecycle;
mod resources;
mod states;

pub use audit::*;
pub use checked::*;
pub use documents::*;
pub use jobs::*;
pub use lifecycle::*;
pub use resources::*;
pub use states::*;

// ---------------------------------------------------------------- helpers

/// A fixed instant, `secs` after 2026-03-01T00:00:00Z, with microseconds.
pub fn t(secs: i64) -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
        + Duration::seconds(secs)
        + Duration::microseconds(123_456)
}

pub fn key(rtype: &str, id: &str) -> ResourceKey {
    ResourceKey {
        rtype: rtype.into(),
        id: id.into(),
    }
}

pub fn res(
    rtype: &str,
    id: &str,
    patient: Option<&str>,
    at: Option<Instant>,
    version: &str,
) -> ResourceWrite {
    let body = json!({"resourceType": rtype, "id": id, "meta": {"versionId": version}}).to_string();
    ResourceWrite {
        key: key(rtype, id),
        version: VersionInfo {
            version_id: Some(version.into()),
            last_updated: Some("2026-03-01T00:00:00Z".into()),
            hash: format!("{rtype}-{id}-{version}"),
        },
        patient_id: patient.map(Into::into),
        event_time: at,
        body,
    }
}

pub fn doc(
    kind: &str,
    id: &str,
    patient: &str,
    status: &str,
    owner: &str,
    created: i64,
) -> Document {
    Document {
        kind: kind.into(),
        id: id.into(),
        patient_id: Some(patient.into()),
        status: Some(status.into()),
        owner: Some(owner.into()),
        created_at: t(created),
        updated_at: t(created + 1),
        body: json!({"id": id, "risk": 0.731_f64, "nested": {"b": [1, 2.5, null], "a": "é"}}),
    }
}

pub fn job(kind: &str, due: Instant, dedupe: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.into(),
        due_at: due,
        dedupe_key: dedupe.map(Into::into),
        payload: json!({"kind": kind, "x": 1.25}),
    }
}

fn state(patient: &str, expected: i64, bytes: &[u8]) -> StateWrite {
    StateWrite {
        patient_id: patient.into(),
        expected,
        state: bytes.to_vec(),
    }
}

fn commit_resources(rs: Vec<ResourceWrite>) -> Commit {
    Commit {
        resources: rs,
        ..Commit::default()
    }
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

async fn all_audit(s: &dyn Store) -> Vec<bedside_store::AuditEntry> {
    s.audit_entries(1, 100_000).await.expect("audit entries")
}

async fn write_audit(s: &dyn Store, bodies: Vec<serde_json::Value>) {
    s.commit(Commit {
        audit: bodies,
        ..Commit::default()
    })
    .await
    .unwrap();
}
