//! [`CachedStore`]: a [`Store`] that keeps the documents of a few named
//! kinds in memory (bounded, least recently used out), read through on a
//! miss and written through by the commits that go through it.
//!
//! For a process that is the only writer of those kinds (the embedded
//! SQLite engine, where one server process owns the file): the hot path of
//! a CDS Hooks call then reads its keyed documents (latest risk, alert
//! memory, pulse offer) without a database round trip. It must not wrap a
//! store that other replicas write (PostgreSQL): their commits would not
//! reach this cache.
//!
//! Coherence with concurrent commits, per key:
//! - a commit marks each cached key it writes as *being written* before it
//!   reaches the inner store; while a key is being written, reads go to the
//!   store and nothing is cached for it;
//! - when the last overlapping commit of a key ends, the written document
//!   is cached only if that commit succeeded and no other commit of the
//!   key overlapped it (then the stored document is exactly the one it
//!   wrote); otherwise the key is dropped and the next read fills it;
//! - a read that misses fills the cache only if no commit of the key began
//!   while it read (a fill token), so a value read before a commit can
//!   never be cached after it;
//! - a commit or read dropped half-way (its caller went away) leaves the
//!   key uncached, never stale (drop guards).
//!
//! Absent documents are cached too (a first hook call for a patient has no
//! alert memory yet). Everything else is passed through unchanged.

use crate::{
    common, AuditEntry, Commit, DocFilter, Document, DocumentCas, Job, ResourceKey, StateRow,
    Store, StoredResource, VersionInfo, VersionedDocument,
};
use async_trait::async_trait;
use bedside_core::Instant;
use hashlink::LruCache;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

type Result<T> = crate::Result<T>;
type Key = (String, String);

/// What is going on with a key that is not simply cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// A read missed and is fetching it (its token).
    Filling(u64),
    /// `n` commits writing it are in flight; `overlapped` once two were.
    Writing { n: u32, overlapped: bool },
}

struct Inner {
    values: LruCache<Key, Option<Arc<Document>>>,
    pending: HashMap<Key, Pending>,
    next_token: u64,
}

/// A store with an in-memory cache of the documents of some kinds. See
/// the module docs for when it may be used and how it stays coherent.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    kinds: HashSet<String>,
    cache: Arc<Mutex<Inner>>,
}

