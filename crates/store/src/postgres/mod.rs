//! The PostgreSQL engine, for several replicas sharing one database.
//! Bulk writes use `UNNEST` over arrays (one statement per table per
//! commit), job claims use `FOR UPDATE SKIP LOCKED`, state writes are
//! compare-and-set on the version, and audit appends take a transaction
//! advisory lock so the hash chain stays linear across replicas.

use crate::common::{self, db_err, parse_json, Prepared};
use crate::{
    AuditEntry, Commit, DocFilter, DocPage, DocText, Document, Job, ResourceKey, StateRow, Store,
    StoreError, StoredResource, VersionInfo,
};
use async_trait::async_trait;
use bedside_core::Instant;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Postgres, QueryBuilder};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

mod write;
use write::PG_CHUNK;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

type Result<T> = crate::Result<T>;

type ResRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    String,
);
const RES_COLS: &str = "rtype, id, version_id, last_updated, hash, patient_id, event_time, body";

type DocRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);
const DOC_COLS: &str = "kind, id, patient_id, status, owner, created_at, updated_at, body";

type JobRow = (i64, String, DateTime<Utc>, Option<String>, String, i32);

/// The PostgreSQL engine. See the crate docs for what is stored.
///
/// The schema is the connection's `search_path` (by default `public`); a
/// URL parameter such as `?options=-c%20search_path%3Dbedside` puts it in
/// another schema, which must exist.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connect to `url` (`postgres://user:pass@host:port/db?...`) and apply
    /// pending migrations (serialized across replicas by sqlx's lock).
    pub async fn open(url: &str) -> Result<Self> {
        let loc = || common::redact_url(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Location(loc(), format!("not a valid PostgreSQL URL: {e}")))?;
        // One direct connection first: a refused or rejected connection
        // fails at once with a clear message (the pool would keep retrying
        // until its acquire timeout). Migrations run on it.
        let mut conn = options
            .connect()
            .await
            .map_err(|e| StoreError::Location(loc(), format!("cannot connect: {e}")))?;
        MIGRATOR
            .run_direct(&mut conn)
            .await
            .map_err(|e| StoreError::Migrate(format!("{}: {e}", loc())))?;
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Location(loc(), format!("cannot connect: {e}")))?;
        Ok(PgStore { pool })
    }

    /// Run raw SQL (one or more statements); returns rows affected. For
    /// tests that tamper with stored data (e.g. the audit log) to check
    /// that tampering is detected. Not for application use.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<u64> {
        let r = sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    async fn write(&self, job: Option<i64>, c: Commit) -> Result<()> {
        let p = Prepared::new(c);
        if p.is_empty() && job.is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(id) = job {
            let r = sqlx::query("UPDATE jobs SET done = TRUE, lease_until = NULL, done_at = $2 WHERE id = $1 AND NOT done")
                .bind(id)
                .bind(common::now())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!("job {id} is not pending")));
            }
        }
        write::apply(&mut tx, &p).await?;
        tx.commit().await.map_err(db_err)
    }
}

fn resource(r: ResRow) -> StoredResource {
    let (rtype, id, version_id, last_updated, hash, patient_id, event_time, body) = r;
    StoredResource {
        key: ResourceKey { rtype, id },
        version: VersionInfo {
            version_id,
            last_updated,
            hash,
        },
        patient_id,
        event_time,
        body,
    }
}

fn document(r: DocRow) -> Result<Document> {
    let (kind, id, patient_id, status, owner, created_at, updated_at, body) = r;
    Ok(Document {
        body: parse_json(&body, || format!("document {kind}/{id} body"))?,
        kind,
        id,
        patient_id,
        status,
        owner,
        created_at,
        updated_at,
    })
}

fn job(r: JobRow) -> Result<Job> {
    let (id, kind, due_at, dedupe_key, payload, attempts) = r;
    Ok(Job {
        payload: parse_json(&payload, || format!("job {id} payload"))?,
        id,
        kind,
        due_at,
        dedupe_key,
        attempts,
    })
}

fn push_doc_filter(qb: &mut QueryBuilder<'_, Postgres>, f: &DocFilter) {
    qb.push(" WHERE kind = ").push_bind(f.kind.clone());
    if let Some(p) = &f.patient_id {
        qb.push(" AND patient_id = ").push_bind(p.clone());
    }
    if let Some(s) = &f.status {
        qb.push(" AND status = ").push_bind(s.clone());
    }
    if let Some(o) = &f.owner {
        qb.push(" AND owner = ").push_bind(o.clone());
    }
    if let Some(t) = f.since {
        qb.push(" AND created_at >= ").push_bind(t);
    }
}

