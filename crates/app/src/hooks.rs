//! CDS Hooks use cases: discovery, a hook call answered from the risk
//! precomputed at ingest (or computed from prefetch), and feedback.
//!
//! One service per served model and hook (`{model_id}-{hook}`). A call is:
//! verify the client JWT, parse the body, find the risk (fresh precomputed
//! `latest_risk` > prefetch > stored state), let the policy decide at this
//! hook, render the card, record it (Document kind `card`) and return it
//! unless the stage keeps it silent. Feedback is stored per card and an
//! override with a coded reason snoozes the alert.

mod config;

pub use config::{HookConfig, HookConfigError, SuggestionTemplate, DEMO_ISSUER};

use crate::facts::facts_from_state;
use crate::pipeline::LATEST_RISK;
use crate::scoring::{latest_id, Scheduled};
use crate::{ApiError, App};
use bedside_cds::{
    parse_feedback, parse_hook_request, render_cards, CardInput, CdsResponse, Coding, HookRequest,
    JwtVerifier, ModelInfo, Outcome, PathwaySuggestion, ServiceSpec, Tier,
};
use bedside_core::{Instant, PatientRef, PatientState, Probability};
use bedside_models::{Model, Prediction};
use bedside_policy::{
    AlertMemory, CardKind, Certification, Decision, HookContext, PolicyConfig, PolicyInput, Stage,
    Suppression,
};
use bedside_record::{AlertMemoryRecord, CardRecord, FeedbackRecord, LatestRisk, Record as _};
use bedside_store::{Commit, Document};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Document kinds written here.
pub const CARD: &str = bedside_record::kinds::CARD;
pub const FEEDBACK: &str = bedside_record::kinds::FEEDBACK;
pub const ALERT_MEMORY: &str = bedside_record::kinds::ALERT_MEMORY;

/// The hooks every model answers.
pub const HOOKS: [&str; 5] = [
    "patient-view",
    "order-select",
    "order-sign",
    "encounter-start",
    "encounter-discharge",
];

/// The started CDS Hooks part of the app: the JWT verifier and the
/// service table. Policy and certifications come from the one decision
/// service ([`crate::decisions`]).
pub struct HookRuntime {
    pub config: HookConfig,
    verifier: JwtVerifier,
    /// Service id -> (index into `App::models`, hook).
    services: BTreeMap<String, (usize, &'static str)>,
    /// Risks computed at the hook from a stored state, by (model id,
    /// patient) with the state's store version: a prediction is a pure
    /// function of the model and the state, so while the version is
    /// unchanged the same call would compute the same prediction (with
    /// its TreeSHAP factors, the dominant cost of a call).
    scored: std::sync::Mutex<hashlink::LruCache<(String, String), (i64, Prediction)>>,
}

/// Hook-time predictions memoised at most.
const SCORED_MEMO: usize = 10_000;

impl HookRuntime {
    /// Build the service table. Loud when JWT verification is off.
    pub fn new(config: &HookConfig, models: &[Scheduled]) -> Self {
        if config.insecure_skip_auth {
            tracing::warn!(
                "CDS Hooks JWT verification is OFF (insecure_skip_auth): any caller can request cards. Development only."
            );
        }
        let mut services = BTreeMap::new();
        for (i, sched) in models.iter().enumerate() {
            if sched.model.is_none() {
                continue;
            }
            for hook in HOOKS {
                services.insert(format!("{}-{hook}", sched.id()), (i, hook));
            }
        }
        Self {
            verifier: JwtVerifier::new(config.trusted.clone()),
            config: config.clone(),
            services,
            scored: std::sync::Mutex::new(hashlink::LruCache::new(SCORED_MEMO)),
        }
    }
}

impl HookRuntime {
    /// Whether `id` is one of the served CDS services.
    pub fn has_service(&self, id: &str) -> bool {
        self.services.contains_key(id)
    }
}

pub use crate::decisions::certify_model;

/// Where a risk came from (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RiskSource {
    Precomputed,
    Prefetch,
    StoredState,
}

