//! Every write of the app goes through one of the functions here (or
//! [`App::commit`], the group committer), and each applies the post-commit
//! rules to the commit before it is written: write-back jobs are queued for
//! every Task, Communication, RiskAssessment and DetectedIssue in it ([`crate::writeback`]),
//! in the same transaction. A caller cannot forget a rule, since no app
//! code writes to the store by another path.
//!
//! Read-modify-write of a document another writer may change at the same
//! time (a pathway instance, a Task) reads it with [`App::read_for_update`]
//! and writes with [`App::write_checked`] / [`App::complete_job_checked`]:
//! the store checks the version read (compare-and-set), and a conflict
//! writes nothing, so the caller reads again and retries
//! ([`CONFLICT_RETRIES`]). Nothing is lost across replicas.

use crate::{ApiError, App};
use bedside_store::{Commit, Document, DocumentCas, StoreError, VersionedDocument};
use std::collections::HashMap;

impl App {
    /// The post-commit rules, applied once to each commit before it is
    /// written.
    pub(crate) fn seal(&self, commit: &mut Commit) {
        self.queue_writeback(commit);
    }

    /// Write `commit` as one transaction of its own, rules applied.
    pub(crate) async fn write(&self, mut commit: Commit) -> Result<(), ApiError> {
        self.seal(&mut commit);
        Ok(self.store.commit(commit).await?)
    }
}

/// How often a read-modify-write is tried again after another writer
/// changed what it read (a replica, a timer, a concurrent request).
pub(crate) const CONFLICT_RETRIES: usize = 8;

/// The documents a read-modify-write read, each with the version it was
/// read at (`None`: absent). Their writes in the commit become checked
/// writes ([`bedside_store::DocumentCas`]): the commit lands only if none
/// changed since, else it fails whole and the caller reads again.
#[derive(Debug, Default)]
pub(crate) struct ReadSet(HashMap<(String, String), Option<i64>>);

impl ReadSet {
    fn note(&mut self, kind: &str, id: &str, read: Option<&VersionedDocument>) {
        // The first read of a document is the one the change is based on.
        self.0
            .entry((kind.to_string(), id.to_string()))
            .or_insert(read.map(|v| v.version));
    }

    /// Move the writes of read documents out of `commit` as checked
    /// writes: the last write of each (the one the commit means to leave),
    /// at the version it was read at.
    fn split(&self, commit: &mut Commit) -> Vec<DocumentCas> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut last: HashMap<(String, String), Document> = HashMap::new();
        let mut order: Vec<(String, String)> = Vec::new();
        commit.documents.retain(|d| {
            let key = (d.kind.clone(), d.id.clone());
            if !self.0.contains_key(&key) {
                return true;
            }
            if last.insert(key.clone(), d.clone()).is_none() {
                order.push(key);
            }
            false
        });
        order
            .into_iter()
            .filter_map(|key| {
                let expected = self.0.get(&key).copied().flatten();
                last.remove(&key)
                    .map(|document| DocumentCas { document, expected })
            })
            .collect()
    }
}

impl App {
    /// Read a document to change it: its version is kept in `reads`, so
    /// the write of the change is checked against it.
    pub(crate) async fn read_for_update(
        &self,
        reads: &mut ReadSet,
        kind: &str,
        id: &str,
    ) -> Result<Option<Document>, ApiError> {
        let v = self.store.get_document_versioned(kind, id).await?;
        reads.note(kind, id, v.as_ref());
        Ok(v.map(|v| v.document))
    }

    /// Write `commit` as one transaction, rules applied, its writes of
    /// `reads` checked. A conflict ([`StoreError::is_conflict`]) writes
    /// nothing: read again and retry.
    pub(crate) async fn write_checked(
        &self,
        mut commit: Commit,
        reads: &ReadSet,
    ) -> Result<(), StoreError> {
        self.seal(&mut commit);
        let checked = reads.split(&mut commit);
        self.store.commit_checked(commit, checked).await
    }

    /// Complete a claimed job with `commit`, as [`App::write_checked`].
    pub(crate) async fn complete_job_checked(
        &self,
        job_id: i64,
        mut commit: Commit,
        reads: &ReadSet,
    ) -> Result<(), StoreError> {
        self.seal(&mut commit);
        let checked = reads.split(&mut commit);
        self.store
            .complete_job_checked(job_id, commit, checked)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, id: &str, n: i64) -> Document {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Document {
            kind: kind.into(),
            id: id.into(),
            patient_id: None,
            status: None,
            owner: None,
            created_at: t,
            updated_at: t,
            body: serde_json::json!({ "n": n }),
        }
    }

    #[test]
    fn the_last_write_of_each_read_document_is_checked_at_its_read_version() {
        let mut reads = ReadSet::default();
        reads
            .0
            .insert(("pathway_instance".into(), "i".into()), Some(3));
        reads.0.insert(("Task".into(), "t".into()), None);
        let mut c = Commit {
            documents: vec![
                doc("pathway_instance", "i", 1),
                doc("Task", "other", 0),
                doc("pathway_instance", "i", 2),
                doc("Task", "t", 5),
            ],
            ..Commit::default()
        };
        let checked = reads.split(&mut c);
        assert_eq!(c.documents, vec![doc("Task", "other", 0)]);
        assert_eq!(checked.len(), 2);
        assert_eq!(checked[0].document, doc("pathway_instance", "i", 2));
        assert_eq!(checked[0].expected, Some(3));
        assert_eq!(checked[1].document, doc("Task", "t", 5));
        assert_eq!(checked[1].expected, None);
    }
}