#[async_trait]
impl Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn commit(&self, c: Commit) -> Result<()> {
        self.write(None, c).await
    }

    async fn versions(&self, keys: &[ResourceKey]) -> Result<BTreeMap<ResourceKey, VersionInfo>> {
        let mut out = BTreeMap::new();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        for (rtype, ids) in common::keys_by_type(keys) {
            for chunk in ids.chunks(PG_CHUNK) {
                let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(
                    "SELECT id, version_id, last_updated, hash FROM resources WHERE rtype = $1 AND id = ANY($2::text[])",
                )
                .bind(rtype)
                .bind(chunk)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
                for (id, version_id, last_updated, hash) in rows {
                    out.insert(
                        ResourceKey {
                            rtype: rtype.to_string(),
                            id,
                        },
                        VersionInfo {
                            version_id,
                            last_updated,
                            hash,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    async fn get_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        let row: Option<ResRow> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND id = $2"
        ))
        .bind(&key.rtype)
        .bind(&key.id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(resource))
    }

    async fn resources_for_patient(
        &self,
        rtype: &str,
        patient_id: &str,
    ) -> Result<Vec<StoredResource>> {
        let rows: Vec<ResRow> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND patient_id = $2 \
             ORDER BY event_time ASC NULLS LAST, id"
        ))
        .bind(rtype)
        .bind(patient_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(resource).collect())
    }

    async fn resources_of_type(
        &self,
        rtype: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredResource>> {
        let rows: Vec<ResRow> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ))
        .bind(rtype)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(resource).collect())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    async fn count_resources(&self) -> Result<BTreeMap<String, u64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT rtype, COUNT(*) FROM resources GROUP BY rtype")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(t, n)| (t, n.max(0) as u64))
            .collect())
    }

    async fn load_states(&self, patient_ids: &[String]) -> Result<BTreeMap<String, StateRow>> {
        let mut out = BTreeMap::new();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        for chunk in patient_ids.chunks(PG_CHUNK) {
            let rows: Vec<(String, i64, Vec<u8>)> =
                sqlx::query_as("SELECT patient_id, version, state FROM patient_states WHERE patient_id = ANY($1::text[])")
                    .bind(chunk)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_err)?;
            for (patient_id, version, state) in rows {
                out.insert(
                    patient_id.clone(),
                    StateRow {
                        patient_id,
                        version,
                        state,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn state_versions(&self, patient_ids: &[String]) -> Result<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        for chunk in patient_ids.chunks(PG_CHUNK) {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT patient_id, version FROM patient_states WHERE patient_id = ANY($1::text[])",
            )
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn state_patient_ids(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT patient_id FROM patient_states ORDER BY patient_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn get_document(&self, kind: &str, id: &str) -> Result<Option<Document>> {
        let row: Option<DocRow> = sqlx::query_as(&format!(
            "SELECT {DOC_COLS} FROM documents WHERE kind = $1 AND id = $2"
        ))
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(document).transpose()
    }

    async fn list_documents(&self, f: &DocFilter) -> Result<Vec<Document>> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {DOC_COLS} FROM documents"));
        push_doc_filter(&mut qb, f);
        qb.push(" ORDER BY created_at, id");
        if let Some(n) = f.limit {
            qb.push(" LIMIT ").push_bind(i64::from(n));
        }
        let rows: Vec<DocRow> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(document).collect()
    }

    async fn list_document_texts(&self, p: &DocPage) -> Result<Vec<DocText>> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, patient_id, status, owner, created_at, body FROM documents",
        );
        push_doc_filter(&mut qb, &p.filter);
        common::push_page(&mut qb, p, "");
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            DateTime<Utc>,
            String,
        );
        let rows: Vec<Row> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|(id, patient_id, status, owner, created_at, body)| {
                Ok(DocText {
                    created_at,
                    id,
                    patient_id,
                    status,
                    owner,
                    body,
                })
            })
            .collect()
    }

    async fn count_documents(&self, f: &DocFilter) -> Result<u64> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT COUNT(*) FROM documents");
        push_doc_filter(&mut qb, f);
        let n: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(n.max(0) as u64)
    }

    async fn document_span(&self, f: &DocFilter) -> Result<Option<(Instant, Instant)>> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT MIN(created_at), MAX(created_at) FROM documents");
        push_doc_filter(&mut qb, f);
        let (min, max): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = qb
            .build_query_as()
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(min.zip(max))
    }

    async fn change_marker(&self) -> Result<Option<String>> {
        // The current snapshot (xmin:xmax:in-progress xids) changes when
        // any transaction that wrote is assigned an id or commits, on any
        // replica: conservative (other databases of the cluster count
        // too), never unchanged across a commit.
        let s: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(Some(format!("postgres:{s}")))
    }

    async fn claim_jobs(&self, now: Instant, limit: u32, lease_secs: i64) -> Result<Vec<Job>> {
        let until = now + chrono::Duration::seconds(lease_secs.clamp(0, i64::from(i32::MAX)));
        let rows: Vec<JobRow> = sqlx::query_as(
            "UPDATE jobs SET lease_until = $1, attempts = attempts + 1 WHERE id IN (\
               SELECT id FROM jobs WHERE NOT done AND due_at <= $2 \
               AND (lease_until IS NULL OR lease_until <= $2) ORDER BY due_at, id LIMIT $3 \
               FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, due_at, dedupe_key, payload, attempts",
        )
        .bind(until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut jobs = rows.into_iter().map(job).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.due_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, job_id: i64, c: Commit) -> Result<()> {
        self.write(Some(job_id), c).await
    }

    async fn pending_jobs(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE NOT done")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(n.max(0) as u64)
    }

    async fn next_due(&self) -> Result<Option<Instant>> {
        sqlx::query_scalar("SELECT MIN(due_at) FROM jobs WHERE NOT done")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn audit_entries(&self, from_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(i64, DateTime<Utc>, String, String, String)> = sqlx::query_as(
            "SELECT seq, recorded_at, body, prev_hash, hash FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(from_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(seq, recorded_at, body, prev_hash, hash)| {
                Ok(AuditEntry {
                    seq,
                    recorded_at,
                    body: parse_json(&body, || format!("audit {seq} body"))?,
                    prev_hash,
                    hash,
                })
            })
            .collect()
    }
}
