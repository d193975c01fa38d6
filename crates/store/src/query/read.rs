//! Every read of the [`crate::Store`] API, once for both engines. Reads
//! run on the engine's read pool (SQLite: the reader connections, never
//! the writer; PostgreSQL: the one pool).

use super::{Dialect, Sql};
use crate::common::{self, db_err, parse_json};
use crate::{
    AuditEntry, DocFilter, DocPage, DocText, Document, Job, ResourceKey, Result, StateRow,
    StoredResource, VersionInfo, VersionedDocument,
};
use bedside_core::Instant;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Type};
use std::collections::BTreeMap;
use std::marker::PhantomData;

pub(crate) const RES_COLS: &str =
    "rtype, id, version_id, last_updated, hash, patient_id, event_time, body";
pub(crate) const DOC_COLS: &str =
    "kind, id, patient_id, status, owner, created_at, updated_at, body";
pub(crate) const JOB_COLS: &str = "id, kind, due_at, dedupe_key, payload, attempts";

/// Row of `resources` as selected by [`RES_COLS`].
type ResRow<T> = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<T>,
    String,
);

/// Row of `documents` as selected by [`DOC_COLS`], then `version`.
type DocRow<T> = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    T,
    T,
    String,
    i64,
);

/// Row of `jobs` as selected by [`JOB_COLS`].
pub(crate) type JobRow<T> = (i64, String, T, Option<String>, String, i32);

/// The reads, for an engine `DB`.
pub(crate) struct Read<DB>(PhantomData<DB>);

