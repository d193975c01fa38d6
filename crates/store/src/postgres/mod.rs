//! The PostgreSQL engine, for several replicas sharing one database.
//! Bulk writes use `UNNEST` over arrays (one statement per table per
//! 2000 rows, rows kept in their sorted order), job claims use `FOR UPDATE SKIP LOCKED`, state writes are
//! compare-and-set on the version, and audit appends take a transaction
//! advisory lock so the hash chain stays linear across replicas.

use crate::common::{self, db_err, Prepared};
use crate::query::write::Write;
use crate::query::{Col, Dialect, Engine, Rows, Sql};
use crate::{Job, StoreError};
use bedside_core::Instant;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Postgres};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

type Result<T> = crate::Result<T>;

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
}

/// Instants as `TIMESTAMPTZ`, lists and rows as one array per column
/// (`UNNEST`, up to 2000 rows: one statement of bounded size), several
/// writers (row locks on claims, an advisory lock on audit appends).
impl Dialect for Postgres {
    type Time = Instant;
    const CHUNK: usize = 2000;
    const NO_LIMIT: &'static str = "";
    // As the partial index `jobs_pending_due` is declared.
    const PENDING: &'static str = "NOT done";
    const DONE: &'static str = "TRUE";
    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
    // A transaction advisory lock, key 0x6265_6473_6175_6474 ("bedsaudt").
    const AUDIT_LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(7090183635083814004)");

    fn time(t: Instant) -> Instant {
        t
    }

    fn instant(t: Instant, _what: impl FnOnce() -> String) -> Result<Instant> {
        Ok(t)
    }

    fn push_in<'a>(q: &mut Sql<'a, Postgres>, values: Vec<&'a str>) {
        q.push(" = ANY(").bind(values).push("::text[])");
    }

    /// `SELECT r.a, ... FROM UNNEST($1::t[], ...) WITH ORDINALITY AS
    /// r(a, ..., row_n) ORDER BY r.row_n`.
    fn push_rows<'a>(q: &mut Sql<'a, Postgres>, rows: Rows<'a>) {
        let selected: Vec<String> = rows.names.iter().map(|n| format!("r.{n}")).collect();
        q.push(&format!("SELECT {} FROM UNNEST(", selected.join(", ")));
        q.list(rows.cols, |q, c| {
            match c {
                Col::Text(v) => q.bind(v).push("::text[]"),
                Col::OptText(v) => q.bind(v).push("::text[]"),
                Col::Int(v) => q.bind(v).push("::int8[]"),
                Col::Time(v) => q.bind(v).push("::timestamptz[]"),
                Col::OptTime(v) => q.bind(v).push("::timestamptz[]"),
                Col::Bytes(v) => q.bind(v).push("::bytea[]"),
            };
        });
        q.push(&format!(
            ") WITH ORDINALITY AS r({}, row_n) ORDER BY r.row_n",
            rows.names.join(", ")
        ));
    }
}

impl Engine for PgStore {
    type DB = Postgres;
    const NAME: &'static str = "postgres";

    fn readers(&self) -> &PgPool {
        &self.pool
    }

    async fn write(&self, job: Option<i64>, p: Prepared) -> Result<()> {
        if p.is_empty() && job.is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        Write::<Postgres>::apply(&mut tx, job, &p).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Row locks (`SKIP LOCKED`) hand each due job to one claimer.
    async fn claim(&self, now: Instant, until: Instant, limit: u32) -> Result<Vec<Job>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        Write::<Postgres>::claim_jobs(&mut conn, now, until, limit).await
    }

    async fn marker(&self) -> Result<Option<String>> {
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
}