fn lock_inner(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Every change under the lock is await-free and complete, so a panic
    // elsewhere while holding it leaves nothing half-done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CachedStore {
    /// Cache the documents of `kinds` read or written through this handle,
    /// at most `capacity` of them.
    pub fn new(inner: Arc<dyn Store>, kinds: &[&str], capacity: usize) -> Self {
        Self {
            inner,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            cache: Arc::new(Mutex::new(Inner {
                values: LruCache::new(capacity.max(1)),
                pending: HashMap::new(),
                next_token: 0,
            })),
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// How many documents (or known absences) are cached.
    pub fn cached_len(&self) -> usize {
        self.lock().values.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock_inner(&self.cache)
    }

    /// The cached keys a commit writes, each with the document that ends
    /// up stored (the last write of a key wins, and plain writes apply
    /// after checked ones, as in the engines).
    fn written(&self, c: &Commit, checked: &[DocumentCas]) -> BTreeMap<Key, Document> {
        let mut out = BTreeMap::new();
        let docs = checked.iter().map(|c| &c.document).chain(&c.documents);
        for d in docs.filter(|d| self.kinds.contains(&d.kind)) {
            // As read back: instants with microsecond precision.
            let mut d = d.clone();
            d.created_at = common::truncate(d.created_at);
            d.updated_at = common::truncate(d.updated_at);
            out.insert((d.kind.clone(), d.id.clone()), d);
        }
        out
    }

    fn begin_write(&self, keys: &BTreeMap<Key, Document>) {
        if keys.is_empty() {
            return;
        }
        let mut g = self.lock();
        for k in keys.keys() {
            g.values.remove(k);
            let next = match g.pending.get(k) {
                Some(Pending::Writing { n, .. }) => Pending::Writing {
                    n: n + 1,
                    overlapped: true,
                },
                // A fill in progress loses its token: it will not cache.
                _ => Pending::Writing {
                    n: 1,
                    overlapped: false,
                },
            };
            g.pending.insert(k.clone(), next);
        }
    }

    /// Mark the cached keys of `c` as being written; the guard ends the
    /// write (as failed if dropped without [`WriteGuard::finish`]).
    fn begin(&self, c: &Commit, checked: &[DocumentCas]) -> WriteGuard {
        let keys = self.written(c, checked);
        self.begin_write(&keys);
        WriteGuard {
            cache: self.cache.clone(),
            keys: Some(keys),
        }
    }

    /// Run a commit on its own task, ending its write there: a caller that
    /// goes away cannot leave a key marked as written-and-done while the
    /// engine's commit is still running (a read would then fill the cache
    /// with the value before it).
    async fn write_through<F, Fut>(
        &self,
        c: Commit,
        checked: Vec<DocumentCas>,
        write: F,
    ) -> Result<()>
    where
        F: FnOnce(Commit, Vec<DocumentCas>) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let guard = self.begin(&c, &checked);
        let write = write(c, checked);
        tokio::spawn(async move {
            let r = write.await;
            guard.finish(r.is_ok());
            r
        })
        .await
        .map_err(|e| crate::StoreError::Db(format!("commit task failed: {e}")))?
    }
}

/// End a write (see the module docs).
fn end_write(cache: &Mutex<Inner>, keys: BTreeMap<Key, Document>, ok: bool) {
    if keys.is_empty() {
        return;
    }
    let mut g = lock_inner(cache);
    for (k, d) in keys {
        match g.pending.get(&k).copied() {
            Some(Pending::Writing { n, overlapped }) if n > 1 => {
                g.pending.insert(
                    k,
                    Pending::Writing {
                        n: n - 1,
                        overlapped,
                    },
                );
            }
            Some(Pending::Writing { overlapped, .. }) => {
                g.pending.remove(&k);
                if ok && !overlapped {
                    g.values.insert(k, Some(Arc::new(d)));
                }
            }
            // Not ours (cannot happen: only writers replace Writing).
            _ => {}
        }
    }
}

/// What a read of a cached kind does.
enum Lookup {
    Hit(Option<Arc<Document>>),
    /// Being written or being filled by another read: read, do not cache.
    Bypass,
    /// Read, then [`CachedStore::fill`] with this token.
    Fill(u64),
}

impl CachedStore {
    fn lookup(&self, key: &Key) -> Lookup {
        let mut g = self.lock();
        if let Some(v) = g.values.get(key) {
            return Lookup::Hit(v.clone());
        }
        if g.pending.contains_key(key) {
            return Lookup::Bypass;
        }
        g.next_token += 1;
        let t = g.next_token;
        g.pending.insert(key.clone(), Pending::Filling(t));
        Lookup::Fill(t)
    }

    /// Cache what a read found, unless a commit of the key began since the
    /// read's [`Lookup::Fill`] (it replaced the token).
    fn fill(&self, key: Key, token: u64, v: Option<Arc<Document>>) {
        let mut g = self.lock();
        if g.pending.get(&key) == Some(&Pending::Filling(token)) {
            g.pending.remove(&key);
            g.values.insert(key, v);
        }
    }
}

/// Ends a write as failed (key dropped, not cached) if the commit future
/// is dropped before it finished.
struct WriteGuard {
    cache: Arc<Mutex<Inner>>,
    keys: Option<BTreeMap<Key, Document>>,
}

impl WriteGuard {
    fn finish(mut self, ok: bool) {
        if let Some(keys) = self.keys.take() {
            end_write(&self.cache, keys, ok);
        }
    }
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        if let Some(keys) = self.keys.take() {
            end_write(&self.cache, keys, false);
        }
    }
}

/// Clears a read's fill token if the read is dropped before it filled.
struct FillGuard<'a> {
    cache: &'a CachedStore,
    key: Option<(Key, u64)>,
}

impl Drop for FillGuard<'_> {
    fn drop(&mut self) {
        if let Some((k, token)) = self.key.take() {
            let mut g = self.cache.lock();
            if g.pending.get(&k) == Some(&Pending::Filling(token)) {
                g.pending.remove(&k);
            }
        }
    }
}

#[async_trait]
impl Store for CachedStore {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn commit(&self, c: Commit) -> Result<()> {
        let inner = self.inner.clone();
        self.write_through(c, Vec::new(), |c, _| async move { inner.commit(c).await })
            .await
    }

    async fn commit_checked(&self, c: Commit, checked: Vec<DocumentCas>) -> Result<()> {
        let inner = self.inner.clone();
        self.write_through(c, checked, |c, checked| async move {
            inner.commit_checked(c, checked).await
        })
        .await
    }

