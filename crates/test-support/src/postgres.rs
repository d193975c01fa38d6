//! PostgreSQL for tests: the test database comes from
//! `BEDSIDE_TEST_DATABASE_URL` (`scripts/test.sh` and `.ci/postgres.sh`
//! set it); each test works in a schema of its own.

use bedside_store::PgStore;

/// The variable naming the test database.
pub const ENV: &str = "BEDSIDE_TEST_DATABASE_URL";

/// The test database URL, or `None` (with a note on stderr naming `test`)
/// when [`ENV`] is unset or blank, so the caller can skip.
pub fn test_database_url(test: &str) -> Option<String> {
    let url = std::env::var(ENV).ok().filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!("SKIPPED {test}: {ENV} is not set (scripts/test.sh sets it)");
    }
    url
}

/// Schema `{name}_{pid}` in the database at `base`, dropped and created
/// empty, as a URL that selects it (`search_path`).
pub async fn fresh_schema(base: &str, name: &str) -> String {
    let schema = format!("{name}_{}", std::process::id());
    PgStore::open(base)
        .await
        .expect("open the test database")
        .execute_raw_for_tests(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .expect("create the test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}
