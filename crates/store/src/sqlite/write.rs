//! Writing one prepared commit inside the caller's transaction, with
//! multi-row `INSERT`s of up to [`CHUNK`] rows.

use super::{DOC_COLS, RES_COLS};
use crate::common::{self, db_err, to_micros, Prepared, CHUNK};
use crate::{Document, StateWrite, StoreError};
use bedside_core::Instant;
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};
use std::collections::HashSet;

type Result<T> = crate::Result<T>;

pub(super) async fn apply(conn: &mut SqliteConnection, p: &Prepared) -> Result<()> {
    let now = common::now();
    write_states(conn, p, to_micros(now)).await?;
    write_resources(conn, p).await?;
    write_documents(conn, p).await?;
    write_jobs(conn, p, to_micros(now)).await?;
    append_audit(conn, &p.audit, now).await
}

async fn write_states(conn: &mut SqliteConnection, p: &Prepared, now: i64) -> Result<()> {
    if p.states_repeat_a_patient() {
        for s in &p.states {
            write_states_batch(conn, std::slice::from_ref(s), now).await?;
        }
        return Ok(());
    }
    // 3 bound values per row.
    for chunk in p.states.chunks(CHUNK) {
        write_states_batch(conn, chunk, now).await?;
    }
    Ok(())
}

/// Compare-and-set a batch of distinct patients' states: one `INSERT` for
/// the new ones and one `UPDATE ... FROM (VALUES ...)` for the others
/// (each statement is a round trip to SQLite's worker thread; a replay
/// chunk touches several patients).
async fn write_states_batch(
    conn: &mut SqliteConnection,
    states: &[StateWrite],
    now: i64,
) -> Result<()> {
    let (new, old): (Vec<&StateWrite>, Vec<&StateWrite>) =
        states.iter().partition(|s| s.expected == 0);
    let mut written: HashSet<String> = HashSet::new();
    if !new.is_empty() {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO patient_states (patient_id, version, state, updated_at) ",
        );
        qb.push_values(&new, |mut b, s| {
            b.push_bind(s.patient_id.as_str())
                .push_bind(1i64)
                .push_bind(s.state.as_slice())
                .push_bind(now);
        });
        qb.push(" ON CONFLICT (patient_id) DO NOTHING RETURNING patient_id");
        let rows: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        written.extend(rows);
    }
    if !old.is_empty() {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("WITH u(pid, exp, st) AS (");
        qb.push_values(&old, |mut b, s| {
            b.push_bind(s.patient_id.as_str())
                .push_bind(s.expected)
                .push_bind(s.state.as_slice());
        });
        qb.push(") UPDATE patient_states SET version = version + 1, state = u.st, updated_at = ");
        qb.push_bind(now);
        qb.push(
            " FROM u WHERE patient_states.patient_id = u.pid AND patient_states.version = u.exp \
             RETURNING patient_states.patient_id",
        );
        let rows: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        written.extend(rows);
    }
    match states.iter().find(|s| !written.contains(&s.patient_id)) {
        Some(s) => Err(StoreError::Conflict(format!(
            "patient state {} (expected version {})",
            s.patient_id, s.expected
        ))),
        None => Ok(()),
    }
}

async fn write_resources(conn: &mut SqliteConnection, p: &Prepared) -> Result<()> {
    for chunk in p.resources.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO resources ({RES_COLS}) "));
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.key.rtype.as_str())
                .push_bind(r.key.id.as_str())
                .push_bind(r.version.version_id.as_deref())
                .push_bind(r.version.last_updated.as_deref())
                .push_bind(r.version.hash.as_str())
                .push_bind(r.patient_id.as_deref())
                .push_bind(r.event_time.map(to_micros))
                .push_bind(r.body.as_str());
        });
        qb.push(
            " ON CONFLICT (rtype, id) DO UPDATE SET version_id = excluded.version_id, \
             last_updated = excluded.last_updated, hash = excluded.hash, patient_id = excluded.patient_id, \
             event_time = excluded.event_time, body = excluded.body",
        );
        qb.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

async fn write_documents(conn: &mut SqliteConnection, p: &Prepared) -> Result<()> {
    let bodies: Vec<String> = p
        .documents
        .iter()
        .map(|d| common::json_text(&d.body))
        .collect();
    let rows: Vec<(&Document, &String)> = p.documents.iter().zip(bodies.iter()).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO documents ({DOC_COLS}) "));
        qb.push_values(chunk, |mut b, (d, body)| {
            b.push_bind(d.kind.as_str())
                .push_bind(d.id.as_str())
                .push_bind(d.patient_id.as_deref())
                .push_bind(d.status.as_deref())
                .push_bind(d.owner.as_deref())
                .push_bind(to_micros(d.created_at))
                .push_bind(to_micros(d.updated_at))
                .push_bind(body.as_str());
        });
        qb.push(
            " ON CONFLICT (kind, id) DO UPDATE SET patient_id = excluded.patient_id, status = excluded.status, \
             owner = excluded.owner, created_at = excluded.created_at, updated_at = excluded.updated_at, \
             body = excluded.body",
        );
        qb.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

async fn write_jobs(conn: &mut SqliteConnection, p: &Prepared, now: i64) -> Result<()> {
    let payloads: Vec<String> = p
        .jobs
        .iter()
        .map(|j| common::json_text(&j.payload))
        .collect();
    let rows: Vec<_> = p.jobs.iter().zip(payloads.iter()).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO jobs (kind, due_at, dedupe_key, payload, created_at) ");
        qb.push_values(chunk, |mut b, (j, payload)| {
            b.push_bind(j.kind.as_str())
                .push_bind(to_micros(j.due_at))
                .push_bind(j.dedupe_key.as_deref())
                .push_bind(payload.as_str())
                .push_bind(now);
        });
        qb.push(" ON CONFLICT (dedupe_key) DO NOTHING");
        qb.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

async fn append_audit(
    conn: &mut SqliteConnection,
    bodies: &[serde_json::Value],
    now: Instant,
) -> Result<()> {
    if bodies.is_empty() {
        return Ok(());
    }
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let rows = common::chain_rows(last, bodies, now);
    for chunk in rows.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO audit (seq, recorded_at, body, prev_hash, hash) ");
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.seq)
                .push_bind(to_micros(r.recorded_at))
                .push_bind(r.body.as_str())
                .push_bind(r.prev_hash.as_str())
                .push_bind(r.hash.as_str());
        });
        qb.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}
