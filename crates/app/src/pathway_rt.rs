//! The pathway runtime: loaded BPMN definitions, running instances, and the
//! engine's effects (FHIR Tasks, Communications, DetectedIssues, timer jobs,
//! instance state)
//! carried out into the commit of whatever caused them. It runs any
//! definition; what starts a pathway and with which variables is a trigger's
//! business (`crate::triggers`), and nothing here imports one. Due timers
//! are store jobs (`pathway_timer`, `dedupe_key` = timer id), each fired
//! together with its effects in one `complete_job` transaction, so with
//! several replicas a timer fires once.
//!
//! Replayed data is historical: the engine's `now` is the data's event time
//! (the prediction time, a timer's due time, a message's time).
//!
//! Records: `pathway_instance` ([`bedside_record::InstanceRecord`]) and
//! `Task` ([`bedside_record::TaskRecord`]).

use crate::audit::{
    Action as AuditAction, Entity, Event, Outcome as AuditOutcome, ProvenanceInput,
};
use crate::{ApiError, App, StartError};
use bedside_core::{Instant, PatientRef};
use bedside_pathways::{build_task, Definition, Effect, Instance, InstanceStatus, StartTrigger};
use bedside_policy::{Certification, PolicyConfig};
use bedside_record::{InstanceRecord, Record as _, TaskRecord};
use bedside_store::{Commit, DocFilter, Document, NewJob};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub const PATHWAY_INSTANCE: &str = bedside_record::kinds::PATHWAY_INSTANCE;
pub const TASK: &str = bedside_record::kinds::TASK;
/// Communications sent by `send_communication` service tasks.
pub const COMMUNICATION: &str = bedside_record::kinds::COMMUNICATION;
/// DetectedIssues written by `write_detected_issue` service tasks.
pub const DETECTED_ISSUE: &str = bedside_record::kinds::DETECTED_ISSUE;
pub const ALERT_MEMORY: &str = bedside_record::kinds::ALERT_MEMORY;
pub const DECISION: &str = bedside_record::kinds::DECISION;
pub const TIMER_JOB: &str = "pathway_timer";
/// Who requests pathway tasks.
pub const REQUESTER: &str = bedside_record::audit::BEDSIDE_DEVICE;
/// Timer jobs claimed at once: small, so a replica that dies holding a
/// claim delays few timers.
pub const TIMER_CLAIM_BATCH: u32 = 16;
/// How long a claim holds (s): a claim of a replica that died runs out
/// after this and another replica fires the timer. A slow live replica
/// whose claim ran out loses the race in `complete_job` (nothing is
/// written twice).
pub const TIMER_LEASE_SECS: i64 = 5;

/// Loaded pathways (the alert policy they start on comes from the one
/// decision service, [`crate::decisions`]).
pub struct Pathways {
    pub definitions: Vec<(PathBuf, Arc<Definition>)>,
    /// External FHIR server Tasks and Communications are written back to.
    pub(crate) writeback: RwLock<Option<Arc<crate::writeback::Writeback>>>,
}

impl Pathways {
    /// Load the BPMN files.
    pub fn load(paths: &[PathBuf]) -> Result<Self, StartError> {
        let mut definitions = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(p).map_err(|e| StartError::Pathway {
                path: p.display().to_string(),
                msg: e.to_string(),
            })?;
            let def = Definition::parse(&text).map_err(|probs| StartError::Pathway {
                path: p.display().to_string(),
                msg: bedside_pathways::format_problems(&probs),
            })?;
            definitions.push((p.clone(), Arc::new(def)));
        }
        Ok(Self {
            definitions,
            writeback: RwLock::new(None),
        })
    }

    /// The definition started by message `name`.
    pub fn started_by(&self, name: &str) -> Option<Arc<Definition>> {
        let trig = StartTrigger::Message(name.to_string());
        self.definitions
            .iter()
            .find(|(_, d)| {
                d.nodes.iter().any(
                    |n| matches!(&n.kind, bedside_pathways::NodeKind::StartEvent(t) if *t == trig),
                )
            })
            .map(|(_, d)| d.clone())
    }

    pub fn definition(&self, id: &str) -> Option<Arc<Definition>> {
        self.definitions
            .iter()
            .find(|(_, d)| d.id == id)
            .map(|(_, d)| d.clone())
    }
}

