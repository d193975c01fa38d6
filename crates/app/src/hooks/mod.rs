//! CDS Hooks use cases: discovery, a hook call answered from the risk
//! precomputed at ingest (or computed from prefetch), and feedback.
//!
//! One service per served model and hook (`{model_id}-{hook}`). A call is:
//! verify the client JWT, parse the body, find the risk (fresh precomputed
//! `latest_risk` > prefetch > stored state), let the policy decide at this
//! hook, render the card, record it (Document kind `card`) and return it
//! unless the stage keeps it silent. Feedback is stored per card and an
//! override with a coded reason snoozes the alert.

mod card;
mod config;
mod feedback;
mod fetch;
mod issuers;
mod orders;
mod risk;

pub(crate) use card::{memory_doc, memory_from_doc};

use fetch::Fetched;
use orders::Drafted;
use risk::Risk;

pub use config::{HookConfig, HookConfigError, DEMO_ISSUER};
pub use issuers::{Issuers, DEFAULT_JWKS_MIN_REFETCH, DEFAULT_JWKS_TIMEOUT};

use crate::pipeline::LATEST_RISK;
use crate::scoring::{latest_id, Scheduled};
use crate::{ApiError, App};
use bedside_cds::{
    parse_feedback, parse_hook_request, render_cards, CardInput, CdsResponse, Coding, HookRequest,
    JwtVerifier, ModelInfo, Outcome, PathwaySuggestion, ServiceSpec, Tier,
};
use bedside_core::{Instant, PatientRef, PatientState, Probability};
use bedside_models::{Model, Prediction};
use bedside_policy::facts_from_state;
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
    /// Fetches trusted issuers' JWK Sets on demand.
    keys: issuers::KeyFetcher,
    /// Service id -> (index into `App::models`, hook): `<use case>-<hook>`
    /// for a model served by a use case, `<model id>-<hook>` for every
    /// model (still answered, listed only for models without a use case).
    services: BTreeMap<String, (usize, &'static str)>,
    /// What discovery lists: service id, model index, hook and the use case.
    listed: Vec<(
        String,
        usize,
        &'static str,
        Option<Arc<bedside_usecase::UseCase>>,
    )>,
    /// Risks computed at the hook from a stored state, by (model id,
    /// patient) with the state's store version: a prediction is a pure
    /// function of the model and the state, so while the version is
    /// unchanged the same call would compute the same prediction (with
    /// its TreeSHAP factors, the dominant cost of a call).
    scored: std::sync::Mutex<hashlink::LruCache<(String, String), (i64, Prediction)>>,
    /// The client for EHR FHIR servers (prefetch the client did not send).
    ehr: reqwest::Client,
}

/// Hook-time predictions memoised at most.
const SCORED_MEMO: usize = 10_000;

