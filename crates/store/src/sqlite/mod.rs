//! The embedded engine: one SQLite file in WAL mode. All writes go through
//! one connection behind a mutex (SQLite has one writer), reads use a small
//! pool and never block on writes.

use crate::common::{db_err, from_micros, to_micros, Prepared};
use crate::location::SQLITE_FILE;
use crate::query::write::Write;
use crate::query::{Col, Dialect, Engine, Rows, Sql};
use crate::{Job, StoreError};
use bedside_core::Instant;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

type Result<T> = crate::Result<T>;

/// The SQLite engine. See the crate docs for what is stored.
pub struct SqliteStore {
    path: PathBuf,
    readers: SqlitePool,
    /// Shared with the task each commit runs on (see `Engine::write` below).
    writer: Arc<Mutex<SqliteConnection>>,
    /// A connection that only reads `PRAGMA data_version` (the change
    /// marker): its value changes whenever another connection, ours or
    /// another process's, committed since its previous read.
    marker: Mutex<SqliteConnection>,
}

impl SqliteStore {
    /// Open `<data_dir>/bedside.db`, creating the directory and the file on
    /// first run, and apply pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_with(data_dir, false).await
    }

    /// [`SqliteStore::open`] for a throwaway store written in many small
    /// commits (an offline evaluation's 15-minute steps): a new file gets
    /// 4 KB pages, since a small commit writes whole pages to the WAL and
    /// 16 KB pages wrote four times the bytes, and nothing is synced
    /// (`synchronous = OFF`): a crash loses the file, which is thrown away
    /// anyway.
    pub async fn open_scratch(data_dir: &Path) -> Result<Self> {
        Self::open_with(data_dir, true).await
    }

    async fn open_with(data_dir: &Path, scratch: bool) -> Result<Self> {
        let loc = || data_dir.display().to_string();
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Location(loc(), format!("cannot create data directory: {e}"))
        })?;
        check_writable(data_dir).map_err(|e| {
            StoreError::Location(loc(), format!("data directory is not writable: {e}"))
        })?;
        let path = data_dir.join(SQLITE_FILE);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // 16 KB pages (a new file; an existing one keeps its own): a
            // resource body is ~1.6 KB, so 4 KB pages held two rows each,
            // and a bulk load spent a third more time on B-tree pages and
            // WAL frames (dev cohort replay 3.6 s -> 2.6 s).
            .page_size(16384)
            .pragma("cache_size", "-32768")
            // The automatic checkpoint (it runs inside a COMMIT) is only a
            // 1 GB backstop: a background task copies the WAL every second
            // instead and starts it over every ~40 MB (see [`checkpointer`]).
            .pragma("wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES.to_string())
            .pragma("temp_store", "memory")
            // Reads map the file (up to 256 MB) instead of copying pages
            // out of the OS page cache: a connection drops its own page
            // cache whenever another one has committed, ~200 times a
            // second under load, so every read re-read its pages with
            // pread (a third of the SQLite threads' time in the soak's
            // profile). With it the soak went from failing (534 errors,
            // p99 last/first 6.77) to passing (0 errors, 1.26) in the same
            // 60 s + 360 s run, at a higher rate (README, Soak).
            .pragma("mmap_size", "268435456");
        let options = if scratch {
            options.page_size(4096).synchronous(SqliteSynchronous::Off)
        } else {
            options
        };
        let mut writer = connect(&options, &path).await?;
        migrate(&mut writer)
            .await
            .map_err(|e| StoreError::Migrate(format!("{}: {e}", path.display())))?;
        let marker = connect(&options, &path).await?;
        let checkpoints = connect(&options, &path).await?;
        // Readers keep 8 MB of pages each (the writer 32 MB): the OS page
        // cache holds the file anyway, and four 32 MB caches filling up
        // over hours read as steady memory growth.
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.pragma("cache_size", "-8192"))
            .await
            .map_err(|e| {
                StoreError::Location(
                    path.display().to_string(),
                    format!("cannot open database: {e}"),
                )
            })?;
        let writer = Arc::new(Mutex::new(writer));
        tokio::spawn(checkpointer(checkpoints, Arc::downgrade(&writer)));
        Ok(SqliteStore {
            path,
            readers,
            writer,
            marker: Mutex::new(marker),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run one SQL statement on the writer connection; returns rows
    /// affected. For tests that tamper with stored data (e.g. the audit
    /// log) to check that tampering is detected. Not for application use.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<u64> {
        let mut w = self.writer.lock().await;
        let r = sqlx::query(sql).execute(&mut *w).await.map_err(db_err)?;
        Ok(r.rows_affected())
    }
}

