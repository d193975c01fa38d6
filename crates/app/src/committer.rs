//! Every write of the app goes through one of the functions here (or
//! [`App::commit`], the group committer), and each applies the post-commit
//! rules to the commit before it is written: write-back jobs are queued for
//! every Task, Communication and RiskAssessment in it ([`crate::writeback`]),
//! in the same transaction. A caller cannot forget a rule, since no app
//! code writes to the store by another path.

use crate::{ApiError, App};
use bedside_store::{Commit, StoreError};

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

    /// Complete a claimed job together with `commit`, rules applied.
    pub(crate) async fn complete_job_with(
        &self,
        job_id: i64,
        mut commit: Commit,
    ) -> Result<(), StoreError> {
        self.seal(&mut commit);
        self.store.complete_job(job_id, commit).await
    }
}