impl<DB> Read<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i32: for<'r> Decode<'r, DB> + Type<DB>,
    Vec<u8>: for<'r> Decode<'r, DB> + Type<DB>,
{
    pub async fn ping(pool: &Pool<DB>) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    pub async fn versions(
        pool: &Pool<DB>,
        keys: &[ResourceKey],
    ) -> Result<BTreeMap<ResourceKey, VersionInfo>> {
        let mut out = BTreeMap::new();
        let mut conn = pool.acquire().await.map_err(db_err)?;
        for (rtype, ids) in common::keys_by_type(keys) {
            for chunk in ids.chunks(DB::CHUNK) {
                let mut q = Sql::<DB>::new(
                    "SELECT id, version_id, last_updated, hash FROM resources WHERE rtype = ",
                );
                q.bind(rtype.to_string()).push(" AND id");
                DB::push_in(&mut q, chunk.to_vec());
                let (text, args) = q.finish()?;
                let rows: Vec<(String, Option<String>, Option<String>, String)> =
                    sqlx::query_as_with(&text, args)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(db_err)?;
                out.extend(
                    rows.into_iter()
                        .map(|(id, version_id, last_updated, hash)| {
                            let key = ResourceKey {
                                rtype: rtype.to_string(),
                                id,
                            };
                            let version = VersionInfo {
                                version_id,
                                last_updated,
                                hash,
                            };
                            (key, version)
                        }),
                );
            }
        }
        Ok(out)
    }

    pub async fn get_resource(
        pool: &Pool<DB>,
        key: &ResourceKey,
    ) -> Result<Option<StoredResource>> {
        let row: Option<ResRow<DB::Time>> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND id = $2"
        ))
        .bind(key.rtype.as_str())
        .bind(key.id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
        row.map(resource::<DB>).transpose()
    }

    pub async fn resources_for_patient(
        pool: &Pool<DB>,
        rtype: &str,
        patient_id: &str,
    ) -> Result<Vec<StoredResource>> {
        let rows: Vec<ResRow<DB::Time>> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND patient_id = $2 \
             ORDER BY event_time ASC NULLS LAST, id"
        ))
        .bind(rtype)
        .bind(patient_id)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(resource::<DB>).collect()
    }

    pub async fn resources_of_type(
        pool: &Pool<DB>,
        rtype: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredResource>> {
        let mut q = Sql::<DB>::new(format!("SELECT {RES_COLS} FROM resources WHERE rtype = "));
        q.bind(rtype.to_string());
        if let Some(after) = after_id {
            q.push(" AND id > ").bind(after.to_string());
        }
        q.push(" ORDER BY id LIMIT ").bind(i64::from(limit));
        let (text, args) = q.finish()?;
        let rows: Vec<ResRow<DB::Time>> = sqlx::query_as_with(&text, args)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(resource::<DB>).collect()
    }

    pub async fn count_resources(pool: &Pool<DB>) -> Result<BTreeMap<String, u64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT rtype, COUNT(*) FROM resources GROUP BY rtype")
                .fetch_all(pool)
                .await
                .map_err(db_err)?;
        Ok(rows.into_iter().map(|(t, n)| (t, count(n))).collect())
    }

    pub async fn load_states(
        pool: &Pool<DB>,
        patient_ids: &[String],
    ) -> Result<BTreeMap<String, StateRow>> {
        let rows: Vec<(String, i64, Vec<u8>)> =
            Self::patients(pool, "patient_id, version, state", patient_ids).await?;
        Ok(rows
            .into_iter()
            .map(|(patient_id, version, state)| {
                let row = StateRow {
                    patient_id: patient_id.clone(),
                    version,
                    state,
                };
                (patient_id, row)
            })
            .collect())
    }

    pub async fn state_versions(
        pool: &Pool<DB>,
        patient_ids: &[String],
    ) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            Self::patients(pool, "patient_id, version", patient_ids).await?;
        Ok(rows.into_iter().collect())
    }

    /// `SELECT <cols> FROM patient_states` for these patients.
    async fn patients<R>(pool: &Pool<DB>, cols: &str, ids: &[String]) -> Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    {
        let mut out = Vec::new();
        let mut conn = pool.acquire().await.map_err(db_err)?;
        for chunk in ids.chunks(DB::CHUNK) {
            let mut q = Sql::<DB>::new(format!(
                "SELECT {cols} FROM patient_states WHERE patient_id"
            ));
            DB::push_in(&mut q, chunk.iter().map(String::as_str).collect());
            let (text, args) = q.finish()?;
            let rows: Vec<R> = sqlx::query_as_with(&text, args)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
            out.extend(rows);
        }
        Ok(out)
    }

    pub async fn state_patient_ids(pool: &Pool<DB>) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT patient_id FROM patient_states ORDER BY patient_id")
            .fetch_all(pool)
            .await
            .map_err(db_err)
    }

    pub async fn get_document(
        pool: &Pool<DB>,
        kind: &str,
        id: &str,
    ) -> Result<Option<VersionedDocument>> {
        let row: Option<DocRow<DB::Time>> = sqlx::query_as(&format!(
            "SELECT {DOC_COLS}, version FROM documents WHERE kind = $1 AND id = $2"
        ))
        .bind(kind)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
        row.map(document::<DB>).transpose()
    }

    pub async fn list_documents(pool: &Pool<DB>, f: &DocFilter) -> Result<Vec<Document>> {
        let mut q = Sql::<DB>::new(format!("SELECT {DOC_COLS}, version FROM documents"));
        push_doc_filter(&mut q, f);
        q.push(" ORDER BY created_at, id");
        if let Some(n) = f.limit {
            q.push(" LIMIT ").bind(i64::from(n));
        }
        let (text, args) = q.finish()?;
        let rows: Vec<DocRow<DB::Time>> = sqlx::query_as_with(&text, args)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|r| document::<DB>(r).map(|v| v.document))
            .collect()
    }

    pub async fn list_document_texts(pool: &Pool<DB>, p: &DocPage) -> Result<Vec<DocText>> {
        let mut q =
            Sql::<DB>::new("SELECT id, patient_id, status, owner, created_at, body FROM documents");
        push_doc_filter(&mut q, &p.filter);
        push_page(&mut q, p);
        type Row<T> = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            T,
            String,
        );
        let (text, args) = q.finish()?;
        let rows: Vec<Row<DB::Time>> = sqlx::query_as_with(&text, args)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|(id, patient_id, status, owner, created_at, body)| {
                Ok(DocText {
                    created_at: DB::instant(created_at, || format!("document {id} created_at"))?,
                    id,
                    patient_id,
                    status,
                    owner,
                    body,
                })
            })
            .collect()
    }

    pub async fn count_documents(pool: &Pool<DB>, f: &DocFilter) -> Result<u64> {
        let mut q = Sql::<DB>::new("SELECT COUNT(*) FROM documents");
        push_doc_filter(&mut q, f);
        let (text, args) = q.finish()?;
        let n: i64 = sqlx::query_scalar_with(&text, args)
            .fetch_one(pool)
            .await
            .map_err(db_err)?;
        Ok(count(n))
    }

    pub async fn document_span(
        pool: &Pool<DB>,
        f: &DocFilter,
    ) -> Result<Option<(Instant, Instant)>> {
        let mut q = Sql::<DB>::new("SELECT MIN(created_at), MAX(created_at) FROM documents");
        push_doc_filter(&mut q, f);
        let (text, args) = q.finish()?;
        let (min, max): (Option<DB::Time>, Option<DB::Time>) = sqlx::query_as_with(&text, args)
            .fetch_one(pool)
            .await
            .map_err(db_err)?;
        let at = |t| DB::instant(t, || "documents created_at".to_string());
        match min.zip(max) {
            None => Ok(None),
            Some((a, b)) => Ok(Some((at(a)?, at(b)?))),
        }
    }

    pub async fn pending_jobs(pool: &Pool<DB>) -> Result<u64> {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM jobs WHERE {}", DB::PENDING))
                .fetch_one(pool)
                .await
                .map_err(db_err)?;
        Ok(count(n))
    }

    pub async fn next_due(pool: &Pool<DB>) -> Result<Option<Instant>> {
        let m: Option<DB::Time> = sqlx::query_scalar(&format!(
            "SELECT MIN(due_at) FROM jobs WHERE {}",
            DB::PENDING
        ))
        .fetch_one(pool)
        .await
        .map_err(db_err)?;
        m.map(|m| DB::instant(m, || "jobs due_at".to_string()))
            .transpose()
    }

    pub async fn audit_entries(
        pool: &Pool<DB>,
        from_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(i64, DB::Time, String, String, String)> = sqlx::query_as(
            "SELECT seq, recorded_at, body, prev_hash, hash FROM audit WHERE seq >= $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(from_seq)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(seq, at, body, prev_hash, hash)| {
                Ok(AuditEntry {
                    seq,
                    recorded_at: DB::instant(at, || format!("audit {seq} recorded_at"))?,
                    body: parse_json(&body, || format!("audit {seq} body"))?,
                    prev_hash,
                    hash,
                })
            })
            .collect()
    }
}

