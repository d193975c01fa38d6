//! Writing one prepared commit inside the caller's transaction, once for
//! both engines: each table with multi-row statements of up to
//! [`Dialect::CHUNK`] rows (SQLite: a round trip to sqlx's worker thread
//! per statement; PostgreSQL: one message), compare-and-set of patient
//! states and of checked documents (one `INSERT` for the new ones, one
//! `UPDATE ... FROM` for the others, `RETURNING` what was written), and
//! job claims.

use super::read::{job, JobRow, JOB_COLS};
use super::{Col, Dialect, Rows, Sql};
use crate::common::{self, db_err, Prepared};
use crate::{DocumentCas, Job, Result, StateWrite, StoreError};
use bedside_core::Instant;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use std::collections::HashSet;
use std::marker::PhantomData;

/// The writes, for an engine `DB`, on a connection inside a transaction.
pub(crate) struct Write<DB>(PhantomData<DB>);

impl<DB> Write<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    usize: ColumnIndex<DB::Row>,
    String: for<'r> Decode<'r, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    i32: for<'r> Decode<'r, DB> + Type<DB>,
{
    /// Mark job `job` done (if given; `Conflict` unless it is pending) and
    /// write `p`. Compare-and-set writes first (states, then checked
    /// documents): a conflict there fails before anything large is
    /// written.
    pub async fn apply(conn: &mut DB::Connection, job: Option<i64>, p: &Prepared) -> Result<()> {
        let now = common::now();
        if let Some(id) = job {
            Self::mark_done(conn, id, now).await?;
        }
        Self::write_states(conn, &p.states, now).await?;
        Self::write_checked(conn, &p.checked).await?;
        Self::write_resources(conn, p).await?;
        Self::write_documents(conn, p).await?;
        Self::write_jobs(conn, p, now).await?;
        // Last: on PostgreSQL the audit lock is then held only while
        // appending.
        Self::append_audit(conn, &p.audit, now).await
    }

    async fn mark_done(conn: &mut DB::Connection, id: i64, now: Instant) -> Result<()> {
        let sql = format!(
            "UPDATE jobs SET done = {}, lease_until = NULL, done_at = $1 WHERE id = $2 AND {} \
             RETURNING id",
            DB::DONE,
            DB::PENDING
        );
        let done: Option<i64> = sqlx::query_scalar(&sql)
            .bind(DB::time(now))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        match done {
            Some(_) => Ok(()),
            None => Err(StoreError::Conflict(format!("job {id} is not pending"))),
        }
    }

    /// Claim up to `limit` due jobs until `until`, each for one claimer.
    pub async fn claim_jobs(
        conn: &mut DB::Connection,
        now: Instant,
        until: Instant,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let sql = format!(
            "UPDATE jobs SET lease_until = $1, attempts = attempts + 1 WHERE id IN (\
               SELECT id FROM jobs WHERE {} AND due_at <= $2 \
               AND (lease_until IS NULL OR lease_until <= $2) ORDER BY due_at, id LIMIT $3{}) \
             RETURNING {JOB_COLS}",
            DB::PENDING,
            DB::CLAIM_LOCK
        );
        let rows: Vec<JobRow<DB::Time>> = sqlx::query_as(&sql)
            .bind(DB::time(until))
            .bind(DB::time(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let mut jobs = rows
            .into_iter()
            .map(job::<DB>)
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.due_at, j.id));
        Ok(jobs)
    }

    async fn write_states(
        conn: &mut DB::Connection,
        states: &[StateWrite],
        now: Instant,
    ) -> Result<()> {
        // Repeated writes of one patient apply one by one, in order.
        let size = if common::repeats(states, |a, b| a.patient_id == b.patient_id) {
            1
        } else {
            DB::CHUNK
        };
        for chunk in states.chunks(size) {
            Self::write_states_batch(conn, chunk, now).await?;
        }
        Ok(())
    }

    /// Compare-and-set a batch of distinct patients' states.
    async fn write_states_batch(
        conn: &mut DB::Connection,
        states: &[StateWrite],
        now: Instant,
    ) -> Result<()> {
        let (new, old): (Vec<&StateWrite>, Vec<&StateWrite>) =
            states.iter().partition(|s| s.expected == 0);
        let mut written: HashSet<String> = HashSet::new();
        if !new.is_empty() {
            let rows = Rows::new()
                .text("patient_id", &new, |s| s.patient_id.as_str())
                .col("version", Col::Int(vec![1; new.len()]))
                .bytes("state", &new, |s| s.state.as_slice())
                .col("updated_at", Col::Time(vec![now; new.len()]));
            let mut q = insert_into::<DB>("patient_states", rows);
            q.push(" ON CONFLICT (patient_id) DO NOTHING RETURNING patient_id");
            let (text, args) = q.finish()?;
            let rows: Vec<(String,)> = Self::returning(conn, &text, args).await?;
            written.extend(rows.into_iter().map(|(id,)| id));
        }
        if !old.is_empty() {
            let rows = Rows::new()
                .text("pid", &old, |s| s.patient_id.as_str())
                .int("exp", &old, |s| s.expected)
                .bytes("st", &old, |s| s.state.as_slice());
            let mut q = with_u::<DB>(rows);
            q.push(
                " UPDATE patient_states SET version = patient_states.version + 1, state = u.st, \
                 updated_at = ",
            );
            q.bind(DB::time(now));
            q.push(
                " FROM u WHERE patient_states.patient_id = u.pid \
                 AND patient_states.version = u.exp RETURNING patient_states.patient_id",
            );
            let (text, args) = q.finish()?;
            let rows: Vec<(String,)> = Self::returning(conn, &text, args).await?;
            written.extend(rows.into_iter().map(|(id,)| id));
        }
        match states.iter().find(|s| !written.contains(&s.patient_id)) {
            Some(s) => Err(StoreError::Conflict(format!(
                "patient state {} (expected version {})",
                s.patient_id, s.expected
            ))),
            None => Ok(()),
        }
    }

    async fn write_resources(conn: &mut DB::Connection, p: &Prepared) -> Result<()> {
        for chunk in p.resources.chunks(DB::CHUNK) {
            let rows = Rows::new()
                .text("rtype", chunk, |r| r.key.rtype.as_str())
                .text("id", chunk, |r| r.key.id.as_str())
                .opt_text("version_id", chunk, |r| r.version.version_id.as_deref())
                .opt_text("last_updated", chunk, |r| r.version.last_updated.as_deref())
                .text("hash", chunk, |r| r.version.hash.as_str())
                .opt_text("patient_id", chunk, |r| r.patient_id.as_deref())
                .opt_time("event_time", chunk, |r| r.event_time)
                .text("body", chunk, |r| r.body.as_str());
            let mut q = insert_into::<DB>("resources", rows);
            q.push(
                " ON CONFLICT (rtype, id) DO UPDATE SET version_id = excluded.version_id, \
                 last_updated = excluded.last_updated, hash = excluded.hash, \
                 patient_id = excluded.patient_id, event_time = excluded.event_time, \
                 body = excluded.body",
            );
            let (text, args) = q.finish()?;
            Self::execute(conn, &text, args).await?;
        }
        Ok(())
    }

    /// Documents written whatever their version: inserted at version 1,
    /// or replaced with the version one more.
    async fn write_documents(conn: &mut DB::Connection, p: &Prepared) -> Result<()> {
        let bodies: Vec<String> = p
            .documents
            .iter()
            .map(|d| common::json_text(&d.body))
            .collect();
        for (docs, bodies) in p.documents.chunks(DB::CHUNK).zip(bodies.chunks(DB::CHUNK)) {
            let mut q = insert_into::<DB>("documents", doc_rows(docs.iter(), bodies, None));
            q.push(" ON CONFLICT (kind, id) DO UPDATE SET ");
            q.push(DOC_SET_EXCLUDED);
            let (text, args) = q.finish()?;
            Self::execute(conn, &text, args).await?;
        }
        Ok(())
    }

    /// Checked documents (compare-and-set on the version); repeated writes
    /// of one document apply one by one, in order.
    async fn write_checked(conn: &mut DB::Connection, checked: &[DocumentCas]) -> Result<()> {
        let size = if common::repeats(checked, |a, b| {
            (&a.document.kind, &a.document.id) == (&b.document.kind, &b.document.id)
        }) {
            1
        } else {
            DB::CHUNK
        };
        for chunk in checked.chunks(size) {
            Self::write_checked_batch(conn, chunk).await?;
        }
        Ok(())
    }

    /// Compare-and-set a batch of distinct documents: new ones (expected
    /// absent) inserted unless present, the others replaced where their
    /// version is the expected one; `DocumentConflict` names the first
    /// that was not written.
    async fn write_checked_batch(conn: &mut DB::Connection, batch: &[DocumentCas]) -> Result<()> {
        let (new, old): (Vec<&DocumentCas>, Vec<&DocumentCas>) =
            batch.iter().partition(|c| c.expected.is_none());
        let mut written: HashSet<(String, String)> = HashSet::new();
        if !new.is_empty() {
            let bodies: Vec<String> = new
                .iter()
                .map(|c| common::json_text(&c.document.body))
                .collect();
            let rows = doc_rows(new.iter().map(|c| &c.document), &bodies, None);
            let mut q = insert_into::<DB>("documents", rows);
            q.push(" ON CONFLICT (kind, id) DO NOTHING RETURNING kind, id");
            let (text, args) = q.finish()?;
            let rows: Vec<(String, String)> = Self::returning(conn, &text, args).await?;
            written.extend(rows);
        }
        if !old.is_empty() {
            let bodies: Vec<String> = old
                .iter()
                .map(|c| common::json_text(&c.document.body))
                .collect();
            let expected = old.iter().map(|c| c.expected.unwrap_or(0)).collect();
            let rows = doc_rows(old.iter().map(|c| &c.document), &bodies, Some(expected));
            let mut q = with_u::<DB>(rows);
            q.push(" UPDATE documents SET ");
            q.push(DOC_SET_U);
            q.push(
                " FROM u WHERE documents.kind = u.kind AND documents.id = u.id \
                 AND documents.version = u.expected RETURNING documents.kind, documents.id",
            );
            let (text, args) = q.finish()?;
            let rows: Vec<(String, String)> = Self::returning(conn, &text, args).await?;
            written.extend(rows);
        }
        let lost = batch.iter().find(|c| {
            let d = &c.document;
            !written.contains(&(d.kind.clone(), d.id.clone()))
        });
        match lost {
            Some(c) => Err(StoreError::DocumentConflict {
                kind: c.document.kind.clone(),
                id: c.document.id.clone(),
                expected: c.expected,
            }),
            None => Ok(()),
        }
    }

    async fn write_jobs(conn: &mut DB::Connection, p: &Prepared, now: Instant) -> Result<()> {
        let payloads: Vec<String> = p
            .jobs
            .iter()
            .map(|j| common::json_text(&j.payload))
            .collect();
        for (jobs, payloads) in p.jobs.chunks(DB::CHUNK).zip(payloads.chunks(DB::CHUNK)) {
            let rows = Rows::new()
                .text("kind", jobs, |j| j.kind.as_str())
                .time("due_at", jobs, |j| j.due_at)
                .opt_text("dedupe_key", jobs, |j| j.dedupe_key.as_deref())
                .text("payload", payloads, String::as_str)
                .col("created_at", Col::Time(vec![now; jobs.len()]));
            let mut q = insert_into::<DB>("jobs", rows);
            q.push(" ON CONFLICT (dedupe_key) DO NOTHING");
            let (text, args) = q.finish()?;
            Self::execute(conn, &text, args).await?;
        }
        Ok(())
    }

    /// Run a statement and read the rows it returns.
    async fn returning<'a, R>(
        conn: &mut DB::Connection,
        text: &'a str,
        args: DB::Arguments<'a>,
    ) -> Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    {
        sqlx::query_as_with(text, args)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)
    }

    /// Run a statement that returns no rows.
    async fn execute<'a>(
        conn: &mut DB::Connection,
        text: &'a str,
        args: DB::Arguments<'a>,
    ) -> Result<()> {
        sqlx::query_with(text, args)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn append_audit(
        conn: &mut DB::Connection,
        bodies: &[serde_json::Value],
        now: Instant,
    ) -> Result<()> {
        if bodies.is_empty() {
            return Ok(());
        }
        if let Some(lock) = DB::AUDIT_LOCK {
            sqlx::query(lock)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        let entries = common::chain_rows(last, bodies, now);
        for chunk in entries.chunks(DB::CHUNK) {
            let rows = Rows::new()
                .int("seq", chunk, |r| r.seq)
                .time("recorded_at", chunk, |r| r.recorded_at)
                .text("body", chunk, |r| r.body.as_str())
                .text("prev_hash", chunk, |r| r.prev_hash.as_str())
                .text("hash", chunk, |r| r.hash.as_str());
            let (text, args) = insert_into::<DB>("audit", rows).finish()?;
            Self::execute(conn, &text, args).await?;
        }
        Ok(())
    }
}

/// What a replaced document takes from the row offered to `INSERT`.
const DOC_SET_EXCLUDED: &str = "patient_id = excluded.patient_id, status = excluded.status, \
     owner = excluded.owner, created_at = excluded.created_at, updated_at = excluded.updated_at, \
     body = excluded.body, version = documents.version + 1";

/// What a checked document takes from the batch `u`.
const DOC_SET_U: &str = "patient_id = u.patient_id, status = u.status, owner = u.owner, \
     created_at = u.created_at, updated_at = u.updated_at, body = u.body, \
     version = documents.version + 1";

/// The rows of `documents` (bodies as JSON text, in the same order), with
/// an `expected` version column when given.
fn doc_rows<'a>(
    docs: impl Iterator<Item = &'a crate::Document> + Clone,
    bodies: &'a [String],
    expected: Option<Vec<i64>>,
) -> Rows<'a> {
    let mut rows = Rows::new()
        .text("kind", docs.clone(), |d| d.kind.as_str())
        .text("id", docs.clone(), |d| d.id.as_str());
    if let Some(expected) = expected {
        rows = rows.col("expected", Col::Int(expected));
    }
    rows.opt_text("patient_id", docs.clone(), |d| d.patient_id.as_deref())
        .opt_text("status", docs.clone(), |d| d.status.as_deref())
        .opt_text("owner", docs.clone(), |d| d.owner.as_deref())
        .time("created_at", docs.clone(), |d| d.created_at)
        .time("updated_at", docs, |d| d.updated_at)
        .text("body", bodies, |b| b.as_str())
}

/// `INSERT INTO <table> (<columns of rows>) <rows>`.
fn insert_into<'a, DB: Dialect>(table: &str, rows: Rows<'a>) -> Sql<'a, DB> {
    let mut q = Sql::new(format!("INSERT INTO {table} ({}) ", rows.names.join(", ")));
    DB::push_rows(&mut q, rows);
    q
}

/// `WITH u(<columns of rows>) AS (<rows>)`.
fn with_u<'a, DB: Dialect>(rows: Rows<'a>) -> Sql<'a, DB> {
    let mut q = Sql::new(format!("WITH u({}) AS (", rows.names.join(", ")));
    DB::push_rows(&mut q, rows);
    q.push(")");
    q
}
