//! The one [`Store`] implementation of both engines, over what an
//! [`Engine`] provides.

use super::read::{
    self, count, document, push_doc_filter, push_page, resource, DocRow, ResRow, DOC_COLS, RES_COLS,
};
use super::Dialect;
use super::Sql;
use crate::common::{self, db_err, parse_json, Prepared};
use crate::{
    AuditEntry, Commit, DocFilter, DocPage, DocText, Document, DocumentCas, Job, ResourceKey,
    Result, StateRow, Store, StoredResource, VersionInfo, VersionedDocument,
};
use async_trait::async_trait;
use bedside_core::Instant;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Type};
use std::collections::BTreeMap;
use std::future::Future;

/// What an engine provides besides its [`Dialect`]: where reads run, how
/// a commit is written, where jobs are claimed and its change marker.
pub(crate) trait Engine: Send + Sync + 'static {
    type DB: Dialect;
    /// `"sqlite"` or `"postgres"`.
    const NAME: &'static str;
    /// The pool reads run on.
    fn readers(&self) -> &Pool<Self::DB>;
    /// Mark job `job` done (if given) and write `p`, in one transaction.
    fn write(&self, job: Option<i64>, p: Prepared) -> impl Future<Output = Result<()>> + Send;
    /// Claim up to `limit` jobs due at `now` until `until`.
    fn claim(
        &self,
        now: Instant,
        until: Instant,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Job>>> + Send;
    /// See [`Store::change_marker`].
    fn marker(&self) -> impl Future<Output = Result<Option<String>>> + Send;
}