/// A count from the database (never negative) as `u64`.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// ` WHERE kind = ... AND ...` for the set fields of `f` (not its limit).
fn push_doc_filter<DB>(q: &mut Sql<'_, DB>, f: &DocFilter)
where
    DB: Dialect,
    String: for<'q> Encode<'q, DB> + Type<DB>,
{
    q.push(" WHERE kind = ").bind(f.kind.clone());
    if let Some(p) = &f.patient_id {
        q.push(" AND patient_id = ").bind(p.clone());
    }
    if let Some(s) = &f.status {
        q.push(" AND status = ").bind(s.clone());
    }
    if let Some(o) = &f.owner {
        q.push(" AND owner = ").bind(o.clone());
    }
    if let Some(t) = f.since {
        q.push(" AND created_at >= ").bind(DB::time(t));
    }
}

/// The part of a [`DocPage`] query after its filter: the status set, the
/// order, the page size and the offset.
fn push_page<DB>(q: &mut Sql<'_, DB>, p: &DocPage)
where
    DB: Dialect,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
{
    if !p.status_in.is_empty() {
        q.push(" AND status IN (");
        q.list(&p.status_in, |q, st| {
            q.bind(st.clone());
        });
        q.push(")");
    }
    q.push(if p.newest_first {
        " ORDER BY created_at DESC, id DESC"
    } else {
        " ORDER BY created_at, id"
    });
    match p.filter.limit {
        Some(n) => q.push(" LIMIT ").bind(i64::from(n)),
        None => q.push(DB::NO_LIMIT),
    };
    if p.offset > 0 {
        q.push(" OFFSET ").bind(i64::from(p.offset));
    }
}

fn resource<DB: Dialect>(r: ResRow<DB::Time>) -> Result<StoredResource> {
    let (rtype, id, version_id, last_updated, hash, patient_id, event_time, body) = r;
    let event_time = match event_time {
        Some(t) => Some(DB::instant(t, || format!("{rtype}/{id} event_time"))?),
        None => None,
    };
    Ok(StoredResource {
        key: ResourceKey { rtype, id },
        version: VersionInfo {
            version_id,
            last_updated,
            hash,
        },
        patient_id,
        event_time,
        body,
    })
}

fn document<DB: Dialect>(r: DocRow<DB::Time>) -> Result<VersionedDocument> {
    let (kind, id, patient_id, status, owner, created_at, updated_at, body, version) = r;
    let what = |col: &str| format!("document {kind}/{id} {col}");
    let document = Document {
        created_at: DB::instant(created_at, || what("created_at"))?,
        updated_at: DB::instant(updated_at, || what("updated_at"))?,
        body: parse_json(&body, || what("body"))?,
        kind,
        id,
        patient_id,
        status,
        owner,
    };
    Ok(VersionedDocument { document, version })
}

pub(crate) fn job<DB: Dialect>(r: JobRow<DB::Time>) -> Result<Job> {
    let (id, kind, due_at, dedupe_key, payload, attempts) = r;
    Ok(Job {
        due_at: DB::instant(due_at, || format!("job {id} due_at"))?,
        payload: parse_json(&payload, || format!("job {id} payload"))?,
        attempts,
        id,
        kind,
        dedupe_key,
    })
}