/// The alert policy as an audit entity: its stage, condition and a digest
/// of the whole configuration.
pub(crate) fn policy_entity(cfg: &PolicyConfig) -> crate::audit::Entity {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(cfg).unwrap_or_default();
    let stage = serde_json::to_value(&cfg.stage)
        .ok()
        .and_then(|v| v["stage"].as_str().map(str::to_string))
        .unwrap_or_default();
    crate::audit::Entity::identifier("urn:bedside:policy", &cfg.condition)
        .detail("stage", stage)
        .detail("sha256", hex::encode(Sha256::digest(text.as_bytes())))
}

/// A document written earlier in this commit, else the stored one.
pub(crate) async fn pending_or_stored(
    app: &App,
    commit: &Commit,
    kind: &str,
    id: &str,
) -> Result<Option<Document>, ApiError> {
    if let Some(d) = commit
        .documents
        .iter()
        .rev()
        .find(|d| d.kind == kind && d.id == id)
    {
        return Ok(Some(d.clone()));
    }
    Ok(app.store.get_document(kind, id).await?)
}

impl App {
    /// Replace the alert policy (default: the built-in defaults, stage
    /// `silent`, which starts no pathway), and record the change in the
    /// audit log (DICOM 110131 Software Configuration).
    pub async fn set_policy(&self, cfg: PolicyConfig) -> Result<(), ApiError> {
        let ev = crate::audit::Event::dicom(
            "110113",
            "Security Alert",
            "policy-change",
            crate::audit::Action::Update,
        )
        .dicom_subtype("110131", "Software Configuration")
        .by_bedside()
        .entity(policy_entity(&cfg));
        self.apply_policy(cfg);
        self.record_now(ev).await
    }

    fn apply_policy(&self, cfg: PolicyConfig) {
        self.decisions.set_policy(cfg);
    }

    /// Replace one use case's alert policy (its models are certified
    /// again under it; other use cases are untouched), recorded like
    /// [`App::set_policy`].
    pub async fn set_use_case_policy(
        &self,
        use_case: &str,
        cfg: PolicyConfig,
    ) -> Result<(), ApiError> {
        if self.use_cases.get(use_case).is_none() {
            return Err(ApiError::not_found(format!(
                "use case {use_case:?} is not served"
            )));
        }
        let ev = crate::audit::Event::dicom(
            "110113",
            "Security Alert",
            "policy-change",
            crate::audit::Action::Update,
        )
        .dicom_subtype("110131", "Software Configuration")
        .by_bedside()
        .entity(crate::audit::Entity::identifier(
            "urn:bedside:use-case",
            use_case,
        ))
        .entity(policy_entity(&cfg));
        self.decisions.set_scope_policy(use_case, cfg);
        self.record_now(ev).await
    }

    /// Override a model's certification (e.g. certified elsewhere).
    pub fn set_certification(&self, model_id: &str, cert: Certification) {
        self.decisions.set_certification(model_id, cert);
    }

    /// The default alert policy (of models served without a use case).
    pub fn policy(&self) -> PolicyConfig {
        self.decisions.view().policy.clone()
    }

    /// The alert policy `model_id` decides under (its use case's, else the
    /// default).
    pub fn policy_for(&self, model_id: &str) -> PolicyConfig {
        self.decisions.view_for(model_id).policy.clone()
    }

    /// The certification in force for a model, if the model is known.
    pub fn certification(&self, model_id: &str) -> Option<Certification> {
        self.decisions
            .view_for(model_id)
            .certification_of(model_id)
            .cloned()
    }

    /// The running instance of `definition_id` for a patient, if any.
    pub async fn running_instance(
        &self,
        patient_id: &str,
        definition_id: &str,
        commit: Option<&Commit>,
    ) -> Result<Option<(Document, Instance)>, ApiError> {
        if let Some(c) = commit {
            if let Some(d) = c.documents.iter().rev().find(|d| {
                d.kind == PATHWAY_INSTANCE
                    && d.patient_id.as_deref() == Some(patient_id)
                    && d.owner.as_deref() == Some(definition_id)
            }) {
                if d.status.as_deref() == Some("running") {
                    let inst = parse_instance(d)?;
                    return Ok(Some((d.clone(), inst)));
                }
            }
        }
        let docs = self
            .store
            .list_documents(&DocFilter {
                kind: PATHWAY_INSTANCE.into(),
                patient_id: Some(patient_id.to_string()),
                status: Some("running".into()),
                owner: Some(definition_id.to_string()),
                since: None,
                limit: None,
            })
            .await?;
        match docs.into_iter().last() {
            Some(d) => {
                // A later write in this commit may have ended it.
                if let Some(c) = commit {
                    if c.documents.iter().any(|x| {
                        x.kind == PATHWAY_INSTANCE
                            && x.id == d.id
                            && x.status.as_deref() != Some("running")
                    }) {
                        return Ok(None);
                    }
                }
                let inst = parse_instance(&d)?;
                Ok(Some((d, inst)))
            }
            None => Ok(None),
        }
    }

