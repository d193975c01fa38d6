//! The query layer both engines share, written once: the [`crate::Store`]
//! implementation (`store.rs`, every read, over an [`Engine`]), the writes
//! of a commit and job claims ([`write`]), and the row shapes ([`read`]).
//! It is generic over a [`Dialect`], which holds what differs between
//! SQLite and PostgreSQL: how an instant is stored, how a list of keys and
//! a batch of rows are passed (SQLite: one bound value each, multi-row
//! `VALUES`; PostgreSQL: one array per column, `UNNEST`), the rows per
//! statement, and a few SQL fragments. SQL text uses `$n` placeholders,
//! which both engines accept. What an engine does besides SQL (its
//! connections, transactions, the SQLite writer task) is in its module.

pub(crate) mod read;
mod store;
pub(crate) mod write;

pub(crate) use store::Engine;

use crate::{Result, StoreError};
use bedside_core::Instant;
use sqlx::{Arguments, Database, Decode, Encode, Type};

/// What one engine's SQL differs in. Implemented for [`sqlx::Sqlite`]
/// and [`sqlx::Postgres`].
pub(crate) trait Dialect: Database {
    /// How an instant is stored (SQLite: `INTEGER` microseconds since the
    /// epoch; PostgreSQL: `TIMESTAMPTZ`).
    type Time: for<'q> Encode<'q, Self>
        + for<'r> Decode<'r, Self>
        + Type<Self>
        + Send
        + Sync
        + Unpin
        + 'static;
    /// Rows per multi-row statement and keys per list.
    const CHUNK: usize;
    /// What precedes `OFFSET` in a query without a page size.
    const NO_LIMIT: &'static str;
    /// The condition on `jobs` of a job not yet done.
    const PENDING: &'static str;
    /// The value of `jobs.done` for a done job.
    const DONE: &'static str;
    /// What follows the selection of due jobs in a claim (row locks).
    const CLAIM_LOCK: &'static str;
    /// A statement run in the transaction before appending to the audit
    /// log, to keep the hash chain linear across writers (`None`: the
    /// engine has a single writer).
    const AUDIT_LOCK: Option<&'static str>;

    fn time(t: Instant) -> Self::Time;
    fn instant(t: Self::Time, what: impl FnOnce() -> String) -> Result<Instant>;
    /// `<column> IN (values)` (the column is pushed by the caller).
    fn push_in<'a>(q: &mut Sql<'a, Self>, values: Vec<&'a str>);
    /// `rows` as a relation with the columns in their order: what follows
    /// `INSERT INTO t (...)` or stands in `WITH u(...) AS (...)`. Rows keep
    /// their order (the lock order of a write).
    fn push_rows<'a>(q: &mut Sql<'a, Self>, rows: Rows<'a>);
}

/// One column of a batch of rows.
pub(crate) enum Col<'a> {
    Text(Vec<&'a str>),
    OptText(Vec<Option<&'a str>>),
    Int(Vec<i64>),
    Time(Vec<Instant>),
    OptTime(Vec<Option<Instant>>),
    Bytes(Vec<&'a [u8]>),
}

impl Col<'_> {
    fn len(&self) -> usize {
        match self {
            Col::Text(v) => v.len(),
            Col::OptText(v) => v.len(),
            Col::Int(v) => v.len(),
            Col::Time(v) => v.len(),
            Col::OptTime(v) => v.len(),
            Col::Bytes(v) => v.len(),
        }
    }
}

/// A batch of rows to write, column by column, each column named as the
/// relation [`Dialect::push_rows`] makes names it.
pub(crate) struct Rows<'a> {
    pub names: Vec<&'static str>,
    pub cols: Vec<Col<'a>>,
}

impl<'a> Rows<'a> {
    pub fn new() -> Self {
        Rows {
            names: Vec::new(),
            cols: Vec::new(),
        }
    }

    pub fn col(mut self, name: &'static str, col: Col<'a>) -> Self {
        self.names.push(name);
        self.cols.push(col);
        self
    }

    /// A text column: `f` of each of `items`.
    pub fn text<T>(
        self,
        name: &'static str,
        items: impl IntoIterator<Item = T>,
        f: impl FnMut(T) -> &'a str,
    ) -> Self {
        self.col(name, Col::Text(items.into_iter().map(f).collect()))
    }

    pub fn opt_text<T>(
        self,
        name: &'static str,
        items: impl IntoIterator<Item = T>,
        f: impl FnMut(T) -> Option<&'a str>,
    ) -> Self {
        self.col(name, Col::OptText(items.into_iter().map(f).collect()))
    }

    pub fn int<T>(
        self,
        name: &'static str,
        items: impl IntoIterator<Item = T>,
        f: impl FnMut(T) -> i64,
    ) -> Self {
        self.col(name, Col::Int(items.into_iter().map(f).collect()))
    }

    pub fn time<T>(
        self,
        name: &'static str,
        items: impl IntoIterator<Item = T>,
        f: impl FnMut(T) -> Instant,
    ) -> Self {
        self.col(name, Col::Time(items.into_iter().map(f).collect()))
    }

    pub fn opt_time<T>(
        self,
        name: &'static str,
        items: impl IntoIterator<Item = T>,
        f: impl FnMut(T) -> Option<Instant>,
    ) -> Self {
        self.col(name, Col::OptTime(items.into_iter().map(f).collect()))
    }

    pub fn bytes<T>(
        self,
        name: &'static str,
        items: impl IntoIterator<Item = T>,
        f: impl FnMut(T) -> &'a [u8],
    ) -> Self {
        self.col(name, Col::Bytes(items.into_iter().map(f).collect()))
    }

    /// Rows in the batch (the length of its shortest column).
    pub fn len(&self) -> usize {
        self.cols.iter().map(Col::len).min().unwrap_or(0)
    }
}

/// The text of one statement and its bound values. Run it with
/// `let (text, args) = q.finish()?;` and `sqlx::query_with(&text, args)`
/// (or `query_as_with`, `query_scalar_with`): the values borrow no longer
/// than the text, which is what the engines' argument types need.
pub(crate) struct Sql<'a, DB: Database> {
    text: String,
    args: DB::Arguments<'a>,
    /// The first value that could not be encoded.
    error: Option<String>,
}

impl<'a, DB: Database> Sql<'a, DB> {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Default::default(),
            error: None,
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Bind `value` and write its placeholder.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'a + Encode<'a, DB> + Type<DB>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert_with(|| e.to_string());
        }
        if self.args.format_placeholder(&mut self.text).is_err() {
            self.error
                .get_or_insert_with(|| "cannot write a placeholder".to_string());
        }
        self
    }

    /// `items`, each written by `each`, separated by commas.
    pub fn list<I: IntoIterator>(&mut self, items: I, mut each: impl FnMut(&mut Self, I::Item)) {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            each(self, item);
        }
    }

    /// The text and the values, or the error of a value that could not
    /// be encoded.
    pub fn finish(self) -> Result<(String, DB::Arguments<'a>)> {
        match self.error {
            Some(e) => Err(StoreError::Db(format!("cannot bind a value: {e}"))),
            None => Ok((self.text, self.args)),
        }
    }
}
