//! [`Ingestor`]: entries -> per-entry outcomes, a store [`Commit`] and the
//! touched patient states, with idempotency by id + version/content.

use crate::apply::{apply_updates, patient_of, updates_for, Change, Update};
use crate::cache::StateCache;
use crate::map::ChannelMap;
use bedside_core::{Instant, PatientState};
use bedside_fhir::{EntryBody, Issue, Method, ParsedEntry, ParsedResource};
use bedside_store::{
    Commit, ResourceKey, ResourceWrite, StateWrite, Store, StoreError, VersionInfo,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// How a set of entries is ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// All or nothing: any rejected entry fails the whole call.
    Atomic,
    /// Each entry on its own (batch, bulk import).
    PerEntry,
}

/// What happened to one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created,
    Updated,
    /// Same content, or a same-or-older version: nothing written or triggered.
    Unchanged,
    Rejected {
        reason: String,
        path: String,
    },
    /// Accepted but not used (e.g. an entry without a resource).
    Ignored {
        info: String,
    },
}

/// The outcome of one entry, with what identifies it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryOutcome {
    pub index: usize,
    pub rtype: Option<String>,
    pub id: Option<String>,
    /// `meta.versionId` as received, if any.
    pub version_id: Option<String>,
    /// Hex SHA-256 of the stored JSON (a stable ETag).
    pub hash: Option<String>,
    pub outcome: Outcome,
    /// Warnings and information found while parsing (R4 deviations).
    pub warnings: Vec<Issue>,
}

/// A patient whose state changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Touched {
    pub patient_id: String,
    /// The state after this ingest.
    pub state: PatientState,
    /// Changed channels and events (`demographics`, `encounters`,
    /// `care_team` for those parts).
    pub changed_channels: Vec<String>,
    /// The newest event time among the changes (else the state's last
    /// event, else the newest `meta.lastUpdated`, else now).
    pub newest_event: Instant,
}

/// The result of [`Ingestor::prepare`]: write `commit` (adding your own
/// documents if you like), then call [`Ingestor::committed`]. Holding it
/// holds the ingest lock of this process: drop it promptly.
pub struct Prepared {
    pub commit: Commit,
    pub outcomes: Vec<EntryOutcome>,
    pub touched: Vec<Touched>,
    /// `(patient_id, version written)` for the cache after commit.
    versions: Vec<(String, i64)>,
    /// `None` when prepared after a [`Pending`], which holds the lock.
    lock: Option<OwnedMutexGuard<()>>,
}

/// A commit on its way to the store (from [`Batch::into_parts`]): until it
/// is known written ([`Ingestor::settle`]), [`Ingestor::prepare_step`]
/// reads its patient states and resource versions instead of the store's,
/// so that preparing the next entries overlaps writing these (a bulk load's
/// two halves, CPU and store, then take turns on two cores instead of
/// waiting for each other). It holds the ingest lock, except inside a
/// [`Batch`] being gathered behind another.
pub struct Pending {
    states: HashMap<String, (i64, PatientState)>,
    versions: HashMap<ResourceKey, VersionInfo>,
    lock: Option<OwnedMutexGuard<()>>,
}

impl Pending {
    /// The patients whose states this commit writes.
    pub fn patients(&self) -> Vec<String> {
        self.states.keys().cloned().collect()
    }
}

/// One step of an offline replay ([`Ingestor::prepare_step`]): what it
/// changed (`touched`, for the caller to read) and a commit that is only
/// written as part of a [`Batch`].
pub struct Step(Prepared);

impl Step {
    /// The patients this step changed, with their states after it.
    pub fn touched(&self) -> &[Touched] {
        &self.0.touched
    }

    /// The prepared step, for callers that add to it (e.g. documents) or
    /// read it; its state writes are not encoded yet.
    pub fn prepared_mut(&mut self) -> &mut Prepared {
        &mut self.0
    }
}

/// Steps gathered into one commit ([`Ingestor::stage`],
/// [`Ingestor::fold`]), behind a commit being written.
pub struct Batch {
    commit: Commit,
    outcomes: Vec<EntryOutcome>,
    pending: Pending,
}