    /// The patient's identifiers for a responder: Bedside's own id, then
    /// every `Patient.identifier` with a value (MRN, ...). Shared by the
    /// triggers' start variables.
    pub(crate) async fn patient_identifiers(&self, pid: &str) -> Result<Vec<Value>, ApiError> {
        let mut identifiers = vec![json!({"system": "urn:bedside:patient-id", "value": pid})];
        let key = bedside_store::ResourceKey {
            rtype: "Patient".into(),
            id: pid.to_string(),
        };
        if let Some(r) = self.store.get_resource(&key).await? {
            if let Ok(v) = serde_json::from_str::<Value>(&r.body) {
                for i in v["identifier"].as_array().into_iter().flatten() {
                    if let Some(val) = i["value"].as_str() {
                        identifiers.push(json!({"system": i["system"], "value": val}));
                    }
                }
            }
        }
        Ok(identifiers)
    }

    /// Ref items (`{reference, display}`) of a patient's resources of a type.
    pub(crate) async fn patient_items(
        &self,
        pid: &str,
        rtype: &str,
        code_field: &str,
        active_only: bool,
    ) -> Result<Vec<Value>, ApiError> {
        self.patient_items_matching(pid, rtype, code_field, active_only, |_| true)
            .await
    }

    /// [`Self::patient_items`] whose coded field passes `keep`.
    pub(crate) async fn patient_items_matching(
        &self,
        pid: &str,
        rtype: &str,
        code_field: &str,
        active_only: bool,
        keep: impl Fn(&bedside_fhir::CodeableConcept) -> bool,
    ) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::new();
        for r in self.store.resources_for_patient(rtype, pid).await? {
            let Ok(v) = serde_json::from_str::<Value>(&r.body) else {
                continue;
            };
            if active_only && v["status"].as_str().is_some_and(|s| s != "active") {
                continue;
            }
            let c = &v[code_field];
            let concept = <bedside_fhir::CodeableConcept as serde::Deserialize>::deserialize(c)
                .unwrap_or_default();
            if !keep(&concept) {
                continue;
            }
            let display = c["text"]
                .as_str()
                .or_else(|| c["coding"][0]["display"].as_str())
                .or_else(|| c["coding"][0]["code"].as_str())
                .unwrap_or(rtype);
            out.push(json!({"reference": format!("{rtype}/{}", r.key.id), "display": display}));
        }
        Ok(out)
    }

    /// Carry out the engine's effects into `commit`, then write the instance.
    pub(crate) async fn apply_effects(
        &self,
        def: &Definition,
        patient_id: &Option<String>,
        inst: &mut Instance,
        effects: Vec<Effect>,
        now: Instant,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let at = At {
            now,
            wall: chrono::Utc::now(),
        };
        for e in effects {
            match e {
                Effect::CreateTask(ct) => self.create_task(patient_id, inst, &ct, at, commit)?,
                Effect::CancelTask {
                    task_id, reason, ..
                } => {
                    self.cancel_task(patient_id, inst, &task_id, &reason, at, commit)
                        .await?
                }
                Effect::ScheduleTimer {
                    timer_id,
                    element_id,
                    due_at,
                } => commit.jobs.push(NewJob {
                    kind: TIMER_JOB.into(),
                    due_at,
                    dedupe_key: Some(timer_id.clone()),
                    payload: json!({"instance_id": inst.id, "timer_id": timer_id, "element_id": element_id}),
                }),
                Effect::CancelTimer { .. } => {}
                Effect::ServiceCall {
                    call_id,
                    element_id,
                    action,
                    params,
                } => self.service_call(
                    patient_id,
                    inst,
                    ServiceCall {
                        call_id: &call_id,
                        element_id: &element_id,
                        action,
                        params: &params,
                    },
                    at,
                    commit,
                ),
                Effect::Completed { end_event, .. } => {
                    tracing::info!(pathway = %def.id, end = %end_event, "pathway ended");
                }
                Effect::Incident {
                    element_id,
                    message,
                } => {
                    tracing::warn!(pathway = %def.id, element = %element_id, "pathway incident");
                    let ev = Event::activity("pathway-incident", AuditAction::Execute)
                        .outcome(AuditOutcome::SeriousFailure, Some(&message))
                        .patient(patient_id.as_deref())
                        .entity(
                            Entity::identifier("urn:bedside:pathway-instance", &inst.id)
                                .detail("element", &element_id),
                        )
                        .at(now);
                    self.record(commit, ev);
                }
            }
        }
        commit
            .documents
            .push(instance_record(def, patient_id, inst, at.wall).to_document());
        Ok(())
    }

    /// A Task for a user task (patient pathways: a FHIR Task for the
    /// patient; governance pathways: a Task about a model).
    fn create_task(
        &self,
        patient_id: &Option<String>,
        inst: &Instance,
        ct: &bedside_pathways::CreateTask,
        at: At,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let body = match patient_id.as_deref() {
            Some(p) => {
                let patient = PatientRef::parse(p).map_err(|_| {
                    ApiError::internal(format!(
                        "pathway instance {} has an invalid patient id",
                        inst.id
                    ))
                })?;
                let focus = task_focus(&inst.variables);
                build_task(ct, &patient, focus, Some(REQUESTER), at.now)
                    .map_err(|e| ApiError::internal(e.to_string()))?
            }
            None => crate::governance::model_task(ct, &inst.variables, at.now)?,
        };
        let owner = ct.owner.clone().or_else(|| ct.roles.first().cloned());
        self.record_write(
            commit,
            inst,
            patient_id.as_deref(),
            &format!("{TASK}/{}", ct.task_id),
            "CREATE",
            "requested",
            at.now,
        );
        commit.documents.push(Document {
            kind: TASK.into(),
            id: ct.task_id.clone(),
            patient_id: patient_id.clone(),
            status: Some("requested".into()),
            owner,
            created_at: at.now,
            updated_at: at.wall,
            body,
        });
        Ok(())
    }

    /// Cancel a Task written earlier (in this commit or stored).
    async fn cancel_task(
        &self,
        patient_id: &Option<String>,
        inst: &Instance,
        task_id: &str,
        reason: &str,
        at: At,
        commit: &mut Commit,
    ) -> Result<(), ApiError> {
        let Some(doc) = pending_or_stored(self, commit, TASK, task_id).await? else {
            return Ok(());
        };
        let mut task =
            TaskRecord::from_document(doc).map_err(|e| ApiError::internal(e.to_string()))?;
        task.cancel(reason, at.now, at.wall);
        commit.documents.push(task.into_document());
        self.record_write(
            commit,
            inst,
            patient_id.as_deref(),
            &format!("{TASK}/{task_id}"),
            "UPDATE",
            "cancelled",
            at.now,
        );
        Ok(())
    }

    /// A service task: audited; `send_communication` writes a
    /// Communication, `write_detected_issue` a DetectedIssue
    /// ([`crate::detected_issue`]; inputs that cannot make one are an
    /// incident in the audit entry, and the step goes on).
    fn service_call(
        &self,
        patient_id: &Option<String>,
        inst: &Instance,
        call: ServiceCall,
        at: At,
        commit: &mut Commit,
    ) {
        let mut ev = Event::activity("pathway-service-call", AuditAction::Execute)
            .patient(patient_id.as_deref())
            .entity(
                Entity::identifier("urn:bedside:pathway-call", call.call_id)
                    .detail("element", call.element_id)
                    .detail("action", call.action.as_str())
                    .detail("params", Value::Object(call.params.clone())),
            );
        if call.action == bedside_pathways::Action::SendCommunication {
            let cid = crate::writeback::communication_id(call.call_id);
            ev = ev.entity(Entity::reference(&format!("{COMMUNICATION}/{cid}")));
            self.record_write(
                commit,
                inst,
                patient_id.as_deref(),
                &format!("{COMMUNICATION}/{cid}"),
                "CREATE",
                "completed",
                at.now,
            );
            commit.documents.push(Document {
                kind: COMMUNICATION.into(),
                id: cid,
                patient_id: patient_id.clone(),
                status: Some("completed".into()),
                owner: call
                    .params
                    .get("recipient")
                    .or_else(|| call.params.get("recipient_role"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                created_at: at.now,
                updated_at: at.wall,
                // `sent` is when it was sent (the wall clock), not the
                // event time that reached the step (e.g. a timer's due time
                // in a replay).
                body: crate::writeback::communication(
                    call.call_id,
                    patient_id.as_deref(),
                    call.params,
                    at.wall,
                ),
            });
        }
        if call.action == bedside_pathways::Action::WriteDetectedIssue {
            match crate::detected_issue::build(
                call.call_id,
                patient_id.as_deref(),
                call.params,
                at.now,
            ) {
                Ok(di) => {
                    // What it is about, for `?implicated=`.
                    let implicated = di.implicated.first().and_then(|r| r.reference.clone());
                    let body = di.to_json();
                    let id = crate::detected_issue::detected_issue_id(call.call_id);
                    let target = format!("{DETECTED_ISSUE}/{id}");
                    ev = ev.entity(Entity::reference(&target));
                    self.record_write(
                        commit,
                        inst,
                        patient_id.as_deref(),
                        &target,
                        "CREATE",
                        "final",
                        at.now,
                    );
                    commit.documents.push(Document {
                        kind: DETECTED_ISSUE.into(),
                        id,
                        patient_id: patient_id.clone(),
                        status: Some("final".into()),
                        owner: implicated,
                        created_at: at.now,
                        updated_at: at.wall,
                        body,
                    });
                }
                Err(reason) => {
                    tracing::warn!(element = %call.element_id, "pathway incident: no DetectedIssue written");
                    ev = ev.outcome(
                        AuditOutcome::SeriousFailure,
                        Some(&format!("no DetectedIssue written: {reason}")),
                    );
                }
            }
        }
        self.record(commit, ev.at(at.now));
    }
}

/// The engine's time (event time) and the wall clock of a write.
#[derive(Clone, Copy)]
struct At {
    now: Instant,
    wall: Instant,
}

/// A service task's call, as the engine asked for it.
struct ServiceCall<'a> {
    call_id: &'a str,
    element_id: &'a str,
    action: bedside_pathways::Action,
    params: &'a Map<String, Value>,
}

