//! Write-back of pathway Tasks, Communications and the RiskAssessments
//! they focus on to an external FHIR server (the EHR's), when one is
//! configured ([`App::set_writeback`]).
//!
//! Every write of one of those queues a `fhir_writeback` job
//! (payload: resource type and id) in the same commit as the write, so a
//! change is never lost. The job worker PUTs the resource's *current*
//! stored version to `{base}/{type}/{id}` (so jobs run out of order still
//! leave the newest version last) and completes the job only on a 2xx; a
//! failed write keeps its claim until the lease runs out and is retried
//! then, from the durable queue.

use crate::audit::{Action, Entity, Event};
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_store::{Commit, Job, NewJob, Store};
use serde_json::{json, Value};
use std::sync::Arc;

pub const WRITEBACK_JOB: &str = "fhir_writeback";
/// Resource kinds written back.
pub const WRITTEN_BACK: [&str; 3] = ["RiskAssessment", "Task", "Communication"];

/// Where and how to write back.
#[derive(Clone)]
pub struct Writeback {
    base: String,
    client: reqwest::Client,
}

impl Writeback {
    /// `base` is the FHIR base URL (`http://` or `https://`).
    pub fn new(base: &str) -> Result<Self, ApiError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ApiError::bad_request(
                format!("write-back URL must start with http:// or https://, got {base:?}"),
                Some("fhir_writeback_url"),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ApiError::internal(format!("write-back HTTP client: {e}")))?;
        Ok(Self { base, client })
    }

    /// PUT the stored resource; `Ok(false)` when it is no longer stored.
    async fn send(&self, store: &dyn Store, rtype: &str, id: &str) -> Result<bool, String> {
        let Some(doc) = store
            .get_document(rtype, id)
            .await
            .map_err(|e| format!("store: {e}"))?
        else {
            return Ok(false);
        };
        let url = format!("{}/{rtype}/{id}", self.base);
        let resp = self
            .client
            .put(&url)
            .header("content-type", "application/fhir+json")
            .body(doc.body.to_string())
            .send()
            .await
            .map_err(|e| format!("PUT {rtype}: {e}"))?;
        if resp.status().is_success() {
            Ok(true)
        } else {
            Err(format!("PUT {rtype}: HTTP {}", resp.status().as_u16()))
        }
    }
}

/// The job that writes back `rtype/id` (due now).
pub(crate) fn writeback_job(rtype: &str, id: &str, wall: Instant) -> NewJob {
    NewJob {
        kind: WRITEBACK_JOB.into(),
        due_at: wall,
        dedupe_key: None,
        payload: json!({"resourceType": rtype, "id": id}),
    }
}

impl App {
    /// Write Tasks and Communications back to the FHIR server at `base`
    /// (`None`: stop writing back; queued jobs wait).
    pub fn set_writeback(&self, base: Option<&str>) -> Result<(), ApiError> {
        let wb = base.map(Writeback::new).transpose()?.map(Arc::new);
        *self
            .pathways
            .writeback
            .write()
            .unwrap_or_else(|e| e.into_inner()) = wb;
        Ok(())
    }

    pub(crate) fn writeback(&self) -> Option<Arc<Writeback>> {
        self.pathways
            .writeback
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Queue a write-back job for every Task / Communication in `commit`.
    pub(crate) fn queue_writeback(&self, commit: &mut Commit) {
        if self.writeback().is_none() {
            return;
        }
        let wall = chrono::Utc::now();
        let jobs: Vec<NewJob> = commit
            .documents
            .iter()
            .filter(|d| WRITTEN_BACK.contains(&d.kind.as_str()))
            .map(|d| writeback_job(&d.kind, &d.id, wall))
            .collect();
        commit.jobs.extend(jobs);
    }

    /// Run one claimed write-back job in the background: complete it on
    /// success, else leave the claim to run out (retried later).
    pub(crate) fn spawn_writeback(&self, job: Job) {
        let Some(wb) = self.writeback() else {
            tracing::debug!(job = job.id, "write-back job waits: no write-back URL set");
            return;
        };
        let store = self.store.clone();
        let site = self.config.public_url.clone();
        tokio::spawn(async move {
            let rtype = job.payload["resourceType"].as_str().unwrap_or_default();
            let id = job.payload["id"].as_str().unwrap_or_default();
            let result = if WRITTEN_BACK.contains(&rtype) && !id.is_empty() {
                wb.send(&*store, rtype, id).await
            } else {
                Err("payload names no Task or Communication".into())
            };
            match result {
                Ok(sent) => {
                    let mut c = Commit::default();
                    let ev = Event::rest("update", "fhir-writeback", Action::Update)
                        .dicom_subtype("110106", "Export")
                        .by_bedside()
                        .entity(
                            Entity::reference(&format!("{rtype}/{id}"))
                                .detail("sent", sent)
                                .detail("attempts", job.attempts),
                        );
                    c.audit.push(ev.build(&site));
                    if let Err(e) = store.complete_job(job.id, c).await {
                        tracing::debug!(job = job.id, error = %e, "write-back completed elsewhere");
                    }
                }
                Err(e) => {
                    tracing::warn!(job = job.id, attempts = job.attempts, error = %e, "write-back failed; retried when its claim runs out");
                }
            }
        });
    }
}

/// The FHIR id of the Communication of a service call (the call id holds
/// the instance id, which is neither a valid FHIR id nor free of patient
/// ids).
pub(crate) fn communication_id(call_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex = hex::encode(Sha256::digest(call_id.as_bytes()));
    format!("pw-c-{}", &hex[..30])
}

/// A Communication for a `send_communication` service call.
pub(crate) fn communication(
    call_id: &str,
    patient_id: Option<&str>,
    params: &serde_json::Map<String, Value>,
    now: Instant,
) -> Value {
    let recipient = match (params.get("recipient"), params.get("recipient_role")) {
        (Some(Value::String(r)), _) => json!([{"reference": r}]),
        (_, Some(Value::String(role))) => json!([{"display": role}]),
        _ => json!([]),
    };
    let mut c = json!({
        "resourceType": "Communication",
        "id": communication_id(call_id),
        "identifier": [{"system": "urn:bedside:pathway-call", "value": call_id}],
        "status": "completed",
        "sent": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "sender": {"reference": crate::pathway_rt::REQUESTER},
        "recipient": recipient,
        "payload": [{"contentString": params.get("text").and_then(Value::as_str).unwrap_or("Bedside pathway notification")}],
    });
    if let Some(p) = patient_id {
        c["subject"] = json!({"reference": format!("Patient/{p}")});
    }
    c
}