impl Batch {
    /// What the batch will have written: the newest of a chain for
    /// [`Ingestor::prepare_step`].
    pub fn pending(&self) -> &Pending {
        &self.pending
    }

    /// Give the batch the ingest lock its predecessor's
    /// [`Ingestor::settle`] gave back: it may now be written.
    pub fn hold(&mut self, lock: OwnedMutexGuard<()>) {
        self.pending.lock = Some(lock);
    }

    /// Whether it holds the ingest lock (may be written).
    pub fn holds_lock(&self) -> bool {
        self.pending.lock.is_some()
    }

    /// The commit to write (each patient's newest state, encoded now),
    /// the outcomes of its entries (valid once it is written) and its
    /// pending record ([`Ingestor::settle`] or [`Ingestor::abandon`]).
    pub fn into_parts(mut self) -> (Commit, Vec<EntryOutcome>, Pending) {
        for w in &mut self.commit.states {
            if let Some((_, st)) = self.pending.states.get(&w.patient_id) {
                w.state = encode_state(st);
            }
        }
        (self.commit, self.outcomes, self.pending)
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("resources", &self.commit.resources.len())
            .field("states", &self.commit.states.len())
            .field("outcomes", &self.outcomes)
            .field("touched", &self.touched.len())
            .finish()
    }
}

/// Counts and details of one [`Ingestor::ingest`] call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    pub outcomes: Vec<EntryOutcome>,
    pub touched: Vec<Touched>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    pub ignored: usize,
}

impl IngestReport {
    fn from_prepared(p: &Prepared) -> Self {
        let mut r = IngestReport {
            outcomes: p.outcomes.clone(),
            touched: p.touched.clone(),
            ..Default::default()
        };
        for o in &p.outcomes {
            match o.outcome {
                Outcome::Created => r.created += 1,
                Outcome::Updated => r.updated += 1,
                Outcome::Unchanged => r.unchanged += 1,
                Outcome::Rejected { .. } => r.rejected += 1,
                Outcome::Ignored { .. } => r.ignored += 1,
            }
        }
        r
    }
}

/// Why ingest failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Atomic mode: this entry was rejected, so nothing was written.
    #[error("entry {index}: {path}: {reason}")]
    Rejected {
        index: usize,
        path: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored state of patient {patient} is unreadable: {reason}")]
    State { patient: String, reason: String },
}

/// Encode a state for the store (JSON).
pub fn encode_state(s: &PatientState) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

/// Decode a stored state.
pub fn decode_state(bytes: &[u8]) -> Result<PatientState, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// One writer per process over a [`Store`], with a bounded cache of
/// patient states.
pub struct Ingestor {
    store: Arc<dyn Store>,
    map: ChannelMap,
    cache: Mutex<StateCache>,
    writer: Arc<AsyncMutex<()>>,
    /// See [`Ingestor::sole_writer`]; `None` once anything but a step
    /// was prepared.
    sole: Mutex<Option<SoleWrites>>,
}

/// Everything the store holds, for an ingestor that is the only writer of
/// a store that was empty when it opened: the resource versions and the
/// patients of the batches it settled.
#[derive(Default)]
struct SoleWrites {
    versions: HashMap<ResourceKey, VersionInfo>,
    patients: HashSet<String>,
}

struct Candidate<'a> {
    index: usize,
    res: std::borrow::Cow<'a, ParsedResource>,
    key: ResourceKey,
    body: String,
    version: VersionInfo,
}

impl<'a> Candidate<'a> {
    /// The candidate of resource `r` of entry `index` (given an id when it
    /// has none), with its identity, version and warnings recorded in `o`.
    fn new(index: usize, r: &'a ParsedResource, o: &mut EntryOutcome) -> Self {
        let res: std::borrow::Cow<'a, ParsedResource> = if r.id.is_some() {
            std::borrow::Cow::Borrowed(r)
        } else {
            let mut owned = r.clone();
            owned.ensure_id();
            std::borrow::Cow::Owned(owned)
        };
        let body = res.body();
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let key = ResourceKey {
            rtype: res.rtype.clone(),
            id: res.id.clone().unwrap_or_default(),
        };
        let version = VersionInfo {
            version_id: res.meta.version_id.clone(),
            last_updated: res
                .meta
                .last_updated
                .as_ref()
                .map(|l| l.as_str().to_string()),
            hash: hash.clone(),
        };
        o.rtype = Some(key.rtype.clone());
        o.id = Some(key.id.clone());
        o.version_id = version.version_id.clone();
        o.hash = Some(hash);
        o.warnings = res.warnings.clone();
        Candidate {
            index,
            res,
            key,
            body,
            version,
        }
    }
}

