//! Disagreeing with an alert: an override with a coded reason, from a
//! card's feedback (`POST /cds-services/{id}/feedback`) or from the
//! worklist (`POST /worklist/{task}/snooze`), does the same two things in
//! the caller's commit:
//!
//! 1. snoozes the patient's alert for that model (`bedside_policy::snooze`:
//!    the reason must be one of the policy's `override_reasons`, hours
//!    within `snooze.max_hours`), so neither the hooks nor the pathway
//!    path re-alert until it expires or the risk rises as configured;
//! 2. delivers the model's use case's `pathway.overridden` message to the
//!    patient's running instance of the use case's pathway (the shipped
//!    sepsis pathway ends on `alert-overridden` and cancels its open
//!    Task), so an override does not leave a nurse task counting down for
//!    an alert a clinician has already judged.

use crate::hooks::{memory_doc, memory_from_doc, ALERT_MEMORY};
use crate::pathway_rt::{parse_instance, pending_or_stored, PATHWAY_INSTANCE, TASK};
use crate::scoring::latest_id;
use crate::{ApiError, App};
use bedside_core::{Instant, PatientRef};
use bedside_pathways::Engine;
use bedside_policy::{AlertMemory, Coding};
use bedside_store::Commit;
use serde_json::{json, Map, Value};

/// What an override changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overridden {
    /// The alert memory now carries a snooze.
    pub snoozed: bool,
    /// Why no snooze was set (reason not configured, hours out of range).
    pub snooze_refused: Option<String>,
    /// The running pathway instance that received the override message.
    pub pathway_instance: Option<String>,
}

