//! Reading the record for monitoring: stored predictions, the patients'
//! subgroup attributes and outcomes, cards with their feedback and the
//! first action that followed, and pulse answers. Read only.

use crate::{ViewError, Views};
use bedside_core::{Instant, PatientState};
use bedside_models::outcome::OutcomeEvent;
use bedside_models::Prediction;
use bedside_monitor::usage::{AlertRecord, PulseAnswer, ResponseKind};
use bedside_record::kinds::PREDICTION;
use bedside_record::kinds::TASK;
use bedside_record::kinds::{CARD, FEEDBACK};
use bedside_record::{CardRecord, FeedbackRecord, PulseAnswerRecord, Record as _, TaskRecord};
use bedside_store::{DocFilter, Document};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Document kind of a trust-pulse answer (body: `clinician`, `score` 1-5,
/// `at`; owner = model id).
pub const PULSE_ANSWER: &str = bedside_record::kinds::PULSE_ANSWER;

/// One stored prediction as monitoring reads it.
#[derive(Debug, Clone)]
pub(crate) struct PredRow {
    pub patient: String,
    pub at: Instant,
    pub probability: f64,
    /// Feature name -> value (`None` = missing), as scored.
    pub values: BTreeMap<String, Option<f64>>,
    pub in_distribution: bool,
    pub has_interval: bool,
    pub has_factors: bool,
}

/// Everything read from the store for one model.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub predictions: Vec<PredRow>,
    pub unreadable_predictions: u64,
    pub model_version: Option<String>,
    /// Patient -> subgroup attributes (age band at first prediction, sex,
    /// race, ethnicity; unit is per prediction, see `unit_at`).
    pub attributes: BTreeMap<String, BTreeMap<String, String>>,
    pub states: BTreeMap<String, PatientState>,
    pub outcome_events: BTreeMap<String, Vec<OutcomeEvent>>,
    pub conditions_read: u64,
}

fn docs(kind: &str, owner: Option<&str>, since: Option<Instant>) -> DocFilter {
    DocFilter {
        kind: kind.into(),
        owner: owner.map(str::to_string),
        since,
        ..Default::default()
    }
}

/// The unit (ward) a patient was in at `at`: the newest encounter
/// location, else the encounter class (`class:EMER`), else `unknown`.
pub(crate) fn unit_at(state: Option<&PatientState>, at: Instant) -> String {
    let Some(enc) = state.and_then(|s| s.encounter_at(at)) else {
        return "unknown".into();
    };
    if let Some(l) = enc.locations.last() {
        return l.strip_prefix("Location/").unwrap_or(l).to_string();
    }
    enc.class
        .as_ref()
        .map(|c| format!("class:{c}"))
        .unwrap_or_else(|| "unknown".into())
}

fn ext_text(patient: &Value, url_suffix: &str) -> Option<String> {
    let ext = patient["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"].as_str().is_some_and(|u| u.ends_with(url_suffix)))?;
    let inner = ext["extension"].as_array()?;
    inner
        .iter()
        .find(|e| e["url"] == "text")
        .and_then(|e| e["valueString"].as_str())
        .or_else(|| {
            inner
                .iter()
                .find(|e| e["url"] == "ombCategory")
                .and_then(|e| e["valueCoding"]["display"].as_str())
        })
        .map(str::to_string)
}

/// Sex, race and ethnicity (US Core extensions) and age in years at `at`
/// from a stored Patient resource.
pub(crate) fn patient_attributes(patient: &Value, at: Instant) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let s = |v: Option<String>| v.unwrap_or_else(|| "unknown".into());
    m.insert(
        "sex".into(),
        s(patient["gender"].as_str().map(str::to_string)),
    );
    m.insert("race".into(), s(ext_text(patient, "us-core-race")));
    m.insert(
        "ethnicity".into(),
        s(ext_text(patient, "us-core-ethnicity")),
    );
    let age = patient["birthDate"]
        .as_str()
        .and_then(|b| chrono::NaiveDate::parse_from_str(b.get(..10).unwrap_or(b), "%Y-%m-%d").ok())
        .map(|b| (at.date_naive() - b).num_days() as f64 / 365.25);
    m.insert(
        "age_band".into(),
        age.map(bedside_monitor::subgroups::age_band)
            .unwrap_or("unknown")
            .to_string(),
    );
    m
}

