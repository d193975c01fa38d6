//! View models of the web UI (crate `bedside-ui`), filled from the store,
//! the served models and the loaded pathways. The UI crate renders them
//! and does no IO; the server routes `/ui/...` to these methods (the
//! actions behind the UI's buttons are the app's).
//!
//! Pages: worklist (this file), model facts (`facts`), EHR sandbox
//! (`sandbox`), pathway view (`pathways`), monitoring dashboard
//! (`dashboard`), one patient's page (`patient`).

mod dashboard;
pub use dashboard::{DashboardCache, DASHBOARD_MAX_AGE_SECS};
mod facts;
mod pathways;
mod patient;
mod sandbox;

use crate::{ViewError, Views, UI_ACTOR};
use bedside_core::Instant;
use bedside_pathways::{Instance, NodeKind, TaskStatus};
use bedside_record::kinds::PATHWAY_INSTANCE;
use bedside_record::{InstanceRecord, Record as _};
use bedside_ui::{Choice, TaskAction, TaskRow, WorklistView};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

/// Patient display names, read once per page.
pub(crate) struct PatientNames {
    names: HashMap<String, String>,
}

impl PatientNames {
    pub(crate) fn new() -> Self {
        Self {
            names: HashMap::new(),
        }
    }

    /// "Given Family" from the stored Patient, else the id.
    pub(crate) async fn get(&mut self, views: &Views, id: &str) -> Result<String, ViewError> {
        if let Some(n) = self.names.get(id) {
            return Ok(n.clone());
        }
        let key = bedside_store::ResourceKey {
            rtype: "Patient".into(),
            id: id.to_string(),
        };
        let name = match views.store.get_resource(&key).await? {
            Some(r) => serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|v| patient_name(&v))
                .unwrap_or_else(|| id.to_string()),
            None => id.to_string(),
        };
        self.names.insert(id.to_string(), name.clone());
        Ok(name)
    }
}