async fn write_locked(
    writer: &Mutex<SqliteConnection>,
    job: Option<i64>,
    p: &Prepared,
) -> Result<()> {
    let waited = std::time::Instant::now();
    let mut w = writer.lock().await;
    let started = std::time::Instant::now();
    // IMMEDIATE: take the write lock up front, so a second process on
    // the same file waits (busy timeout) instead of failing to upgrade.
    let mut tx = w.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    Write::<Sqlite>::apply(&mut tx, job, p).await?;
    let applied = started.elapsed();
    tx.commit().await.map_err(db_err)?;
    let total = started.elapsed();
    // A commit that takes this long stalls everything that records
    // (hooks, ingest, audited reads): say where the time went.
    if total > std::time::Duration::from_millis(200) {
        tracing::warn!(
            wait_ms = (started - waited).as_millis() as u64,
            apply_ms = applied.as_millis() as u64,
            commit_ms = (total - applied).as_millis() as u64,
            "slow SQLite commit"
        );
    }
    Ok(())
}

/// The writer's automatic checkpoint threshold (16 KB pages: 1 GB of WAL),
/// reached only when the background checkpointer falls far behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 65536;

/// How often the background checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// WAL frames after which the checkpointer has the WAL start over (as
/// SQLite's automatic checkpoint did at this size: ~40 MB of 16 KB pages).
const RESTART_WAL_FRAMES: i64 = 2560;

/// Copy committed WAL frames into the database file, on a connection of
/// its own, every [`CHECKPOINT_EVERY`] until the store is dropped.
///
/// Why not SQLite's automatic checkpoint: it runs inside the COMMIT of
/// whichever write crosses the threshold, and a checkpoint ends with
/// fsyncs of the WAL and of the database file (0.2-1.6 s on a busy disk).
/// That write stalled, and with it every caller queued behind the single
/// writer: hooks and ingest saw second-long pauses every 10-30 s under
/// load. A PASSIVE checkpoint from another connection takes no write lock,
/// so commits go on appending to the WAL while it copies and syncs.
///
/// The WAL only starts over from its beginning once a checkpoint has
/// copied *all* of it, which never happens while commits keep arriving
/// during the slow pass. So when the WAL is past [`RESTART_WAL_FRAMES`],
/// a second, short pass runs holding the writer's lock: it copies only the
/// frames committed during the first pass, and the next commit starts the
/// WAL over. With `synchronous = NORMAL` a WAL commit itself does not
/// fsync; durability is unchanged.
async fn checkpointer(
    mut conn: SqliteConnection,
    writer: std::sync::Weak<Mutex<SqliteConnection>>,
) {
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if writer.strong_count() == 0 {
            return;
        }
        let started = std::time::Instant::now();
        let r = passive_checkpoint(&mut conn).await;
        let slow_ms = started.elapsed().as_millis() as u64;
        if slow_ms > 200 {
            tracing::debug!(slow_ms, "long background WAL checkpoint pass");
        }
        let r = match r {
            Ok(frames) if frames > RESTART_WAL_FRAMES => {
                let Some(writer) = writer.upgrade() else {
                    return;
                };
                let _held = writer.lock().await;
                let tail = std::time::Instant::now();
                let r = passive_checkpoint(&mut conn).await;
                let tail_ms = tail.elapsed().as_millis() as u64;
                if tail_ms > 200 {
                    tracing::warn!(
                        slow_ms,
                        tail_ms,
                        wal_frames = frames,
                        "WAL checkpoint held the writer"
                    );
                }
                r
            }
            other => other,
        };
        match r {
            Ok(_) => failures = 0,
            Err(e) => {
                failures += 1;
                // Not fatal: the writer's backstop checkpoint still bounds
                // the WAL. Said once, then every 60th failure.
                if failures == 1 || failures.is_multiple_of(60) {
                    tracing::warn!(error = %e, failures, "background WAL checkpoint failed");
                }
            }
        }
    }
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: the WAL's frame count.
async fn passive_checkpoint(conn: &mut SqliteConnection) -> std::result::Result<i64, sqlx::Error> {
    let (_busy, log, _copied) =
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(conn)
            .await?;
    Ok(log)
}

/// One connection to the database file, or an error naming the file.
///
/// Opening runs `PRAGMA journal_mode = WAL`. Switching a new file to WAL
/// needs an exclusive lock, and SQLite takes that lock without calling
/// the busy handler: when two handles (processes, or a replica starting
/// beside a server) open a new file at the same moment, one of them gets
/// SQLITE_BUSY at once despite the busy timeout. So a busy or locked
/// answer at open is retried, with backoff, for up to `BUSY_OPEN_RETRY`.
async fn connect(options: &SqliteConnectOptions, path: &Path) -> Result<SqliteConnection> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match options.connect().await {
            Ok(c) => return Ok(c),
            Err(e) if is_busy(&e) && started.elapsed() < BUSY_OPEN_RETRY => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => {
                return Err(StoreError::Location(
                    path.display().to_string(),
                    format!("cannot open database: {e}"),
                ))
            }
        }
    }
}