impl Views {
    /// Stored predictions of `model_id` made in `[since, until)`, with the
    /// patients' attributes, states and outcome events.
    pub(crate) async fn monitoring_record(
        &self,
        model_id: &str,
        since: Instant,
        until: Instant,
    ) -> Result<Record, ViewError> {
        let mut rec = Record::default();
        let rows = self
            .store
            .list_documents(&docs(PREDICTION, Some(model_id), Some(since)))
            .await?;
        for d in rows.into_iter().filter(|d| d.created_at < until) {
            let Some(pid) = d.patient_id.clone() else {
                rec.unreadable_predictions += 1;
                continue;
            };
            match serde_json::from_value::<Prediction>(d.body) {
                Ok(p) => {
                    rec.model_version = Some(p.model_version.clone());
                    rec.predictions.push(PredRow {
                        patient: pid,
                        at: p.at,
                        probability: p.probability.get(),
                        in_distribution: p.in_distribution,
                        has_interval: p.interval.is_some(),
                        has_factors: !p.top_factors.is_empty(),
                        values: p.features.into_iter().map(|f| (f.name, f.value)).collect(),
                    });
                }
                Err(_) => rec.unreadable_predictions += 1,
            }
        }
        let patients: BTreeSet<String> =
            rec.predictions.iter().map(|p| p.patient.clone()).collect();
        let ids: Vec<String> = patients.iter().cloned().collect();
        for chunk in ids.chunks(500) {
            for (id, row) in self.store.load_states(chunk).await? {
                if let Ok(s) = bedside_ingest::decode_state(&row.state) {
                    rec.states.insert(id, s);
                }
            }
        }
        for pid in &patients {
            let first = rec
                .predictions
                .iter()
                .find(|p| &p.patient == pid)
                .map(|p| p.at)
                .unwrap_or(since);
            let key = bedside_store::ResourceKey {
                rtype: "Patient".into(),
                id: pid.clone(),
            };
            let attrs = match self.store.get_resource(&key).await? {
                Some(r) => serde_json::from_str::<Value>(&r.body)
                    .map(|v| patient_attributes(&v, first))
                    .unwrap_or_default(),
                None => BTreeMap::new(),
            };
            rec.attributes.insert(pid.clone(), attrs);
            let events = self.patient_outcome_events(pid).await?;
            rec.conditions_read += events.len() as u64;
            rec.outcome_events.insert(pid.clone(), events);
        }
        Ok(rec)
    }