/// Is `new` the same as or older than `old`?
fn same_or_older(new: &VersionInfo, old: &VersionInfo) -> bool {
    if new.hash == old.hash {
        return true;
    }
    if let (Some(n), Some(o)) = (&new.version_id, &old.version_id) {
        if let (Ok(n), Ok(o)) = (n.parse::<u64>(), o.parse::<u64>()) {
            return n <= o;
        }
        if n == o {
            return true;
        }
    }
    if let (Some(n), Some(o)) = (&new.last_updated, &old.last_updated) {
        let parse = |s: &str| {
            bedside_fhir::FhirInstant::parse(s)
                .ok()
                .map(|i| i.instant())
        };
        if let (Some(n), Some(o)) = (parse(n), parse(o)) {
            return n <= o;
        }
    }
    false
}

const MAX_ATTEMPTS: usize = 5;

/// The candidates of a call, each with the slot of its entry's outcome.
type Candidates<'a> = Vec<(usize, Candidate<'a>)>;

/// An accepted candidate: its patient, its state updates, and whether it
/// replaces a stored version.
type Accepted<'a> = (Candidate<'a>, Option<String>, Vec<Update>, bool);

impl Ingestor {
    pub fn new(store: Arc<dyn Store>, map: ChannelMap) -> Self {
        Self {
            store,
            map,
            cache: Mutex::new(StateCache::new(10_000)),
            writer: Arc::new(AsyncMutex::new(())),
            sole: Mutex::new(None),
        }
    }

    /// Declare this ingestor the only writer of a store that was empty when
    /// it opened (an offline run's scratch store). The versions and
    /// patients of the batches it settles are then all the store holds:
    /// [`Ingestor::prepare_step`] answers from them instead of asking the
    /// store once per step (the dev cohort's 11,000 steps made as many
    /// queries). Anything else prepared ends it (a write it cannot follow
    /// may come next), and the store is asked again.
    pub fn sole_writer(self) -> Self {
        if let Ok(mut s) = self.sole.lock() {
            *s = Some(SoleWrites::default());
        }
        self
    }
    /// Keep at most `n` patient states in memory (default 10 000).
    pub fn with_cache_capacity(self, n: usize) -> Self {
        if let Ok(mut c) = self.cache.lock() {
            *c = StateCache::new(n);
        }
        self
    }
    pub fn map(&self) -> &ChannelMap {
        &self.map
    }
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Forget cached states (after a `StoreError::Conflict`).
    pub fn invalidate(&self, patients: &[String]) {
        if let Ok(mut c) = self.cache.lock() {
            for p in patients {
                c.remove(p);
            }
        }
    }

    /// After `store.commit(prepared.commit)` succeeded: remember the
    /// written states.
    pub fn committed(&self, prepared: &Prepared) {
        if let Ok(mut c) = self.cache.lock() {
            for t in &prepared.touched {
                if let Some((_, v)) = prepared.versions.iter().find(|(p, _)| p == &t.patient_id) {
                    c.put(t.patient_id.clone(), *v, t.state.clone());
                }
            }
        }
    }

    /// [`Ingestor::committed`] that moves the written states into the cache
    /// instead of copying them, and hands back the outcomes: for callers
    /// done with the rest of `prepared`.
    pub fn finish(&self, mut prepared: Prepared) -> Vec<EntryOutcome> {
        let written = take_written(&mut prepared);
        if let Ok(mut c) = self.cache.lock() {
            for (pid, v, st) in written {
                c.put(pid, v, st);
            }
        }
        std::mem::take(&mut prepared.outcomes)
    }