impl HookRuntime {
    /// Build the service table. Loud when JWT verification is off.
    pub fn new(
        config: &HookConfig,
        models: &[Scheduled],
        use_cases: &crate::use_cases::UseCases,
    ) -> Self {
        if config.insecure_skip_auth {
            tracing::warn!(
                "CDS Hooks JWT verification is OFF (insecure_skip_auth): any caller can request cards. Development only."
            );
        }
        let mut services = BTreeMap::new();
        let mut listed = Vec::new();
        for (i, sched) in models.iter().enumerate() {
            if sched.model.is_none() {
                continue;
            }
            // A shadow challenger is never shown: only a use case's
            // primary model answers under the use case's id.
            let uc = use_cases
                .for_model(sched.id())
                .filter(|uc| !uc.policy.shadow_models.iter().any(|m| m == sched.id()));
            for hook in HOOKS {
                let model_id = format!("{}-{hook}", sched.id());
                services.insert(model_id.clone(), (i, hook));
                match uc {
                    Some(uc) => {
                        let id = format!("{}-{hook}", uc.id);
                        if !services.contains_key(&id) {
                            services.insert(id.clone(), (i, hook));
                            listed.push((id, i, hook, Some(uc.clone())));
                        }
                    }
                    None => listed.push((model_id, i, hook, None)),
                }
            }
        }
        Self {
            verifier: JwtVerifier::new(config.trusted.clone()),
            keys: issuers::KeyFetcher::new(config.jwks_timeout, config.jwks_min_refetch),
            config: config.clone(),
            services,
            listed,
            scored: std::sync::Mutex::new(hashlink::LruCache::new(SCORED_MEMO)),
            ehr: fetch::client(config.ehr_timeout),
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

/// What a call knows besides its risk: the orders being drafted and a
/// note when the EHR did not provide all data.
pub(super) struct CallContext {
    drafted: Drafted,
    note: Option<String>,
}

/// The path of a service below the public URL.
fn service_path(service_id: &str) -> String {
    format!("/cds-services/{service_id}")
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
            "{}{}",
            self.config.public_url.trim_end_matches('/'),
            service_path(service_id)
        )
    }

    /// `GET /cds-services`: one service per served model and hook.
    pub fn cds_discovery(&self) -> Value {
        let mut specs = Vec::new();
        for (id, i, hook, uc) in &self.hooks.listed {
            let Some(sched) = self.models.get(*i) else {
                continue;
            };
            if let Some(uc) = uc {
                let mut spec = ServiceSpec::new(
                    id,
                    hook,
                    &format!("{} at {hook}", uc.name),
                    &uc.hook_description(hook),
                );
                spec.usage_requirements = Some(
                    "Send a JWT signed by a trusted issuer; prefetch improves freshness when Bedside has not ingested the patient.".into(),
                );
                specs.push(spec);
                continue;
            }
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

    /// Verify the hook JWT of a call to the endpoint at `paths` (below the
    /// public URL, or the issuer's own `public_url`): 401 with the reason.
    async fn check_token(
        &self,
        authorization: Option<&str>,
        paths: &[String],
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
        let endpoint = bedside_cds::Endpoint {
            base: &self.config.public_url,
            paths,
        };
        self.hooks
            .keys
            .verify(&self.hooks.verifier, token, endpoint, now)
            .await
            .map(|_| ())
            .map_err(|e| unauthorized(e.to_string()))
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
        self.check_token(authorization, &[service_path(service_id)], now)
            .await?;
        let mut req = parse_hook_request(body, Some(hook))
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
        let fetched = self.fetch_missing_prefetch(&mut req).await;
        let Some(mut risk) = self
            .risk_for(sched, model, &pid, &req, &fetched, now)
            .await?
        else {
            return Ok(CdsResponse::empty());
        };
        tracing::debug!(service = service_id, patient = %pseudonym(&pid), source = ?risk.source, "risk found");
        // An order being drafted is an action under way (policy facts, at
        // the call) and is never suggested again (`orders`).
        let drafted = Drafted::of(&req, self.ingestor.map());
        if drafted.orders > 0 {
            tracing::debug!(service = service_id, orders = drafted.orders, events = ?drafted.events, "draft orders read");
        }
        for ev in &drafted.events {
            risk.facts.events.entry(ev.clone()).or_default().push(now);
        }
        let context = CallContext {
            drafted,
            note: fetched.note(),
        };
        let on_record = risk.events.clone();
        let mut resp = self
            .decide_and_render(sched, model, hook, &pid, &req, &context, risk, now, started)
            .await?;
        // At order-sign: what the draft lacks, by the use case's rules.
        if hook == "order-sign" {
            if let Some(u) = self.use_cases.for_model(sched.id()) {
                for r in context.drafted.lacking(&u.card.draft_requires, &on_record) {
                    tracing::info!(service = service_id, patient = %pseudonym(&pid), "order-sign: the draft lacks what a use case rule requires");
                    resp.cards.push(orders::lack_card(r, u));
                }
            }
        }
        Ok(resp)
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