struct Risk {
    prediction: Prediction,
    /// Policy facts of the patient at the call.
    facts: bedside_policy::PatientFacts,
    /// Event kinds the patient has (suggestions `unless_event`).
    events: std::collections::BTreeSet<String>,
    source: RiskSource,
}

/// One hook call being answered.
struct Call<'a> {
    sched: &'a Scheduled,
    model: &'a Model,
    hook: &'a str,
    pid: &'a str,
    req: &'a HookRequest,
    risk: &'a Risk,
    now: Instant,
    started: std::time::Instant,
}

/// What a call needs of a patient state, taken without copying the state
/// (a state holds the retention window of every channel: copying it was
/// a large share of a call).
struct StateView {
    version: i64,
    last_event: Option<Instant>,
    facts: bedside_policy::PatientFacts,
    events: std::collections::BTreeSet<String>,
}

fn view_of(version: i64, s: &PatientState, now: Instant) -> StateView {
    StateView {
        version,
        last_event: s.last_event,
        facts: facts_from_state(s, now),
        events: s.events.keys().cloned().collect(),
    }
}

impl Risk {
    fn new(prediction: Prediction, view: StateView, source: RiskSource) -> Self {
        Self {
            prediction,
            facts: view.facts,
            events: view.events,
            source,
        }
    }
}

fn unauthorized(reason: impl AsRef<str>) -> ApiError {
    ApiError::new(401, "login", reason, None)
}

fn pseudonym(pid: &str) -> String {
    PatientRef::parse(pid)
        .map(|p| p.pseudonym())
        .unwrap_or_else(|_| "invalid-id".into())
}

impl App {
    fn hook_service(
        &self,
        service_id: &str,
    ) -> Result<(&Scheduled, &Arc<Model>, &'static str), ApiError> {
        let not_found = || {
            ApiError::not_found(format!(
                "no CDS service {service_id:?}; see GET /cds-services"
            ))
        };
        let (i, hook) = *self.hooks.services.get(service_id).ok_or_else(not_found)?;
        let sched = self.models.get(i).ok_or_else(not_found)?;
        let model = sched.model.as_ref().ok_or_else(not_found)?;
        Ok((sched, model, hook))
    }

    /// The full URL of a service (the JWT `aud`).
    pub fn cds_service_url(&self, service_id: &str) -> String {
        format!(
            "{}/cds-services/{service_id}",
            self.config.public_url.trim_end_matches('/')
        )
    }

    /// `GET /cds-services`: one service per served model and hook.
    pub fn cds_discovery(&self) -> Value {
        let mut specs = Vec::new();
        for (id, (i, hook)) in &self.hooks.services {
            let Some(sched) = self.models.get(*i) else {
                continue;
            };
            let name = sched
                .spec
                .name
                .clone()
                .unwrap_or_else(|| sched.id().to_string());
            let mut spec = ServiceSpec::new(
                id,
                hook,
                &format!("{name} at {hook}"),
                &format!(
                    "{} risk within {} h from {name} v{}, precomputed at ingest; {}",
                    sched.spec.outcome.description,
                    sched.spec.prediction.horizon_hours,
                    sched.spec.version,
                    sched.spec.intended_use
                ),
            );
            spec.usage_requirements = Some(
                "Send a JWT signed by a trusted issuer; prefetch improves freshness when Bedside has not ingested the patient.".into(),
            );
            specs.push(spec);
        }
        bedside_cds::discovery(&specs)
    }

