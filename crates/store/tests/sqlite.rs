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

/// Several handles opening one new file at the same moment all succeed:
/// switching a new file to WAL takes a lock SQLite does not wait for, so
/// without a retry at open one of them failed with "database is locked"
/// (one run in ten with two handles).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_of_a_new_file_all_succeed() {
    for round in 0..20 {
        let h = harness().await.unwrap();
        let dir = h.data_dir();
        let mut opens = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let dir = dir.clone();
            opens.spawn(async move { SqliteStore::open(&dir).await.map(|_| ()) });
        }
        while let Some(r) = opens.join_next().await {
            r.unwrap()
                .unwrap_or_else(|e| panic!("round {round}: a concurrent open failed: {e}"));
        }
    }
}

/// Committed pages reach the database file without another commit: the
/// background checkpointer copies the WAL within seconds, where the
/// writer's own automatic checkpoint (now only a 1 GB backstop) would
/// leave 8 MB in the WAL.
#[tokio::test]
async fn wal_is_checkpointed_in_the_background() {
    let h = harness().await.unwrap();
    let s = SqliteStore::open(&h.data_dir()).await.unwrap();
    let db = h.data_dir().join("bedside.db");
    s.execute_raw_for_tests("CREATE TABLE t (b BLOB)")
        .await
        .unwrap();
    let before = std::fs::metadata(&db).unwrap().len();
    s.execute_raw_for_tests(
        "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) \
         SELECT randomblob(4000) FROM c",
    )
    .await
    .unwrap();
    assert!(
        std::fs::metadata(&db).unwrap().len() < before + 1_000_000,
        "the commit itself wrote the database file: the writer checkpointed"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(&db).unwrap().len();
        if now > before + 8_000_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "8 MB committed 10 s ago are still not in the database file ({before} -> {now} bytes)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
