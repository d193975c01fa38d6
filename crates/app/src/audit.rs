//! The audit trail: the AuditEvent and Provenance builders are
//! [`bedside_record::audit`] (re-exported here); the app adds each entry to
//! the commit of the change it records ([`App::record`]), or writes a
//! commit holding just the entry for a read ([`App::record_now`]).

pub use bedside_record::audit::*;

use crate::App;
use bedside_store::Commit;

impl App {
    /// Add an AuditEvent to `commit`, with this instance as its source.
    pub fn record(&self, commit: &mut Commit, ev: Event) {
        commit.audit.push(ev.build(&self.config.public_url));
    }

    /// Write a commit holding just this AuditEvent (for reads, which have
    /// no commit of their own), durably before returning, merged with
    /// concurrent commits (see [`crate::group_commit`]).
    pub async fn record_now(&self, ev: Event) -> Result<(), crate::ApiError> {
        let mut c = Commit::default();
        self.record(&mut c, ev);
        self.commit(c).await
    }
}