impl App {
    /// Override `model_id`'s alert for `patient_id` with `reason` (see the
    /// module doc), adding the writes to `commit`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn override_alert(
        &self,
        model_id: &str,
        patient_id: &str,
        reason: Coding,
        by: Option<String>,
        hours: Option<f64>,
        now: Instant,
        commit: &mut Commit,
    ) -> Result<Overridden, ApiError> {
        let mut out = Overridden::default();
        let mem_id = latest_id(model_id, patient_id);
        let (memory, last_shown) =
            match pending_or_stored(self, commit, ALERT_MEMORY, &mem_id).await? {
                Some(d) => memory_from_doc(&d),
                None => (AlertMemory::default(), None),
            };
        let snoozed = {
            let view = self.decisions.view_for(model_id);
            bedside_policy::snooze(
                &view.policy,
                &memory,
                now,
                hours,
                reason.clone(),
                by.clone(),
            )
        };
        match snoozed {
            Ok(m) => {
                commit
                    .documents
                    .push(memory_doc(patient_id, model_id, &m, last_shown, now));
                out.snoozed = true;
            }
            Err(e) => out.snooze_refused = Some(e.to_string()),
        }
        let uc = self.use_cases.for_model(model_id).cloned();
        let target = uc.as_ref().and_then(|u| {
            let msg = u.pathway.as_ref()?.overridden.clone()?;
            Some((self.pathway_of(u)?, msg))
        });
        if let Some((def, msg)) = target {
            if let Some((_, mut inst)) = self
                .running_instance(patient_id, &def.id, Some(commit))
                .await?
            {
                let mut payload = Map::new();
                payload.insert(
                    "override".into(),
                    json!({
                        "reason": {"system": reason.system, "code": reason.code, "display": reason.display},
                        "by": by,
                        "at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    }),
                );
                let effects = Engine::on_message(&def, &mut inst, &msg, None, payload, now)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                if !effects.is_empty() {
                    out.pathway_instance = Some(inst.id.clone());
                    self.apply_effects(
                        &def,
                        &Some(patient_id.to_string()),
                        &mut inst,
                        effects,
                        now,
                        commit,
                    )
                    .await?;
                }
            }
        }
        Ok(out)
    }

    /// `POST /worklist/{task_id}/snooze`: the responder disagrees with the
    /// alert behind a pathway Task. `reason` is `{"system", "code"}` of one
    /// of the policy's `override_reasons` (or just its `code`); `hours`
    /// defaults to `snooze.default_hours`. Snoozes the patient's alert and
    /// ends the sepsis pathway (its open Task is cancelled with the reason),
    /// in one commit. Returns the Task as it now is.
    pub async fn snooze_from_worklist(
        &self,
        who: &crate::audit::Actor,
        task_id: &str,
        actor: Option<&str>,
        reason: &Value,
        hours: Option<f64>,
        now: Instant,
    ) -> Result<Value, ApiError> {
        let task = self
            .store
            .get_document(TASK, task_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Task/{task_id} is not stored")))?;
        let Some(pid) = task.patient_id.clone() else {
            return Err(ApiError::new(
                409,
                "business-rule",
                format!("Task/{task_id} is not about a patient: there is no alert to snooze"),
                Some("Task.for"),
            ));
        };
        PatientRef::parse(&pid).map_err(|e| ApiError::internal(e.to_string()))?;
        let model_id = self.task_model(&task.body).await?.ok_or_else(|| {
            ApiError::new(
                409,
                "business-rule",
                format!(
                    "Task/{task_id} was not opened by a model's alert: there is no alert to snooze"
                ),
                Some("Task.groupIdentifier"),
            )
        })?;
        let reason = self.override_reason(&model_id, reason)?;
        let reason_code = format!("{}|{}", reason.system, reason.code);
        let mut commit = Commit::default();
        let done = self
            .override_alert(
                &model_id,
                &pid,
                reason,
                actor.map(str::to_string),
                hours,
                now,
                &mut commit,
            )
            .await?;
        if let Some(why) = done.snooze_refused {
            return Err(ApiError::bad_request(why, Some("hours")));
        }
        let mut what = crate::audit::Entity::reference(&format!("Task/{task_id}"))
            .detail("reason", &reason_code)
            .detail("model", &model_id);
        if let Some(a) = actor {
            what = what.detail("actor", a);
        }
        if let Some(i) = &done.pathway_instance {
            what = what.detail("pathway_instance", i);
        }
        let ev = crate::audit::Event::rest(
            "update",
            "alert-override-worklist",
            crate::audit::Action::Update,
        )
        .by(who)
        .patient(Some(&pid))
        .entity(what);
        self.record(&mut commit, ev);
        self.write(commit).await?;
        let now_task = self
            .store
            .get_document(TASK, task_id)
            .await?
            .map(|d| d.body)
            .unwrap_or(task.body);
        Ok(now_task)
    }

    /// The configured override reason `v` names (`{"system","code"}`, or
    /// a bare code string / `{"code"}` when the code is unambiguous).
    fn override_reason(&self, model_id: &str, v: &Value) -> Result<Coding, ApiError> {
        let view = self.decisions.view_for(model_id);
        let cfg = &view.policy;
        let code = v.as_str().or_else(|| v["code"].as_str()).ok_or_else(|| {
            ApiError::bad_request(
                "snooze needs `reason`: a code of the policy's override_reasons",
                Some("reason"),
            )
        })?;
        let system = v["system"].as_str();
        let known: Vec<String> = cfg
            .override_reasons
            .iter()
            .map(|c| c.code.clone())
            .collect();
        cfg.override_reasons
            .iter()
            .find(|c| c.code == code && system.is_none_or(|s| s == c.system))
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(
                    format!(
                        "reason {code:?} is not one of the configured override reasons ({})",
                        known.join(", ")
                    ),
                    Some("reason"),
                )
            })
    }

    /// The model whose alert started the pathway of a Task (its instance's
    /// `risk.model`, "id version").
    async fn task_model(&self, task: &Value) -> Result<Option<String>, ApiError> {
        let Some(inst_id) = task["groupIdentifier"]["value"].as_str() else {
            return Ok(None);
        };
        let Some(doc) = self.store.get_document(PATHWAY_INSTANCE, inst_id).await? else {
            return Ok(None);
        };
        let inst = parse_instance(&doc)?;
        Ok(inst
            .variables
            .get("risk")
            .and_then(|r| r["model"].as_str())
            .and_then(|m| m.split_whitespace().next())
            .map(str::to_string))
    }
}