    async fn versions(&self, keys: &[ResourceKey]) -> Result<BTreeMap<ResourceKey, VersionInfo>> {
        self.inner.versions(keys).await
    }
    async fn get_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        self.inner.get_resource(key).await
    }
    async fn resources_for_patient(
        &self,
        rtype: &str,
        patient_id: &str,
    ) -> Result<Vec<StoredResource>> {
        self.inner.resources_for_patient(rtype, patient_id).await
    }
    async fn resources_of_type(
        &self,
        rtype: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredResource>> {
        self.inner.resources_of_type(rtype, after_id, limit).await
    }
    async fn count_resources(&self) -> Result<BTreeMap<String, u64>> {
        self.inner.count_resources().await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn load_states(&self, patient_ids: &[String]) -> Result<BTreeMap<String, StateRow>> {
        self.inner.load_states(patient_ids).await
    }
    async fn state_versions(&self, patient_ids: &[String]) -> Result<BTreeMap<String, i64>> {
        self.inner.state_versions(patient_ids).await
    }
    async fn state_patient_ids(&self) -> Result<Vec<String>> {
        self.inner.state_patient_ids().await
    }

    async fn get_document(&self, kind: &str, id: &str) -> Result<Option<Document>> {
        if !self.kinds.contains(kind) {
            return self.inner.get_document(kind, id).await;
        }
        Ok(self
            .get_document_shared(kind, id)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    async fn get_document_shared(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>> {
        if !self.kinds.contains(kind) {
            return self.inner.get_document_shared(kind, id).await;
        }
        let key: Key = (kind.to_string(), id.to_string());
        let token = match self.lookup(&key) {
            Lookup::Hit(v) => return Ok(v),
            Lookup::Bypass => return self.inner.get_document_shared(kind, id).await,
            Lookup::Fill(t) => t,
        };
        let mut guard = FillGuard {
            cache: self,
            key: Some((key, token)),
        };
        let r = self.inner.get_document_shared(kind, id).await;
        if let (Ok(v), Some((k, t))) = (&r, guard.key.take()) {
            self.fill(k, t, v.clone());
        }
        r
    }

    /// Versioned reads go to the store: the cache keeps no versions.
    async fn get_document_versioned(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<VersionedDocument>> {
        self.inner.get_document_versioned(kind, id).await
    }

    async fn list_documents(&self, f: &DocFilter) -> Result<Vec<Document>> {
        self.inner.list_documents(f).await
    }
    async fn count_documents(&self, f: &DocFilter) -> Result<u64> {
        self.inner.count_documents(f).await
    }
    async fn list_document_texts(&self, p: &crate::DocPage) -> Result<Vec<crate::DocText>> {
        self.inner.list_document_texts(p).await
    }
    async fn document_span(&self, f: &DocFilter) -> Result<Option<(Instant, Instant)>> {
        self.inner.document_span(f).await
    }
    async fn change_marker(&self) -> Result<Option<String>> {
        self.inner.change_marker().await
    }

    async fn claim_jobs(&self, now: Instant, limit: u32, lease_secs: i64) -> Result<Vec<Job>> {
        self.inner.claim_jobs(now, limit, lease_secs).await
    }
    async fn complete_job(&self, job_id: i64, c: Commit) -> Result<()> {
        let inner = self.inner.clone();
        self.write_through(c, Vec::new(), |c, _| async move {
            inner.complete_job(job_id, c).await
        })
        .await
    }
    async fn complete_job_checked(
        &self,
        job_id: i64,
        c: Commit,
        checked: Vec<DocumentCas>,
    ) -> Result<()> {
        let inner = self.inner.clone();
        self.write_through(c, checked, |c, checked| async move {
            inner.complete_job_checked(job_id, c, checked).await
        })
        .await
    }
    async fn pending_jobs(&self) -> Result<u64> {
        self.inner.pending_jobs().await
    }
    async fn next_due(&self) -> Result<Option<Instant>> {
        self.inner.next_due().await
    }
    async fn audit_entries(&self, from_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.inner.audit_entries(from_seq, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteStore, StateWrite, StoreError};
    use serde_json::json;

    const KIND: &str = "alert_memory";

    fn doc(id: &str, v: i64) -> Document {
        // Nanoseconds: the store keeps microseconds.
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        Document {
            kind: KIND.into(),
            id: id.into(),
            patient_id: Some("p1".into()),
            status: Some("open".into()),
            owner: Some("m".into()),
            created_at: t,
            updated_at: t,
            body: json!({"v": v, "p": 0.1 + 0.2}),
        }
    }

    fn docs(d: Vec<Document>) -> Commit {
        Commit {
            documents: d,
            ..Commit::default()
        }
    }

    async fn open() -> (tempfile::TempDir, Arc<SqliteStore>, CachedStore) {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let cached = CachedStore::new(inner.clone(), &[KIND], 100);
        (dir, inner, cached)
    }

    fn key(id: &str) -> Key {
        (KIND.to_string(), id.to_string())
    }

    #[tokio::test]
    async fn reads_through_then_serves_from_memory() {
        let (_d, inner, cached) = open().await;
        inner.commit(docs(vec![doc("a", 1)])).await.unwrap();
        assert_eq!(
            cached.get_document(KIND, "a").await.unwrap(),
            Some(doc_read(&inner, "a").await)
        );
        // Changed behind the cache's back (only a test does that): the
        // cached kind is served from memory, so it still reads 1.
        inner
            .execute_raw_for_tests("UPDATE documents SET body = '{\"v\":9}' WHERE id = 'a'")
            .await
            .unwrap();
        let hit = cached.get_document(KIND, "a").await.unwrap().unwrap();
        assert_eq!(hit.body["v"], 1);
        // A commit through the cache is what later reads see.
        cached.commit(docs(vec![doc("a", 2)])).await.unwrap();
        let after = cached.get_document(KIND, "a").await.unwrap();
        assert_eq!(after.as_ref().unwrap().body["v"], 2);
        assert_eq!(
            after,
            Some(doc_read(&inner, "a").await),
            "exactly what the store holds"
        );
        assert_eq!(cached.cached_len(), 1);
    }

    #[tokio::test]
    async fn shared_reads_hand_out_the_cached_document_itself() {
        let (_d, inner, cached) = open().await;
        cached.commit(docs(vec![doc("a", 1)])).await.unwrap();
        let one = cached
            .get_document_shared(KIND, "a")
            .await
            .unwrap()
            .unwrap();
        let two = cached
            .get_document_shared(KIND, "a")
            .await
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&one, &two), "a hit is not a copy");
        assert_eq!(*one, doc_read(&inner, "a").await);
        // A later commit replaces it; the old handle keeps what it saw.
        cached.commit(docs(vec![doc("a", 2)])).await.unwrap();
        let three = cached
            .get_document_shared(KIND, "a")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (one.body["v"].as_i64(), three.body["v"].as_i64()),
            (Some(1), Some(2))
        );
        // Absent documents are cached as absent, shared or not.
        assert_eq!(
            cached.get_document_shared(KIND, "nope").await.unwrap(),
            None
        );
        assert_eq!(cached.get_document(KIND, "nope").await.unwrap(), None);
    }

    async fn doc_read(inner: &SqliteStore, id: &str) -> Document {
        inner.get_document(KIND, id).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn other_kinds_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let cached = CachedStore::new(inner.clone(), &["other"], 100);
        inner.commit(docs(vec![doc("a", 1)])).await.unwrap();
        assert!(cached.get_document(KIND, "a").await.unwrap().is_some());
        inner
            .execute_raw_for_tests("UPDATE documents SET body = '{\"v\":9}' WHERE id = 'a'")
            .await
            .unwrap();
        let d = cached.get_document(KIND, "a").await.unwrap().unwrap();
        assert_eq!(d.body["v"], 9);
        assert_eq!(cached.cached_len(), 0);
    }

    #[tokio::test]
    async fn absence_is_cached_until_a_commit_writes_the_key() {
        let (_d, _inner, cached) = open().await;
        assert_eq!(cached.get_document(KIND, "a").await.unwrap(), None);
        assert_eq!(cached.cached_len(), 1, "the absence is remembered");
        cached.commit(docs(vec![doc("a", 1)])).await.unwrap();
        assert_eq!(
            cached.get_document(KIND, "a").await.unwrap().unwrap().body["v"],
            1
        );
    }

    #[tokio::test]
    async fn last_write_of_a_key_in_one_commit_wins() {
        let (_d, inner, cached) = open().await;
        cached
            .commit(docs(vec![doc("a", 1), doc("a", 2)]))
            .await
            .unwrap();
        let c = cached.get_document(KIND, "a").await.unwrap();
        assert_eq!(c, Some(doc_read(&inner, "a").await));
        assert_eq!(c.unwrap().body["v"], 2);
    }

    #[tokio::test]
    async fn a_failed_commit_leaves_the_key_to_the_store() {
        let (_d, inner, cached) = open().await;
        cached.commit(docs(vec![doc("a", 1)])).await.unwrap();
        assert!(cached.get_document(KIND, "a").await.unwrap().is_some());
        // A state write expecting a version that does not exist: Conflict,
        // nothing written, the cached key dropped (not set to v = 2).
        let bad = Commit {
            states: vec![StateWrite {
                patient_id: "p1".into(),
                expected: 7,
                state: vec![1],
            }],
            documents: vec![doc("a", 2)],
            ..Commit::default()
        };
        assert!(matches!(
            cached.commit(bad).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(cached.cached_len(), 0);
        let d = cached.get_document(KIND, "a").await.unwrap().unwrap();
        assert_eq!(d.body["v"], 1);
        assert_eq!(d, doc_read(&inner, "a").await);
    }

    #[tokio::test]
    async fn overlapping_commits_of_a_key_are_not_cached() {
        let (_d, _inner, cached) = open().await;
        let (a, b) = (docs(vec![doc("a", 1)]), docs(vec![doc("a", 2)]));
        let ga = cached.begin(&a, &[]);
        let gb = cached.begin(&b, &[]);
        // Whichever finishes last, the store's order is unknown here.
        ga.finish(true);
        assert!(
            matches!(cached.lookup(&key("a")), Lookup::Bypass),
            "still being written"
        );
        gb.finish(true);
        assert_eq!(cached.cached_len(), 0);
        assert!(matches!(cached.lookup(&key("a")), Lookup::Fill(_)));
    }

    #[tokio::test]
    async fn a_read_that_raced_a_commit_does_not_fill() {
        let (_d, _inner, cached) = open().await;
        let Lookup::Fill(token) = cached.lookup(&key("a")) else {
            panic!("a miss fills")
        };
        // A commit of the key begins and ends while the read is out.
        let c = docs(vec![doc("a", 2)]);
        cached.begin(&c, &[]).finish(true);
        // The read comes back with what it saw before the commit.
        cached.fill(key("a"), token, Some(Arc::new(doc("a", 1))));
        let Lookup::Hit(Some(d)) = cached.lookup(&key("a")) else {
            panic!("the commit's document is cached")
        };
        assert_eq!(d.body["v"], 2, "not the stale read");
        // And while a commit is in flight, a read neither hits nor fills.
        let g = cached.begin(&docs(vec![doc("b", 1)]), &[]);
        assert!(matches!(cached.lookup(&key("b")), Lookup::Bypass));
        drop(g);
    }

    #[tokio::test]
    async fn dropped_commits_and_reads_leave_nothing_behind() {
        let (_d, _inner, cached) = open().await;
        drop(cached.begin(&docs(vec![doc("a", 1)]), &[]));
        assert_eq!(cached.cached_len(), 0, "unknown outcome: not cached");
        let Lookup::Fill(token) = cached.lookup(&key("a")) else {
            panic!("nothing pending after the dropped commit")
        };
        drop(FillGuard {
            cache: &cached,
            key: Some((key("a"), token)),
        });
        assert!(matches!(cached.lookup(&key("a")), Lookup::Fill(_)));
    }

    #[tokio::test]
    async fn checked_commits_keep_the_cache_exact() {
        let (_d, inner, cached) = open().await;
        let cas = |d: Document, expected: Option<i64>| DocumentCas {
            document: d,
            expected,
        };
        cached
            .commit_checked(Commit::default(), vec![cas(doc("a", 1), None)])
            .await
            .unwrap();
        assert_eq!(cached.cached_len(), 1, "written through");
        assert_eq!(
            cached.get_document(KIND, "a").await.unwrap(),
            Some(doc_read(&inner, "a").await)
        );
        // A stale checked write fails the commit, its plain write of
        // another cached key too, and leaves neither key cached.
        let r = cached
            .commit_checked(docs(vec![doc("b", 5)]), vec![cas(doc("a", 2), Some(7))])
            .await;
        assert!(
            matches!(r, Err(StoreError::DocumentConflict { ref id, .. }) if id == "a"),
            "{r:?}"
        );
        assert_eq!(cached.cached_len(), 0);
        assert_eq!(
            cached.get_document(KIND, "a").await.unwrap().unwrap().body["v"],
            1
        );
        assert_eq!(cached.get_document(KIND, "b").await.unwrap(), None);
        // At the version read: written, and the cached document is the stored one.
        let read = cached.get_document_versioned(KIND, "a").await.unwrap();
        assert_eq!(read.as_ref().map(|v| v.version), Some(1));
        cached
            .commit_checked(
                Commit::default(),
                vec![DocumentCas::over(doc("a", 3), read.as_ref())],
            )
            .await
            .unwrap();
        let hit = cached.get_document(KIND, "a").await.unwrap();
        assert_eq!(hit.as_ref().unwrap().body["v"], 3);
        assert_eq!(hit, Some(doc_read(&inner, "a").await));
    }

    #[tokio::test]
    async fn capacity_bounds_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let cached = CachedStore::new(inner, &[KIND], 3);
        for i in 0..10 {
            cached.get_document(KIND, &format!("k{i}")).await.unwrap();
        }
        assert_eq!(cached.cached_len(), 3);
    }
}
