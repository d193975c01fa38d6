//! The store suite on PostgreSQL, when `BEDSIDE_TEST_DATABASE_URL` is set
//! (`.ci/postgres.sh start` prints it). Each test runs in its own fresh
//! schema (selected through the URL's `options=-c search_path=...`).

mod suite;

use async_trait::async_trait;
use bedside_store::{open, PgStore, Store, StoreError, StoreLocation};
use sqlx::Connection;
use std::sync::Arc;
use suite::{store_suite, Harness};

const ENV: &str = "BEDSIDE_TEST_DATABASE_URL";

struct PgHarness {
    url: String,
}

#[async_trait]
impl Harness for PgHarness {
    async fn open(&self) -> Arc<dyn Store> {
        let loc = StoreLocation::parse(None, Some(&self.url)).expect("location");
        open(&loc).await.expect("open postgres store")
    }

    async fn try_raw(&self, sql: &str) -> Result<u64, String> {
        let s = PgStore::open(&self.url).await.expect("open postgres store");
        s.execute_raw_for_tests(sql)
            .await
            .map_err(|e| e.to_string())
    }

    async fn unguard_audit(&self) {
        self.raw(
            "DROP TRIGGER audit_no_update_delete ON audit; DROP TRIGGER audit_no_truncate ON audit",
        )
        .await;
    }
}

fn base_url() -> Option<String> {
    match std::env::var(ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            eprintln!("skipped: {ENV} not set");
            None
        }
    }
}

async fn harness() -> Option<PgHarness> {
    let base = base_url()?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to test database");
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create schema");
    conn.close().await.ok();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(PgHarness {
        url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
    })
}

store_suite!(harness);

#[tokio::test]
async fn bad_url_and_unreachable_server_are_location_errors() {
    let err = PgStore::open("postgres://u:pw@127.0.0.1:notaport/db")
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(err, StoreError::Location(ref l, _) if !l.contains("pw")),
        "{err}"
    );

    // Port 1 on loopback: nothing listens there.
    let err = PgStore::open("postgres://u:pw@127.0.0.1:1/db")
        .await
        .err()
        .expect("must fail");
    match err {
        StoreError::Location(loc, why) => {
            assert!(!loc.contains("pw"), "password leaked: {loc}");
            assert!(why.contains("cannot connect"), "{why}");
        }
        other => panic!("expected a location error, got {other}"),
    }
}
