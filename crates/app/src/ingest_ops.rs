//! Ingest use cases: a Bundle, one resource, a stream of NDJSON lines.
//! All go through [`App::ingest_entries`], which prepares the ingest
//! commit, adds what scoring produces, and writes it in one transaction.

use crate::{ApiError, App};
use bedside_fhir::{
    parse_bundle, parse_resource, response_bundle, BundleType, EntryResponse, Issue,
    OperationOutcome, ParsedEntry, Severity,
};
use bedside_ingest::{EntryOutcome, IngestError, Mode, Outcome};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::pin::Pin;

/// Lines of an NDJSON stream.
pub type ImportLines = Pin<Box<dyn Stream<Item = std::io::Result<String>> + Send>>;

/// Lines per commit during `$import`.
const IMPORT_CHUNK: usize = 2000;

/// One rejected resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    #[serde(rename = "type")]
    pub rtype: String,
    pub id: String,
    pub reason: String,
}

/// Summary of an import or replay (the `--json` output of `bedside replay`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Resources read, by type.
    pub resources: BTreeMap<String, u64>,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Accepted but not used by Bedside (unknown types).
    pub ignored: u64,
    pub rejections: Vec<Rejection>,
    /// Resources held in the store afterwards, by type.
    pub stored: BTreeMap<String, u64>,
    pub patients: u64,
    pub encounters: u64,
    /// Predictions made while ingesting.
    pub predictions: u64,
    pub warnings: u64,
}

impl ImportSummary {
    pub fn read_total(&self) -> u64 {
        self.resources.values().sum()
    }
    /// Add another summary's counts (not the `stored` snapshot).
    pub fn merge_counts(&mut self, o: &ImportSummary) {
        for (k, v) in &o.resources {
            *self.resources.entry(k.clone()).or_default() += v;
        }
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.rejected += o.rejected;
        self.ignored += o.ignored;
        self.predictions += o.predictions;
        self.warnings += o.warnings;
        self.rejections.extend(o.rejections.iter().cloned());
    }
}

/// A resource written through `POST/PUT /fhir/{type}`.
pub struct Written {
    pub created: bool,
    pub location: String,
    pub resource: Value,
}

fn status_of(o: &EntryOutcome) -> EntryResponse {
    let rtype = o.rtype.as_deref().unwrap_or("");
    let id = o.id.as_deref().unwrap_or("");
    let version = o.version_id.as_deref().unwrap_or("1");
    match &o.outcome {
        Outcome::Created => EntryResponse::created(rtype, id, version),
        Outcome::Updated | Outcome::Unchanged => EntryResponse::ok(rtype, id, version),
        Outcome::Ignored { info } => EntryResponse {
            status: "200 OK".into(),
            location: None,
            etag: None,
            last_modified: None,
            outcome: Some(OperationOutcome::new(vec![Issue::info(
                format!("Bundle.entry[{}]", o.index),
                info.clone(),
            )])),
        },
        Outcome::Rejected { reason, path } => EntryResponse::error(
            "400 Bad Request",
            OperationOutcome::new(vec![
                Issue::new(Severity::Error, "invalid", reason.clone()).at(path.clone())
            ]),
        ),
    }
}

/// Why preparing an ingest failed, as the API says it.
pub(crate) fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Rejected {
            index,
            path,
            reason,
        } => rejected_error(index, &path, &reason),
        IngestError::Store(e) => e.into(),
        e => ApiError::internal(e.to_string()),
    }
}

fn rejected_error(index: usize, path: &str, reason: &str) -> ApiError {
    let path = if path.is_empty() {
        format!("Bundle.entry[{index}]")
    } else {
        path.to_string()
    };
    ApiError {
        status: 400,
        outcome: OperationOutcome::new(vec![Issue::new(
            Severity::Error,
            "invalid",
            format!("entry {index}: {reason}"),
        )
        .at(path)])
        .to_json(),
    }
}

impl App {
    /// Count outcomes into a summary.
    pub(crate) fn tally(summary: &mut ImportSummary, outcomes: &[EntryOutcome]) {
        for o in outcomes {
            summary.warnings += o.warnings.len() as u64;
            match &o.outcome {
                Outcome::Created => summary.created += 1,
                Outcome::Updated => summary.updated += 1,
                Outcome::Unchanged => summary.unchanged += 1,
                Outcome::Ignored { .. } => summary.ignored += 1,
                Outcome::Rejected { reason, path } => {
                    summary.rejected += 1;
                    summary.rejections.push(Rejection {
                        rtype: o.rtype.clone().unwrap_or_default(),
                        id: o.id.clone().unwrap_or_default(),
                        reason: if path.is_empty() {
                            reason.clone()
                        } else {
                            format!("{path}: {reason}")
                        },
                    });
                }
            }
        }
    }

