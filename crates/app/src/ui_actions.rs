//! What the web UI's buttons and audited pages ask of the write side:
//! worklist actions as the UI actor, the sandbox's demo token, the
//! worklist's Tasks and a patient's timeline recorded as read. The view
//! models themselves are the read side's (`bedside_views::ui`).

use crate::audit::{Action, Actor, Event, Outcome};
use crate::{ApiError, App};
use bedside_core::{Instant, PatientRef};
pub use bedside_views::UI_ACTOR;
use serde_json::Value;
use std::str::FromStr;

impl App {
    /// The Tasks of the UI's worklist page (one page, as `GET /worklist`
    /// reads them), recorded as read by `who` (`via` = `ui`).
    pub async fn ui_worklist_tasks(&self, who: &Actor) -> Result<Vec<Value>, ApiError> {
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
        Ok(page.values())
    }

    /// A patient's record shown in the UI (the sandbox timeline of
    /// `patient`, read as `r`): recorded, a failed read too, before it is
    /// returned.
    pub async fn record_patient_view<T>(
        &self,
        who: &Actor,
        patient: &str,
        r: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut ev = Event::dicom(
            "110110",
            "Patient Record",
            "ui-patient-timeline",
            Action::Read,
        )
        .by(who);
        ev = match (&r, PatientRef::parse(patient)) {
            (Ok(_), _) => ev.patient(Some(patient)),
            (Err(e), Ok(_)) => ev
                .patient(Some(patient))
                .outcome(Outcome::MinorFailure, Some(&e.message())),
            (Err(e), Err(_)) => ev.outcome(Outcome::MinorFailure, Some(&e.message())),
        };
        self.record_access(ev, r).await
    }

    /// A worklist action from the UI, as the signed-in person's
    /// Practitioner (in demo mode the demo user picked, else
    /// [`UI_ACTOR`]); completing records `decision`. Returns the flash
    /// message ("Task claimed.").
    pub async fn ui_task_action(
        &self,
        who: &Actor,
        task_id: &str,
        action: &str,
        to: Option<&str>,
        decision: &crate::worklist::DecisionInput,
        now: Instant,
    ) -> Result<String, ApiError> {
        let actor = match (&who.principal, &who.practitioner) {
            (_, Some(p)) => Some(p.clone()),
            (Some(_), None) => None,
            (None, None) => Some(UI_ACTOR.to_string()),
        };
        if action == "snooze" {
            let code =
                to.ok_or_else(|| ApiError::bad_request("snooze needs a reason", Some("reason")))?;
            self.snooze_from_worklist(
                who,
                task_id,
                actor.as_deref(),
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
        let t = self
            .task_action_decided(
                who,
                task_id,
                a,
                actor.as_deref(),
                to,
                Default::default(),
                decision,
                now,
            )
            .await?;
        let decided = t["output"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["type"]["coding"][0]["code"] == "decision")
            .and_then(|o| o["valueCodeableConcept"]["text"].as_str());
        Ok(match a {
            crate::worklist::TaskAction::Claim => "Task claimed.".to_string(),
            crate::worklist::TaskAction::Acknowledge => "Task acknowledged.".to_string(),
            crate::worklist::TaskAction::Complete => match decided {
                Some(d) => format!("Task completed: {d}."),
                None => "Task completed.".to_string(),
            },
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