    /// Cards of `model_id` recorded in `[since, until)` as alert records:
    /// shown or silent, the first feedback on each (accepted / overridden
    /// with its coded reason), and the first action after the card (a
    /// MedicationRequest or ServiceRequest for the patient authored within
    /// `action_window` after it, or a pathway Task for the patient moved
    /// out of `requested` after it). Also returns each card's measured
    /// latency in ms (`latency_ms` in the card body) by hook.
    pub(crate) async fn alert_records(
        &self,
        model_id: &str,
        since: Instant,
        until: Instant,
        action_window: chrono::Duration,
    ) -> Result<AlertSet, ViewError> {
        let cards: Vec<Document> = self
            .store
            .list_documents(&docs(CARD, Some(model_id), Some(since)))
            .await?
            .into_iter()
            .filter(|d| d.created_at < until)
            .collect();
        let mut feedback: BTreeMap<String, (Instant, ResponseKind, Option<String>)> =
            BTreeMap::new();
        let fb = self
            .store
            .list_documents(&docs(FEEDBACK, Some(model_id), Some(since)))
            .await?;
        let n_feedback = fb.len() as u64;
        for d in fb {
            let Ok(record) = FeedbackRecord::from_document(&d) else {
                continue;
            };
            let item = &record.item;
            let card = item.card.as_str();
            let kind = match d.status.as_deref() {
                Some("accepted") => ResponseKind::Accepted,
                Some("overridden") => ResponseKind::Overridden,
                _ => continue,
            };
            let reason = item
                .override_reason
                .as_ref()
                .and_then(|r| r.reason.as_ref())
                .map(|r| r.code.clone());
            let e =
                feedback
                    .entry(card.to_string())
                    .or_insert((d.created_at, kind, reason.clone()));
            if d.created_at < e.0 {
                *e = (d.created_at, kind, reason);
            }
        }
        let roles = self.practitioner_roles().await?;
        let mut actions: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        let mut states: BTreeMap<String, Option<PatientState>> = BTreeMap::new();
        let mut set = AlertSet {
            feedback: n_feedback,
            ..Default::default()
        };
        for c in &cards {
            let pid = c.patient_id.clone().unwrap_or_default();
            if !actions.contains_key(&pid) {
                actions.insert(pid.clone(), self.action_times(&pid).await?);
                let st = self.store.load_states(std::slice::from_ref(&pid)).await?;
                states.insert(
                    pid.clone(),
                    st.get(&pid)
                        .and_then(|r| bedside_ingest::decode_state(&r.state).ok()),
                );
            }
            let first_action_at = actions[&pid]
                .iter()
                .copied()
                .filter(|t| *t > c.created_at && *t <= c.created_at + action_window)
                .min();
            let card = CardRecord::from_document(c).ok();
            let clinician = card.as_ref().and_then(|r| r.user.clone());
            let fbk = feedback.get(&c.id);
            set.records.push(AlertRecord {
                at: c.created_at,
                unit: Some(unit_at(states[&pid].as_ref(), c.created_at)),
                role: clinician.as_ref().and_then(|u| roles.get(u).cloned()),
                clinician,
                shown: c.status.as_deref() == Some("shown"),
                response: fbk.map(|f| f.1),
                reason: fbk.and_then(|f| f.2.clone()),
                first_action_at,
            });
            if let Some(card) = &card {
                let (ms, hook) = (card.latency_ms, card.hook.as_str());
                set.latency_ms
                    .entry(format!("cds:{hook}"))
                    .or_default()
                    .push(ms);
            }
        }
        Ok(set)
    }

    /// Practitioner reference -> role code, from stored PractitionerRole
    /// resources (`code[0].coding[0].code`).
    async fn practitioner_roles(&self) -> Result<BTreeMap<String, String>, ViewError> {
        let mut out = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .resources_of_type("PractitionerRole", after.as_deref(), 500)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.id.clone());
            for r in &page {
                let Ok(v) = serde_json::from_str::<Value>(&r.body) else {
                    continue;
                };
                if let (Some(p), Some(code)) = (
                    v["practitioner"]["reference"].as_str(),
                    v["code"][0]["coding"][0]["code"].as_str(),
                ) {
                    out.insert(p.to_string(), code.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Times of a patient's orders (MedicationRequest, ServiceRequest event
    /// times) and of pathway Task actions (`lastModified` of a Task no
    /// longer `requested`).
    async fn action_times(&self, pid: &str) -> Result<Vec<Instant>, ViewError> {
        let mut out = Vec::new();
        for rtype in ["MedicationRequest", "ServiceRequest"] {
            for r in self.store.resources_for_patient(rtype, pid).await? {
                out.extend(r.event_time);
            }
        }
        let tasks = self
            .store
            .list_documents(&DocFilter {
                kind: TASK.into(),
                patient_id: Some(pid.to_string()),
                ..Default::default()
            })
            .await?;
        for t in tasks {
            if t.status.as_deref().is_some_and(|s| s != "requested") {
                if let Ok(task) = TaskRecord::from_document(t) {
                    out.extend(task.last_modified().and_then(crate::conditions::parse_time));
                }
            }
        }
        Ok(out)
    }

    /// Trust-pulse answers for `model_id` (all time).
    pub(crate) async fn pulse_answers(
        &self,
        model_id: &str,
    ) -> Result<Vec<PulseAnswer>, ViewError> {
        Ok(self
            .store
            .list_documents(&docs(PULSE_ANSWER, Some(model_id), None))
            .await?
            .iter()
            .filter_map(|d| PulseAnswerRecord::from_document(d).ok())
            .map(|r| PulseAnswer {
                clinician: r.clinician,
                at: r.at,
                score: r.score,
            })
            .collect())
    }
}

/// Cards as alert records, with latencies by endpoint.
#[derive(Debug, Default)]
pub(crate) struct AlertSet {
    pub records: Vec<AlertRecord>,
    pub feedback: u64,
    pub latency_ms: BTreeMap<String, Vec<f64>>,
}
