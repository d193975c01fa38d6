//! The shapes of what reads select and how a row becomes a typed value,
//! once for both engines; the reads themselves are in `store.rs`.

use super::{Dialect, Sql};
use crate::common::{db_err, parse_json};
use crate::{
    DocFilter, DocPage, Document, Job, ResourceKey, Result, StoredResource, VersionInfo,
    VersionedDocument,
};
use sqlx::{Encode, Executor, IntoArguments, Pool, Type};

pub(crate) const RES_COLS: &str =
    "rtype, id, version_id, last_updated, hash, patient_id, event_time, body";
pub(crate) const DOC_COLS: &str =
    "kind, id, patient_id, status, owner, created_at, updated_at, body";
pub(crate) const JOB_COLS: &str = "id, kind, due_at, dedupe_key, payload, attempts";

/// Row of `resources` as selected by [`RES_COLS`].
pub(crate) type ResRow<T> = (
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
pub(crate) type DocRow<T> = (
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

/// `SELECT <cols> FROM patient_states` for these patients.
pub(crate) async fn patients<DB, R>(pool: &Pool<DB>, cols: &str, ids: &[String]) -> Result<Vec<R>>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
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

/// A count from the database (never negative) as `u64`.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// ` WHERE kind = ... AND ...` for the set fields of `f` (not its limit).
pub(crate) fn push_doc_filter<DB>(q: &mut Sql<'_, DB>, f: &DocFilter)
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
pub(crate) fn push_page<DB>(q: &mut Sql<'_, DB>, p: &DocPage)
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

pub(crate) fn resource<DB: Dialect>(r: ResRow<DB::Time>) -> Result<StoredResource> {
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

pub(crate) fn document<DB: Dialect>(r: DocRow<DB::Time>) -> Result<VersionedDocument> {
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