    /// The current state of a patient (cache, else store).
    pub async fn state(&self, patient_id: &str) -> Result<Option<PatientState>, IngestError> {
        Ok(self.state_versioned(patient_id).await?.map(|(_, s)| s))
    }

    /// `f` over the cached state of a patient and its store version,
    /// without copying the state (`None`: not cached; use
    /// [`Ingestor::state_versioned`]). `f` runs under the cache lock: keep
    /// it short.
    pub fn with_cached_state<R>(
        &self,
        patient_id: &str,
        f: impl FnOnce(i64, &PatientState) -> R,
    ) -> Option<R> {
        let mut c = self.cache.lock().ok()?;
        c.peek(patient_id).map(|(v, s)| f(v, s))
    }

    /// The current state of a patient with its store version (which
    /// changes with every write of the state, so it identifies the
    /// content; callers may memoise what they derive from it).
    pub async fn state_versioned(
        &self,
        patient_id: &str,
    ) -> Result<Option<(i64, PatientState)>, IngestError> {
        if let Some(hit) = self.cache.lock().ok().and_then(|mut c| c.get(patient_id)) {
            return Ok(Some(hit));
        }
        let rows = self.store.load_states(&[patient_id.to_string()]).await?;
        match rows.get(patient_id) {
            None => Ok(None),
            Some(r) => {
                let s = decode_state(&r.state).map_err(|e| IngestError::State {
                    patient: patient_id.to_string(),
                    reason: e.to_string(),
                })?;
                // Cached for the next reader (a hook call after a restart
                // read and decoded the stored state on every call). Only
                // on SQLite, where this process is the one writer: on
                // PostgreSQL another replica may write the patient next,
                // and a read must stay a read of the store.
                if self.store.engine() == "sqlite" {
                    if let Ok(mut c) = self.cache.lock() {
                        c.fill(patient_id, r.version, &s);
                    }
                }
                Ok(Some((r.version, s)))
            }
        }
    }