    /// `POST /fhir` with a Bundle.
    pub async fn process_bundle(&self, body: &[u8]) -> Result<Value, ApiError> {
        let bundle = parse_bundle(body).map_err(|e| ApiError {
            status: 400,
            outcome: OperationOutcome::from_error(&e).to_json(),
        })?;
        let (mode, kind) = match bundle.btype {
            BundleType::Transaction => (Mode::Atomic, BundleType::Transaction),
            BundleType::Searchset => {
                return Err(ApiError::new(
                    400,
                    "not-supported",
                    "Bundle.type searchset cannot be ingested (use transaction, batch, collection or history)",
                    Some("Bundle.type"),
                ))
            }
            _ => (Mode::PerEntry, BundleType::Batch),
        };
        let report = self.ingest_entries(bundle.entries, mode).await?;
        let responses: Vec<EntryResponse> = report.outcomes.iter().map(status_of).collect();
        Ok(response_bundle(kind, &responses))
    }

    /// `POST /fhir/{type}` (id = None) or `PUT /fhir/{type}/{id}`.
    pub async fn write_resource(
        &self,
        rtype: &str,
        id: Option<&str>,
        body: &[u8],
    ) -> Result<Written, ApiError> {
        let mut r = parse_resource(body).map_err(|e| ApiError {
            status: 400,
            outcome: OperationOutcome::from_error(&e).to_json(),
        })?;
        if r.rtype != rtype {
            return Err(ApiError::bad_request(
                format!(
                    "resourceType {} does not match the URL's type {rtype}",
                    r.rtype
                ),
                Some("resourceType"),
            ));
        }
        if let Some(id) = id {
            match &r.id {
                Some(have) if have != id => {
                    return Err(ApiError::bad_request(
                        format!("resource id {have} does not match the URL's id {id}"),
                        Some(&format!("{rtype}.id")),
                    ))
                }
                _ => r.set_id(id),
            }
        }
        // The sender asked to store exactly this: an element R4 does not
        // define is refused here (bulk import keeps it, with a warning).
        r.refuse_unknown().map_err(|e| ApiError {
            status: 400,
            outcome: OperationOutcome::from_error(&e).to_json(),
        })?;
        let rid = r.ensure_id();
        let outcome = self.ingest_one(r).await?;
        let created = matches!(outcome.outcome, Outcome::Created);
        let resource = self.read_resource(rtype, &rid).await?;
        Ok(Written {
            created,
            location: format!("{}/fhir/{rtype}/{rid}", self.config.public_url),
            resource,
        })
    }

    /// `POST /fhir/$import`: commit every chunk of lines as it arrives.
    pub async fn import_ndjson(&self, mut lines: ImportLines) -> Result<ImportSummary, ApiError> {
        let mut summary = ImportSummary::default();
        let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(IMPORT_CHUNK);
        while let Some(line) = lines.next().await {
            let line = line.map_err(|e| {
                ApiError::bad_request(format!("reading the NDJSON body: {e}"), None)
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let rtype =
                crate::replay::line_type(line.as_bytes()).unwrap_or_else(|| "(unreadable)".into());
            *summary.resources.entry(rtype).or_default() += 1;
            chunk.push(line.into_bytes());
            if chunk.len() >= IMPORT_CHUNK {
                self.ingest_lines(std::mem::take(&mut chunk), &mut summary)
                    .await?;
            }
        }
        if !chunk.is_empty() {
            self.ingest_lines(chunk, &mut summary).await?;
        }
        self.finish_summary(&mut summary).await?;
        Ok(summary)
    }

    /// Ingest NDJSON lines (each its own entry, per-entry outcomes).
    pub async fn ingest_lines(
        &self,
        lines: Vec<Vec<u8>>,
        summary: &mut ImportSummary,
    ) -> Result<(), ApiError> {
        let entries: Vec<ParsedEntry> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| ParsedEntry::from_ndjson_line(i, l))
            .collect();
        self.ingest_parsed(entries, summary).await
    }

    /// Ingest entries parsed from NDJSON lines (per-entry outcomes).
    pub async fn ingest_parsed(
        &self,
        entries: Vec<ParsedEntry>,
        summary: &mut ImportSummary,
    ) -> Result<(), ApiError> {
        let report = self.ingest_entries(entries, Mode::PerEntry).await?;
        Self::tally(summary, &report.outcomes);
        summary.predictions += report.predictions;
        Ok(())
    }

    /// Fill in what the store holds after an import.
    pub async fn finish_summary(&self, summary: &mut ImportSummary) -> Result<(), ApiError> {
        let (stored, patients, encounters) = self.stored_counts().await?;
        summary.stored = stored;
        summary.patients = patients;
        summary.encounters = encounters;
        Ok(())
    }
}

/// Single-resource writes (`POST`/`PUT /fhir/{type}`) waiting to be
/// ingested together. Every write goes through the one ingest lock and a
/// durable commit; one by one, a busy feed of single resources queued
/// behind each other's commits (the soak's ingest latency ran away at a
/// third of the peak). Whoever holds `leader` takes every write queued so
/// far (up to [`INGEST_BATCH`]) and ingests them as one slice, one entry
/// each, then answers each writer with its own outcome.
#[derive(Default)]
pub(crate) struct IngestQueue {
    waiting: std::sync::Mutex<Vec<Waiting>>,
    leader: tokio::sync::Mutex<()>,
}

type Waiting = (
    bedside_fhir::ParsedResource,
    tokio::sync::oneshot::Sender<Result<EntryOutcome, ApiError>>,
);

/// Single-resource writes ingested together at most.
const INGEST_BATCH: usize = 64;

/// What one call of [`App::ingest_entries`] did.
pub struct IngestResult {
    pub outcomes: Vec<EntryOutcome>,
    pub predictions: u64,
}

impl App {
    /// Ingest one resource, batched with concurrent single-resource writes
    /// (see [`IngestQueue`]). The outcome is this resource's own: a
    /// rejected resource is a 400 naming what is wrong and writes nothing,
    /// as alone; a failure of the whole batch (store, pipeline) is every
    /// member's. A writer whose batch was interrupted (its leader's request
    /// cancelled mid-write) gets a 503 and may send the resource again:
    /// ingest is idempotent.
    pub async fn ingest_one(
        &self,
        r: bedside_fhir::ParsedResource,
    ) -> Result<EntryOutcome, ApiError> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.ingest_queue
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((r, tx));
        loop {
            let leader = self.ingest_queue.leader.lock().await;
            match rx.try_recv() {
                Ok(r) => return r,
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                    return Err(ApiError::new(
                        503,
                        "transient",
                        "the write was interrupted with the batch it was in; send the resource again",
                        None,
                    ))
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            }
            // Ours is queued: lead a batch (ours, or the ones before it).
            let batch: Vec<Waiting> = {
                let mut w = self
                    .ingest_queue
                    .waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let n = w.len().min(INGEST_BATCH);
                w.drain(..n).collect()
            };
            self.ingest_batch(batch).await;
            drop(leader);
        }
    }

