//! Deciding at a hook and the card: the policy view of the call decides,
//! the card is rendered and recorded (card record, AuditEvent, alert
//! memory) before it is returned.

use super::*;
use crate::committer::{ReadSet, CONFLICT_RETRIES};
use bedside_store::DocFilter;

/// One hook call being answered.
pub(super) struct Call<'a> {
    sched: &'a Scheduled,
    model: &'a Model,
    hook: &'a str,
    pid: &'a str,
    req: &'a HookRequest,
    context: &'a CallContext,
    risk: &'a Risk,
    /// What the card shows besides the risk, read once per call.
    extras: &'a CardExtras,
    now: Instant,
    started: std::time::Instant,
}

/// What a card shows besides the prediction: the patient's earlier risk
/// (the trend) and the pathway already running, read from the store when
/// a card is rendered.
#[derive(Debug, Default)]
pub(super) struct CardExtras {
    history: Vec<bedside_cds::EarlierRisk>,
    open_task: Option<bedside_cds::OpenTask>,
    /// The process id of the use case's pathway running for the patient.
    running_pathway: Option<String>,
}

/// How far before a prediction the trend looks (hours).
const TREND_HOURS: [f64; 2] = [6.0, 24.0];
/// How far from 6 h / 24 h an earlier prediction may be and still stand
/// for it (hours).
const TREND_SLACK_HOURS: f64 = 2.0;
/// Task statuses that are still open.
const OPEN_TASK: [&str; 5] = ["draft", "requested", "received", "accepted", "in-progress"];

