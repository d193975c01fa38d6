//! Write-back of pathway Tasks, Communications, DetectedIssues and the
//! RiskAssessments they focus on to an external FHIR server (the EHR's), when one is
//! configured ([`App::set_writeback`]).
//!
//! Every write of one of those queues a `fhir_writeback` job
//! (payload: resource type and id) in the same commit as the write, so a
//! change is never lost. The job worker PUTs the resource's *current*
//! stored version to `{base}/{type}/{id}` (so jobs run out of order still
//! leave the newest version last) and completes the job only on a 2xx; a
//! failed write keeps its claim until the lease runs out and is retried
//! then, from the durable queue.
//!
//! With [`SmartBackend`] credentials (SMART Backend Services), each write
//! carries `Authorization: Bearer` with an access token obtained by the
//! `client_credentials` grant and a signed `private_key_jwt` client
//! assertion; the token is cached until shortly before it expires, and a
//! 401 from the FHIR server refreshes it once.

use crate::audit::{Action, Entity, Event};
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_store::{Commit, Job, NewJob, Store};
use serde_json::{json, Value};
use std::sync::Arc;

pub const WRITEBACK_JOB: &str = "fhir_writeback";
/// Resource kinds written back.
pub const WRITTEN_BACK: [&str; 4] = ["RiskAssessment", "Task", "Communication", "DetectedIssue"];

/// Where and how to write back.
#[derive(Clone)]
pub struct Writeback {
    base: String,
    client: reqwest::Client,
    smart: Option<Arc<SmartBackend>>,
}

/// How long a client assertion is valid (SMART: at most five minutes).
pub const ASSERTION_TTL_SECS: i64 = 300;
/// A cached access token is renewed this long before it expires.
const RENEW_BEFORE_SECS: i64 = 30;

/// SMART Backend Services client credentials (`private_key_jwt`).
pub struct SmartBackend {
    client_id: String,
    token_url: String,
    scope: String,
    key: bedside_cds::PemSigningKey,
    /// The current access token and when it expires (never logged).
    cached: tokio::sync::Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for SmartBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartBackend")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .field("alg", &self.key.alg())
            .finish_non_exhaustive()
    }
}

impl SmartBackend {
    /// `pem` is the private key (EC P-384 → ES384, RSA → RS384); `kid`
    /// names its public key in the JWK Set registered with the server.
    pub fn new(
        client_id: &str,
        token_url: &str,
        scope: &str,
        pem: &str,
        kid: Option<&str>,
    ) -> Result<Self, String> {
        if client_id.is_empty() {
            return Err("client id is empty".into());
        }
        if !(token_url.starts_with("http://") || token_url.starts_with("https://")) {
            return Err(format!("token URL {token_url:?} is not http(s)"));
        }
        let key = bedside_cds::PemSigningKey::from_pem(pem, kid).map_err(|e| e.to_string())?;
        Ok(Self {
            client_id: client_id.to_string(),
            token_url: token_url.to_string(),
            scope: scope.to_string(),
            key,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The signing algorithm (ES384, ES256 or RS384).
    pub fn alg(&self) -> &'static str {
        self.key.alg()
    }

    /// A fresh client assertion: iss = sub = client id, aud = token URL,
    /// a unique jti, valid for five minutes.
    pub fn client_assertion(&self, now: i64) -> Result<String, String> {
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + ASSERTION_TTL_SECS,
        });
        self.key
            .sign(&claims)
            .map_err(|e| format!("client assertion: {e}"))
    }

    /// The access token: the cached one unless it is near expiry or is
    /// `rejected` (refused by the FHIR server; concurrent writes refused
    /// with the same token renew it once between them).
    async fn token(
        &self,
        http: &reqwest::Client,
        rejected: Option<&str>,
    ) -> Result<String, String> {
        let mut cached = self.cached.lock().await;
        let now = chrono::Utc::now().timestamp();
        if let Some((t, exp)) = cached.as_ref() {
            if Some(t.as_str()) != rejected && now < exp - RENEW_BEFORE_SECS {
                return Ok(t.clone());
            }
        }
        let assertion = self.client_assertion(now)?;
        let resp = http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", self.scope.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // The OAuth error code and description name the cause; they hold
            // no secret.
            return Err(format!(
                "token request: HTTP {} {} {}",
                status.as_u16(),
                body["error"].as_str().unwrap_or(""),
                body["error_description"].as_str().unwrap_or("")
            ));
        }
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("token response has no access_token")?
            .to_string();
        let expires_in = body["expires_in"].as_i64().unwrap_or(300);
        *cached = Some((token.clone(), now + expires_in));
        Ok(token)
    }
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
        Ok(Self {
            base,
            client,
            smart: None,
        })
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
        let body = doc.body.to_string();
        let put = |token: Option<String>| {
            let mut rb = self
                .client
                .put(&url)
                .header("content-type", "application/fhir+json")
                .body(body.clone());
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            rb.send()
        };
        let token = match &self.smart {
            Some(sb) => Some(sb.token(&self.client, None).await?),
            None => None,
        };
        let mut resp = put(token.clone())
            .await
            .map_err(|e| format!("PUT {rtype}: {e}"))?;
        if let (Some(sb), reqwest::StatusCode::UNAUTHORIZED) = (&self.smart, resp.status()) {
            // The token was revoked or expired early: renew it once.
            let t = sb.token(&self.client, token.as_deref()).await?;
            resp = put(Some(t))
                .await
                .map_err(|e| format!("PUT {rtype}: {e}"))?;
        }
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
        self.set_writeback_with(base, None)
    }

    /// As [`App::set_writeback`], authenticating with SMART Backend
    /// Services credentials when given.
    pub fn set_writeback_with(
        &self,
        base: Option<&str>,
        smart: Option<SmartBackend>,
    ) -> Result<(), ApiError> {
        let mut wb = base.map(Writeback::new).transpose()?;
        if let Some(w) = wb.as_mut() {
            if let Some(sb) = smart {
                tracing::info!(client_id = %sb.client_id, alg = sb.alg(), "write-back authenticates with SMART Backend Services");
                w.smart = Some(Arc::new(sb));
            }
        }
        let wb = wb.map(Arc::new);
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

    /// Queue a write-back job for every written-back kind in `commit`.
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

/// The Communication of a `send_communication` call; `sent` is `sent_at`,
/// when it was written (the wall clock), not the pathway's event time.
pub(crate) fn communication(
    call_id: &str,
    patient_id: Option<&str>,
    params: &serde_json::Map<String, Value>,
    sent_at: Instant,
) -> Value {
    // FHIR JSON has no empty arrays: no recipient, no element.
    let recipient = match (params.get("recipient"), params.get("recipient_role")) {
        (Some(Value::String(r)), _) => Some(json!([{"reference": r}])),
        (_, Some(Value::String(role))) => Some(json!([{"display": role}])),
        _ => None,
    };
    let mut c = json!({
        "resourceType": "Communication",
        "id": communication_id(call_id),
        "identifier": [{"system": "urn:bedside:pathway-call", "value": call_id}],
        "status": "completed",
        "sent": sent_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "sender": {"reference": crate::pathway_rt::REQUESTER},
        "payload": [{"contentString": params.get("text").and_then(Value::as_str).unwrap_or("Bedside pathway notification")}],
    });
    if let Some(r) = recipient {
        c["recipient"] = r;
    }
    if let Some(p) = patient_id {
        c["subject"] = json!({"reference": format!("Patient/{p}")});
    }
    c
}
