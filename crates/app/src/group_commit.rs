//! Group commit: concurrent [`App::commit`] calls merged into one store
//! transaction.
//!
//! Every caller hands its [`Commit`] to a committer task and awaits the
//! durable result of *its* commit. A committer takes the first waiting
//! commit and every other one queued behind it (up to [`MAX_GROUP`]),
//! writes them as one transaction, and answers each caller. If the merged
//! transaction fails (an optimistic state version conflict, a job that is
//! not pending, a database error), the same commits are written again one
//! by one, so one failing member fails only itself, with its own error.
//!
//! Merging keeps the meaning of writing the commits one after the other in
//! queue order: the store applies documents and resources last-write-wins
//! in commit order, appends audit bodies in order (`Commit.audit` is
//! carried through untouched), and a state write that would conflict in
//! sequence conflicts in the merged commit too, which then falls back.
//!
//! The committer runs on its own task: a caller that goes away (client
//! disconnect, request timeout) does not cancel a commit half-way; its
//! commit completes or fails whole, as on the engines themselves.
//!
//! One committer for SQLite (one writer connection: merging is what
//! removes the per-transaction cost), a few for PostgreSQL (several
//! transactions can run at once there).

use bedside_store::{Commit, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most commits merged into one transaction.
pub const MAX_GROUP: usize = 64;

struct Pending {
    commit: Commit,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle callers submit commits through (see the module docs).
pub struct GroupCommitter {
    tx: mpsc::UnboundedSender<Pending>,
    stats: Arc<Stats>,
}

/// Counters (for tests and operators).
#[derive(Debug, Default)]
struct Stats {
    /// Store transactions written for groups of two or more.
    merged_transactions: AtomicU64,
    /// Commits written inside those.
    merged_members: AtomicU64,
    /// Merged transactions that failed and were retried one by one.
    fallbacks: AtomicU64,
}

impl GroupCommitter {
    /// Start `workers` committer tasks on the current tokio runtime. They
    /// stop when the handle is dropped and the queue is drained.
    pub fn start(store: Arc<dyn Store>, workers: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats::default());
        for _ in 0..workers.max(1) {
            tokio::spawn(run(store.clone(), rx.clone(), stats.clone()));
        }
        Self { tx, stats }
    }

    /// (merged transactions, commits written in them, merged transactions
    /// that failed and fell back to one by one) since start.
    pub fn merge_counts(&self) -> (u64, u64, u64) {
        (
            self.stats.merged_transactions.load(Ordering::Relaxed),
            self.stats.merged_members.load(Ordering::Relaxed),
            self.stats.fallbacks.load(Ordering::Relaxed),
        )
    }

    /// Write `c` (possibly together with other callers' commits) and wait
    /// until it is durable or failed.
    pub async fn commit(&self, c: Commit) -> Result<(), StoreError> {
        if c.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Pending { commit: c, done })
            .map_err(|_| StoreError::Db("the committer has stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Db("the committer stopped before answering".into()))?
    }
}

async fn run(
    store: Arc<dyn Store>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>,
    stats: Arc<Stats>,
) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(p) => group.push(p),
                    Err(_) => break,
                }
            }
            group
        };
        write_group(store.as_ref(), group, &stats).await;
    }
}

/// One commit per group when it succeeds; one per member otherwise.
async fn write_group(store: &dyn Store, mut group: Vec<Pending>, stats: &Stats) {
    if group.len() == 1 {
        let p = group.pop().expect("one member");
        let r = store.commit(p.commit).await;
        let _ = p.done.send(r);
        return;
    }
    let merged = merge(group.iter().map(|p| &p.commit));
    stats.merged_transactions.fetch_add(1, Ordering::Relaxed);
    stats
        .merged_members
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    match store.commit(merged).await {
        Ok(()) => {
            for p in group {
                let _ = p.done.send(Ok(()));
            }
        }
        Err(e) => {
            stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(members = group.len(), error = %e, "merged commit failed; committing its members one by one");
            for p in group {
                let r = store.commit(p.commit).await;
                let _ = p.done.send(r);
            }
        }
    }
}

