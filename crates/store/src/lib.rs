//! Durable state behind one API, [`Store`], with two real engines:
//! embedded SQLite (WAL; the default, one file `<data-dir>/bedside.db`) and
//! PostgreSQL (several stateless replicas sharing one database).
//!
//! What is kept:
//! - **resources**: the FHIR resources received, one current version per
//!   `(type, id)`, with a content hash for idempotency;
//! - **patient state**: one serialized [`bedside_core::PatientState`] per
//!   patient, with a version number for optimistic concurrency;
//! - **documents**: Bedside's own records (predictions, alerts, cards,
//!   feedback, tasks, pathway instances, alarms) as JSON with a few indexed
//!   columns and a version, for read-modify-write without lost updates
//!   ([`Store::get_document_versioned`], [`Store::commit_checked`] with
//!   [`DocumentCas`]);
//! - **audit**: an append-only, hash-chained log ([`audit_hash`],
//!   [`verify_chain`], [`ChainVerifier`]); a trigger on both engines
//!   refuses `UPDATE` and `DELETE` on it (migration 0002);
//! - **jobs**: a durable timer/job queue (claim with `SKIP LOCKED` on
//!   PostgreSQL, a single writer transaction on SQLite).
//!
//! Everything in one [`Commit`] is written in one database transaction:
//! all or nothing. Instants are kept with microsecond precision.
//!
//! Public API in brief: [`StoreLocation::parse`] + [`open`] give an
//! `Arc<dyn Store>`; [`SqliteStore`] and [`PgStore`] are the engines;
//! [`audit_hash`], [`canonical_json`] and [`verify_chain`] define and check
//! the audit chain.
//!
//! Invariant: no SQL leaves this crate; callers see only typed values.

mod audit;
mod cache;
mod common;
mod location;
mod postgres;
mod query;
mod sqlite;

pub use audit::{
    audit_hash, canonical_json, instant_text, verify_chain, ChainError, ChainVerifier, GENESIS_HASH,
};
pub use cache::CachedStore;
pub use location::{open, StoreLocation, DEFAULT_DATA_DIR, SQLITE_FILE};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use bedside_core::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Errors from the store. `Conflict` and `DocumentConflict` mean an
/// optimistic check failed (nothing was written) and the caller should
/// re-read and retry ([`StoreError::is_conflict`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("concurrent update of {0}; retry")]
    Conflict(String),
    /// A checked document write ([`DocumentCas`]) found another version
    /// than `expected` stored (`None`: it expected no document).
    #[error("concurrent update of document {kind}/{id} (expected {}); re-read and retry", expected_text(.expected))]
    DocumentConflict {
        kind: String,
        id: String,
        expected: Option<i64>,
    },
    /// The store does not offer this operation.
    #[error("not supported by this store: {0}")]
    Unsupported(String),
    #[error("invalid store location {0:?}: {1}")]
    Location(String, String),
    #[error("corrupt stored value for {0}: {1}")]
    Corrupt(String, String),
}

impl StoreError {
    /// Whether an optimistic check failed: re-reading and retrying can
    /// succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict(_) | StoreError::DocumentConflict { .. }
        )
    }
}

fn expected_text(v: &Option<i64>) -> String {
    match v {
        Some(v) => format!("version {v}"),
        None => "no document".to_string(),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// `(resourceType, id)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    pub rtype: String,
    pub id: String,
}

/// What the store remembers of a stored resource's version, to decide
/// idempotency without loading the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version_id: Option<String>,
    pub last_updated: Option<String>,
    /// Hex SHA-256 of the resource's JSON as received.
    pub hash: String,
}

/// A resource to write (insert or replace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceWrite {
    pub key: ResourceKey,
    pub version: VersionInfo,
    /// The patient this resource belongs to, if any (for search).
    pub patient_id: Option<String>,
    /// Clinically relevant time (effective/authored/onset...), if any.
    pub event_time: Option<Instant>,
    /// The JSON text of the resource.
    pub body: String,
}

/// A stored resource as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResource {
    pub key: ResourceKey,
    pub version: VersionInfo,
    pub patient_id: Option<String>,
    pub event_time: Option<Instant>,
    pub body: String,
}

/// A patient's serialized state with its version (0 = never stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRow {
    pub patient_id: String,
    pub version: i64,
    pub state: Vec<u8>,
}

/// Write a patient's state if its stored version still equals `expected`
/// (0 = must not exist yet); the stored version becomes `expected + 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateWrite {
    pub patient_id: String,
    pub expected: i64,
    pub state: Vec<u8>,
}

/// One of Bedside's own records. `(kind, id)` is unique; writing again
/// replaces it. `patient_id`, `status` and `owner` are indexed for lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub kind: String,
    pub id: String,
    pub patient_id: Option<String>,
    pub status: Option<String>,
    pub owner: Option<String>,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub body: serde_json::Value,
}

/// A document with its stored version: 1 when first written, one more on
/// every write of it (checked or not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionedDocument {
    pub document: Document,
    pub version: i64,
}

