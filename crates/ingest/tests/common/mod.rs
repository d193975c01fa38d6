//! An in-memory `Store` for ingest tests: resources, versions and states
//! with the optimistic state check; the parts ingest does not use answer
//! empty.
#![allow(dead_code)]

use async_trait::async_trait;
use bedside_core::Instant;
use bedside_store::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct MemStore {
    pub resources: Mutex<BTreeMap<ResourceKey, StoredResource>>,
    pub states: Mutex<BTreeMap<String, StateRow>>,
    pub commits: AtomicUsize,
    /// Reads of versions and states (`versions`, `load_states`).
    pub reads: AtomicUsize,
    /// Fail this many commits with Conflict first.
    pub conflicts: AtomicUsize,
}

#[async_trait]
impl Store for MemStore {
    fn engine(&self) -> &'static str {
        "memory"
    }
    async fn commit(&self, c: Commit) -> Result<()> {
        if self.conflicts.load(Ordering::SeqCst) > 0 {
            self.conflicts.fetch_sub(1, Ordering::SeqCst);
            // Simulate another writer: bump every state's version.
            let mut st = self.states.lock().unwrap();
            for w in &c.states {
                let row = st.entry(w.patient_id.clone()).or_insert(StateRow {
                    patient_id: w.patient_id.clone(),
                    version: 0,
                    state: serde_json::to_vec(&bedside_core::PatientState::new(
                        w.patient_id.clone(),
                    ))
                    .unwrap(),
                });
                row.version += 1;
            }
            return Err(StoreError::Conflict("test".into()));
        }
        let mut st = self.states.lock().unwrap();
        for w in &c.states {
            let cur = st.get(&w.patient_id).map(|r| r.version).unwrap_or(0);
            if cur != w.expected {
                return Err(StoreError::Conflict(w.patient_id.clone()));
            }
        }
        for w in c.states {
            st.insert(
                w.patient_id.clone(),
                StateRow {
                    patient_id: w.patient_id,
                    version: w.expected + 1,
                    state: w.state,
                },
            );
        }
        let mut rs = self.resources.lock().unwrap();
        for r in c.resources {
            rs.insert(
                r.key.clone(),
                StoredResource {
                    key: r.key,
                    version: r.version,
                    patient_id: r.patient_id,
                    event_time: r.event_time,
                    body: r.body,
                },
            );
        }
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn versions(&self, keys: &[ResourceKey]) -> Result<BTreeMap<ResourceKey, VersionInfo>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let rs = self.resources.lock().unwrap();
        Ok(keys
            .iter()
            .filter_map(|k| rs.get(k).map(|r| (k.clone(), r.version.clone())))
            .collect())
    }
    async fn get_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        Ok(self.resources.lock().unwrap().get(key).cloned())
    }
    async fn resources_for_patient(
        &self,
        rtype: &str,
        patient_id: &str,
    ) -> Result<Vec<StoredResource>> {
        Ok(self
            .resources
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.key.rtype == rtype && r.patient_id.as_deref() == Some(patient_id))
            .cloned()
            .collect())
    }
    async fn resources_of_type(
        &self,
        _: &str,
        _: Option<&str>,
        _: u32,
    ) -> Result<Vec<StoredResource>> {
        Ok(vec![])
    }
    async fn count_resources(&self) -> Result<BTreeMap<String, u64>> {
        let mut m = BTreeMap::new();
        for k in self.resources.lock().unwrap().keys() {
            *m.entry(k.rtype.clone()).or_insert(0) += 1;
        }
        Ok(m)
    }
    async fn load_states(&self, ids: &[String]) -> Result<BTreeMap<String, StateRow>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let st = self.states.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|i| st.get(i).map(|r| (i.clone(), r.clone())))
            .collect())
    }
    async fn state_versions(&self, ids: &[String]) -> Result<BTreeMap<String, i64>> {
        let st = self.states.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|i| st.get(i).map(|r| (i.clone(), r.version)))
            .collect())
    }
    async fn state_patient_ids(&self) -> Result<Vec<String>> {
        Ok(self.states.lock().unwrap().keys().cloned().collect())
    }
    async fn get_document(&self, _: &str, _: &str) -> Result<Option<Document>> {
        Ok(None)
    }
    async fn list_documents(&self, _: &DocFilter) -> Result<Vec<Document>> {
        Ok(vec![])
    }
    async fn count_documents(&self, _: &DocFilter) -> Result<u64> {
        Ok(0)
    }
    async fn claim_jobs(&self, _: Instant, _: u32, _: i64) -> Result<Vec<Job>> {
        Ok(vec![])
    }
    async fn complete_job(&self, _: i64, _: Commit) -> Result<()> {
        Ok(())
    }
    async fn pending_jobs(&self) -> Result<u64> {
        Ok(0)
    }
    async fn next_due(&self) -> Result<Option<Instant>> {
        Ok(None)
    }
    async fn audit_entries(&self, _: i64, _: u32) -> Result<Vec<AuditEntry>> {
        Ok(vec![])
    }
}
