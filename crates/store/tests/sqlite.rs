//! The store suite on SQLite, each test in its own temporary data dir.

mod suite;

use async_trait::async_trait;
use bedside_store::{open, SqliteStore, Store, StoreError, StoreLocation};
use std::sync::Arc;
use suite::{store_suite, Harness};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl SqliteHarness {
    fn data_dir(&self) -> std::path::PathBuf {
        // A subdirectory that does not exist yet: open must create it.
        self.dir.path().join("data")
    }
}

#[async_trait]
impl Harness for SqliteHarness {
    async fn open(&self) -> Arc<dyn Store> {
        let loc = StoreLocation::parse(Some(&self.data_dir()), None).expect("location");
        open(&loc).await.expect("open sqlite store")
    }

    async fn try_raw(&self, sql: &str) -> Result<u64, String> {
        let s = SqliteStore::open(&self.data_dir())
            .await
            .expect("open sqlite store");
        s.execute_raw_for_tests(sql)
            .await
            .map_err(|e| e.to_string())
    }

    async fn unguard_audit(&self) {
        self.raw("DROP TRIGGER audit_no_update").await;
        self.raw("DROP TRIGGER audit_no_delete").await;
    }
}

async fn harness() -> Option<SqliteHarness> {
    Some(SqliteHarness {
        dir: tempfile::tempdir().expect("temp dir"),
    })
}

store_suite!(harness);

#[tokio::test]
async fn creates_one_file_in_wal_mode() {
    let h = harness().await.unwrap();
    let s = SqliteStore::open(&h.data_dir()).await.unwrap();
    assert_eq!(s.path(), h.data_dir().join("bedside.db"));
    assert!(s.path().is_file());
    // WAL mode leaves a -wal file next to the database once written.
    s.execute_raw_for_tests("CREATE TABLE t (x INTEGER)")
        .await
        .unwrap();
    s.execute_raw_for_tests("INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    assert!(
        h.data_dir().join("bedside.db-wal").exists(),
        "not in WAL mode"
    );
}

#[tokio::test]
async fn unwritable_data_dir_is_a_location_error() {
    let h = harness().await.unwrap();
    // A regular file where the data directory should be.
    let file = h.dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(&file.join("data"))
        .await
        .err()
        .expect("must fail");
    match err {
        StoreError::Location(loc, why) => {
            assert!(loc.contains("not-a-dir"), "{loc}");
            assert!(why.contains("data directory"), "{why}");
        }
        other => panic!("expected a location error, got {other}"),
    }
}

/// Under steady writes with readers always around, SQLite alone never
/// finds the moment to start its WAL over (every frame copied, no reader
/// inside it), so copied frames are never reused and the file only grows.
/// The background checkpointer takes the writer lock for the last frames
/// and starts it over: the WAL stays near what is written between a few
/// of its runs (every 50 ms here, past 64 frames), below what went through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_bounded_under_steady_writes_and_reads() {
    use bedside_store::{Commit, DocFilter};
    let h = harness().await.unwrap();
    let s = Arc::new(SqliteStore::open(&h.data_dir()).await.unwrap());
    s.tune_checkpoints(std::time::Duration::from_millis(50), 64);
    let wal = h.data_dir().join("bedside.db-wal");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (s, stop) = (s.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let f = DocFilter {
                    kind: "card".into(),
                    limit: Some(5),
                    ..Default::default()
                };
                s.list_documents(&f).await.unwrap();
            }
        }));
    }
    const BODY: usize = 12_000;
    let filler = "x".repeat(BODY);
    let mut biggest = 0u64;
    let started = std::time::Instant::now();
    let mut i = 0u64;
    // ~72 MB of bodies, for at least 2 s.
    while i < 6_000 || started.elapsed() < std::time::Duration::from_secs(2) {
        let mut c = Commit::default();
        let mut d = suite::doc("card", &format!("c{i:08}"), "p1", "shown", "m", i as i64);
        d.body = serde_json::json!({ "i": i, "filler": filler });
        c.documents.push(d);
        s.commit(c).await.unwrap();
        biggest = biggest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        i += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    // Without restarts every byte written would sit in the WAL (and the
    // index pages besides); with them it holds what one to a few runs
    // apart wrote (12-53 MB of these 72 MB on a 2-core machine).
    let written = i * BODY as u64;
    assert!(
        s.wal_restarts() >= 3,
        "the WAL was started over {} times",
        s.wal_restarts()
    );
    assert!(
        biggest < written,
        "the WAL grew to {biggest} bytes while {written} bytes of bodies were written"
    );
    let f = DocFilter {
        kind: "card".into(),
        ..Default::default()
    };
    assert_eq!(s.count_documents(&f).await.unwrap(), i, "every commit kept");
}
