//! The EHR sandbox: patients from the store, the chosen patient's
//! timeline (channels, events, cards, tasks), Bedside's own CDS services,
//! and whether the demo control is offered (the app carries it out, and
//! records each timeline read before it is shown).

use super::patient_name;
use crate::{ViewError, Views, UI_ACTOR};
use bedside_core::{PatientRef, PatientState};
use bedside_record::kinds::{CARD, TASK};
use bedside_record::{CardRecord, Record as _, TaskRecord};
use bedside_store::DocFilter;
use bedside_ui::charts::SparkPoint;
use bedside_ui::{
    CdsServiceRef, ChannelView, PatientListItem, PatientTimeline, SandboxView, TimelineEvent,
};
use serde_json::Value;

/// The hooks the sandbox offers to fire.
const SANDBOX_HOOKS: [&str; 2] = ["patient-view", "order-sign"];
/// At most this many points per sparkline (the newest).
const SPARK_POINTS: usize = 48;

fn details(p: &Value) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(g) = p["gender"].as_str() {
        parts.push(g.to_string());
    }
    if let Some(b) = p["birthDate"].as_str() {
        parts.push(format!("born {b}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// "heart_rate" -> "Heart rate"; short names are abbreviations ("crp" -> "CRP").
fn channel_label(name: &str) -> String {
    if name.len() <= 4 && !name.contains('_') {
        return name.to_uppercase();
    }
    let text = name.replace('_', " ");
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => text,
    }
}

impl Views {
    /// The sandbox page: every stored patient, `selected` (a timeline
    /// from [`Views::ui_timeline`], already recorded as read), the
    /// sandbox's hooks among the CDS services of `discovery` (the
    /// `GET /cds-services` answer), and whether the demo control to start
    /// a pathway is offered.
    pub async fn ui_sandbox(
        &self,
        query: &str,
        selected: Option<PatientTimeline>,
        discovery: &Value,
        can_start_pathway: bool,
    ) -> Result<SandboxView, ViewError> {
        let mut patients = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .resources_of_type("Patient", after.as_deref(), 500)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.id.clone());
            for r in &page {
                let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                patients.push(PatientListItem {
                    id: r.key.id.clone(),
                    display: patient_name(&v).unwrap_or_else(|| r.key.id.clone()),
                    details: details(&v),
                });
            }
        }
        patients.sort_by(|a, b| a.display.cmp(&b.display).then(a.id.cmp(&b.id)));
        let services = discovery["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| SANDBOX_HOOKS.iter().any(|h| s["hook"] == *h))
            .map(|s| CdsServiceRef {
                id: s["id"].as_str().unwrap_or_default().to_string(),
                hook: s["hook"].as_str().unwrap_or_default().to_string(),
                title: s["title"].as_str().unwrap_or_default().to_string(),
            })
            .collect::<Vec<CdsServiceRef>>();
        let mut services = services;
        // In the order an EHR meets them: chart opened, then orders signed.
        services.sort_by_key(|s| SANDBOX_HOOKS.iter().position(|h| *h == s.hook));
        Ok(SandboxView {
            query: query.to_string(),
            patients,
            selected,
            services,
            fhir_server: format!("{}/fhir", self.public_url.trim_end_matches('/')),
            user_id: UI_ACTOR.into(),
            can_start_pathway,
        })
    }

    /// One patient's timeline: channels as sparklines, events, cards and
    /// pathway Tasks (a read of patient data the caller records).
    pub async fn ui_timeline(&self, pid: &str) -> Result<PatientTimeline, ViewError> {
        PatientRef::parse(pid)
            .map_err(|e| ViewError::bad_request(format!("patient: {e}"), Some("patient")))?;
        let key = bedside_store::ResourceKey {
            rtype: "Patient".into(),
            id: pid.to_string(),
        };
        let patient: Value = match self.store.get_resource(&key).await? {
            Some(r) => serde_json::from_str(&r.body).unwrap_or(Value::Null),
            None => return Err(ViewError::not_found(format!("Patient/{pid} is not stored"))),
        };
        let state = match self
            .store
            .load_states(std::slice::from_ref(&pid.to_string()))
            .await?
            .remove(pid)
        {
            Some(row) => bedside_ingest::decode_state(&row.state)
                .map_err(|e| ViewError::new(503, "transient", format!("patient state: {e}")))?,
            None => PatientState::new(pid),
        };
        let channels = state
            .channels
            .iter()
            .map(|(name, series)| ChannelView {
                name: channel_label(name),
                unit: self
                    .channel_units
                    .iter()
                    .find(|(c, _)| c == name)
                    .map(|(_, u)| u.clone())
                    .unwrap_or_default(),
                points: series
                    .points
                    .iter()
                    .rev()
                    .take(SPARK_POINTS)
                    .rev()
                    .map(|p| SparkPoint {
                        at: p.t,
                        value: p.v,
                    })
                    .collect(),
            })
            .collect();
        let encounter_id = state
            .last_event
            .and_then(|t| state.encounter_at(t))
            .or_else(|| state.encounters.values().last())
            .map(|e| e.id.clone());
        Ok(PatientTimeline {
            id: pid.to_string(),
            display: patient_name(&patient).unwrap_or_else(|| pid.to_string()),
            details: details(&patient),
            encounter_id,
            channels,
            events: self.timeline_events(pid, &state).await?,
            draft_orders: None,
        })
    }

    /// Event channels, recorded cards and pathway tasks of a patient.
    async fn timeline_events(
        &self,
        pid: &str,
        state: &PatientState,
    ) -> Result<Vec<TimelineEvent>, ViewError> {
        let mut events = Vec::new();
        for (kind, series) in &state.events {
            for p in &series.points {
                events.push(TimelineEvent {
                    at: p.t,
                    kind: "Event".into(),
                    text: kind.replace('_', " "),
                });
            }
        }
        let docs = |kind: &str| DocFilter {
            kind: kind.into(),
            patient_id: Some(pid.to_string()),
            ..Default::default()
        };
        for c in self.store.list_documents(&docs(CARD)).await? {
            let Ok(card) = CardRecord::from_document(&c) else {
                continue;
            };
            events.push(TimelineEvent {
                at: card.recorded_at,
                kind: "Card".into(),
                text: format!(
                    "{} at {} ({}): {}",
                    card.service,
                    card.hook,
                    if card.shown { "shown" } else { "silent" },
                    card.summary
                        .clone()
                        .unwrap_or_else(|| format!("risk {:.0}%", card.probability * 100.0)),
                ),
            });
        }
        for t in self.store.list_documents(&docs(TASK)).await? {
            let Ok(task) = TaskRecord::from_document(t) else {
                continue;
            };
            let d = task.document();
            events.push(TimelineEvent {
                at: d.created_at,
                kind: "Task".into(),
                text: format!(
                    "{} ({})",
                    task.code_text().unwrap_or("task"),
                    d.status.as_deref().unwrap_or("?")
                ),
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::channel_label;

    #[test]
    fn channel_labels_read_as_words_or_abbreviations() {
        assert_eq!(channel_label("heart_rate"), "Heart rate");
        assert_eq!(channel_label("crp"), "CRP");
        assert_eq!(channel_label("lactate"), "Lactate");
        assert_eq!(channel_label(""), "");
    }
}
