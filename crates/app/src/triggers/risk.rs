//! The risk trigger: a scored risk goes through the one decision service
//! under its use case's policy; an escalation that is shown starts the use
//! case's pathway with its start message, and once every event channel of
//! the use case's `actions_under_way` is in since the start, the running
//! instance is sent the use case's `actions_under_way` message. Everything
//! goes into the commit of the data that caused it. The sandbox's demo
//! control starts the same pathway by hand ([`App::ui_start_pathway`]).
//! What the messages and channels are comes from the use case
//! (`bedside_usecase`); the pathway runtime (`crate::pathway_rt`) knows
//! none of this.

use crate::audit::{Action as AuditAction, Actor, Entity, Event, ProvenanceInput};
use crate::pathway_rt::{pending_or_stored, ALERT_MEMORY};
use crate::{ApiError, App};
use bedside_core::{Instant, PatientRef, PatientState};
use bedside_models::Prediction;
use bedside_pathways::{Definition, Engine, Instance, StartTrigger};
use bedside_policy::{AlertMemory, Decision, ModelRole, PolicyInput, Recipient, Suppression, Tier};
use bedside_record::kinds::{LATEST_RISK, TASK};
use bedside_record::{model_patient_id as latest_id, DecisionRecord, LatestRisk, Record as _};
use bedside_store::Commit;
use bedside_usecase::UseCase;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Start message of the review an out-of-distribution prediction opens
/// instead of an escalation (policy `out_of_distribution.review`; the
/// shipped `pathways/ood-review.bpmn`).
pub const OOD_REVIEW: &str = "ood-review";

