//! Governance alarms over the record: the monitoring snapshot of each
//! served model is evaluated against the configured alarm rules
//! (`MonitoringConfig::alarms`), each raised alarm is kept in the alarm
//! history, and the alarms of one model in one evaluation start ONE
//! governance review (the shipped `pathways/model-governance.bpmn`,
//! started by the message [`GOVERNANCE_ALARM`]) whose user task is the
//! model owner's review Task, listing every alarm (`Task.input` "alarm",
//! one per alarm). While a review of the model is running, its alarms are
//! recorded as `ongoing` and the review is updated, not duplicated: an
//! alarm it does not list yet is added to the instance's `alarm` variable
//! and to its open Task's inputs (compare-and-set; a conflicting write is
//! merged at the next evaluation).
//!
//! When: [`App::governance_tick`] runs after each replay chunk (data clock)
//! and from the background worker (wall clock), evaluating a model at most
//! once per `evaluate_every_hours`; the last evaluation time is a stored
//! document, so restarts and several replicas keep the cadence. Never on
//! the scoring path. Evaluation is on only when a pathway started by
//! [`GOVERNANCE_ALARM`] is loaded.
//!
//! Document kinds: `governance_alarm` (history, one per raised alarm per
//! evaluation; status `opened` / `ongoing`; owner = model id) and
//! `governance_state` (id = model id; last evaluation time).

use crate::committer::ReadSet;
use crate::pathway_rt::{instance_record, parse_instance, PATHWAY_INSTANCE, REQUESTER, TASK};
use crate::{ApiError, App};
use bedside_core::{Instant, PatientRef};
use bedside_monitor::alarms::Alarm;
use bedside_pathways::{build_task, CreateTask, Definition, Engine, StartTrigger, Wait};
use bedside_record::{GovernanceState, Record as _, TaskRecord};
use bedside_store::{Commit, DocFilter, Document};
use bedside_views::monitoring::{
    MonitoringConfig, MonitoringQuery, MonitoringSnapshot, Sources, Span,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Start message of the governance pathway.
pub const GOVERNANCE_ALARM: &str = "governance-alarm";
/// Alarm history document kind.
pub const ALARM_HISTORY: &str = bedside_record::kinds::ALARM_HISTORY;
/// Last-evaluation document kind.
pub const GOVERNANCE_STATE: &str = bedside_record::kinds::GOVERNANCE_STATE;

/// One raised alarm as kept in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRecord {
    pub model_id: String,
    /// `{model}|{kind}|{metric}`: what was measured (one model has one
    /// open governance review whatever its keys).
    pub key: String,
    pub evaluated_at: Instant,
    pub alarm: Alarm,
    /// `opened` (a review was started) or `ongoing` (one is running).
    pub status: String,
    /// The governance pathway instance reviewing it, if any.
    pub instance_id: Option<String>,
    pub window: Span,
    pub sources: Sources,
}

/// What one evaluation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovernanceRun {
    pub model_id: String,
    pub evaluated_at: Instant,
    pub alarms: Vec<AlarmRecord>,
}

/// A governance Task: built like any pathway Task, but about a model
/// (`focus` = the model's identifier) instead of a patient (`for` absent).
pub(crate) fn model_task(
    ct: &CreateTask,
    vars: &Map<String, Value>,
    now: Instant,
) -> Result<Value, ApiError> {
    // build_task needs a patient for `Task.for`; it is removed below.
    let placeholder = PatientRef::parse("governance")
        .map_err(|e| ApiError::internal(format!("governance task: {e}")))?;
    let mut t = build_task(ct, &placeholder, None, Some(REQUESTER), now)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(o) = t.as_object_mut() {
        o.remove("for");
    }
    let id = vars
        .get("model")
        .and_then(|m| m["id"].as_str())
        .unwrap_or("unknown");
    t["focus"] = json!({
        "identifier": {"system": "urn:bedside:model", "value": id},
        "display": format!("model {id}"),
    });
    Ok(t)
}