#[async_trait]
impl<E, DB> Store for E
where
    E: Engine<DB = DB>,
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
    fn engine(&self) -> &'static str {
        E::NAME
    }

    async fn commit(&self, c: Commit) -> Result<()> {
        self.write(None, Prepared::new(c, Vec::new())).await
    }

    async fn commit_checked(&self, c: Commit, checked: Vec<DocumentCas>) -> Result<()> {
        self.write(None, Prepared::new(c, checked)).await
    }

    async fn versions(&self, keys: &[ResourceKey]) -> Result<BTreeMap<ResourceKey, VersionInfo>> {
        let mut out = BTreeMap::new();
        let mut conn = self.readers().acquire().await.map_err(db_err)?;
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

    async fn get_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        let row: Option<ResRow<DB::Time>> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND id = $2"
        ))
        .bind(key.rtype.as_str())
        .bind(key.id.as_str())
        .fetch_optional(self.readers())
        .await
        .map_err(db_err)?;
        row.map(resource::<DB>).transpose()
    }

    async fn resources_for_patient(
        &self,
        rtype: &str,
        patient_id: &str,
    ) -> Result<Vec<StoredResource>> {
        let rows: Vec<ResRow<DB::Time>> = sqlx::query_as(&format!(
            "SELECT {RES_COLS} FROM resources WHERE rtype = $1 AND patient_id = $2 \
             ORDER BY event_time ASC NULLS LAST, id"
        ))
        .bind(rtype)
        .bind(patient_id)
        .fetch_all(self.readers())
        .await
        .map_err(db_err)?;
        rows.into_iter().map(resource::<DB>).collect()
    }

    async fn resources_of_type(
        &self,
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
            .fetch_all(self.readers())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(resource::<DB>).collect()
    }

    async fn count_resources(&self) -> Result<BTreeMap<String, u64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT rtype, COUNT(*) FROM resources GROUP BY rtype")
                .fetch_all(self.readers())
                .await
                .map_err(db_err)?;
        Ok(rows.into_iter().map(|(t, n)| (t, count(n))).collect())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(self.readers())
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    async fn load_states(&self, patient_ids: &[String]) -> Result<BTreeMap<String, StateRow>> {
        let rows: Vec<(String, i64, Vec<u8>)> =
            read::patients(self.readers(), "patient_id, version, state", patient_ids).await?;
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

    async fn state_versions(&self, patient_ids: &[String]) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            read::patients(self.readers(), "patient_id, version", patient_ids).await?;
        Ok(rows.into_iter().collect())
    }

    async fn state_patient_ids(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT patient_id FROM patient_states ORDER BY patient_id")
            .fetch_all(self.readers())
            .await
            .map_err(db_err)
    }

    async fn get_document(&self, kind: &str, id: &str) -> Result<Option<Document>> {
        let d = self.get_document_versioned(kind, id).await?;
        Ok(d.map(|v| v.document))
    }

    async fn get_document_versioned(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<VersionedDocument>> {
        let row: Option<DocRow<DB::Time>> = sqlx::query_as(&format!(
            "SELECT {DOC_COLS}, version FROM documents WHERE kind = $1 AND id = $2"
        ))
        .bind(kind)
        .bind(id)
        .fetch_optional(self.readers())
        .await
        .map_err(db_err)?;
        row.map(document::<DB>).transpose()
    }

    async fn list_documents(&self, f: &DocFilter) -> Result<Vec<Document>> {
        let mut q = Sql::<DB>::new(format!("SELECT {DOC_COLS}, version FROM documents"));
        push_doc_filter(&mut q, f);
        q.push(" ORDER BY created_at, id");
        if let Some(n) = f.limit {
            q.push(" LIMIT ").bind(i64::from(n));
        }
        let (text, args) = q.finish()?;
        let rows: Vec<DocRow<DB::Time>> = sqlx::query_as_with(&text, args)
            .fetch_all(self.readers())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|r| document::<DB>(r).map(|v| v.document))
            .collect()
    }

    async fn count_documents(&self, f: &DocFilter) -> Result<u64> {
        let mut q = Sql::<DB>::new("SELECT COUNT(*) FROM documents");
        push_doc_filter(&mut q, f);
        let (text, args) = q.finish()?;
        let n: i64 = sqlx::query_scalar_with(&text, args)
            .fetch_one(self.readers())
            .await
            .map_err(db_err)?;
        Ok(count(n))
    }

    async fn list_document_texts(&self, p: &DocPage) -> Result<Vec<DocText>> {
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
            .fetch_all(self.readers())
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

    async fn document_span(&self, f: &DocFilter) -> Result<Option<(Instant, Instant)>> {
        let mut q = Sql::<DB>::new("SELECT MIN(created_at), MAX(created_at) FROM documents");
        push_doc_filter(&mut q, f);
        let (text, args) = q.finish()?;
        let (min, max): (Option<DB::Time>, Option<DB::Time>) = sqlx::query_as_with(&text, args)
            .fetch_one(self.readers())
            .await
            .map_err(db_err)?;
        let at = |t| DB::instant(t, || "documents created_at".to_string());
        match min.zip(max) {
            None => Ok(None),
            Some((a, b)) => Ok(Some((at(a)?, at(b)?))),
        }
    }

    async fn change_marker(&self) -> Result<Option<String>> {
        self.marker().await
    }

    async fn claim_jobs(&self, now: Instant, limit: u32, lease_secs: i64) -> Result<Vec<Job>> {
        self.claim(now, common::lease_until(now, lease_secs), limit)
            .await
    }

    async fn complete_job(&self, job_id: i64, c: Commit) -> Result<()> {
        self.write(Some(job_id), Prepared::new(c, Vec::new())).await
    }

    async fn complete_job_checked(
        &self,
        job_id: i64,
        c: Commit,
        checked: Vec<DocumentCas>,
    ) -> Result<()> {
        self.write(Some(job_id), Prepared::new(c, checked)).await
    }

    async fn pending_jobs(&self) -> Result<u64> {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM jobs WHERE {}", DB::PENDING))
                .fetch_one(self.readers())
                .await
                .map_err(db_err)?;
        Ok(count(n))
    }

    async fn next_due(&self) -> Result<Option<Instant>> {
        let m: Option<DB::Time> = sqlx::query_scalar(&format!(
            "SELECT MIN(due_at) FROM jobs WHERE {}",
            DB::PENDING
        ))
        .fetch_one(self.readers())
        .await
        .map_err(db_err)?;
        m.map(|m| DB::instant(m, || "jobs due_at".to_string()))
            .transpose()
    }

    async fn audit_entries(&self, from_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(i64, DB::Time, String, String, String)> = sqlx::query_as(
            "SELECT seq, recorded_at, body, prev_hash, hash FROM audit WHERE seq >= $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(from_seq)
        .bind(i64::from(limit))
        .fetch_all(self.readers())
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