fn ts(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// When the actions of a pathway started at `since` count as under way:
/// the later of the first point of each of `channels` at or after
/// `since`; `None` while one is missing (or when `channels` is empty).
pub fn actions_time(state: &PatientState, since: Instant, channels: &[String]) -> Option<Instant> {
    if channels.is_empty() {
        return None;
    }
    let mut latest = since;
    for kind in channels {
        let first = state
            .events
            .get(kind)?
            .points
            .iter()
            .map(|p| p.t)
            .filter(|t| *t >= since)
            .min()?;
        latest = latest.max(first);
    }
    Some(latest)
}

/// The use case a pathway's actions-under-way rule comes from, with its
/// message: `None` when the use case sends none.
pub(crate) fn actions_rule(uc: &UseCase) -> Option<(&[String], &str)> {
    let msg = uc.pathway.as_ref()?.actions_under_way.as_deref()?;
    (!uc.actions_under_way.is_empty()).then_some((uc.actions_under_way.as_slice(), msg))
}

impl App {
    /// After a prediction: decide under the model's use case, remember,
    /// and start the use case's pathway when the decision escalates (and
    /// is shown); send the use case's actions-under-way message to a
    /// running instance when its actions are in. All into `commit`.
    pub async fn on_prediction(
        &self,
        state: &PatientState,
        p: &Prediction,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let pid = state.patient_id.clone();
        let uc = self.use_cases.for_model(&p.model_id).cloned();
        let def = uc.as_ref().and_then(|u| self.pathway_of(u));
        let running = match &def {
            Some(d) => self.running_instance(&pid, &d.id, Some(commit)).await?,
            None => None,
        };
        if let (Some(u), Some(d), Some((doc, inst))) = (&uc, &def, &running) {
            if let Some((channels, msg)) = actions_rule(u) {
                if let Some(tb) = actions_time(state, inst.started_at, channels) {
                    if tb <= p.at {
                        let mut inst = inst.clone();
                        self.send_actions_under_way(d, msg, &doc.patient_id, &mut inst, tb, commit)
                            .await?;
                    }
                }
            }
        }
        let on_pathway = match &def {
            Some(d) => self
                .running_instance(&pid, &d.id, Some(commit))
                .await?
                .is_some(),
            None => false,
        };
        let mem_id = format!("{}|{}", p.model_id, pid);
        // One document shape for the alert memory, shared with the CDS
        // Hooks path (`hooks::load_memory` / `store_memory`): `{"memory",
        // "last_shown_probability"}`.
        let (memory, last_shown) =
            match pending_or_stored(self, commit, ALERT_MEMORY, &mem_id).await? {
                Some(d) => crate::hooks::memory_from_doc(&d),
                None => (AlertMemory::default(), None),
            };
        let mut facts = bedside_policy::facts_from_state(state, p.at);
        facts.on_pathway = on_pathway;
        facts.out_of_distribution = !p.in_distribution;
        // One view: the policy and the certification made under it (the
        // same service the CDS Hooks decide with).
        let view = self.decisions.view_for(&p.model_id);
        let input = PolicyInput {
            model_id: p.model_id.clone(),
            role: view.policy.role_of(&p.model_id),
            probability: p.probability,
            at: p.at,
            hook: None,
            facts,
        };
        let decision = view.decide(&memory, &input);
        let now = chrono::Utc::now();
        if decision.memory != memory {
            commit.documents.push(crate::hooks::memory_doc(
                &pid,
                &p.model_id,
                &decision.memory,
                last_shown,
                now,
            ));
        }
        if decision.new_alert || decision.escalate {
            commit.documents.push(
                DecisionRecord {
                    model_id: p.model_id.clone(),
                    patient_id: pid.clone(),
                    at: p.at,
                    decision: decision.clone(),
                    written_at: now,
                }
                .to_document(),
            );
        }
        if let (Some(u), Some(def)) = (&uc, def) {
            if decision.escalate && decision.shown && !on_pathway {
                self.start_use_case_pathway(u, &def, state, p, &decision, commit)
                    .await?;
            }
        }
        if matches!(
            decision.suppressed,
            Some(Suppression::OutOfDistribution { review: true })
        ) {
            self.start_ood_review(state, p, &decision, commit).await?;
        }
        Ok(())
    }

    /// Open the review of an out-of-distribution prediction that would have
    /// escalated: the loaded pathway started by [`OOD_REVIEW`], once per
    /// patient while one runs. Without such a pathway nothing is opened
    /// (logged).
    async fn start_ood_review(
        &self,
        state: &PatientState,
        p: &Prediction,
        d: &Decision,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let pid = &state.patient_id;
        let Some(def) = self.pathways.started_by(OOD_REVIEW) else {
            tracing::warn!(model = %p.model_id, "out_of_distribution.review is set but no pathway starts on `ood-review`: no review opened");
            return Ok(());
        };
        if self
            .running_instance(pid, &def.id, Some(commit))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let instance_id = format!("{}|{}|{}", def.id, pid, ts(d.at));
        let mut vars = self.start_variables(state, p, d).await?;
        vars.insert(
            "ood_reasons".into(),
            Value::Array(p.ood_reasons.iter().map(|r| json!(r)).collect()),
        );
        let (mut inst, effects) = Engine::start(
            &def,
            &instance_id,
            &StartTrigger::Message(OOD_REVIEW.into()),
            vars,
            d.at,
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        tracing::info!(pathway = %def.id, model = %p.model_id, "out-of-distribution review opened instead of an escalation");
        self.apply_effects(&def, &Some(pid.clone()), &mut inst, effects, d.at, commit)
            .await
    }

    /// The loaded pathway a use case starts, if it has one.
    pub(crate) fn pathway_of(&self, uc: &UseCase) -> Option<Arc<Definition>> {
        let pw = uc.pathway.as_ref()?;
        self.pathways.definition(&pw.process_id)
    }

    /// Start `uc`'s pathway `def` for an escalated prediction.
    pub(crate) async fn start_use_case_pathway(
        &self,
        uc: &UseCase,
        def: &Definition,
        state: &PatientState,
        p: &Prediction,
        d: &Decision,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let pid = &state.patient_id;
        let instance_id = format!("{}|{}|{}", p.model_id, pid, ts(d.at));
        let mut vars = self.start_variables(state, p, d).await?;
        // The Tasks' focus: the RiskAssessment of the alerting prediction.
        let ra = crate::pathway_start::risk_assessment(&instance_id, pid, p);
        if let Some(risk) = vars.get_mut("risk") {
            risk["reference"] = json!(format!("RiskAssessment/{}", ra.id));
        }
        // The prediction surfaced: a RiskAssessment the Tasks point at.
        let ra_ref = format!("RiskAssessment/{}", ra.id);
        let ev = Event::rest("create", "prediction-escalated", AuditAction::Create)
            .by_bedside()
            .patient(Some(pid))
            .entity(Entity::reference(&ra_ref))
            .entity(Entity::model(&p.model_id, &p.model_version))
            .entity(
                Entity::identifier(
                    "urn:bedside:prediction",
                    &crate::scoring::prediction_id(p, pid),
                )
                .detail("tier", format!("{:?}", d.tier).to_lowercase()),
            )
            .at(d.at);
        self.record(commit, ev);
        commit.documents.push(crate::audit::provenance(&ProvenanceInput {
            target: &ra_ref,
            patient_id: Some(pid),
            activity: "CREATE",
            occurred: p.at,
            actor: None,
            model: Some((&p.model_id, &p.model_version)),
            sources: vec![json!({"identifier": {"system": "urn:bedside:prediction", "value": crate::scoring::prediction_id(p, pid)}})],
            discriminator: "final",
        }));
        commit.documents.push(ra.document(pid, &p.model_id));
        let (mut inst, effects) = Engine::start(
            def,
            &instance_id,
            &StartTrigger::Message(
                uc.pathway
                    .as_ref()
                    .map(|pw| pw.start.clone())
                    .unwrap_or_default(),
            ),
            vars,
            d.at,
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        tracing::info!(pathway = %def.id, use_case = %uc.id, "pathway started");
        self.apply_effects(def, &Some(pid.clone()), &mut inst, effects, d.at, commit)
            .await
    }

    /// What a risk pathway's Tasks need in hand, from the state and the
    /// store.
    async fn start_variables(
        &self,
        state: &PatientState,
        p: &Prediction,
        d: &Decision,
    ) -> Result<Map<String, Value>, ApiError> {
        let pid = &state.patient_id;
        let at = p.at;
        let identifiers = self.patient_identifiers(pid).await?;
        let location = state
            .encounter_at(at)
            .and_then(|e| e.locations.last().cloned())
            .map(|l| json!({"reference": l}))
            .unwrap_or(Value::Null);
        let factors: Vec<Value> = p
            .top_factors
            .iter()
            .map(|f| {
                json!({
                    "name": f.label,
                    "value": f.value.map(|v| bedside_core::units::format_value(v, &f.unit)),
                    "contribution": f.probability_contribution,
                })
            })
            .collect();
        let earlier: Vec<Value> = self
            .earlier_risks(&p.model_id, pid, p.at)
            .await?
            .iter()
            .map(|e| json!({"hours_before": e.hours_before, "probability": e.probability.get()}))
            .collect();
        let mut risk = json!({
            "probability": p.probability.get(),
            "model": format!("{} {}", p.model_id, p.model_version),
            "tier": format!("{:?}", d.tier).to_lowercase(),
            "top_factors": factors,
            "earlier": earlier,
        });
        if let Some(i) = &p.interval {
            risk["low"] = json!(i.lo);
            risk["high"] = json!(i.hi);
        }
        // The latest value of each vital sign and lab of the last 24 h,
        // named, in its unit and with its time: what a responder reads
        // first (the model's full feature vector is on the RiskAssessment).
        let since = at - chrono::Duration::hours(24);
        let map = self.ingestor.map();
        // Only what the model reads: the vital signs and labs its features
        // come from, not every channel charted.
        let model_inputs = self
            .models
            .iter()
            .find(|m| m.id() == p.model_id)
            .map(|m| m.inputs());
        let mut observations = Vec::new();
        for (name, series) in &state.channels {
            if model_inputs.as_ref().is_some_and(|i| !i.contains(name)) {
                continue;
            }
            let Some(q) = series
                .points
                .iter()
                .rev()
                .find(|q| q.t >= since && q.t <= at)
            else {
                continue;
            };
            let (label, unit) = match map.channel(name) {
                Some(c) => (c.label.clone(), c.unit.clone()),
                None => (bedside_ingest::map::humanize(name), String::new()),
            };
            observations.push(json!({"name": label, "value": q.v, "unit": unit, "time": ts(q.t)}));
        }
        let allergies = self
            .patient_items(pid, "AllergyIntolerance", "code", false)
            .await?;
        // The active medication orders the use case names (its
        // `task.medications` channels, e.g. antibiotics), not every drug.
        let uc = self.use_cases.for_model(&p.model_id).cloned();
        let (med_channels, med_label) = match &uc {
            Some(u) => (u.task_medications.clone(), u.task_medications_label.clone()),
            None => (Vec::new(), "medications of interest".to_string()),
        };
        let rules: Vec<_> = map
            .events_for("MedicationRequest")
            .filter(|e| med_channels.contains(&e.name))
            .collect();
        let medications = if rules.is_empty() {
            Vec::new()
        } else {
            self.patient_items_matching(
                pid,
                "MedicationRequest",
                "medicationCodeableConcept",
                true,
                |c| rules.iter().any(|r| r.matches(c)),
            )
            .await?
        };
        let covering = d.route_to.iter().find_map(|r| match r {
            Recipient::Practitioner { reference, .. } => Some(Value::String(reference.clone())),
            Recipient::Role { .. } => None,
        });
        let mut vars = Map::new();
        vars.insert(
            "patient".into(),
            json!({"id": pid, "identifiers": identifiers, "location": location}),
        );
        vars.insert("risk".into(), risk);
        vars.insert("observations".into(), Value::Array(observations));
        vars.insert(
            "allergies".into(),
            if allergies.is_empty() {
                json!("none recorded")
            } else {
                Value::Array(allergies)
            },
        );
        vars.insert(
            "medications".into(),
            if medications.is_empty() {
                json!(format!("no active {med_label}"))
            } else {
                Value::Array(medications)
            },
        );
        vars.insert("covering_physician".into(), covering.unwrap_or(Value::Null));
        Ok(vars)
    }

    /// Deliver the use case's actions-under-way message `msg` at `at`
    /// (the pathway decides what follows; the shipped sepsis pathway ends
    /// and cancels its open tasks).
    pub(crate) async fn send_actions_under_way(
        &self,
        def: &Definition,
        msg: &str,
        patient_id: &Option<String>,
        inst: &mut Instance,
        at: Instant,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let mut payload = Map::new();
        payload.insert("actions".into(), json!({"under_way_at": ts(at)}));
        let effects = Engine::on_message(def, inst, msg, None, payload, at)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if effects.is_empty() {
            return Ok(());
        }
        self.apply_effects(def, patient_id, inst, effects, at, commit)
            .await
    }

    /// Whether the sandbox offers its demo control: in demo mode only (the
    /// demo EHR key is configured) and with a use case whose risk starts a
    /// loaded pathway.
    pub fn can_start_demo_pathway(&self) -> bool {
        self.hooks.config.demo_key.is_some()
            && self.use_cases.iter().any(|u| {
                matches!(u.trigger, bedside_usecase::Trigger::Risk) && self.pathway_of(u).is_some()
            })
    }

    /// Demo control of the sandbox: start the pathway of the use case of
    /// the patient's latest precomputed risk, as if the alert policy had
    /// escalated it (the policy decides nothing here). Returns the number
    /// of tasks the pathway created.
    pub async fn ui_start_pathway(
        &self,
        who: &Actor,
        pid: &str,
        now: Instant,
    ) -> Result<usize, ApiError> {
        PatientRef::parse(pid)
            .map_err(|e| ApiError::bad_request(format!("patient: {e}"), Some("patient")))?;
        let mut found: Option<(Arc<UseCase>, Arc<Definition>, Prediction)> = None;
        let mut any_pathway = false;
        for m in &self.models {
            let Some(uc) = self.use_cases.for_model(m.id()) else {
                continue;
            };
            let Some(def) = self.pathway_of(uc) else {
                continue;
            };
            any_pathway = true;
            if let Some(d) = self
                .store
                .get_document(LATEST_RISK, &latest_id(m.id(), pid))
                .await?
            {
                if let Ok(r) = LatestRisk::from_document(&d) {
                    found = Some((uc.clone(), def, r.prediction));
                    break;
                }
            }
        }
        if !any_pathway {
            return Err(ApiError::not_found(
                "no served use case starts a pathway from a risk",
            ));
        }
        let (uc, def, p) = found.ok_or_else(|| {
            ApiError::new(
                409,
                "business-rule",
                format!("Patient/{pid} has no precomputed risk to start the pathway with"),
                Some("patient"),
            )
        })?;
        if self.running_instance(pid, &def.id, None).await?.is_some() {
            return Err(ApiError::new(
                409,
                "business-rule",
                format!("Patient/{pid} is already on pathway {}", def.id),
                Some("patient"),
            ));
        }
        let state = self
            .ingestor
            .state(pid)
            .await
            .map_err(|e| ApiError::new(503, "transient", format!("patient state: {e}"), None))?
            .unwrap_or_else(|| PatientState::new(pid));
        let decision = Decision {
            model_id: p.model_id.clone(),
            role: ModelRole::Primary,
            at: now,
            probability: p.probability.get(),
            threshold: None,
            tier: Tier::Escalate,
            card: None,
            escalate: true,
            new_alert: false,
            suppressed: None,
            route_to: Vec::new(),
            shown: true,
            memory: AlertMemory::default(),
        };
        let p = Prediction { at: now, ..p };
        let mut commit = Commit::default();
        self.start_use_case_pathway(&uc, &def, &state, &p, &decision, &mut commit)
            .await?;
        let tasks = commit.documents.iter().filter(|d| d.kind == TASK).count();
        let ev = Event::rest("operation", "pathway-started", AuditAction::Execute)
            .by(who)
            .patient(Some(pid))
            .entity(
                Entity::identifier("urn:bedside:pathway", &def.id)
                    .detail("actor", bedside_views::UI_ACTOR)
                    .detail("tasks", tasks),
            );
        self.record(&mut commit, ev);
        self.write(commit).await?;
        Ok(tasks)
    }
}