    async fn ingest_batch(&self, batch: Vec<Waiting>) {
        let mut entries = Vec::with_capacity(batch.len());
        let mut waiters = Vec::with_capacity(batch.len());
        for (i, (r, tx)) in batch.into_iter().enumerate() {
            entries.push(ParsedEntry::from_resource(i, r));
            waiters.push(tx);
        }
        match self.ingest_entries(entries, Mode::PerEntry).await {
            Ok(report) => {
                let mut by_index: BTreeMap<usize, EntryOutcome> =
                    report.outcomes.into_iter().map(|o| (o.index, o)).collect();
                for (i, tx) in waiters.into_iter().enumerate() {
                    let r = match by_index.remove(&i) {
                        Some(mut o) => {
                            o.index = 0;
                            match &o.outcome {
                                Outcome::Rejected { reason, path } => {
                                    Err(rejected_error(0, path, reason))
                                }
                                _ => Ok(o),
                            }
                        }
                        None => Err(ApiError::internal(format!(
                            "ingest returned no outcome for entry {i} of its batch"
                        ))),
                    };
                    let _ = tx.send(r);
                }
            }
            Err(e) => {
                for tx in waiters {
                    let _ = tx.send(Err(e.clone()));
                }
            }
        }
    }

    /// The one ingest path: prepare (ingest), add scoring results, commit
    /// atomically, retry on a concurrent update. In atomic mode a rejected
    /// entry is an error naming the entry, and nothing is written.
    pub async fn ingest_entries(
        &self,
        entries: Vec<ParsedEntry>,
        mode: Mode,
    ) -> Result<IngestResult, ApiError> {
        let mut attempt = 0;
        loop {
            let mut prepared = self
                .ingestor
                .prepare_slice(&entries, mode)
                .await
                .map_err(ingest_error)?;
            let predictions = self.after_ingest(&mut prepared).await?;
            let mut commit = std::mem::take(&mut prepared.commit);
            self.seal(&mut commit);
            // Through the group committer: merged with the concurrent
            // card, audit and other ingest commits into one transaction.
            match self.committer.commit(commit).await {
                Ok(()) => {
                    return Ok(IngestResult {
                        outcomes: self.ingestor.finish(prepared),
                        predictions,
                    });
                }
                Err(bedside_store::StoreError::Conflict(what)) if attempt < 5 => {
                    attempt += 1;
                    let pids: Vec<String> = prepared
                        .touched
                        .iter()
                        .map(|t| t.patient_id.clone())
                        .collect();
                    drop(prepared);
                    self.ingestor.invalidate(&pids);
                    tracing::debug!(%what, attempt, "concurrent update; retrying");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