/// A checked document write, for read-modify-write without lost updates
/// (several replicas): it is written only if the stored version of
/// `(document.kind, document.id)` is still `expected` (`None`: no such
/// document is stored), and the stored version becomes one more (1 for a
/// new document). Otherwise the whole commit fails with
/// [`StoreError::DocumentConflict`] and writes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentCas {
    pub document: Document,
    /// The version read with [`Store::get_document_versioned`].
    pub expected: Option<i64>,
}

impl DocumentCas {
    /// Write `document` over the version `read` returned (absent: `None`).
    pub fn over(document: Document, read: Option<&VersionedDocument>) -> Self {
        DocumentCas {
            document,
            expected: read.map(|v| v.version),
        }
    }
}

/// Filter for [`Store::list_documents`]; `None` fields match anything.
/// Results are ordered by `created_at`, then `id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocFilter {
    pub kind: String,
    pub patient_id: Option<String>,
    pub status: Option<String>,
    pub owner: Option<String>,
    pub since: Option<Instant>,
    pub limit: Option<u32>,
}

/// A page of documents for [`Store::list_document_texts`]: `filter`
/// (its `limit` is the page size), and besides it a set of statuses to
/// match any of (`status_in`; empty = any), newest first or oldest first,
/// and how many matches to skip (`offset`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocPage {
    pub filter: DocFilter,
    pub status_in: Vec<String>,
    pub newest_first: bool,
    pub offset: u32,
}

/// A listed document with its body as the stored JSON text, for callers
/// that pass bodies on without reading them (a parse and a re-serialize
/// per document was most of the cost of a worklist answer).
#[derive(Debug, Clone, PartialEq)]
pub struct DocText {
    pub id: String,
    pub patient_id: Option<String>,
    pub status: Option<String>,
    pub owner: Option<String>,
    pub created_at: Instant,
    pub body: String,
}

impl DocPage {
    /// Whether `d` is on this page's list (before order and offset).
    pub fn matches(&self, d: &Document) -> bool {
        self.status_in.is_empty()
            || d.status
                .as_deref()
                .is_some_and(|s| self.status_in.iter().any(|x| x == s))
    }
}

/// A job to run at or after `due_at`. A job with a `dedupe_key` already
/// present (pending or done) is not scheduled again (silently skipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    pub kind: String,
    pub due_at: Instant,
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
}

/// A job claimed by one worker until `lease_until`; a job whose lease ran
/// out without `complete_job` can be claimed again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub due_at: Instant,
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

/// An entry of the append-only audit log. `hash` is [`audit_hash`]:
/// hex SHA-256 of `prev_hash|seq|recorded_at|canonical body` (computed by
/// the store; `prev_hash` of seq 1 is [`GENESIS_HASH`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub recorded_at: Instant,
    pub body: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Everything written together, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub resources: Vec<ResourceWrite>,
    pub states: Vec<StateWrite>,
    pub documents: Vec<Document>,
    pub jobs: Vec<NewJob>,
    /// Audit bodies to append (the store assigns seq and hashes).
    pub audit: Vec<serde_json::Value>,
}

impl Commit {
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
            && self.states.is_empty()
            && self.documents.is_empty()
            && self.jobs.is_empty()
            && self.audit.is_empty()
    }
}

