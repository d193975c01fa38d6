//! Prefetch from the EHR: the templates Bedside advertises
//! ([`bedside_cds::standard_prefetch`]) that a call did not satisfy are
//! fetched from its `fhirServer` with the `fhirAuthorization` bearer
//! token, all at once and within `HookConfig::ehr_timeout`. What did not
//! arrive in time (timeout, refused connection, an error status, a body
//! that is not a FHIR resource) is named on the card as data that may be
//! incomplete; the call is answered from what Bedside has. Logs name the
//! prefetch key and the reason, never the URL (it holds the patient id),
//! the token or the data.

use super::*;

/// Largest EHR answer read for one template.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What fetching missing prefetch gave.
#[derive(Debug, Default)]
pub(super) struct Fetched {
    /// Templates fetched and put into the request's prefetch.
    pub(super) keys: Vec<String>,
    /// Templates that could not be fetched, with the reason.
    pub(super) failed: Vec<(String, String)>,
}

impl Fetched {
    /// The card's note when some data may be missing.
    pub(super) fn note(&self) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let what: Vec<String> = self
            .failed
            .iter()
            .map(|(k, why)| format!("{k} ({why})"))
            .collect();
        Some(format!(
            "Data may be incomplete: the EHR's FHIR server did not provide {}; this risk is computed from what Bedside had.",
            what.join(", ")
        ))
    }
}

/// The HTTP client for EHR FHIR servers: no redirects (the bearer token
/// goes to `fhirServer` only), the hook timeout on every request.
pub(super) fn client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "EHR FHIR client with default settings");
            reqwest::Client::new()
        })
}

async fn fetch_one(
    client: reqwest::Client,
    url: String,
    token: Option<String>,
) -> Result<Value, String> {
    let mut rq = client
        .get(&url)
        .header("accept", "application/fhir+json, application/json");
    if let Some(t) = token {
        rq = rq.bearer_auth(t);
    }
    let mut resp = rq.send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "unreachable".to_string()
        } else {
            "request failed".to_string()
        }
    })?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_string()
        } else {
            "answer cut short".to_string()
        }
    })? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("answer larger than {} MB", MAX_BODY >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    let v: Value = serde_json::from_slice(&body).map_err(|_| "not JSON".to_string())?;
    if !v["resourceType"].is_string() {
        return Err("not a FHIR resource".into());
    }
    Ok(v)
}

impl App {
    /// Fetch the prefetch `req` lacks from its `fhirServer` into
    /// `req.prefetch`. Nothing is fetched without a `fhirServer`.
    pub(super) async fn fetch_missing_prefetch(&self, req: &mut HookRequest) -> Fetched {
        let mut out = Fetched::default();
        let Some(server) = req.fhir_server.clone() else {
            return out;
        };
        let templates = bedside_cds::standard_prefetch();
        let missing = bedside_cds::missing_prefetch(&templates, req);
        if missing.is_empty() {
            return out;
        }
        let token = req
            .fhir_authorization
            .as_ref()
            .map(|a| a.access_token.clone());
        let base = server.trim_end_matches('/');
        let mut tasks = tokio::task::JoinSet::new();
        for (key, url) in missing {
            match url {
                Ok(rel) => {
                    let (client, token) = (self.hooks.ehr.clone(), token.clone());
                    let url = format!("{base}/{rel}");
                    tasks.spawn(async move { (key, fetch_one(client, url, token).await) });
                }
                Err(e) => out.failed.push((key, e.to_string())),
            }
        }
        let deadline = tokio::time::Instant::now() + self.hooks.config.ehr_timeout;
        let mut pending: std::collections::BTreeSet<String> = templates
            .keys()
            .filter(|k| !req.prefetch.contains_key(*k))
            .filter(|k| !out.failed.iter().any(|(f, _)| f == *k))
            .cloned()
            .collect();
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(Ok((key, result)))) => {
                    pending.remove(&key);
                    match result {
                        Ok(v) => {
                            req.prefetch.insert(key.clone(), Some(v));
                            out.keys.push(key);
                        }
                        Err(why) => out.failed.push((key, why)),
                    }
                }
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "an EHR fetch task failed"),
                Ok(None) => break,
                Err(_) => {
                    tasks.abort_all();
                    break;
                }
            }
        }
        for key in pending {
            out.failed.push((key, "timed out".into()));
        }
        out.failed.sort();
        for (key, why) in &out.failed {
            tracing::info!(prefetch = %key, reason = %why, "prefetch not fetched from the EHR");
        }
        out
    }
}
