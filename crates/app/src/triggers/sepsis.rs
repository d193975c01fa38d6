//! The sepsis screening trigger: a scored risk goes through the one
//! decision service; an escalation that is shown starts the pathway whose
//! start message is [`SEPSIS_ALERT`], and the bundle (antibiotics and blood
//! cultures ordered, [`BUNDLE_EVENTS`]) is delivered to a running instance
//! as [`BUNDLE_ORDERED`]. Everything goes into the commit of the data that
//! caused it. The sandbox's demo control starts the same pathway by hand
//! ([`App::ui_start_pathway`]). The pathway runtime (`crate::pathway_rt`) knows none of this.

use crate::audit::{Action as AuditAction, Actor, Entity, Event, ProvenanceInput};
use crate::hooks::SuggestionTemplate;
use crate::pathway_rt::{pending_or_stored, ALERT_MEMORY};
use crate::{ApiError, App};
use bedside_core::{Instant, PatientRef, PatientState};
use bedside_models::Prediction;
use bedside_pathways::{Definition, Engine, Instance, StartTrigger};
use bedside_policy::{AlertMemory, Decision, ModelRole, PolicyInput, Recipient, Tier};
use bedside_record::kinds::{LATEST_RISK, TASK};
use bedside_record::{model_patient_id as latest_id, DecisionRecord, LatestRisk, Record as _};
use bedside_store::Commit;
use serde_json::{json, Map, Value};

