//! Writing one prepared commit inside the caller's transaction: one
//! `UNNEST` statement per table (per [`PG_CHUNK`] rows), state
//! compare-and-set, and the audit append under an advisory lock.

use crate::common::{self, db_err, Prepared};
use crate::{StateWrite, StoreError};
use bedside_core::Instant;
use sqlx::postgres::PgConnection;
use std::collections::HashSet;

type Result<T> = crate::Result<T>;

/// Key of the transaction advisory lock held while appending to the audit
/// log ("bedsaudt").
const AUDIT_LOCK: i64 = 0x6265_6473_6175_6474;

/// Rows per `UNNEST` statement (bounds one message's size).
pub(super) const PG_CHUNK: usize = 2000;

pub(super) async fn apply(conn: &mut PgConnection, p: &Prepared) -> Result<()> {
    let now = common::now();
    write_states(conn, p, now).await?;
    write_resources(conn, p).await?;
    write_documents(conn, p).await?;
    write_jobs(conn, p, now).await?;
    // Last: the advisory lock is then held only while appending.
    append_audit(conn, &p.audit, now).await
}

fn state_conflict(s: &StateWrite) -> StoreError {
    StoreError::Conflict(format!(
        "patient state {} (expected version {})",
        s.patient_id, s.expected
    ))
}

async fn write_states(conn: &mut PgConnection, p: &Prepared, now: Instant) -> Result<()> {
    if p.states_repeat_a_patient() {
        for s in &p.states {
            write_states_batch(conn, std::slice::from_ref(s), now).await?;
        }
        return Ok(());
    }
    for chunk in p.states.chunks(PG_CHUNK) {
        write_states_batch(conn, chunk, now).await?;
    }
    Ok(())
}

/// Compare-and-set a batch of distinct patients' states.
async fn write_states_batch(
    conn: &mut PgConnection,
    states: &[StateWrite],
    now: Instant,
) -> Result<()> {
    let (new, old): (Vec<&StateWrite>, Vec<&StateWrite>) =
        states.iter().partition(|s| s.expected == 0);
    let mut written: HashSet<String> = HashSet::new();
    if !new.is_empty() {
        let ids: Vec<&str> = new.iter().map(|s| s.patient_id.as_str()).collect();
        let blobs: Vec<&[u8]> = new.iter().map(|s| s.state.as_slice()).collect();
        let rows: Vec<String> = sqlx::query_scalar(
            "INSERT INTO patient_states (patient_id, version, state, updated_at) \
             SELECT u.pid, 1, u.st, $3 FROM UNNEST($1::text[], $2::bytea[]) AS u(pid, st) \
             ON CONFLICT (patient_id) DO NOTHING RETURNING patient_id",
        )
        .bind(ids)
        .bind(blobs)
        .bind(now)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        written.extend(rows);
    }
    if !old.is_empty() {
        let ids: Vec<&str> = old.iter().map(|s| s.patient_id.as_str()).collect();
        let expected: Vec<i64> = old.iter().map(|s| s.expected).collect();
        let blobs: Vec<&[u8]> = old.iter().map(|s| s.state.as_slice()).collect();
        let rows: Vec<String> = sqlx::query_scalar(
            "UPDATE patient_states AS s SET version = s.version + 1, state = u.st, updated_at = $4 \
             FROM UNNEST($1::text[], $2::int8[], $3::bytea[]) AS u(pid, exp, st) \
             WHERE s.patient_id = u.pid AND s.version = u.exp RETURNING s.patient_id",
        )
        .bind(ids)
        .bind(expected)
        .bind(blobs)
        .bind(now)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        written.extend(rows);
    }
    match states.iter().find(|s| !written.contains(&s.patient_id)) {
        Some(s) => Err(state_conflict(s)),
        None => Ok(()),
    }
}

async fn write_resources(conn: &mut PgConnection, p: &Prepared) -> Result<()> {
    for chunk in p.resources.chunks(PG_CHUNK) {
        sqlx::query(
            "INSERT INTO resources (rtype, id, version_id, last_updated, hash, patient_id, event_time, body) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                                  $7::timestamptz[], $8::text[]) \
             ON CONFLICT (rtype, id) DO UPDATE SET version_id = excluded.version_id, \
             last_updated = excluded.last_updated, hash = excluded.hash, patient_id = excluded.patient_id, \
             event_time = excluded.event_time, body = excluded.body",
        )
        .bind(chunk.iter().map(|r| r.key.rtype.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.key.id.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.version.version_id.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.version.last_updated.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.version.hash.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.patient_id.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.event_time).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.body.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn write_documents(conn: &mut PgConnection, p: &Prepared) -> Result<()> {
    for chunk in p.documents.chunks(PG_CHUNK) {
        sqlx::query(
            "INSERT INTO documents (kind, id, patient_id, status, owner, created_at, updated_at, body) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                  $6::timestamptz[], $7::timestamptz[], $8::text[]) \
             ON CONFLICT (kind, id) DO UPDATE SET patient_id = excluded.patient_id, status = excluded.status, \
             owner = excluded.owner, created_at = excluded.created_at, updated_at = excluded.updated_at, \
             body = excluded.body",
        )
        .bind(chunk.iter().map(|d| d.kind.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.id.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.patient_id.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.status.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.owner.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.created_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| d.updated_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|d| common::json_text(&d.body)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn write_jobs(conn: &mut PgConnection, p: &Prepared, now: Instant) -> Result<()> {
    for chunk in p.jobs.chunks(PG_CHUNK) {
        sqlx::query(
            "INSERT INTO jobs (kind, due_at, dedupe_key, payload, created_at) \
             SELECT u.kind, u.due, u.dk, u.pl, $5 \
             FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[]) WITH ORDINALITY AS u(kind, due, dk, pl, n) \
             ORDER BY u.n ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(chunk.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|j| j.due_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|j| j.dedupe_key.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|j| common::json_text(&j.payload)).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn append_audit(
    conn: &mut PgConnection,
    bodies: &[serde_json::Value],
    now: Instant,
) -> Result<()> {
    if bodies.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let rows = common::chain_rows(last, bodies, now);
    for chunk in rows.chunks(PG_CHUNK) {
        sqlx::query(
            "INSERT INTO audit (seq, recorded_at, body, prev_hash, hash) \
             SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::text[], $4::text[], $5::text[])",
        )
        .bind(chunk.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.recorded_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.body.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.prev_hash.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}