/// "Given Family" of a FHIR Patient (first name entry), if any.
pub(crate) fn patient_name(p: &Value) -> Option<String> {
    let n = p["name"].as_array()?.first()?;
    if let Some(t) = n["text"].as_str() {
        return Some(t.to_string());
    }
    let mut parts: Vec<&str> = n["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(f) = n["family"].as_str() {
        parts.push(f);
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The actions a task in `status` allows.
fn actions_for(status: &str) -> Vec<TaskAction> {
    let Ok(s) = TaskStatus::from_str(status) else {
        return Vec::new();
    };
    let next = s.next();
    let mut out = Vec::new();
    if next.contains(&TaskStatus::Accepted) {
        out.push(TaskAction::Claim);
    }
    if next.contains(&TaskStatus::InProgress) && s != TaskStatus::Requested {
        out.push(TaskAction::Acknowledge);
    }
    if next.contains(&TaskStatus::Completed) {
        out.push(TaskAction::Complete);
    }
    if !s.is_terminal() {
        out.push(TaskAction::Reassign);
    }
    out
}

/// The Task's one-line context: its risk input, if any.
fn task_context(t: &Value) -> Option<String> {
    t["input"].as_array()?.iter().find_map(|i| {
        let is_risk = i["type"]["coding"][0]["code"] == "risk";
        if !is_risk {
            return None;
        }
        i["valueString"]
            .as_str()
            .or_else(|| i["valueReference"]["display"].as_str())
            .map(str::to_string)
    })
}

/// Why a Task exists, in short lines from its inputs (risk, top factors,
/// study, finding, location, ...): each input's name and its value as
/// written, the patient's identifiers left out; at most eight.
fn task_why(t: &Value) -> Vec<String> {
    let Some(inputs) = t["input"].as_array() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for i in inputs {
        let code = i["type"]["coding"][0]["code"].as_str().unwrap_or_default();
        if code == "patient_identifiers" || code == "risk" {
            continue;
        }
        let label = i["type"]["text"]
            .as_str()
            .or_else(|| i["type"]["coding"][0]["display"].as_str())
            .unwrap_or(code);
        let value = i["valueString"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                i["valueReference"]["display"]
                    .as_str()
                    .or_else(|| i["valueReference"]["reference"].as_str())
                    .map(str::to_string)
            })
            .or_else(|| {
                i["valueCodeableConcept"]["text"]
                    .as_str()
                    .map(str::to_string)
            })
            .or_else(|| {
                i["valueQuantity"]["value"].as_f64().map(|v| {
                    format!(
                        "{v} {}",
                        i["valueQuantity"]["unit"].as_str().unwrap_or_default()
                    )
                    .trim()
                    .to_string()
                })
            });
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let line = format!("{label}: {value}");
        // The same name again (a list input): one line each, if short.
        if !out.contains(&line) {
            out.push(line);
        }
        if out.len() == 8 {
            break;
        }
    }
    out
}

fn parse_time(v: &Value) -> Option<Instant> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl Views {
    /// The worklist page over `tasks` (the open pathway Tasks as the
    /// app's worklist read them, and recorded the read): each with its
    /// deadline, escalation state and the actions its status allows.
    pub async fn ui_worklist(
        &self,
        tasks: &[Value],
        now: Instant,
        flash: Option<String>,
    ) -> Result<WorklistView, ViewError> {
        let mut names = PatientNames::new();
        let mut instances: HashMap<String, Option<Instance>> = HashMap::new();
        let mut rows = Vec::with_capacity(tasks.len());
        for t in tasks {
            let pid = t["for"]["reference"]
                .as_str()
                .map(|r| r.trim_start_matches("Patient/").to_string());
            let patient = match &pid {
                Some(p) => names.get(self, p).await?,
                // A governance review is about a model, not a patient.
                None => match t["focus"]["identifier"]["value"].as_str() {
                    Some(model) => format!("model {model}"),
                    None => "no patient".into(),
                },
            };
            let escalation = match t["groupIdentifier"]["value"].as_str() {
                Some(inst_id) => {
                    if !instances.contains_key(inst_id) {
                        let inst = match self.store.get_document(PATHWAY_INSTANCE, inst_id).await? {
                            Some(d) => InstanceRecord::from_document(&d).ok().map(|r| r.instance),
                            None => None,
                        };
                        instances.insert(inst_id.to_string(), inst);
                    }
                    instances[inst_id]
                        .as_ref()
                        .and_then(|i| self.escalation_state(i, t))
                }
                None => None,
            };
            let status = t["status"].as_str().unwrap_or("unknown").to_string();
            let decision = bedside_pathways::model::task_step(t)
                .and_then(|(def, el)| self.definition(def)?.decision(el).cloned());
            rows.push(TaskRow {
                id: t["id"].as_str().unwrap_or_default().to_string(),
                title: t["code"]["text"]
                    .as_str()
                    .or_else(|| t["description"].as_str())
                    .unwrap_or("Task")
                    .to_string(),
                patient,
                patient_url: pid
                    .as_deref()
                    .map(|p| bedside_ui::urls::sandbox(Some(p), None)),
                role: t["performerType"][0]["text"]
                    .as_str()
                    .unwrap_or("no role")
                    .to_string(),
                owner: t["owner"]["reference"].as_str().map(str::to_string),
                priority: t["priority"].as_str().unwrap_or("routine").to_string(),
                actions: {
                    let mut a = actions_for(&status);
                    // Disagreeing applies to Tasks opened by a model's alert.
                    if a.contains(&TaskAction::Reassign)
                        && t["focus"]["reference"]
                            .as_str()
                            .is_some_and(|f| f.starts_with("RiskAssessment/"))
                    {
                        a.push(TaskAction::Snooze);
                    }
                    a
                },
                status,
                deadline: parse_time(&t["restriction"]["period"]["end"]),
                escalation,
                context: task_context(t),
                why: task_why(t),
                trend: match &pid {
                    Some(p) => self.risk_trend(p, t, now).await?,
                    None => Vec::new(),
                },
                decisions: decision
                    .iter()
                    .flat_map(|d| &d.options)
                    .map(|o| Choice {
                        value: o.code.clone(),
                        label: o.display.clone(),
                    })
                    .collect(),
                decision_reasons: decision
                    .iter()
                    .flat_map(|d| &d.options)
                    .flat_map(|o| {
                        o.reasons.iter().map(move |r| Choice {
                            value: r.code.clone(),
                            label: format!("{} ({})", r.display, o.code),
                        })
                    })
                    .collect(),
            });
        }
        Ok(WorklistView {
            now,
            tasks: rows,
            reassign_targets: self.reassign_targets(),
            act_as: Vec::new(),
            acting: None,
            snooze_reasons: self
                .policy()
                .policy
                .override_reasons
                .iter()
                .map(|c| Choice {
                    value: c.code.clone(),
                    label: c.display.clone(),
                })
                .collect(),
            flash,
        })
    }

    /// The patient's risk from the 24 hours before the Task was written
    /// until `now` (every served model's predictions), oldest first, in
    /// percent; at most 48 points (the newest).
    async fn risk_trend(
        &self,
        patient: &str,
        task: &Value,
        now: Instant,
    ) -> Result<Vec<bedside_ui::charts::SparkPoint>, ViewError> {
        let from = parse_time(&task["authoredOn"]).unwrap_or(now) - chrono::Duration::hours(24);
        let docs = self
            .store
            .list_documents(&bedside_store::DocFilter {
                kind: bedside_record::kinds::PREDICTION.into(),
                patient_id: Some(patient.to_string()),
                since: Some(from),
                ..Default::default()
            })
            .await?;
        let mut pts: Vec<bedside_ui::charts::SparkPoint> = docs
            .iter()
            .filter_map(|d| bedside_record::LatestRisk::from_document(d).ok())
            .filter(|r| r.prediction.at <= now)
            .map(|r| bedside_ui::charts::SparkPoint {
                at: r.prediction.at,
                value: r.prediction.probability.get() * 100.0,
            })
            .collect();
        pts.sort_by_key(|p| p.at);
        let skip = pts.len().saturating_sub(48);
        Ok(pts.split_off(skip))
    }

    /// Roles of every loaded pathway's user tasks, then the UI actor.
    fn reassign_targets(&self) -> Vec<Choice> {
        let mut roles = BTreeSet::new();
        for def in &self.pathways {
            for n in &def.nodes {
                if let NodeKind::UserTask(spec) = &n.kind {
                    roles.extend(spec.roles.iter().cloned());
                }
            }
        }
        let mut out: Vec<Choice> = roles
            .into_iter()
            .map(|r| Choice {
                label: format!("role: {r}"),
                value: r,
            })
            .collect();
        out.push(Choice {
            value: UI_ACTOR.into(),
            label: format!("me ({UI_ACTOR})"),
        });
        out
    }

    /// "level 2: escalated from Bedside nurse reassessment (timer: Not
    /// acknowledged in 15 min)" when the task is not the first user task
    /// its pathway instance entered; `None` for the first.
    fn escalation_state(&self, inst: &Instance, task: &Value) -> Option<String> {
        let def = self.definition(&inst.definition_id)?;
        let element = task["code"]["coding"][0]["code"].as_str()?;
        let name_of = |id: &str| {
            def.nodes
                .iter()
                .find(|n| n.id == id)
                .map(|n| n.name.clone().unwrap_or_else(|| id.to_string()))
        };
        let is_user_task = |id: &str| {
            def.nodes
                .iter()
                .any(|n| n.id == id && matches!(n.kind, NodeKind::UserTask(_)))
        };
        let mut entered: Vec<&str> = Vec::new();
        let mut timer: Option<&str> = None;
        for s in &inst.history {
            if s.event == "entered" && is_user_task(&s.element_id) {
                if s.element_id == element {
                    break;
                }
                entered.push(&s.element_id);
            } else if s.event == "timer-fired" {
                timer = Some(&s.element_id);
            }
        }
        let prev = entered.last()?;
        let mut text = format!(
            "level {}: escalated from {}",
            entered.len() + 1,
            name_of(prev)?
        );
        if let Some(t) = timer.and_then(name_of) {
            text.push_str(&format!(" (timer: {t})"));
        }
        Some(text)
    }
}