/// The one storage API. Both engines pass the same test suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn engine(&self) -> &'static str;

    /// Write a commit atomically. Fails with `Conflict` (and writes
    /// nothing) if any `StateWrite.expected` does not match.
    async fn commit(&self, c: Commit) -> Result<()>;

    /// [`Store::commit`] together with checked document writes, in one
    /// transaction: each of `checked` is written only if its document is
    /// still at its `expected` version, else the commit fails with
    /// [`StoreError::DocumentConflict`] and nothing of it is written.
    /// Checked writes apply before `c.documents` (a document in both ends
    /// up as `c` has it); repeated checked writes of one document apply in
    /// order. The default takes an empty `checked` to [`Store::commit`]
    /// and refuses any other (`Unsupported`).
    async fn commit_checked(&self, c: Commit, checked: Vec<DocumentCas>) -> Result<()> {
        if checked.is_empty() {
            return self.commit(c).await;
        }
        Err(StoreError::Unsupported(
            "checked document writes (commit_checked)".to_string(),
        ))
    }

    /// Version info of the given resources that exist.
    async fn versions(&self, keys: &[ResourceKey]) -> Result<BTreeMap<ResourceKey, VersionInfo>>;
    async fn get_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>>;
    /// Resources of a type belonging to a patient, ordered by event time.
    async fn resources_for_patient(
        &self,
        rtype: &str,
        patient_id: &str,
    ) -> Result<Vec<StoredResource>>;
    /// All resources of a type, ordered by id, paged.
    async fn resources_of_type(
        &self,
        rtype: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredResource>>;
    /// Stored resource counts by type.
    async fn count_resources(&self) -> Result<BTreeMap<String, u64>>;
    /// Whether the database answers, at a cost that does not grow with the
    /// data (for liveness checks such as `/healthz`). The default is one
    /// keyed read; the engines run `SELECT 1`.
    async fn ping(&self) -> Result<()> {
        self.get_document("", "").await.map(|_| ())
    }

    async fn load_states(&self, patient_ids: &[String]) -> Result<BTreeMap<String, StateRow>>;
    /// The stored state versions of these patients (absent: no state),
    /// without reading the states: for callers that skip a patient whose
    /// state did not change since they last looked.
    async fn state_versions(&self, patient_ids: &[String]) -> Result<BTreeMap<String, i64>>;
    /// Ids of all patients with a stored state.
    async fn state_patient_ids(&self) -> Result<Vec<String>>;

    async fn get_document(&self, kind: &str, id: &str) -> Result<Option<Document>>;
    /// [`Store::get_document`] with the stored version, to write it back
    /// with [`Store::commit_checked`]. The default: `Unsupported`.
    async fn get_document_versioned(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<VersionedDocument>> {
        let _ = (kind, id);
        Err(StoreError::Unsupported(
            "document versions (get_document_versioned)".to_string(),
        ))
    }
    /// [`Store::get_document`] for readers that only look at the document:
    /// a cache can hand out the document it holds without copying it (a
    /// `serde_json::Value` body is a tree of allocations; copying the
    /// three documents a CDS Hooks call reads costs ~3% of its CPU).
    async fn get_document_shared(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>> {
        Ok(self.get_document(kind, id).await?.map(Arc::new))
    }
    async fn list_documents(&self, f: &DocFilter) -> Result<Vec<Document>>;
    async fn count_documents(&self, f: &DocFilter) -> Result<u64>;

    /// One page of documents, bodies as stored text (see [`DocPage`]).
    /// Order: `created_at`, then `id`, reversed when `newest_first`. The
    /// engines answer in SQL; the default lists and filters in memory.
    async fn list_document_texts(&self, p: &DocPage) -> Result<Vec<DocText>> {
        let mut docs: Vec<Document> = self
            .list_documents(&DocFilter {
                limit: None,
                ..p.filter.clone()
            })
            .await?
            .into_iter()
            .filter(|d| p.matches(d))
            .collect();
        if p.newest_first {
            docs.reverse();
        }
        Ok(docs
            .into_iter()
            .skip(p.offset as usize)
            .take(p.filter.limit.map_or(usize::MAX, |n| n as usize))
            .map(|d| DocText {
                body: d.body.to_string(),
                id: d.id,
                patient_id: d.patient_id,
                status: d.status,
                owner: d.owner,
                created_at: d.created_at,
            })
            .collect())
    }

    /// The earliest and the newest `created_at` of the documents matching
    /// `f` (`limit` is ignored); `None` when none match. The engines answer
    /// from the `(kind, owner|patient|status, created_at)` indexes without
    /// reading bodies; the default lists the documents.
    async fn document_span(&self, f: &DocFilter) -> Result<Option<(Instant, Instant)>> {
        let docs = self
            .list_documents(&DocFilter {
                limit: None,
                ..f.clone()
            })
            .await?;
        let min = docs.iter().map(|d| d.created_at).min();
        let max = docs.iter().map(|d| d.created_at).max();
        Ok(min.zip(max))
    }

    /// An opaque marker of the database's content: after anything is
    /// committed, by this handle or any other (another process on the
    /// SQLite file, another replica on PostgreSQL), the next marker
    /// differs from every marker read before that commit. It may also
    /// change when nothing relevant did. Cheap (no table is read), for
    /// validating caches of derived figures: read the marker *before*
    /// computing, keep it with the result, and reuse the result only while
    /// the marker is unchanged. `None`: this store has no such marker
    /// (cache nothing); the default.
    async fn change_marker(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Claim up to `limit` jobs due at `now` for `lease_secs` seconds.
    /// With several replicas each due job is handed to exactly one claimer.
    async fn claim_jobs(&self, now: Instant, limit: u32, lease_secs: i64) -> Result<Vec<Job>>;
    /// Mark a claimed job done, together with what running it wrote, in one
    /// transaction. Fails with `Conflict` (and writes nothing) if the job is
    /// not pending (already completed, e.g. by another worker after this
    /// worker's lease ran out, or unknown) or a state write conflicts.
    async fn complete_job(&self, job_id: i64, c: Commit) -> Result<()>;
    /// [`Store::complete_job`] with checked document writes, as
    /// [`Store::commit_checked`] has them.
    async fn complete_job_checked(
        &self,
        job_id: i64,
        c: Commit,
        checked: Vec<DocumentCas>,
    ) -> Result<()> {
        if checked.is_empty() {
            return self.complete_job(job_id, c).await;
        }
        Err(StoreError::Unsupported(
            "checked document writes (complete_job_checked)".to_string(),
        ))
    }
    /// Number of jobs not yet done.
    async fn pending_jobs(&self) -> Result<u64>;
    /// The due time of the earliest pending job.
    async fn next_due(&self) -> Result<Option<Instant>>;

    /// The audit log from `from_seq` on, in order.
    async fn audit_entries(&self, from_seq: i64, limit: u32) -> Result<Vec<AuditEntry>>;
}