/// The commits concatenated in order.
fn merge<'a>(commits: impl Iterator<Item = &'a Commit>) -> Commit {
    let mut m = Commit::default();
    for c in commits {
        // Destructured, so a field added to `Commit` cannot be dropped
        // here unnoticed.
        let Commit {
            resources,
            states,
            documents,
            jobs,
            audit,
        } = c;
        m.resources.extend(resources.iter().cloned());
        m.states.extend(states.iter().cloned());
        m.documents.extend(documents.iter().cloned());
        m.jobs.extend(jobs.iter().cloned());
        m.audit.extend(audit.iter().cloned());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_store::{DocFilter, Document, SqliteStore, StateWrite};
    use futures_util::future::join_all;
    use serde_json::json;

    fn card(id: usize) -> Document {
        let t = chrono::DateTime::from_timestamp(1_700_000_000 + id as i64, 0).unwrap();
        Document {
            kind: "card".into(),
            id: format!("c{id}"),
            patient_id: Some(format!("p{id}")),
            status: Some("shown".into()),
            owner: Some("m".into()),
            created_at: t,
            updated_at: t,
            body: json!({"n": id}),
        }
    }

    fn with_card(id: usize) -> Commit {
        Commit {
            documents: vec![card(id)],
            audit: vec![json!({"event": "card", "n": id})],
            ..Commit::default()
        }
    }

    async fn store(dir: &std::path::Path) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(dir).await.unwrap())
    }

    #[tokio::test]
    async fn concurrent_commits_are_merged_and_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let gc = GroupCommitter::start(store(dir.path()).await, 1);
        let results = join_all((0..40).map(|i| gc.commit(with_card(i)))).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let (tx, members, fallbacks) = gc.merge_counts();
        assert!(tx >= 1 && members >= 2, "no merging: {tx} {members}");
        assert_eq!(fallbacks, 0);
        // Durable: a fresh handle (a restart) reads every card and every
        // audit entry, in submission order on the chain.
        drop(gc);
        let again = store(dir.path()).await;
        let cards = again
            .list_documents(&DocFilter {
                kind: "card".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(cards.len(), 40);
        let audit = again.audit_entries(1, 100).await.unwrap();
        let ns: Vec<u64> = audit
            .iter()
            .map(|a| a.body["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ns, (0..40).collect::<Vec<u64>>());
        bedside_store::verify_chain(&audit).unwrap();
    }

    #[tokio::test]
    async fn a_failing_member_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let gc = GroupCommitter::start(store(dir.path()).await, 1);
        let mut commits: Vec<Commit> = (0..10).map(with_card).collect();
        // Member 4 expects a patient state version that does not exist.
        commits[4].states.push(StateWrite {
            patient_id: "p4".into(),
            expected: 3,
            state: vec![1, 2, 3],
        });
        let results = join_all(commits.into_iter().map(|c| gc.commit(c))).await;
        for (i, r) in results.iter().enumerate() {
            if i == 4 {
                assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
            } else {
                assert!(r.is_ok(), "member {i}: {r:?}");
            }
        }
        let (_, _, fallbacks) = gc.merge_counts();
        assert!(fallbacks >= 1, "the merged commit should have failed once");
        let s = store(dir.path()).await;
        for i in 0..10 {
            let d = s.get_document("card", &format!("c{i}")).await.unwrap();
            assert_eq!(d.is_some(), i != 4, "card {i}");
        }
        let audit = s.audit_entries(1, 100).await.unwrap();
        assert_eq!(audit.len(), 9, "nothing of the failed member is written");
        assert!(audit.iter().all(|a| a.body["n"] != 4));
    }

    #[tokio::test]
    async fn a_dropped_caller_does_not_cancel_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let gc = GroupCommitter::start(store(dir.path()).await, 1);
        {
            let fut = gc.commit(with_card(1));
            // Polled once (handed to the committer), then dropped.
            let _ = tokio::time::timeout(std::time::Duration::from_nanos(1), fut).await;
        }
        // A later commit through the same committer is answered after it.
        gc.commit(with_card(2)).await.unwrap();
        let s = store(dir.path()).await;
        assert!(s.get_document("card", "c1").await.unwrap().is_some());
        assert!(s.get_document("card", "c2").await.unwrap().is_some());
    }
}