/// How long an open keeps retrying a busy file (the busy timeout's span).
const BUSY_OPEN_RETRY: Duration = Duration::from_secs(30);

/// SQLITE_BUSY or SQLITE_LOCKED, with any extended code.
fn is_busy(e: &sqlx::Error) -> bool {
    let Some(code) = e
        .as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok())
    else {
        return false;
    };
    matches!(code & 0xff, 5 | 6)
}

/// Apply pending migrations. SQLite's migrator takes no lock, so two
/// handles opening a new file at once can race on the same migration: the
/// loser's transaction rolls back, and on retry it finds the migration
/// applied (and checks its checksum).
async fn migrate(
    conn: &mut SqliteConnection,
) -> std::result::Result<(), sqlx::migrate::MigrateError> {
    let mut attempt = 0;
    loop {
        match MIGRATOR.run_direct(&mut *conn).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "sqlite migration raced; retrying");
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn check_writable(dir: &Path) -> std::io::Result<()> {
    // Unique per open, not only per process: two handles opening at once
    // in one process must not remove each other's probe.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = dir.join(format!(".bedside-write-check-{}-{n}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Instants as `INTEGER` microseconds, lists and rows as one bound value
/// each (statements of up to 500 rows: 9 columns x 500 rows stays far
/// below SQLite's 32766 bound values), one writer.
impl Dialect for Sqlite {
    type Time = i64;
    const CHUNK: usize = 500;
    const NO_LIMIT: &'static str = " LIMIT -1";
    // As the partial index `jobs_pending_due` is declared.
    const PENDING: &'static str = "done = 0";
    const DONE: &'static str = "1";
    const CLAIM_LOCK: &'static str = "";
    const AUDIT_LOCK: Option<&'static str> = None;

    fn time(t: Instant) -> i64 {
        to_micros(t)
    }

    fn instant(t: i64, what: impl FnOnce() -> String) -> Result<Instant> {
        from_micros(t, &what())
    }

    fn push_in<'a>(q: &mut Sql<'a, Sqlite>, values: Vec<&'a str>) {
        q.push(" IN (");
        q.list(values, |q, v| {
            q.bind(v);
        });
        q.push(")");
    }

    /// `VALUES (...), (...)`.
    fn push_rows<'a>(q: &mut Sql<'a, Sqlite>, rows: Rows<'a>) {
        q.push("VALUES ");
        q.list(0..rows.len(), |q, i| {
            q.push("(");
            q.list(&rows.cols, |q, c| {
                match c {
                    Col::Text(v) => q.bind(v[i]),
                    Col::OptText(v) => q.bind(v[i]),
                    Col::Int(v) => q.bind(v[i]),
                    Col::Time(v) => q.bind(to_micros(v[i])),
                    Col::OptTime(v) => q.bind(v[i].map(to_micros)),
                    Col::Bytes(v) => q.bind(v[i]),
                };
            });
            q.push(")");
        });
    }
}

impl Engine for SqliteStore {
    type DB = Sqlite;
    const NAME: &'static str = "sqlite";

    fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    /// One commit, on its own task: a caller that goes away mid-commit (a
    /// client disconnect or a request timeout drops the future) cannot
    /// cancel it half-way, so the commit completes or rolls back whole and
    /// the single writer connection is never left inside an open
    /// transaction. (Cancelled between its `BEGIN IMMEDIATE` and the
    /// `Transaction` being handed back, sqlx leaves the connection in a
    /// transaction nobody owns, and every later `begin_with` fails.)
    async fn write(&self, job: Option<i64>, p: Prepared) -> Result<()> {
        if p.is_empty() && job.is_none() {
            return Ok(());
        }
        let writer = self.writer.clone();
        tokio::spawn(async move { write_locked(&writer, job, &p).await })
            .await
            .map_err(|e| StoreError::Db(format!("commit task failed: {e}")))?
    }

    /// On the writer: a claim is a write, and SQLite has one writer.
    async fn claim(&self, now: Instant, until: Instant, limit: u32) -> Result<Vec<Job>> {
        let mut w = self.writer.lock().await;
        Write::<Sqlite>::claim_jobs(&mut w, now, until, limit).await
    }

    async fn marker(&self) -> Result<Option<String>> {
        // The marker connection never writes, so every commit (by the
        // writer connection or another process) changes its data_version.
        let mut m = self.marker.lock().await;
        let v: i64 = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut *m)
            .await
            .map_err(db_err)?;
        Ok(Some(format!("sqlite:{v}")))
    }
}