    fn check_token(
        &self,
        authorization: Option<&str>,
        auds: &[String],
        now: Instant,
    ) -> Result<(), ApiError> {
        if self.hooks.config.insecure_skip_auth {
            return Ok(());
        }
        let header = authorization
            .ok_or_else(|| unauthorized("missing Authorization: Bearer <JWT> header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| unauthorized("Authorization header is not `Bearer <JWT>`"))?;
        let mut last = None;
        for aud in auds {
            match self.hooks.verifier.verify(token, aud, now) {
                Ok(_) => return Ok(()),
                Err(e @ bedside_cds::AuthError::WrongAudience { .. }) => last = Some(e),
                Err(e) => return Err(unauthorized(e.to_string())),
            }
        }
        Err(unauthorized(
            last.map(|e| e.to_string())
                .unwrap_or_else(|| "no audience".into()),
        ))
    }

    /// `POST /cds-services/{id}`: verify, parse, find the risk, decide,
    /// render, record. Never a 500 on input; no data is 200 with no cards.
    pub async fn cds_call(
        &self,
        service_id: &str,
        authorization: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> Result<CdsResponse, ApiError> {
        let started = std::time::Instant::now();
        let (sched, model, hook) = self.hook_service(service_id)?;
        self.check_token(authorization, &[self.cds_service_url(service_id)], now)?;
        let req = parse_hook_request(body, Some(hook))
            .map_err(|e| ApiError::bad_request(format!("hook request: {e}"), e.field()))?;
        let pid = match req.patient_id() {
            Ok(p) => p.strip_prefix("Patient/").unwrap_or(p).to_string(),
            Err(e) => {
                tracing::info!(service = service_id, reason = %e, "no cards: no patient in the hook context");
                return Ok(CdsResponse::empty());
            }
        };
        if PatientRef::parse(&pid).is_err() {
            tracing::info!(
                service = service_id,
                "no cards: context.patientId is not a FHIR id"
            );
            return Ok(CdsResponse::empty());
        }
        for issue in req.conformance_issues() {
            tracing::debug!(service = service_id, reason = %issue, "hook request omits a required context field");
        }
        let Some(risk) = self.risk_for(sched, model, &pid, &req, now).await? else {
            return Ok(CdsResponse::empty());
        };
        tracing::debug!(service = service_id, patient = %pseudonym(&pid), source = ?risk.source, "risk found");
        self.decide_and_render(sched, model, hook, &pid, &req, risk, now, started)
            .await
    }

    /// The risk to show: the precomputed one when no newer input arrived
    /// since, else computed from prefetch, else from the stored state
    /// (memoised by state version, see `HookRuntime::scored`).
    async fn risk_for(
        &self,
        sched: &Scheduled,
        model: &Model,
        pid: &str,
        req: &HookRequest,
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
            if let Some(p) = self.score(model, pid, &state, RiskSource::Prefetch) {
                return Ok(Some(Risk::new(
                    p,
                    view_of(0, &state, now),
                    RiskSource::Prefetch,
                )));
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

    fn score(
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
    fn state_from_prefetch(&self, pid: &str, req: &HookRequest) -> Option<PatientState> {
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

    async fn load_memory(&self, id: &str) -> Result<(AlertMemory, Option<f64>), ApiError> {
        let Some(doc) = self.store.get_document_shared(ALERT_MEMORY, id).await? else {
            return Ok((AlertMemory::default(), None));
        };
        Ok(memory_from_doc(&doc))
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide_and_render(
        &self,
        sched: &Scheduled,
        model: &Model,
        hook: &str,
        pid: &str,
        req: &HookRequest,
        risk: Risk,
        now: Instant,
        started: std::time::Instant,
    ) -> Result<CdsResponse, ApiError> {
        // One view for the whole call: the policy and the certification
        // made under it (the same service pathways decide with).
        let view = self.decisions.view();
        let policy = &view.policy;
        let mem_id = latest_id(sched.id(), pid);
        let (memory, previous) = self.load_memory(&mem_id).await?;
        let facts = risk.facts.clone();
        let user = req.context.user_id.clone();
        let input = PolicyInput {
            model_id: sched.id().to_string(),
            role: policy.role_of(sched.id()),
            probability: risk.prediction.probability,
            at: now,
            hook: Some(HookContext {
                hook: hook.to_string(),
                user: user.clone(),
            }),
            facts,
        };
        let decision = view.decide(&memory, &input);
        let (tier, shown) = card_tier(policy, &decision, &input, hook);
        let mut commit = Commit::default();
        let mut cards = Vec::new();
        if let Some(tier) = tier {
            let call = Call {
                sched,
                model,
                hook,
                pid,
                req,
                risk: &risk,
                now,
                started,
            };
            cards =
                self.render_and_record(&call, &view, &decision, previous, tier, shown, &mut commit);
        }
        if let (true, Some(_), Some(u), Some(card)) = (shown, tier, &user, cards.first_mut()) {
            let item = card.uuid.clone().unwrap_or_default();
            if let Some(offer) = self
                .pulse_offer_into(sched.id(), u, &item, now, &mut commit)
                .await?
            {
                card.links.push(bedside_cds::Link {
                    label: offer.label,
                    url: offer.url,
                    kind: bedside_cds::LinkType::Absolute,
                    app_context: None,
                    autolaunchable: None,
                });
            }
        }
        let new_previous = if shown && tier.is_some() {
            Some(risk.prediction.probability.get())
        } else {
            previous
        };
        if decision.memory != memory || new_previous != previous {
            commit.documents.push(memory_doc(
                pid,
                sched.id(),
                &decision.memory,
                new_previous,
                now,
            ));
        }
        // Durable before the response: a card the EHR receives is recorded
        // (merged with concurrent calls' records into one transaction).
        if !commit.is_empty() {
            self.commit(commit).await?;
        }
        if !shown {
            if tier.is_some() {
                tracing::info!(patient = %pseudonym(pid), model = sched.id(), hook, "card recorded, not shown (stage or pilot scope)");
            }
            return Ok(CdsResponse::empty());
        }
        // Typed to the end: the route serializes it once.
        Ok(CdsResponse {
            cards,
            ..CdsResponse::default()
        })
    }

    /// Render the card of `tier` and record it (card record and its
    /// AuditEvent) into `commit`.
    #[allow(clippy::too_many_arguments)]
    fn render_and_record(
        &self,
        call: &Call,
        view: &crate::decisions::PolicyView,
        decision: &Decision,
        previous: Option<f64>,
        tier: Tier,
        shown: bool,
        commit: &mut Commit,
    ) -> Vec<bedside_cds::Card> {
        let (sched, pid, risk, hook) = (call.sched, call.pid, call.risk, call.hook);
        let user = call.req.context.user_id.clone();
        // Time-ordered (v7): card records are keyed by it, and random
        // keys put every card on a B-tree page of its own (one more
        // 16 KB page written per card); v7 keys append.
        let card_uuid = uuid::Uuid::now_v7();
        let card_input = self.card_input(
            sched, call.model, view, pid, risk, previous, tier, card_uuid, call.now,
        );
        let cards = render_cards(&card_input);
        let service = format!("{}-{hook}", sched.id());
        let card = CardRecord {
            uuid: card_uuid.to_string(),
            patient_id: pid.to_string(),
            owner: sched.id().to_string(),
            recorded_at: call.now,
            service: service.clone(),
            hook: hook.to_string(),
            hook_instance: call.req.hook_instance.clone(),
            user: user.clone(),
            model_id: risk.prediction.model_id.clone(),
            model_version: risk.prediction.model_version.clone(),
            probability: risk.prediction.probability.get(),
            predicted_at: risk.prediction.at,
            risk_source: format!("{:?}", risk.source),
            tier: format!("{tier:?}").to_lowercase(),
            policy_tier: decision.tier,
            suppressed: decision.suppressed.clone(),
            shown,
            summary: cards.first().map(|c| c.summary.clone()),
            latency_ms: call.started.elapsed().as_secs_f64() * 1000.0,
        };
        commit.documents.push(card.to_document());
        let ev = crate::audit::card_event(
            &service,
            pid,
            &card_uuid.to_string(),
            &risk.prediction,
            tier,
            shown,
            user.as_deref(),
        );
        self.record(commit, ev);
        cards
    }

    #[allow(clippy::too_many_arguments)]
    fn card_input(
        &self,
        sched: &Scheduled,
        model: &Model,
        view: &crate::decisions::PolicyView,
        pid: &str,
        risk: &Risk,
        previous: Option<f64>,
        tier: Tier,
        card_uuid: uuid::Uuid,
        now: Instant,
    ) -> CardInput {
        let cfg = &self.hooks.config;
        let policy = &view.policy;
        let cert = view.certification(sched.id());
        let p = &risk.prediction;
        let base = self.config.public_url.trim_end_matches('/');
        let spec = &sched.spec;
        let interval = p.interval.as_ref().and_then(|i| {
            Some(bedside_cds::Interval {
                lo: Probability::new(i.lo).ok()?,
                hi: Probability::new(i.hi).ok()?,
                level: i.level?,
            })
        });
        let factors = p
            .top_factors
            .iter()
            .map(|f| bedside_cds::Factor {
                name: f.label.clone(),
                value: f.value,
                unit: f.unit.clone(),
                direction: match f.direction {
                    bedside_models::Direction::Raises => bedside_cds::Direction::Raises,
                    bedside_models::Direction::Lowers => bedside_cds::Direction::Lowers,
                },
                contribution: f.probability_contribution,
            })
            .collect();
        let suggestions = if matches!(cert, Certification::Certified(_)) {
            cfg.suggestions
                .iter()
                .filter(|s| {
                    s.unless_event
                        .as_ref()
                        .is_none_or(|ev| !risk.events.contains(ev))
                })
                .map(|s| PathwaySuggestion {
                    label: s.label.clone(),
                    description: s.description.clone(),
                    resource: fill_patient(&s.resource, pid),
                    recommended: s.recommended,
                })
                .collect()
        } else {
            Vec::new()
        };
        CardInput {
            card_uuid,
            model: ModelInfo {
                id: model.id().to_string(),
                version: model.version().to_string(),
                label: spec.name.clone().unwrap_or_else(|| spec.id.clone()),
                outcome: spec.outcome.description.clone(),
                facts_url: format!("{base}/ui/models/{}/{}", model.id(), model.version()),
            },
            probability: p.probability,
            previous: previous.map(Probability::clamped),
            interval,
            factors,
            data_age_minutes: Some(((now - p.at).num_seconds().max(0) as f64) / 60.0),
            stale_after_minutes: cfg.stale_after_minutes,
            base_rate: view.base_rate(sched.id()),
            ood_reasons: p.ood_reasons.clone(),
            promise: Some(cert.statement()),
            tier,
            suggestions,
            override_reasons: policy
                .override_reasons
                .iter()
                .map(|c| Coding::new(&c.system, &c.code, &c.display))
                .collect(),
            topic: Some(Coding::new(
                "https://bedside.dev/cds-topic",
                &policy.condition,
                &format!("{} risk", policy.condition),
            )),
            worklist_url: Some(format!("{base}/ui/worklist")),
            survey_url: None,
        }
    }

    /// `POST /cds-services/{id}/feedback`: store each item against its
    /// card; an override with a coded reason snoozes the patient's alert.
    pub async fn cds_feedback(
        &self,
        service_id: &str,
        authorization: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> Result<Value, ApiError> {
        let (sched, _, _) = self.hook_service(service_id)?;
        let url = self.cds_service_url(service_id);
        self.check_token(authorization, &[format!("{url}/feedback"), url], now)?;
        let fb = parse_feedback(body)
            .map_err(|e| ApiError::bad_request(format!("feedback: {e}"), e.field()))?;
        let mut stored = 0;
        for item in &fb.feedback {
            let card = match self.store.get_document(CARD, &item.card).await? {
                Some(d) => Some(CardRecord::from_document(&d).map_err(|e| {
                    ApiError::internal(format!("feedback: the card it names: {e}"))
                })?),
                None => None,
            };
            let pid = card.as_ref().map(|c| c.patient_id.clone());
            let mut commit = Commit::default();
            let record = FeedbackRecord {
                patient_id: pid.clone(),
                owner: sched.id().to_string(),
                received_at: now,
                service: service_id.to_string(),
                item: item.clone(),
                card_known: card.is_some(),
            };
            commit.documents.push(record.to_document());
            let reason = item
                .override_reason
                .as_ref()
                .and_then(|r| r.reason.as_ref());
            if let (Outcome::Overridden, Some(reason), Some(pid)) = (item.outcome, reason, &pid) {
                let coding = bedside_policy::Coding {
                    system: reason.system.clone(),
                    code: reason.code.clone(),
                    display: reason.display.clone().unwrap_or_default(),
                };
                let by = card.as_ref().and_then(|c| c.user.clone());
                // Snooze and end the running pathway (crate::overrides).
                let done = self
                    .override_alert(sched.id(), pid, coding, by, None, now, &mut commit)
                    .await?;
                if let Some(why) = done.snooze_refused {
                    tracing::info!(patient = %pseudonym(pid), reason = %why, "override stored without a snooze");
                }
            }
            self.record(
                &mut commit,
                crate::audit::feedback_event(service_id, item, card.as_ref()),
            );
            if card.is_none() {
                tracing::info!(
                    service = service_id,
                    "feedback for a card Bedside did not record; stored anyway"
                );
            }
            self.commit(commit).await?;
            stored += 1;
        }
        Ok(json!({ "stored": stored }))
    }

    /// A hook JWT for `aud` signed with the configured demo EHR key (for
    /// `bedside token --demo` and the UI sandbox).
    pub fn demo_token(&self, aud: &str) -> Result<String, ApiError> {
        let Some((iss, key)) = &self.hooks.config.demo_key else {
            return Err(ApiError::new(
                409,
                "not-supported",
                "no demo EHR key is configured (HookConfig::demo)",
                None,
            ));
        };
        bedside_cds::sign_demo_token(key, iss, aud, chrono::Utc::now())
            .map_err(|e| ApiError::internal(format!("demo token: {e}")))
    }
}

/// The alert memory and last shown probability of an `alert_memory`
/// document (one record for hooks and pathways, [`AlertMemoryRecord`]);
/// an unreadable one starts afresh (logged).
pub(crate) fn memory_from_doc(doc: &Document) -> (AlertMemory, Option<f64>) {
    match AlertMemoryRecord::from_document(doc) {
        Ok(r) => (r.memory, r.last_shown_probability),
        Err(e) => {
            tracing::warn!(error = %e, "stored alert memory is unreadable; starting afresh");
            (AlertMemory::default(), None)
        }
    }
}

/// The `alert_memory` document of a patient under a model.
pub(crate) fn memory_doc(
    pid: &str,
    model: &str,
    m: &AlertMemory,
    last_shown: Option<f64>,
    now: Instant,
) -> Document {
    AlertMemoryRecord {
        model_id: model.to_string(),
        patient_id: pid.to_string(),
        updated_at: now,
        memory: m.clone(),
        last_shown_probability: last_shown,
    }
    .to_document()
}

/// The card tier for a decision, and whether it is shown. A model that is
/// not certified alerts on nothing, but at a passive hook it says so in an
/// information card (shown only where the stage shows anything).
fn card_tier(
    policy: &PolicyConfig,
    d: &Decision,
    input: &PolicyInput,
    hook: &str,
) -> (Option<Tier>, bool) {
    match d.card {
        Some(CardKind::Interruptive) if d.escalate => (Some(Tier::Escalate), d.shown),
        Some(CardKind::Interruptive) => (Some(Tier::Interruptive), d.shown),
        Some(CardKind::Passive) => (Some(Tier::Passive), d.shown),
        None if matches!(d.suppressed, Some(Suppression::NotCertified))
            && policy.tiers.passive_hooks.iter().any(|h| h == hook) =>
        {
            (Some(Tier::Passive), stage_shows(policy, input))
        }
        None => (None, false),
    }
}

fn stage_shows(policy: &PolicyConfig, input: &PolicyInput) -> bool {
    match &policy.stage {
        Stage::Silent => false,
        Stage::Live => true,
        Stage::Pilot { units, users } => {
            input.facts.unit.as_ref().is_some_and(|u| units.contains(u))
                || input
                    .hook
                    .as_ref()
                    .and_then(|h| h.user.as_ref())
                    .is_some_and(|u| users.contains(u))
        }
    }
}

/// Replace `{{patientId}}` in every string of a resource template.
fn fill_patient(v: &Value, pid: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{{patientId}}", pid)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_patient(x, pid)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill_patient(x, pid)))
                .collect(),
        ),
        other => other.clone(),
    }
}