/// The instance as a record, with its status as stored.
pub(crate) fn instance_record(
    def: &Definition,
    patient_id: &Option<String>,
    inst: &Instance,
    wall: Instant,
) -> InstanceRecord {
    let status = match &inst.status {
        InstanceStatus::Running => "running".to_string(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "completed".into()),
    };
    InstanceRecord {
        patient_id: patient_id.clone(),
        definition_id: def.id.clone(),
        status,
        instance: inst.clone(),
        written_at: wall,
    }
}

impl App {
    /// The AuditEvent and Provenance of a resource a pathway writes
    /// (agent Bedside, with the model named in the instance's `risk`
    /// variable; sources: the Task's focus and the pathway instance).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_write(
        &self,
        commit: &mut Commit,
        inst: &Instance,
        patient_id: Option<&str>,
        target: &str,
        activity: &str,
        status: &str,
        now: Instant,
    ) {
        let model = inst
            .variables
            .get("risk")
            .and_then(|r| r["model"].as_str())
            .and_then(|m| m.split_once(' '));
        let mut sources = Vec::new();
        if let Some(f) = task_focus(&inst.variables) {
            sources.push(json!({"reference": f}));
        }
        sources.push(
            json!({"identifier": {"system": "urn:bedside:pathway-instance", "value": inst.id}}),
        );
        let (interaction, action) = if activity == "CREATE" {
            ("create", AuditAction::Create)
        } else {
            ("update", AuditAction::Update)
        };
        let mut what = Entity::reference(target).detail("status", status);
        if let Some((id, version)) = model {
            what = what.detail("model", format!("{id}|{version}"));
        }
        let ev = Event::rest(interaction, "pathway-write", action)
            .by_bedside()
            .patient(patient_id)
            .entity(what)
            .entity(Entity::identifier("urn:bedside:pathway-instance", &inst.id))
            .at(now);
        self.record(commit, ev);
        commit
            .documents
            .push(crate::audit::provenance(&ProvenanceInput {
                target,
                patient_id,
                activity,
                occurred: now,
                actor: None,
                model,
                sources,
                discriminator: status,
            }));
    }
}

/// What a pathway Task is about: the start variable `focus`, else the
/// risk's RiskAssessment, else the finding (e.g. an imaging-AI result).
fn task_focus(vars: &Map<String, Value>) -> Option<&str> {
    vars.get("focus")
        .and_then(Value::as_str)
        .or_else(|| vars.get("risk").and_then(|r| r["reference"].as_str()))
        .or_else(|| vars.get("finding").and_then(|f| f["reference"].as_str()))
}

pub(crate) fn parse_instance(d: &Document) -> Result<Instance, ApiError> {
    InstanceRecord::from_document(d)
        .map(|r| r.instance)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// [`parse_instance`] of a body as stored text (`Store::list_document_texts`).
pub(crate) fn parse_instance_text(id: &str, body: &str) -> Result<Instance, ApiError> {
    InstanceRecord::instance_from_text(id, body).map_err(|e| ApiError::internal(e.to_string()))
}