impl App {
    pub(super) async fn load_memory(
        &self,
        id: &str,
    ) -> Result<(AlertMemory, Option<f64>), ApiError> {
        let Some(doc) = self.store.get_document_shared(ALERT_MEMORY, id).await? else {
            return Ok((AlertMemory::default(), None));
        };
        Ok(memory_from_doc(&doc))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn decide_and_render(
        &self,
        sched: &Scheduled,
        model: &Model,
        hook: &str,
        pid: &str,
        req: &HookRequest,
        context: &CallContext,
        risk: Risk,
        now: Instant,
        started: std::time::Instant,
    ) -> Result<CdsResponse, ApiError> {
        // One view for the whole call: the policy and the certification
        // made under it (the same service pathways decide with).
        let view = self.decisions.view_for(sched.id());
        let policy = &view.policy;
        let mem_id = latest_id(sched.id(), pid);
        let user = req.context.user_id.clone();
        // Most calls change no alert memory and decide on the cached one. A
        // call that changes it decides again on the memory read for update
        // and writes it compare-and-set, so two calls for one patient at
        // once (on any replica) cannot both open the same alert.
        let mut for_update = false;
        let mut attempt = 0;
        let mut extras: Option<CardExtras> = None;
        let (cards, shown, tier) = loop {
            let mut reads = ReadSet::default();
            let (memory, previous) = if for_update {
                match self
                    .read_for_update(&mut reads, ALERT_MEMORY, &mem_id)
                    .await?
                {
                    Some(d) => memory_from_doc(&d),
                    None => (AlertMemory::default(), None),
                }
            } else {
                self.load_memory(&mem_id).await?
            };
            let input = PolicyInput {
                model_id: sched.id().to_string(),
                role: policy.role_of(sched.id()),
                probability: risk.prediction.probability,
                at: now,
                hook: Some(HookContext {
                    hook: hook.to_string(),
                    user: user.clone(),
                }),
                facts: risk.facts.clone(),
            };
            let decision = view.decide(&memory, &input);
            let (tier, shown) = card_tier(policy, &decision, &input, hook);
            // Training before go-live: an untrained clinician gets the
            // passive card, with the training link (crate::training).
            let (tier, training_url) = self
                .training_gate(sched.id(), user.as_deref(), tier)
                .await?;
            let new_previous = if shown && tier.is_some() {
                Some(risk.prediction.probability.get())
            } else {
                previous
            };
            let changes_memory = decision.memory != memory || new_previous != previous;
            if changes_memory && !for_update {
                for_update = true;
                continue;
            }
            let mut commit = Commit::default();
            let mut cards = Vec::new();
            if tier.is_some() && extras.is_none() {
                extras = Some(self.card_extras(sched, pid, &risk.prediction).await?);
            }
            if let (Some(tier), Some(extras)) = (tier, &extras) {
                let call = Call {
                    sched,
                    model,
                    hook,
                    pid,
                    req,
                    context,
                    risk: &risk,
                    extras,
                    now,
                    started,
                };
                cards = self.render_and_record(
                    &call,
                    &view,
                    &decision,
                    previous,
                    tier,
                    shown,
                    &mut commit,
                );
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
                        autolaunchable: Some(false),
                    });
                }
            }
            if let (Some(url), Some(card)) = (&training_url, cards.first_mut()) {
                card.links.push(bedside_cds::Link {
                    label: "Training required: complete it to receive this model's alerts".into(),
                    url: url.clone(),
                    kind: bedside_cds::LinkType::Absolute,
                    app_context: None,
                    autolaunchable: Some(false),
                });
            }
            if !changes_memory {
                // Durable before the response: a card the EHR receives is
                // recorded (merged with concurrent calls' records into one
                // transaction).
                if !commit.is_empty() {
                    self.commit(commit).await?;
                }
                break (cards, shown, tier);
            }
            commit.documents.push(memory_doc(
                pid,
                sched.id(),
                &decision.memory,
                new_previous,
                now,
            ));
            match self.write_checked(commit, &reads).await {
                Ok(()) => break (cards, shown, tier),
                Err(e) if e.is_conflict() && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tracing::debug!(patient = %pseudonym(pid), attempt, "alert memory raced another call; deciding again");
                }
                Err(e) => return Err(e.into()),
            }
        };
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
    pub(super) fn render_and_record(
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
        let mut card_input = self.card_input(
            sched,
            call.model,
            view,
            pid,
            risk,
            call.context,
            call.extras,
            previous,
            tier,
            card_uuid,
            call.now,
        );
        // Besides the guard's, the reasons arise only at or above the
        // threshold.
        if tier == Tier::Passive {
            card_input.passive_reason =
                passive_reason(decision, &view.policy.tiers.interruptive_hooks, call.now);
        }
        let mut cards = render_cards(&card_input);
        if let (Some(u), Some(card)) = (self.use_cases.for_model(sched.id()), cards.first_mut()) {
            card.links
                .extend(use_case_links(u, &self.config.public_url, pid));
        }
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
            suggestions: Some(
                cards
                    .iter()
                    .flat_map(|c| c.suggestions.iter().filter_map(|s| s.uuid.clone()))
                    .collect(),
            ),
            override_reasons: Some(
                cards
                    .iter()
                    .flat_map(|c| c.override_reasons.iter())
                    .map(|r| format!("{}|{}", r.system, r.code))
                    .collect(),
            ),
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

    /// The patient's stored risk under `model` about 6 h and 24 h before
    /// `at` (the trend cards and Tasks show).
    pub(crate) async fn earlier_risks(
        &self,
        model: &str,
        pid: &str,
        at: Instant,
    ) -> Result<Vec<bedside_cds::EarlierRisk>, ApiError> {
        let oldest = TREND_HOURS.iter().copied().fold(0.0, f64::max) + TREND_SLACK_HOURS;
        let since = at - chrono::Duration::minutes((oldest * 60.0) as i64);
        let earlier = self
            .store
            .list_documents(&DocFilter {
                kind: crate::pipeline::PREDICTION.into(),
                patient_id: Some(pid.to_string()),
                status: None,
                owner: Some(model.to_string()),
                since: Some(since),
                limit: None,
            })
            .await?;
        let points: Vec<(f64, Probability)> = earlier
            .iter()
            .filter_map(|d| LatestRisk::from_document(d).ok())
            .filter(|r| r.prediction.model_id == model && r.prediction.at < at)
            .map(|r| {
                let h = (at - r.prediction.at).num_seconds() as f64 / 3600.0;
                (h, r.prediction.probability)
            })
            .collect();
        Ok(trend_points(&points))
    }

    /// The trend and the running pathway of a patient, for the card.
    pub(super) async fn card_extras(
        &self,
        sched: &Scheduled,
        pid: &str,
        p: &Prediction,
    ) -> Result<CardExtras, ApiError> {
        let history = self.earlier_risks(sched.id(), pid, p.at).await?;
        let mut out = CardExtras {
            history,
            ..CardExtras::default()
        };
        let Some(def) = self
            .use_cases
            .for_model(sched.id())
            .and_then(|u| self.pathway_of(u))
        else {
            return Ok(out);
        };
        let Some((_, inst)) = self.running_instance(pid, &def.id, None).await? else {
            return Ok(out);
        };
        out.running_pathway = Some(def.id.clone());
        let tasks = self
            .store
            .list_documents(&DocFilter {
                kind: bedside_record::kinds::TASK.into(),
                patient_id: Some(pid.to_string()),
                status: None,
                owner: None,
                since: Some(inst.started_at),
                limit: None,
            })
            .await?;
        out.open_task = tasks
            .into_iter()
            .filter(|d| d.status.as_deref().is_some_and(|s| OPEN_TASK.contains(&s)))
            .filter_map(|d| bedside_record::TaskRecord::from_document(d).ok())
            .rfind(|t| t.instance_id() == Some(inst.id.as_str()))
            .map(|t| open_task(t.resource()));
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn card_input(
        &self,
        sched: &Scheduled,
        model: &Model,
        view: &crate::decisions::PolicyView,
        pid: &str,
        risk: &Risk,
        context: &CallContext,
        extras: &CardExtras,
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
        let uc = self.use_cases.for_model(sched.id());
        let suggestions = if matches!(cert, Certification::Certified(_)) {
            uc.map(|u| u.card.suggestions.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|s| {
                    s.unless_event
                        .as_ref()
                        .is_none_or(|ev| !risk.events.contains(ev))
                        && !context.drafted.covers(s)
                        && !starts_running(&s.resource, extras.running_pathway.as_deref())
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
            wording: uc.map(|u| bedside_cds::Wording {
                statement: u.card.statement.clone(),
                action: u.card.action.clone(),
                passive_action: u.card.passive_action.clone(),
                escalation_action: u.card.escalation_action.clone(),
            }),
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
            history: extras.history.clone(),
            interval,
            factors,
            explanation_note: p.explanation_note().map(str::to_string),
            open_task: extras.open_task.clone(),
            passive_reason: None,
            data_age_minutes: Some(((now - p.at).num_seconds().max(0) as f64) / 60.0),
            stale_after_minutes: cfg.stale_after_minutes,
            base_rate: view.base_rate(sched.id()),
            ood_reasons: p.ood_reasons.clone(),
            promise: Some(card_promise(
                &cert,
                uc.map(|u| u.card.statement.as_str()),
                p.horizon_hours,
            )),
            tier,
            suggestions,
            override_reasons: policy
                .override_reasons
                .iter()
                .map(|c| Coding::new(&c.system, &c.code, &c.display))
                .collect(),
            topic: Some(match uc {
                Some(u) => Coding::new("https://bedside.dev/use-case", &u.id, &u.name),
                None => Coding::new(
                    "https://bedside.dev/cds-topic",
                    &policy.condition,
                    &format!("{} risk", policy.condition),
                ),
            }),
            data_note: context.note.clone(),
            worklist_url: Some(format!("{base}/ui/worklist")),
            survey_url: None,
        }
    }
}

/// The use case's `[[card.links]]` as card links: `{public_url}` in a
/// URL is Bedside's public URL (a `smart` link to `/smart/launch` opens
/// Bedside's patient page), `{{patientId}}` in `app_context` the patient.
fn use_case_links(
    u: &bedside_usecase::UseCase,
    public_url: &str,
    pid: &str,
) -> impl Iterator<Item = bedside_cds::Link> {
    let base = public_url.trim_end_matches('/').to_string();
    let pid = pid.to_string();
    u.card
        .links
        .clone()
        .into_iter()
        .map(move |l| bedside_cds::Link {
            label: l.label,
            url: l.url.replace(bedside_usecase::PUBLIC_URL, &base),
            kind: match l.kind {
                bedside_usecase::LinkKind::Absolute => bedside_cds::LinkType::Absolute,
                bedside_usecase::LinkKind::Smart => bedside_cds::LinkType::Smart,
            },
            app_context: l.app_context.map(|c| c.replace("{{patientId}}", &pid)),
            autolaunchable: Some(false),
        })
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

/// Why a risk card is only passive, in words a nurse reads at a glance:
/// the out-of-distribution guard fired, or an alert at or above the
/// threshold was held back (already shown, waiting for a decision hook,
/// snoozed, actions under way, for the responsible clinician). `None` when
/// the passive action says enough (the open Task comes first, see
/// `bedside_cds::summary`).
fn passive_reason(d: &Decision, interruptive_hooks: &[String], now: Instant) -> Option<String> {
    let at_threshold = d.threshold.is_some_and(|t| d.probability >= t);
    let ago = |t: Instant| {
        let minutes = (now - t).num_seconds().max(0) as f64 / 60.0;
        if minutes < 1.0 {
            "just now".to_string()
        } else {
            format!("{} ago", bedside_cds::age_words(minutes))
        }
    };
    let open = d.memory.open.as_ref();
    // An alert raised and waiting for a decision hook to interrupt at.
    let pending = || {
        open.filter(|o| o.card_pending && at_threshold).map(|o| {
            format!(
                "alert raised {}, shown at the next {}",
                ago(o.last_alert_at),
                decision_points(interruptive_hooks)
            )
        })
    };
    let Some(why) = d.suppressed.as_ref() else {
        return pending();
    };
    match why {
        Suppression::OutOfDistribution { .. } => {
            Some("outside the population the model was validated on".to_string())
        }
        Suppression::AlreadyOpen => pending().or_else(|| {
            open.filter(|o| !o.card_pending)
                .map(|o| format!("alert already shown {}", ago(o.last_alert_at)))
        }),
        Suppression::PathwayActionsPresent { actions } => Some(format!(
            "already under way: {}",
            actions.join(", ").replace('_', " ")
        )),
        Suppression::Snoozed { until } => Some(format!(
            "alert snoozed, {} left",
            bedside_cds::age_words((*until - now).num_seconds().max(0) as f64 / 60.0)
        )),
        Suppression::NotResponsibleUser => {
            Some("the alert goes to the responsible clinician".to_string())
        }
        _ => None,
    }
}

/// The interruptive hooks in a clinician's words: "order or discharge".
fn decision_points(hooks: &[String]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for h in hooks {
        let w = match h.as_str() {
            "order-select" | "order-sign" => "order",
            "encounter-discharge" => "discharge",
            "encounter-start" => "admission",
            _ => "decision point",
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    if words.is_empty() {
        "decision point".to_string()
    } else {
        words.join(" or ")
    }
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

/// The earlier risks the trend shows: for 6 h and 24 h before, the
/// prediction nearest to that time within [`TREND_SLACK_HOURS`]
/// (`points`: hours before, probability).
fn trend_points(points: &[(f64, Probability)]) -> Vec<bedside_cds::EarlierRisk> {
    TREND_HOURS
        .iter()
        .filter_map(|&target| {
            points
                .iter()
                .filter(|(h, _)| (h - target).abs() <= TREND_SLACK_HOURS)
                .min_by(|a, b| (a.0 - target).abs().total_cmp(&(b.0 - target).abs()))
                .map(|&(h, probability)| bedside_cds::EarlierRisk {
                    hours_before: h.round(),
                    probability,
                })
        })
        .collect()
}

/// What the card says of an open pathway Task.
fn open_task(t: &Value) -> bedside_cds::OpenTask {
    let name = t["code"]["text"]
        .as_str()
        .or_else(|| t["description"].as_str())
        .unwrap_or("Pathway task")
        .to_string();
    let owner = t["owner"]["display"]
        .as_str()
        .or_else(|| t["performerType"][0]["text"].as_str())
        .map(str::to_string);
    let due = t["restriction"]["period"]["end"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%H:%M UTC")
                .to_string()
        });
    bedside_cds::OpenTask {
        name,
        status: t["status"].as_str().unwrap_or("requested").to_string(),
        owner,
        due,
    }
}

/// Whether a suggested resource starts (or asks for) the pathway that is
/// already running: a Task coded with the running process id under
/// `https://bedside.dev/pathway`. Such a suggestion is not offered.
fn starts_running(resource: &Value, running: Option<&str>) -> bool {
    let Some(running) = running else {
        return false;
    };
    resource["resourceType"] == "Task"
        && resource["code"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["system"] == PATHWAY_CODE_SYSTEM && c["code"] == running)
}

/// The code system of the pathway a suggested Task starts.
const PATHWAY_CODE_SYSTEM: &str = "https://bedside.dev/pathway";

/// The promise the card states, in plain words: the one place the card's
/// promise is worded (the certification's own sentence can replace it
/// here). `statement` is the use case's risk statement ("Sepsis risk").
pub(crate) fn card_promise(
    cert: &Certification,
    statement: Option<&str>,
    horizon_hours: f64,
) -> String {
    let Some(c) = cert.certified() else {
        return cert.statement();
    };
    if !(c.ppv_lower > 0.0 && c.ppv_lower <= 1.0) {
        return cert.statement();
    }
    let what = statement
        .map(|s| s.trim())
        .map(|s| {
            s.strip_suffix(" risk")
                .or_else(|| s.strip_suffix(" Risk"))
                .unwrap_or(s)
        })
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut cs = s.chars();
            match cs.next() {
                Some(f) => f.to_lowercase().chain(cs).collect::<String>(),
                None => String::new(),
            }
        })
        .unwrap_or_else(|| "the predicted outcome".into());
    // A whole-policy certification is about the alerts shown and their
    // rate: the card says exactly that ("About 1 in 2 of these alerts is
    // followed by sepsis within 24 h (at least 1 in 5 with 95%
    // confidence). Expect about 3 such alerts per 100 patient-days (at
    // most 5).").
    if c.method == bedside_policy::certify::METHOD_WHOLE_POLICY {
        return c.promise_sentence(&what);
    }
    // Never overstates the bound: "1 in N" with 1/N <= the lower bound,
    // or "K in 10" with K/10 <= it.
    let share = if c.ppv_lower >= 0.5 {
        format!("{} in 10", (c.ppv_lower * 10.0).floor() as u64)
    } else {
        format!("1 in {}", (1.0 / c.ppv_lower).ceil().max(1.0) as u64)
    };
    let hours = bedside_core::units::format_number(horizon_hours, "h");
    format!(
        "When this alert fires, at least {share} patients go on to have {what} within {hours} h \
         (checked on past patients, {:.0}% confidence).",
        c.confidence * 100.0
    )
}
