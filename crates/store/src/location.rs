//! Where the store lives, parsed once from the command line / config, and
//! [`open`] to get a [`Store`] for it.

use crate::common::redact_url;
use crate::{PgStore, SqliteStore, Store, StoreError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The data directory used when neither a data dir nor a URL is given.
pub const DEFAULT_DATA_DIR: &str = "data";

/// Name of the SQLite database file inside the data directory.
pub const SQLITE_FILE: &str = "bedside.db";

/// Which engine, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// Embedded SQLite: one file `<data_dir>/bedside.db`.
    Sqlite { data_dir: PathBuf },
    /// PostgreSQL at a `postgres://` or `postgresql://` URL.
    Postgres { url: String },
    /// A throwaway SQLite file for an offline run (`evaluate`, `model
    /// certify`) that commits once per 15 minutes of event time: 4 KB
    /// pages and no syncs (see [`SqliteStore::open_scratch`]). Never for
    /// data that must survive a crash, and written by this process alone
    /// (opened empty, its ingest keeps what it wrote in memory:
    /// `Ingestor::sole_writer`).
    SqliteScratch { data_dir: PathBuf },
}

impl StoreLocation {
    /// A database URL, when given, selects PostgreSQL (the data dir may
    /// still be used by the caller for other files); otherwise SQLite in
    /// `data_dir` (default [`DEFAULT_DATA_DIR`]).
    pub fn parse(data_dir: Option<&Path>, database_url: Option<&str>) -> crate::Result<Self> {
        if let Some(url) = database_url.map(str::trim).filter(|u| !u.is_empty()) {
            let lower = url.to_ascii_lowercase();
            if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                return Ok(StoreLocation::Postgres {
                    url: url.to_string(),
                });
            }
            return Err(StoreError::Location(
                redact_url(url),
                "database URL must start with postgres:// or postgresql:// \
                 (leave it unset to use SQLite in the data directory)"
                    .to_string(),
            ));
        }
        match data_dir {
            Some(d) if d.as_os_str().is_empty() => Err(StoreError::Location(
                String::new(),
                "data directory path is empty".to_string(),
            )),
            Some(d) => Ok(StoreLocation::Sqlite {
                data_dir: d.to_path_buf(),
            }),
            None => Ok(StoreLocation::Sqlite {
                data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            }),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self {
            StoreLocation::Sqlite { .. } | StoreLocation::SqliteScratch { .. } => "sqlite",
            StoreLocation::Postgres { .. } => "postgres",
        }
    }
}

/// Shows the location with any password hidden (safe for logs).
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite { data_dir } | StoreLocation::SqliteScratch { data_dir } => {
                write!(f, "sqlite:{}", data_dir.join(SQLITE_FILE).display())
            }
            StoreLocation::Postgres { url } => f.write_str(&redact_url(url)),
        }
    }
}

/// Open (creating and migrating as needed) the store at `location`.
pub async fn open(location: &StoreLocation) -> crate::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match location {
        StoreLocation::Sqlite { data_dir } => Arc::new(SqliteStore::open(data_dir).await?),
        StoreLocation::SqliteScratch { data_dir } => {
            Arc::new(SqliteStore::open_scratch(data_dir).await?)
        }
        StoreLocation::Postgres { url } => Arc::new(PgStore::open(url).await?),
    };
    tracing::info!(engine = store.engine(), location = %location, "store opened");
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_wins_and_is_checked() {
        let l = StoreLocation::parse(Some(Path::new("d")), Some("postgresql://u:p@h/db")).unwrap();
        assert_eq!(l.engine(), "postgres");
        assert_eq!(l.to_string(), "postgresql://u:***@h/db");

        let err = StoreLocation::parse(None, Some("mysql://u:pw@h/db")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("postgres://"), "{msg}");
        assert!(!msg.contains("pw"), "password leaked: {msg}");
    }

    #[test]
    fn data_dir_default_and_empty() {
        assert_eq!(
            StoreLocation::parse(None, Some("  ")).unwrap(),
            StoreLocation::Sqlite {
                data_dir: PathBuf::from(DEFAULT_DATA_DIR)
            }
        );
        assert!(matches!(
            StoreLocation::parse(Some(Path::new("")), None),
            Err(StoreError::Location(_, _))
        ));
        let l = StoreLocation::parse(Some(Path::new("/var/lib/bedside")), None).unwrap();
        assert_eq!(l.to_string(), "sqlite:/var/lib/bedside/bedside.db");
    }
}