fn ts(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl App {
    /// Evaluate the alarm rules for one model at `now`, keep the history
    /// and open the owner's review for each new alarm. One commit.
    pub async fn evaluate_governance(
        &self,
        model_id: &str,
        now: Instant,
    ) -> Result<GovernanceRun, ApiError> {
        let cfg = self.views.monitoring_config();
        let snap = self
            .views
            .monitoring(&MonitoringQuery {
                model_id: model_id.into(),
                now,
            })
            .await?;
        let def = self.pathways.started_by(GOVERNANCE_ALARM);
        let running = match &def {
            Some(d) => {
                self.store
                    .list_documents(&DocFilter {
                        kind: PATHWAY_INSTANCE.into(),
                        status: Some("running".into()),
                        owner: Some(d.id.clone()),
                        ..Default::default()
                    })
                    .await?
            }
            None => Vec::new(),
        };
        let mut commit = Commit::default();
        let mut run = GovernanceRun {
            model_id: model_id.into(),
            evaluated_at: now,
            alarms: Vec::new(),
        };
        // One review per model: any running instance about it.
        let prefix = format!("gov|{model_id}|");
        let open = running.iter().find(|d| d.id.starts_with(&prefix));
        let mut instance_id = open.map(|d| d.id.clone());
        let mut status = "ongoing";
        match (&def, open) {
            (Some(d), None) if !snap.alarms.is_empty() => {
                let id = format!("{prefix}{}", ts(now));
                let vars = governance_variables(&snap, &snap.alarms, &cfg.owner);
                let (mut inst, effects) = Engine::start(
                    d,
                    &id,
                    &StartTrigger::Message(GOVERNANCE_ALARM.into()),
                    vars,
                    now,
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
                self.apply_effects(d, &None, &mut inst, effects, now, &mut commit)
                    .await?;
                tracing::warn!(
                    model = model_id,
                    alarms = snap.alarms.len(),
                    "governance alarms: owner review opened"
                );
                status = "opened";
                instance_id = Some(id);
            }
            (Some(d), Some(doc)) if !snap.alarms.is_empty() => {
                self.update_review(d, &doc.id, &snap.alarms, now).await?;
            }
            _ => {}
        }
        for alarm in &snap.alarms {
            let kind = serde_json::to_value(alarm.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let key = format!("{model_id}|{kind}|{}", alarm.metric);
            let rec = AlarmRecord {
                model_id: model_id.into(),
                key: key.clone(),
                evaluated_at: now,
                alarm: alarm.clone(),
                status: status.into(),
                instance_id: instance_id.clone(),
                window: snap.window,
                sources: snap.sources.clone(),
            };
            commit.documents.push(Document {
                kind: ALARM_HISTORY.into(),
                id: format!("{key}|{}", ts(now)),
                patient_id: None,
                status: Some(rec.status.clone()),
                owner: Some(model_id.into()),
                created_at: now,
                updated_at: chrono::Utc::now(),
                body: serde_json::to_value(&rec).map_err(|e| ApiError::internal(e.to_string()))?,
            });
            run.alarms.push(rec);
        }
        commit.documents.push(
            GovernanceState {
                model_id: model_id.into(),
                written_at: chrono::Utc::now(),
                last_evaluated_at: now,
                alarms: run.alarms.len() as u64,
                psi_training: psi_map(&snap.drift.training),
                psi_reference: psi_map(&snap.drift.reference),
            }
            .to_document(),
        );
        self.write(commit).await?;
        Ok(run)
    }

    /// Evaluate every served model whose last evaluation is at least
    /// `evaluate_every_hours` before `now` (see the module doc).
    pub async fn governance_tick(&self, now: Instant) -> Result<Vec<GovernanceRun>, ApiError> {
        let mut out = Vec::new();
        if self.pathways.started_by(GOVERNANCE_ALARM).is_none() {
            return Ok(out);
        }
        let every = MonitoringConfig::hours(self.views.monitoring_config().evaluate_every_hours);
        let ids: Vec<String> = self
            .models
            .iter()
            .filter(|m| m.model.is_some())
            .map(|m| m.id().to_string())
            .collect();
        for id in ids {
            let last = self
                .store
                .get_document(GOVERNANCE_STATE, &id)
                .await?
                .and_then(|d| GovernanceState::from_document(&d).ok())
                .map(|s| s.last_evaluated_at);
            if last.is_some_and(|l| now < l + every) {
                continue;
            }
            if self.views.monitoring_clock(&id).await?.is_none() {
                continue;
            }
            out.push(self.evaluate_governance(&id, now).await?);
        }
        Ok(out)
    }

    /// Add the alarms a running review does not list yet to its `alarm`
    /// variable and its open Tasks' inputs. Returns whether anything was
    /// added; a write that raced another (a worklist action on the Task)
    /// writes nothing and is merged at the next evaluation.
    async fn update_review(
        &self,
        def: &Definition,
        instance_id: &str,
        alarms: &[Alarm],
        now: Instant,
    ) -> Result<bool, ApiError> {
        let mut reads = ReadSet::default();
        let Some(doc) = self
            .read_for_update(&mut reads, PATHWAY_INSTANCE, instance_id)
            .await?
        else {
            return Ok(false);
        };
        let mut inst = parse_instance(&doc)?;
        let mut listed: Vec<Value> = match inst.variables.remove("alarm") {
            Some(Value::Array(a)) => a,
            Some(Value::Null) | None => Vec::new(),
            Some(one) => vec![one],
        };
        let before = listed.len();
        for a in alarms {
            if !listed.iter().any(|l| l["metric"] == a.metric.as_str()) {
                listed.push(alarm_value(a));
            }
        }
        let added = listed.len() - before;
        inst.variables
            .insert("alarm".into(), Value::Array(listed.clone()));
        if added == 0 {
            return Ok(false);
        }
        let wall = chrono::Utc::now();
        let mut commit = Commit::default();
        for token in &inst.tokens {
            let Wait::UserTask { task_id, .. } = &token.wait else {
                continue;
            };
            let Some(d) = self.read_for_update(&mut reads, TASK, task_id).await? else {
                continue;
            };
            // Read through the typed record (a Task of Bedside's shape).
            let mut doc = TaskRecord::from_document(d)
                .map_err(|e| ApiError::internal(e.to_string()))?
                .into_document();
            let status = doc.status.clone().unwrap_or_default();
            let body = &mut doc.body;
            let mut inputs: Vec<Value> = body["input"].as_array().cloned().unwrap_or_default();
            inputs.retain(|i| i["type"]["coding"][0]["code"] != "alarm");
            for l in &listed {
                inputs.push(json!({
                    "type": {
                        "coding": [{"system": bedside_pathways::task::INPUT_TYPE_SYSTEM, "code": "alarm"}],
                        "text": "alarm"
                    },
                    "valueString": l["display"].as_str().unwrap_or_default(),
                }));
            }
            body["input"] = Value::Array(inputs);
            body["lastModified"] = json!(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            doc.updated_at = wall;
            commit.documents.push(doc);
            self.record_write(
                &mut commit,
                &inst,
                None,
                &format!("{TASK}/{task_id}"),
                "UPDATE",
                &status,
                now,
            );
        }
        commit
            .documents
            .push(instance_record(def, &None, &inst, wall).to_document());
        match self.write_checked(commit, &reads).await {
            Ok(()) => {
                tracing::warn!(
                    instance = instance_id,
                    added,
                    "governance alarms: open owner review updated"
                );
                Ok(true)
            }
            Err(e) if e.is_conflict() => {
                tracing::debug!(
                    instance = instance_id,
                    "governance review raced another write; merged at the next evaluation"
                );
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The alarm history of a model, oldest first.
    pub async fn alarm_history(&self, model_id: &str) -> Result<Vec<AlarmRecord>, ApiError> {
        Ok(self
            .store
            .list_documents(&DocFilter {
                kind: ALARM_HISTORY.into(),
                owner: Some(model_id.into()),
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter_map(|d| serde_json::from_value(d.body).ok())
            .collect())
    }
}

/// One alarm as the review lists it (`display`: the Task input's text).
fn alarm_value(a: &Alarm) -> Value {
    json!({"kind": a.kind, "metric": a.metric, "value": a.value, "threshold": a.threshold, "message": a.message, "display": a.message})
}

/// What the owner's review Task carries: the model, every alarm of the
/// evaluation, and where the evidence came from.
fn governance_variables(
    s: &MonitoringSnapshot,
    alarms: &[Alarm],
    owner: &str,
) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert(
        "model".into(),
        json!({"id": s.model_id, "version": s.model_version}),
    );
    v.insert(
        "alarm".into(),
        Value::Array(alarms.iter().map(alarm_value).collect()),
    );
    v.insert(
        "evidence".into(),
        json!(format!(
            "monitoring window {} to {}: {} predictions, {} alerts, {} cards",
            ts(s.window.start),
            ts(s.window.end),
            s.sources.predictions,
            s.sources.decisions,
            s.sources.cards
        )),
    );
    let owner_ref = if owner.starts_with("Practitioner/") {
        Value::String(owner.into())
    } else {
        Value::Null
    };
    v.insert("owner_reference".into(), owner_ref);
    v
}

fn psi_map(d: &[bedside_monitor::drift::FeatureDrift]) -> BTreeMap<String, f64> {
    d.iter()
        .filter_map(|f| f.psi.map(|p| (f.name.clone(), p)))
        .collect()
}
