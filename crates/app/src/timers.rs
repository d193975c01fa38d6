//! Timer jobs: claim the due `pathway_timer` jobs and fire each with its
//! effects in one `complete_job` transaction, so with several replicas a
//! timer fires once; a claim of a replica that died runs out after
//! [`TIMER_LEASE_SECS`] and another replica fires the timer. Jobs of
//! different instances run concurrently (a few at a time), jobs of one
//! instance in due order. The wall-clock worker also delivers
//! `bundle-ordered` to running instances whose bundle is in (every few
//! seconds: it reads every running instance).

use crate::audit::{Action, Entity, Event};
use crate::committer::{ReadSet, CONFLICT_RETRIES};
use crate::pathway_rt::{
    parse_instance, parse_instance_text, PATHWAY_INSTANCE, TIMER_CLAIM_BATCH, TIMER_JOB,
    TIMER_LEASE_SECS,
};
use crate::triggers::risk::{actions_rule, actions_time};
use crate::{ApiError, App};
use bedside_core::{Instant, PatientState};
use bedside_pathways::Engine;
use bedside_store::{Commit, DocFilter, DocPage, Job};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Timer jobs of different instances fired at once.
const CONCURRENT_INSTANCES: usize = 4;
/// Worker ticks (250 ms) between two bundle deliveries.
const BUNDLE_EVERY_TICKS: u32 = 8;

/// The AuditEvent written with every fired timer (in the same
/// transaction as the job's completion, so exactly one per fired timer):
/// entity the timer (`urn:bedside:pathway-timer`) with details `instance`,
/// `due_at`, `fired_at` (wall clock), `attempts`, `worker_pid` (the
/// replica that fired it) and `noop` (`true` when the instance no longer
/// waited for it: a cancelled timer's job still runs, harmlessly).
fn fired_audit(job: &bedside_store::Job, noop: bool) -> Event {
    let ms = |t: Instant| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Event::activity("pathway-timer-fired", Action::Execute).entity(
        Entity::identifier("urn:bedside:pathway-timer", &text(&job.payload["timer_id"]))
            .detail("instance", text(&job.payload["instance_id"]))
            .detail("due_at", ms(job.due_at))
            .detail("fired_at", ms(chrono::Utc::now()))
            .detail("attempts", job.attempts)
            .detail("worker_pid", std::process::id())
            .detail("noop", noop),
    )
}

impl App {
    async fn load_state(&self, patient_id: &str) -> Result<Option<PatientState>, ApiError> {
        let rows = self.store.load_states(&[patient_id.to_string()]).await?;
        Ok(rows
            .get(patient_id)
            .and_then(|r| bedside_ingest::decode_state(&r.state).ok()))
    }

    /// Fire the due timers (see [`App::fire_due_timers`]), then deliver
    /// `bundle-ordered` to running instances whose bundle is in by `now`.
    /// Returns how many timer jobs this call completed.
    pub async fn run_due_timers(&self, now: Instant) -> Result<usize, ApiError> {
        let fired = self.fire_due_timers(now).await?;
        self.deliver_bundles(now).await?;
        Ok(fired)
    }