/// Start message of the sepsis pathway.
pub const SEPSIS_ALERT: &str = "sepsis-alert";
/// Message that ends the sepsis pathway when the bundle is ordered.
pub const BUNDLE_ORDERED: &str = "bundle-ordered";
/// Events that together make the bundle.
pub const BUNDLE_EVENTS: [&str; 2] = ["antibiotic_ordered", "blood_culture_ordered"];
fn ts(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// When the bundle counts as ordered for an instance started at `since`:
/// the later of the first order of each bundle event at or after `since`.
pub fn bundle_time(state: &PatientState, since: Instant) -> Option<Instant> {
    let mut latest = since;
    for kind in BUNDLE_EVENTS {
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

impl App {
    /// After a prediction: decide, remember, and start the sepsis pathway
    /// when the decision escalates (and is shown); send `bundle-ordered`
    /// to a running instance when the bundle is in. All into `commit`.
    pub async fn on_prediction(
        &self,
        state: &PatientState,
        p: &Prediction,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let pid = state.patient_id.clone();
        let def = self.pathways.started_by(SEPSIS_ALERT);
        let running = match &def {
            Some(d) => self.running_instance(&pid, &d.id, Some(commit)).await?,
            None => None,
        };
        if let (Some(d), Some((doc, inst))) = (&def, &running) {
            if let Some(tb) = bundle_time(state, inst.started_at) {
                if tb <= p.at {
                    let mut inst = inst.clone();
                    self.send_bundle(d, &doc.patient_id, &mut inst, tb, commit)
                        .await?;
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
        let mut facts = crate::facts::facts_from_state(state, p.at);
        facts.on_pathway = on_pathway;
        // One view: the policy and the certification made under it (the
        // same service the CDS Hooks decide with).
        let view = self.decisions.view();
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
        if let Some(def) = def {
            if decision.escalate && decision.shown && !on_pathway {
                self.start_sepsis(&def, state, p, &decision, commit).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn start_sepsis(
        &self,
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
            &StartTrigger::Message(SEPSIS_ALERT.into()),
            vars,
            d.at,
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
        tracing::info!(pathway = %def.id, "pathway started");
        self.apply_effects(def, &Some(pid.clone()), &mut inst, effects, d.at, commit)
            .await
    }

    /// What the sepsis tasks need in hand, from the state and the store.
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
                    "value": f.value.map(|v| format!("{v} {}", f.unit).trim().to_string()),
                    "contribution": f.probability_contribution,
                })
            })
            .collect();
        let mut risk = json!({
            "probability": p.probability.get(),
            "model": format!("{} {}", p.model_id, p.model_version),
            "tier": format!("{:?}", d.tier).to_lowercase(),
            "top_factors": factors,
        });
        if let Some(i) = &p.interval {
            risk["low"] = json!(i.lo);
            risk["high"] = json!(i.hi);
        }
        let since = at - chrono::Duration::hours(24);
        let mut observations = Vec::new();
        for (name, series) in &state.channels {
            let recent: Vec<_> = series
                .points
                .iter()
                .filter(|q| q.t >= since && q.t <= at)
                .collect();
            // The newest few per channel are what a responder reads.
            for q in recent.iter().rev().take(6).rev() {
                observations.push(json!({"name": name, "value": q.v, "time": ts(q.t)}));
            }
        }
        let allergies = self
            .patient_items(pid, "AllergyIntolerance", "code", false)
            .await?;
        let medications = self
            .patient_items(pid, "MedicationRequest", "medicationCodeableConcept", true)
            .await?;
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
                json!("none recorded")
            } else {
                Value::Array(medications)
            },
        );
        vars.insert("covering_physician".into(), covering.unwrap_or(Value::Null));
        Ok(vars)
    }

    /// Deliver `bundle-ordered` at `at` (ends the instance, cancels its
    /// open tasks).
    pub(crate) async fn send_bundle(
        &self,
        def: &Definition,
        patient_id: &Option<String>,
        inst: &mut Instance,
        at: Instant,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let mut payload = Map::new();
        payload.insert("bundle".into(), json!({"ordered_at": ts(at)}));
        let effects = Engine::on_message(def, inst, BUNDLE_ORDERED, None, payload, at)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if effects.is_empty() {
            return Ok(());
        }
        self.apply_effects(def, patient_id, inst, effects, at, commit)
            .await
    }

    /// Demo control of the sandbox: start the escalation pathway for a
    /// patient from the patient's latest precomputed risk, as if the alert
    /// policy had escalated it (the policy decides nothing here). Returns
    /// the number of tasks the pathway created.
    pub async fn ui_start_pathway(
        &self,
        who: &Actor,
        pid: &str,
        now: Instant,
    ) -> Result<usize, ApiError> {
        PatientRef::parse(pid)
            .map_err(|e| ApiError::bad_request(format!("patient: {e}"), Some("patient")))?;
        let def = self.pathways.started_by(SEPSIS_ALERT).ok_or_else(|| {
            ApiError::not_found("no loaded pathway starts on the sepsis alert message")
        })?;
        if self.running_instance(pid, &def.id, None).await?.is_some() {
            return Err(ApiError::new(
                409,
                "business-rule",
                format!("Patient/{pid} is already on pathway {}", def.id),
                Some("patient"),
            ));
        }
        let mut prediction: Option<Prediction> = None;
        for m in &self.models {
            if let Some(d) = self
                .store
                .get_document(LATEST_RISK, &latest_id(m.id(), pid))
                .await?
            {
                prediction = LatestRisk::from_document(&d).ok().map(|r| r.prediction);
                break;
            }
        }
        let p = prediction.ok_or_else(|| {
            ApiError::new(
                409,
                "business-rule",
                format!("Patient/{pid} has no precomputed risk to start the pathway with"),
                Some("patient"),
            )
        })?;
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
        self.start_sepsis(&def, &state, &p, &decision, &mut commit)
            .await?;
        let tasks = commit.documents.iter().filter(|d| d.kind == TASK).count();
        let ev = Event::rest("operation", "pathway-started", AuditAction::Execute)
            .by(who)
            .patient(Some(pid))
            .entity(
                Entity::identifier("urn:bedside:pathway", &def.id)
                    .detail("actor", crate::ui_views::UI_ACTOR)
                    .detail("tasks", tasks),
            );
        self.record(&mut commit, ev);
        self.write(commit).await?;
        Ok(tasks)
    }
}

fn service_request(loinc: &str, display: &str) -> Value {
    json!({
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "priority": "urgent",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
        "subject": {"reference": "Patient/{{patientId}}"}
    })
}

/// The sepsis escalation pathway's first actions.
pub fn suggestions() -> Vec<SuggestionTemplate> {
    vec![
        SuggestionTemplate {
            label: "Order serum lactate".into(),
            description: "Create a ServiceRequest for lactate (LOINC 2524-7)".into(),
            resource: service_request("2524-7", "Lactate [Moles/volume] in Serum or Plasma"),
            recommended: true,
            unless_event: Some("lactate_ordered".into()),
        },
        SuggestionTemplate {
            label: "Order blood cultures".into(),
            description: "Create a ServiceRequest for blood cultures (LOINC 600-7)".into(),
            resource: service_request("600-7", "Bacteria identified in Blood by Culture"),
            recommended: false,
            unless_event: Some("blood_culture_ordered".into()),
        },
        SuggestionTemplate {
            label: "Start empiric antibiotics".into(),
            description: "Create a MedicationRequest proposal for systemic antibacterials (ATC J01); the prescriber chooses the agent".into(),
            resource: json!({
                "resourceType": "MedicationRequest",
                "status": "draft",
                "intent": "proposal",
                "priority": "urgent",
                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01", "display": "Antibacterials for systemic use"}]},
                "subject": {"reference": "Patient/{{patientId}}"}
            }),
            recommended: false,
            unless_event: Some("antibiotic_ordered".into()),
        },
        SuggestionTemplate {
            label: "Start the sepsis pathway".into(),
            description: "Create a Task to start the sepsis escalation pathway".into(),
            resource: json!({
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "code": {"coding": [{"system": "https://bedside.dev/pathway", "code": "sepsis-escalation", "display": "Sepsis escalation pathway"}]},
                "for": {"reference": "Patient/{{patientId}}"}
            }),
            recommended: false,
            unless_event: None,
        },
    ]
}
