//! Where a call's risk comes from: the risk precomputed at ingest when no
//! newer input arrived since, else computed from prefetch, else from the
//! stored state (memoised by state version).

use super::*;

/// Where a risk came from (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RiskSource {
    Precomputed,
    Prefetch,
    /// Prefetch Bedside fetched from the EHR's `fhirServer`.
    Fetched,
    StoredState,
}

pub(super) struct Risk {
    pub(super) prediction: Prediction,
    /// Policy facts of the patient at the call.
    pub(super) facts: bedside_policy::PatientFacts,
    /// Event kinds the patient has (suggestions `unless_event`).
    pub(super) events: std::collections::BTreeSet<String>,
    pub(super) source: RiskSource,
}

/// What a call needs of a patient state, taken without copying the state
/// (a state holds the retention window of every channel: copying it
/// would be a large share of a call).
pub(super) struct StateView {
    pub(super) version: i64,
    pub(super) last_event: Option<Instant>,
    pub(super) facts: bedside_policy::PatientFacts,
    pub(super) events: std::collections::BTreeSet<String>,
}

pub(super) fn view_of(version: i64, s: &PatientState, now: Instant) -> StateView {
    StateView {
        version,
        last_event: s.last_event,
        facts: facts_from_state(s, now),
        events: s.events.keys().cloned().collect(),
    }
}

impl Risk {
    fn new(prediction: Prediction, view: StateView, source: RiskSource) -> Self {
        let mut facts = view.facts;
        // The guard's verdict decides too: out of distribution never
        // interrupts (`bedside_policy::decide`, rule 1).
        facts.out_of_distribution = !prediction.in_distribution;
        Self {
            prediction,
            facts,
            events: view.events,
            source,
        }
    }
}

impl App {
    /// The risk to show: the precomputed one when no newer input arrived
    /// since, else computed from prefetch, else from the stored state
    /// (memoised by state version, see `HookRuntime::scored`).
    pub(super) async fn risk_for(
        &self,
        sched: &Scheduled,
        model: &Model,
        pid: &str,
        req: &HookRequest,
        fetched: &Fetched,
        now: Instant,
    ) -> Result<Option<Risk>, ApiError> {
        let transient = |e: bedside_ingest::IngestError| {
            ApiError::new(503, "transient", format!("patient state: {e}"), None)
        };
        // Borrowed from the ingest cache when it is there, else read.
        let mut owned: Option<(i64, PatientState)> = None;
        let view = match self
            .ingestor
            .with_cached_state(pid, |v, s| view_of(v, s, now))
        {
            Some(v) => Some(v),
            None => {
                owned = self
                    .ingestor
                    .state_versioned(pid)
                    .await
                    .map_err(transient)?;
                owned.as_ref().map(|(v, s)| view_of(*v, s, now))
            }
        };
        let prefetch_source = if fetched.keys.is_empty() {
            RiskSource::Prefetch
        } else {
            RiskSource::Fetched
        };
        if let Some(doc) = self
            .store
            .get_document_shared(LATEST_RISK, &latest_id(sched.id(), pid))
            .await?
        {
            match LatestRisk::from_document(&doc).map(|r| r.prediction) {
                Ok(p) => {
                    let fresh = view
                        .as_ref()
                        .and_then(|v| v.last_event)
                        .is_none_or(|last| last <= p.at);
                    if fresh {
                        let view = view.unwrap_or_else(|| view_of(0, &PatientState::new(pid), now));
                        return Ok(Some(Risk::new(p, view, RiskSource::Precomputed)));
                    }
                }
                Err(e) => {
                    tracing::warn!(patient = %pseudonym(pid), error = %e, "stored latest_risk is unreadable; recomputing")
                }
            }
        }
        if let Some(state) = self.state_from_prefetch(pid, req) {
            if let Some(p) = self.score(model, pid, &state, prefetch_source) {
                return Ok(Some(Risk::new(p, view_of(0, &state, now), prefetch_source)));
            }
        }
        if let Some(mut view) = view {
            let key = (sched.id().to_string(), pid.to_string());
            let hit = self
                .hooks
                .scored
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .filter(|(v, _)| *v == view.version)
                .map(|(_, p)| p.clone());
            if let Some(p) = hit {
                return Ok(Some(Risk::new(p, view, RiskSource::StoredState)));
            }
            // A miss scores: the state itself is needed (copied once).
            let (version, state) = match owned {
                Some(o) => o,
                None => match self
                    .ingestor
                    .state_versioned(pid)
                    .await
                    .map_err(transient)?
                {
                    Some(o) => o,
                    None => return Ok(None),
                },
            };
            if version != view.version {
                view = view_of(version, &state, now);
            }
            if let Some(p) = self.score(model, pid, &state, RiskSource::StoredState) {
                self.hooks
                    .scored
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (version, p.clone()));
                return Ok(Some(Risk::new(p, view, RiskSource::StoredState)));
            }
        }
        tracing::info!(
            patient = %pseudonym(pid),
            model = sched.id(),
            "no cards: no precomputed risk, no usable prefetch and no ingested data for this patient"
        );
        Ok(None)
    }

    pub(super) fn score(
        &self,
        model: &Model,
        pid: &str,
        state: &PatientState,
        source: RiskSource,
    ) -> Option<Prediction> {
        let at = state.last_event?;
        match model.predict(state, at) {
            Ok(prediction) => Some(prediction),
            Err(e) => {
                tracing::warn!(patient = %pseudonym(pid), error = %e, ?source, "scoring at the hook failed");
                None
            }
        }
    }

    /// A fresh state from the prefetched resources (Bundles are unpacked);
    /// `None` when nothing usable was prefetched. Resources that do not
    /// parse or map are skipped (their path is logged, not their values).
    pub(super) fn state_from_prefetch(&self, pid: &str, req: &HookRequest) -> Option<PatientState> {
        let mut state = PatientState::new(pid);
        let mut applied = 0usize;
        for (key, value) in &req.prefetch {
            let Some(v) = value else { continue };
            let resources: Vec<&Value> = if v["resourceType"] == "Bundle" {
                v["entry"]
                    .as_array()
                    .map(|es| es.iter().filter_map(|e| e.get("resource")).collect())
                    .unwrap_or_default()
            } else {
                vec![v]
            };
            for r in resources {
                match bedside_fhir::parse_value(r.clone()) {
                    Ok(parsed) => {
                        match bedside_ingest::apply::apply(&mut state, &parsed, self.ingestor.map())
                        {
                            Ok(_) => applied += 1,
                            Err(e) => {
                                tracing::debug!(prefetch = %key, path = %e.path, "prefetch resource not used")
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(prefetch = %key, error = %e, "prefetch resource does not parse")
                    }
                }
            }
        }
        (applied > 0 && state.last_event.is_some()).then_some(state)
    }
}