    /// Claim due jobs until none is left: fire timers (a job another
    /// replica completed first is skipped), start write-backs. Timers
    /// scheduled by a firing and already due run in the same call.
    pub async fn fire_due_timers(&self, now: Instant) -> Result<usize, ApiError> {
        let mut fired = 0;
        loop {
            let jobs = self
                .store
                .claim_jobs(now, TIMER_CLAIM_BATCH, TIMER_LEASE_SECS)
                .await?;
            if jobs.is_empty() {
                break;
            }
            let mut by_instance: BTreeMap<String, Vec<Job>> = BTreeMap::new();
            for job in jobs {
                if job.kind == crate::writeback::WRITEBACK_JOB {
                    self.spawn_writeback(job);
                } else if job.kind == TIMER_JOB {
                    let inst = job.payload["instance_id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    by_instance.entry(inst).or_default().push(job);
                } else {
                    tracing::warn!(job = job.id, kind = %job.kind, "job of an unknown kind: left to its lease");
                }
            }
            let results: Vec<Result<usize, ApiError>> = stream::iter(by_instance.into_values())
                .map(|group| self.fire_group(group))
                .buffer_unordered(CONCURRENT_INSTANCES)
                .collect()
                .await;
            for r in results {
                fired += r?;
            }
        }
        Ok(fired)
    }

    /// Fire the claimed timer jobs of one instance, in due order.
    async fn fire_group(&self, group: Vec<Job>) -> Result<usize, ApiError> {
        let mut fired = 0;
        for job in group {
            // The instance is read for update: a worklist action or another
            // replica changing it in between makes the completion fail
            // whole, and the timer is applied again to what is stored then.
            let mut attempt = 0;
            loop {
                let mut reads = ReadSet::default();
                let mut commit = self.timer_commit(&job, &mut reads).await?;
                // Nothing written: the instance no longer waits for this
                // timer (it moved on, ended, or the timer was cancelled).
                let noop = commit.documents.is_empty();
                self.record(&mut commit, fired_audit(&job, noop));
                match self.complete_job_checked(job.id, commit, &reads).await {
                    Ok(()) => fired += 1,
                    Err(bedside_store::StoreError::Conflict(_)) => {
                        tracing::debug!(job = job.id, "timer completed elsewhere");
                    }
                    Err(e) if e.is_conflict() && attempt < CONFLICT_RETRIES => {
                        attempt += 1;
                        tracing::debug!(job = job.id, attempt, "timer raced another write; again");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
                break;
            }
        }
        Ok(fired)
    }

    /// What firing one timer job writes. The bundle, if ordered before the
    /// timer was due, is delivered first (the data's order of events).
    async fn timer_commit(
        &self,
        job: &bedside_store::Job,
        reads: &mut ReadSet,
    ) -> Result<Commit, ApiError> {
        let mut commit = Commit::default();
        let (Some(inst_id), Some(timer_id)) = (
            job.payload["instance_id"].as_str(),
            job.payload["timer_id"].as_str(),
        ) else {
            tracing::warn!(job = job.id, "timer job without instance_id / timer_id");
            return Ok(commit);
        };
        let Some(doc) = self
            .read_for_update(reads, PATHWAY_INSTANCE, inst_id)
            .await?
        else {
            return Ok(commit);
        };
        if doc.status.as_deref() != Some("running") {
            return Ok(commit);
        }
        let mut inst = parse_instance(&doc)?;
        let Some(def) = self.pathways.definition(&inst.definition_id) else {
            tracing::warn!(definition = %inst.definition_id, "timer for a pathway that is not loaded");
            return Ok(commit);
        };
        let rule = self
            .use_cases
            .for_pathway(&def.id)
            .and_then(|u| actions_rule(u).map(|(c, m)| (c.to_vec(), m.to_string())));
        if let (Some(pid), Some((channels, msg))) = (&doc.patient_id, &rule) {
            if let Some(state) = self.load_state(pid).await? {
                if let Some(tb) = actions_time(&state, inst.started_at, channels) {
                    if tb <= job.due_at {
                        self.send_actions_under_way(
                            &def,
                            msg,
                            &doc.patient_id,
                            &mut inst,
                            tb,
                            &mut commit,
                        )
                        .await?;
                    }
                }
            }
        }
        if !inst.is_running() {
            return Ok(commit);
        }
        let effects = Engine::on_timer(&def, &mut inst, timer_id, job.due_at)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if !effects.is_empty() {
            self.apply_effects(
                &def,
                &doc.patient_id,
                &mut inst,
                effects,
                job.due_at,
                &mut commit,
            )
            .await?;
        }
        Ok(commit)
    }

    /// Send each running instance's use-case actions-under-way message
    /// (the sepsis use case's `bundle-ordered`) when its patient has every
    /// channel of the use case's `actions_under_way` in by `now`.
    ///
    /// An instance is looked at again only when it or its patient's state
    /// changed since it was last looked at and nothing was due ([`BundleChecks`]):
    /// a running instance past its bundle step answers every later
    /// `bundle-ordered` with nothing, and re-reading every such instance's
    /// state every few seconds grew with the number of running instances
    /// until one pass took seconds (the soak's late stalls).
    pub async fn deliver_bundles(&self, now: Instant) -> Result<(), ApiError> {
        let docs = self
            .store
            .list_document_texts(&DocPage {
                filter: DocFilter {
                    kind: PATHWAY_INSTANCE.into(),
                    ..Default::default()
                },
                status_in: vec!["running".into()],
                newest_first: false,
                offset: 0,
            })
            .await?;
        let pids: Vec<String> = docs
            .iter()
            .filter_map(|d| d.patient_id.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let versions = self.store.state_versions(&pids).await?;
        self.bundle_checks
            .retain(docs.iter().map(|d| d.id.as_str()).collect());
        for doc in docs {
            let Some(pid) = doc.patient_id.clone() else {
                continue;
            };
            let Some(&version) = versions.get(&pid) else {
                continue;
            };
            let mark = BundleMark::new(&doc.body, version);
            if self.bundle_checks.unchanged(&doc.id, mark) {
                continue;
            }
            let inst = parse_instance_text(&doc.id, &doc.body)?;
            let Some(def) = self.pathways.definition(&inst.definition_id) else {
                continue;
            };
            let Some((channels, msg)) = self
                .use_cases
                .for_pathway(&def.id)
                .and_then(|u| actions_rule(u).map(|(c, m)| (c.to_vec(), m.to_string())))
            else {
                self.bundle_checks.checked(&doc.id, mark);
                continue;
            };
            // The ingest cache's state when it is the version just read
            // (borrowed: no store read, no decode; under a steady ingest
            // most states change between passes, and decoding each running
            // instance's state every 2 s would cost a second a tick). Else
            // the stored one, which may be newer than `version`: then the
            // mark is older than what was looked at, and the next pass
            // looks again.
            let started_at = inst.started_at;
            let cached = self.ingestor.with_cached_state(&pid, |v, s| {
                (v == version).then(|| actions_time(s, started_at, &channels))
            });
            let tb = match cached.flatten() {
                Some(tb) => tb,
                None => match self.load_state(&pid).await? {
                    Some(state) => actions_time(&state, started_at, &channels),
                    None => continue,
                },
            };
            let Some(tb) = tb else {
                self.bundle_checks.checked(&doc.id, mark);
                continue;
            };
            if tb > now {
                continue;
            }
            // Read for update: the listed text may be older than what a
            // worklist action or another replica wrote since; a conflict
            // leaves the instance to the next pass.
            let mut reads = ReadSet::default();
            let Some(current) = self
                .read_for_update(&mut reads, PATHWAY_INSTANCE, &doc.id)
                .await?
            else {
                continue;
            };
            if current.status.as_deref() != Some("running") {
                continue;
            }
            let mut inst = parse_instance(&current)?;
            let mut commit = Commit::default();
            self.send_actions_under_way(&def, &msg, &doc.patient_id, &mut inst, tb, &mut commit)
                .await?;
            if commit.documents.is_empty() {
                self.bundle_checks.checked(&doc.id, mark);
                continue;
            }
            match self.write_checked(commit, &reads).await {
                Ok(()) => {}
                Err(e) if e.is_conflict() => {
                    tracing::debug!(instance = %doc.id, "bundle delivery raced another write; next pass");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// During replay: run the timers due by the newest event time of the
    /// chunk just committed (the replay clock).
    pub async fn after_replay_chunk(
        &self,
        chunk_max_time: Option<Instant>,
    ) -> Result<(), ApiError> {
        if let Some(t) = chunk_max_time {
            if !self.pathways.definitions.is_empty() {
                self.run_due_timers(t).await?;
            }
            self.governance_tick(t).await?;
        }
        Ok(())
    }

    /// Fire due timers every 250 ms on the wall clock (bundles and the
    /// governance evaluation, when due, every [`BUNDLE_EVERY_TICKS`] ticks)
    /// until the app is dropped by everyone else.
    pub fn spawn_timer_worker(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self);
        drop(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut ticks: u32 = 0;
            loop {
                tick.tick().await;
                let Some(app) = weak.upgrade() else { break };
                let now = chrono::Utc::now();
                let t0 = std::time::Instant::now();
                if let Err(e) = app.fire_due_timers(now).await {
                    tracing::warn!(error = %e, "timer worker");
                }
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(BUNDLE_EVERY_TICKS) {
                    if let Err(e) = app.deliver_bundles(now).await {
                        tracing::warn!(error = %e, "timer worker: bundles");
                    }
                    // Governance evaluation (it runs only when due).
                    if let Err(e) = app.governance_tick(now).await {
                        tracing::warn!(error = %e, "governance evaluation");
                    }
                }
                if t0.elapsed() > std::time::Duration::from_millis(200) {
                    tracing::warn!(
                        ms = t0.elapsed().as_millis() as u64,
                        ticks,
                        "slow timer tick"
                    );
                }
            }
        })
    }
}

/// What an instance and its patient's state were when [`App::deliver_bundles`]
/// last found nothing to deliver: a digest of the instance's stored JSON
/// and the state's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BundleMark {
    instance: u64,
    state_version: i64,
}

impl BundleMark {
    fn new(instance_json: &str, state_version: i64) -> Self {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        instance_json.hash(&mut h);
        BundleMark {
            instance: h.finish(),
            state_version,
        }
    }
}

/// Running instances [`App::deliver_bundles`] need not look at again until
/// they or their patient's state change (per process: another replica's
/// writes change the instance text or the state version, so it looks again).
#[derive(Default)]
pub(crate) struct BundleChecks(std::sync::Mutex<std::collections::HashMap<String, BundleMark>>);

impl BundleChecks {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, BundleMark>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn unchanged(&self, id: &str, mark: BundleMark) -> bool {
        self.lock().get(id) == Some(&mark)
    }
    fn checked(&self, id: &str, mark: BundleMark) {
        self.lock().insert(id.to_string(), mark);
    }
    /// Forget instances that are no longer running.
    fn retain(&self, running: std::collections::HashSet<&str>) {
        self.lock().retain(|k, _| running.contains(k.as_str()));
    }
    /// Instances remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_check_holds_until_the_instance_or_the_state_changes() {
        let checks = BundleChecks::default();
        let mark = BundleMark::new(r#"{"step":"wait"}"#, 3);
        assert!(!checks.unchanged("i1", mark), "nothing checked yet");
        checks.checked("i1", mark);
        assert!(checks.unchanged("i1", mark));
        assert!(!checks.unchanged("i1", BundleMark::new(r#"{"step":"wait"}"#, 4)));
        assert!(!checks.unchanged("i1", BundleMark::new(r#"{"step":"next"}"#, 3)));
        assert!(!checks.unchanged("i2", mark));
        checks.checked("i2", mark);
        checks.retain(["i2"].into_iter().collect());
        assert_eq!(checks.len(), 1);
        assert!(
            !checks.unchanged("i1", mark),
            "a finished instance is forgotten"
        );
        assert!(checks.unchanged("i2", mark));
    }
}