    /// prepare + commit + committed, retrying on a concurrent update.
    pub async fn ingest(
        &self,
        entries: Vec<ParsedEntry>,
        mode: Mode,
    ) -> Result<IngestReport, IngestError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut prepared = self.prepare_slice(&entries, mode).await?;
            let commit = std::mem::take(&mut prepared.commit);
            if commit.is_empty() {
                return Ok(IngestReport::from_prepared(&prepared));
            }
            match self.store.commit(commit).await {
                Ok(()) => {
                    self.committed(&prepared);
                    return Ok(IngestReport::from_prepared(&prepared));
                }
                Err(StoreError::Conflict(what)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(%what, attempt, "state conflict; retrying ingest");
                    let ids: Vec<String> =
                        prepared.versions.iter().map(|(p, _)| p.clone()).collect();
                    self.invalidate(&ids);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Decide each entry's outcome and compute the new patient states,
    /// without writing. See [`Prepared`].
    pub async fn prepare(
        &self,
        entries: Vec<ParsedEntry>,
        mode: Mode,
    ) -> Result<Prepared, IngestError> {
        self.prepare_slice(&entries, mode).await
    }

    /// [`Ingestor::prepare`] over borrowed entries.
    pub async fn prepare_slice(
        &self,
        entries: &[ParsedEntry],
        mode: Mode,
    ) -> Result<Prepared, IngestError> {
        let lock = self.writer.clone().lock_owned().await;
        self.prepare_on(entries, mode, Some(lock), &[], true).await
    }

    /// The next step of a feed that needs the state after every few
    /// entries (an offline replay in event-time steps), prepared after a
    /// chain of pending commits, each after the one before it (the newest
    /// last): a commit being written and the [`Batch`] gathered behind it.
    /// Its commit is written only through a batch ([`Ingestor::stage`],
    /// [`Ingestor::fold`]): the patient states are encoded once per batch,
    /// when it is written ([`Batch::into_parts`]), not at every step.
    pub async fn prepare_step(
        &self,
        entries: &[ParsedEntry],
        mode: Mode,
        chain: &[&Pending],
    ) -> Result<Step, IngestError> {
        let lock = if chain.is_empty() {
            Some(self.writer.clone().lock_owned().await)
        } else {
            None
        };
        let encode = false;
        Ok(Step(
            self.prepare_on(entries, mode, lock, chain, encode).await?,
        ))
    }

    /// Start a [`Batch`] from a step. It holds the ingest lock if the step
    /// was prepared after nothing; else it is given the lock its
    /// predecessor's [`Ingestor::settle`] gives back ([`Batch::hold`]).
    pub fn stage(&self, mut step: Step) -> Batch {
        let mut batch = Batch {
            commit: Commit::default(),
            outcomes: Vec::new(),
            pending: Pending {
                states: HashMap::new(),
                versions: HashMap::new(),
                lock: step.0.lock.take(),
            },
        };
        self.fold(&mut batch, step);
        batch
    }

    /// Add `step`, prepared after `batch` (the newest of its chain), to the
    /// batch: a patient's state is written once, at the version after the
    /// batch's first expected one; a resource's newest version once.
    pub fn fold(&self, batch: &mut Batch, step: Step) {
        let mut prepared = step.0;
        let next = std::mem::take(&mut prepared.commit);
        let commit = &mut batch.commit;
        // The batch's pending states are its written patients.
        for w in next.states {
            if !batch.pending.states.contains_key(&w.patient_id) {
                commit.states.push(w);
            }
        }
        for (pid, v, st) in take_written(&mut prepared) {
            match batch.pending.states.get_mut(&pid) {
                // Already written by this batch: the newer state, at the
                // batch's version (its commit writes the patient once).
                Some(slot) => slot.1 = st,
                None => {
                    batch.pending.states.insert(pid, (v, st));
                }
            }
        }
        for r in &next.resources {
            batch
                .pending
                .versions
                .insert(r.key.clone(), r.version.clone());
        }
        commit.resources.extend(next.resources);
        dedupe_last(&mut commit.resources);
        commit.documents.extend(next.documents);
        dedupe_last_by(&mut commit.documents, |d| (d.kind.clone(), d.id.clone()));
        commit.jobs.extend(next.jobs);
        commit.audit.extend(next.audit);
        batch.outcomes.append(&mut prepared.outcomes);
    }

    /// The pending commit was written: its states go to the cache; returns
    /// the ingest lock (for the next [`Batch`], [`Batch::hold`], or to
    /// drop; `None` only for a batch that was never given it).
    pub fn settle(&self, pending: Pending) -> Option<OwnedMutexGuard<()>> {
        if let Ok(mut sole) = self.sole.lock() {
            if let Some(w) = sole.as_mut() {
                w.patients.extend(pending.states.keys().cloned());
                w.versions.extend(pending.versions.clone());
            }
        }
        if let Ok(mut c) = self.cache.lock() {
            for (pid, (v, st)) in pending.states {
                c.put(pid, v, st);
            }
        }
        pending.lock
    }

    /// The pending commit failed: forget what it would have written.
    pub fn abandon(&self, pending: Pending) {
        self.invalidate(&pending.patients());
    }

    async fn prepare_on(
        &self,
        entries: &[ParsedEntry],
        mode: Mode,
        lock: Option<OwnedMutexGuard<()>>,
        pending: &[&Pending],
        encode: bool,
    ) -> Result<Prepared, IngestError> {
        if encode {
            // Not a step: what it prepares may be written where the
            // settled batches do not show it.
            if let Ok(mut sole) = self.sole.lock() {
                *sole = None;
            }
        }
        // 1. Entries -> candidates (or rejected/ignored outcomes).
        let (mut outcomes, cands) = candidates(entries, mode)?;
        // 2. Idempotency against the store and earlier entries.
        let known = self.known_versions(&cands, pending).await?;
        let accepted = self.accept(cands, known, &mut outcomes, mode)?;
        // 3. Load the states of the patients involved.
        let mut states = self.load_states(&accepted, pending).await?;
        // 4. Apply in entry order; build the commit.
        let (mut commit, changes, newest_meta) = self.apply(accepted, &mut states);
        let (touched, versions) =
            self.write_states(states, changes, &newest_meta, &mut commit, pending, encode);
        Ok(Prepared {
            commit,
            outcomes,
            touched,
            versions,
            lock,
        })
    }

    /// Step 2, the stored versions: those of the store for the candidates'
    /// resources, where a pending commit's versions stand in for the
    /// store's.
    async fn known_versions(
        &self,
        cands: &[(usize, Candidate<'_>)],
        pending: &[&Pending],
    ) -> Result<BTreeMap<ResourceKey, VersionInfo>, IngestError> {
        // The newest pending commit's version of a key stands first.
        let pending_version =
            |k: &ResourceKey| pending.iter().rev().find_map(|p| p.versions.get(k));
        let keys: Vec<ResourceKey> = {
            let mut k: Vec<ResourceKey> = cands.iter().map(|(_, c)| c.key.clone()).collect();
            k.sort();
            k.dedup();
            k
        };
        let (keys, overlay): (Vec<ResourceKey>, Vec<ResourceKey>) =
            keys.into_iter().partition(|k| pending_version(k).is_none());
        let sole: Option<BTreeMap<ResourceKey, VersionInfo>> = match self.sole.lock() {
            Ok(sole) => sole.as_ref().map(|w| {
                keys.iter()
                    .filter_map(|k| w.versions.get(k).map(|v| (k.clone(), v.clone())))
                    .collect()
            }),
            Err(_) => None,
        };
        let mut known: BTreeMap<ResourceKey, VersionInfo> = match sole {
            Some(known) => known,
            None if keys.is_empty() => BTreeMap::new(),
            None => self.store.versions(&keys).await?,
        };
        for k in overlay {
            if let Some(v) = pending_version(&k) {
                known.insert(k.clone(), v.clone());
            }
        }
        Ok(known)
    }

    /// Step 2, the decision per candidate, in entry order: the same or an
    /// older version than `known` (the store's, or an earlier entry's) is
    /// unchanged; otherwise its patient and state updates are read (or it
    /// is rejected) and it is created or updated. Sets `outcomes`.
    fn accept<'a>(
        &self,
        cands: Candidates<'a>,
        mut known: BTreeMap<ResourceKey, VersionInfo>,
        outcomes: &mut [EntryOutcome],
        mode: Mode,
    ) -> Result<Vec<Accepted<'a>>, IngestError> {
        let mut accepted: Vec<Accepted<'a>> = Vec::new();
        for (slot, c) in cands {
            let existing = known.get(&c.key);
            let replace = existing.is_some();
            if existing.is_some_and(|old| same_or_older(&c.version, old)) {
                outcomes[slot].outcome = Outcome::Unchanged;
                continue;
            }
            let mapped = patient_of(&c.res).and_then(|pid| {
                let ups = if pid.is_some() {
                    updates_for(&c.res, &self.map)?
                } else {
                    vec![]
                };
                Ok((pid, ups))
            });
            match mapped {
                Err(rej) => {
                    outcomes[slot].outcome = reject(mode, c.index, rej.path, rej.reason)?;
                }
                Ok((pid, ups)) => {
                    outcomes[slot].outcome = if replace {
                        Outcome::Updated
                    } else {
                        Outcome::Created
                    };
                    known.insert(c.key.clone(), c.version.clone());
                    accepted.push((c, pid, ups, replace));
                }
            }
        }
        Ok(accepted)
    }

    /// Step 3: the states (with their versions) of the patients of
    /// `accepted`: a pending commit's first (not the cache's to put back),
    /// then the cache's (taken out), then the store's; a patient the store
    /// does not know starts empty at version 0.
    async fn load_states(
        &self,
        accepted: &[Accepted<'_>],
        pending: &[&Pending],
    ) -> Result<HashMap<String, (i64, PatientState)>, IngestError> {
        let mut pids: Vec<String> = accepted.iter().filter_map(|a| a.1.clone()).collect();
        pids.sort();
        pids.dedup();
        let mut states: HashMap<String, (i64, PatientState)> = HashMap::new();
        pids.retain(
            |p| match pending.iter().rev().find_map(|pend| pend.states.get(p)) {
                Some(vs) => {
                    states.insert(p.clone(), vs.clone());
                    false
                }
                None => true,
            },
        );
        let mut missing = Vec::new();
        if let Ok(mut cache) = self.cache.lock() {
            for p in &pids {
                match cache.take(p) {
                    Some(vs) => {
                        states.insert(p.clone(), vs);
                    }
                    None => missing.push(p.clone()),
                }
            }
        } else {
            missing = pids.clone();
        }
        if let Ok(sole) = self.sole.lock() {
            if let Some(w) = sole.as_ref() {
                // Patients the store has never seen start empty, unasked.
                missing.retain(|p| {
                    let stored = w.patients.contains(p);
                    if !stored {
                        states.insert(p.clone(), (0, PatientState::new(p.clone())));
                    }
                    stored
                });
            }
        }
        if !missing.is_empty() {
            let rows = self.store.load_states(&missing).await?;
            for p in missing {
                let vs = match rows.get(&p) {
                    Some(r) => {
                        let s = decode_state(&r.state).map_err(|e| IngestError::State {
                            patient: p.clone(),
                            reason: e.to_string(),
                        })?;
                        (r.version, s)
                    }
                    None => (0, PatientState::new(p.clone())),
                };
                states.insert(p, vs);
            }
        }
        Ok(states)
    }

    /// Step 4, apply: the updates of `accepted`, in entry order, to
    /// `states`. Returns the commit with its resource writes (the last per
    /// key), each patient's merged changes, and each changed patient's
    /// newest `meta.lastUpdated`.
    fn apply(
        &self,
        accepted: Vec<Accepted<'_>>,
        states: &mut HashMap<String, (i64, PatientState)>,
    ) -> (Commit, HashMap<String, Change>, HashMap<String, Instant>) {
        let retention = self.map.retention();
        let mut changes: HashMap<String, Change> = HashMap::new();
        let mut newest_meta: HashMap<String, Instant> = HashMap::new();
        let mut commit = Commit::default();
        for (c, pid, ups, replace) in accepted {
            if let Some(p) = &pid {
                if let Some((_, st)) = states.get_mut(p) {
                    let source = format!("{}/{}", c.key.rtype, c.key.id);
                    let ch = apply_updates(st, &source, ups, retention, replace);
                    if !ch.is_empty() {
                        if let Some(t) = c.res.meta.last_updated.as_ref().map(|l| l.instant()) {
                            let e = newest_meta.entry(p.clone()).or_insert(t);
                            if t > *e {
                                *e = t;
                            }
                        }
                        changes.entry(p.clone()).or_default().merge(ch);
                    }
                }
            }
            let event_time = c.res.resource.clinical_time();
            commit.resources.push(ResourceWrite {
                key: c.key,
                version: c.version,
                patient_id: pid,
                event_time,
                body: c.body,
            });
        }
        dedupe_last(&mut commit.resources);
        (commit, changes, newest_meta)
    }

    /// Step 4, the states: a changed patient's state goes into `commit`
    /// (at the next version) and into the touched list; an unchanged one
    /// that came from the store or the cache goes back to the cache.
    /// Returns the touched patients and the versions their states are
    /// written at, in patient order.
    fn write_states(
        &self,
        states: HashMap<String, (i64, PatientState)>,
        mut changes: HashMap<String, Change>,
        newest_meta: &HashMap<String, Instant>,
        commit: &mut Commit,
        pending: &[&Pending],
        encode: bool,
    ) -> (Vec<Touched>, Vec<(String, i64)>) {
        let from_pending = |p: &str| pending.iter().any(|pend| pend.states.contains_key(p));
        let mut touched = Vec::new();
        let mut versions = Vec::new();
        let mut untouched = Vec::new();
        let mut sorted: Vec<(String, (i64, PatientState))> = states.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (pid, (version, state)) in sorted {
            match changes.remove(&pid) {
                Some(ch) => {
                    commit.states.push(StateWrite {
                        patient_id: pid.clone(),
                        expected: version,
                        // A step's states are encoded when its batch is
                        // written (`Batch::into_parts`).
                        state: if encode {
                            encode_state(&state)
                        } else {
                            Vec::new()
                        },
                    });
                    versions.push((pid.clone(), version + 1));
                    let newest_event = ch
                        .newest
                        .or(state.last_event)
                        .or_else(|| newest_meta.get(&pid).copied())
                        .unwrap_or_else(chrono::Utc::now);
                    touched.push(Touched {
                        patient_id: pid,
                        state,
                        changed_channels: ch.changed,
                        newest_event,
                    });
                }
                None if from_pending(&pid) => {}
                None => untouched.push((pid, version, state)),
            }
        }
        if let Ok(mut cache) = self.cache.lock() {
            for (pid, version, state) in untouched {
                if version > 0 {
                    cache.put(pid, version, state);
                }
            }
        }
        (touched, versions)
    }
}

/// Step 1: entries -> candidates (or rejected/ignored outcomes). Returns
/// one outcome per entry, and the candidates with the slot of their
/// outcome. In [`Mode::Atomic`] the first rejected entry fails the call.
fn candidates(
    entries: &[ParsedEntry],
    mode: Mode,
) -> Result<(Vec<EntryOutcome>, Candidates<'_>), IngestError> {
    let mut outcomes: Vec<EntryOutcome> = Vec::with_capacity(entries.len());
    let mut cands: Candidates<'_> = Vec::new();
    for e in entries {
        let mut o = EntryOutcome {
            index: e.index,
            rtype: None,
            id: None,
            version_id: None,
            hash: None,
            outcome: Outcome::Unchanged,
            warnings: vec![],
        };
        let method = e.request.as_ref().map(|r| r.method);
        let unsupported = match method {
            Some(Method::Get | Method::Head | Method::Patch | Method::Delete) => method,
            _ => None,
        };
        match (&e.body, unsupported) {
            (EntryBody::Invalid(err), _) => {
                o.outcome = reject(mode, e.index, err.path.clone(), err.reason.clone())?;
            }
            (_, Some(m)) => {
                let path = format!("Bundle.entry[{}].request.method", e.index);
                let reason = format!("{m:?} entries are not supported by Bedside ingest");
                o.outcome = reject(mode, e.index, path, reason)?;
            }
            (EntryBody::Empty, None) => {
                o.outcome = Outcome::Ignored {
                    info: "entry without a resource".into(),
                };
            }
            (EntryBody::Resource(r), None) => {
                cands.push((outcomes.len(), Candidate::new(e.index, r, &mut o)));
            }
        }
        outcomes.push(o);
    }
    Ok((outcomes, cands))
}

/// A rejected entry: the error that fails the call in [`Mode::Atomic`],
/// else its outcome.
fn reject(mode: Mode, index: usize, path: String, reason: String) -> Result<Outcome, IngestError> {
    if mode == Mode::Atomic {
        return Err(IngestError::Rejected {
            index,
            path,
            reason,
        });
    }
    Ok(Outcome::Rejected { reason, path })
}

/// The touched states of `prepared` with the versions its commit writes
/// them at (moved out).
fn take_written(prepared: &mut Prepared) -> impl Iterator<Item = (String, i64, PatientState)> {
    let versions = std::mem::take(&mut prepared.versions);
    std::mem::take(&mut prepared.touched)
        .into_iter()
        .filter_map(move |t| {
            let (_, v) = versions.iter().find(|(p, _)| p == &t.patient_id)?;
            Some((t.patient_id, *v, t.state))
        })
}

/// Keep only the last write per key (the same resource twice in one call).
fn dedupe_last(writes: &mut Vec<ResourceWrite>) {
    dedupe_last_by(writes, |w| w.key.clone());
}

/// Keep only the last of `items` per `key`, in order.
fn dedupe_last_by<T, K: std::hash::Hash + Eq>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut last: HashMap<K, usize> = HashMap::new();
    for (i, w) in items.iter().enumerate() {
        last.insert(key(w), i);
    }
    if last.len() == items.len() {
        return;
    }
    let mut i = 0;
    items.retain(|w| {
        let keep = last.get(&key(w)) == Some(&i);
        i += 1;
        keep
    });
}
