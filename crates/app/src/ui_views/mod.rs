//! View models of the web UI (crate `bedside-ui`), filled from the store,
//! the served models and the loaded pathways. The UI crate renders them
//! and does no IO; the server routes `/ui/...` to these methods.
//!
//! Pages: worklist (this file), model facts (`facts`), EHR sandbox
//! (`sandbox`), pathway view (`pathways`), monitoring dashboard
//! (`dashboard`).

mod dashboard;
pub use dashboard::{DashboardCache, DASHBOARD_MAX_AGE_SECS};
mod facts;
mod pathways;
mod sandbox;

use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_pathways::{Instance, NodeKind, TaskStatus};
use bedside_record::kinds::PATHWAY_INSTANCE;
use bedside_record::{InstanceRecord, Record as _};
use bedside_ui::{Choice, TaskAction, TaskRow, WorklistView};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

/// Who acts in the UI when authentication is off (demo mode).
pub const UI_ACTOR: &str = "Practitioner/demo";

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
    pub(crate) async fn get(&mut self, app: &App, id: &str) -> Result<String, ApiError> {
        if let Some(n) = self.names.get(id) {
            return Ok(n.clone());
        }
        let key = bedside_store::ResourceKey {
            rtype: "Patient".into(),
            id: id.to_string(),
        };
        let name = match app.store.get_resource(&key).await? {
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

fn parse_time(v: &Value) -> Option<Instant> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl App {
    /// The worklist page: every open pathway Task with its deadline,
    /// escalation state and the actions its status allows.
    pub async fn ui_worklist(
        &self,
        who: &crate::audit::Actor,
        now: Instant,
        flash: Option<String>,
    ) -> Result<WorklistView, ApiError> {
        let page = self
            .worklist_as(
                who,
                "ui",
                &crate::worklist::WorklistQuery {
                    count: Some(crate::worklist::WORKLIST_PAGE),
                    ..Default::default()
                },
            )
            .await?;
        let tasks = page.values();
        let mut names = PatientNames::new();
        let mut instances: HashMap<String, Option<Instance>> = HashMap::new();
        let mut rows = Vec::with_capacity(tasks.len());
        for t in &tasks {
            let pid = t["for"]["reference"]
                .as_str()
                .map(|r| r.trim_start_matches("Patient/").to_string());
            let patient = match &pid {
                Some(p) => names.get(self, p).await?,
                None => "unknown patient".into(),
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
            });
        }
        Ok(WorklistView {
            now,
            tasks: rows,
            reassign_targets: self.reassign_targets(),
            snooze_reasons: self
                .policy()
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

    /// Roles of every loaded pathway's user tasks, then the UI actor.
    fn reassign_targets(&self) -> Vec<Choice> {
        let mut roles = BTreeSet::new();
        for (_, def) in &self.pathways.definitions {
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
        let def = self.pathways.definition(&inst.definition_id)?;
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

    /// A worklist action from the UI, as [`UI_ACTOR`]; returns the flash
    /// message ("Task claimed.").
    pub async fn ui_task_action(
        &self,
        who: &crate::audit::Actor,
        task_id: &str,
        action: &str,
        to: Option<&str>,
        now: Instant,
    ) -> Result<String, ApiError> {
        if action == "snooze" {
            let code =
                to.ok_or_else(|| ApiError::bad_request("snooze needs a reason", Some("reason")))?;
            self.snooze_from_worklist(
                who,
                task_id,
                Some(UI_ACTOR),
                &serde_json::json!(code),
                None,
                now,
            )
            .await?;
            return Ok(format!(
                "Alert snoozed ({code}); its pathway ended and the task was cancelled."
            ));
        }
        let a = crate::worklist::TaskAction::from_str(action)?;
        self.task_action_as(who, task_id, a, Some(UI_ACTOR), to, Default::default(), now)
            .await?;
        Ok(match a {
            crate::worklist::TaskAction::Claim => "Task claimed.".to_string(),
            crate::worklist::TaskAction::Acknowledge => "Task acknowledged.".to_string(),
            crate::worklist::TaskAction::Complete => "Task completed.".to_string(),
            crate::worklist::TaskAction::Reassign => {
                format!("Task reassigned to {}.", to.unwrap_or("?"))
            }
        })
    }

    /// The JWT the sandbox sends, as the demo EHR would sign it. `aud` is
    /// the service URL the browser calls; the token is issued for that
    /// service's canonical URL (the public URL may differ from the
    /// browser's origin), and only for Bedside's own services.
    pub fn ui_sandbox_token(&self, aud: &str) -> Result<String, ApiError> {
        let path = aud
            .split_once("/cds-services/")
            .map(|(_, rest)| rest.trim_end_matches("/feedback"))
            .ok_or_else(|| {
                ApiError::bad_request(
                    format!("aud {aud:?} is not a CDS service URL (…/cds-services/{{id}})"),
                    Some("aud"),
                )
            })?;
        if !self.hooks.has_service(path) {
            return Err(ApiError::not_found(format!(
                "no CDS service {path:?}; see GET /cds-services"
            )));
        }
        self.demo_token(&self.cds_service_url(path))
    }
}
