//! The worklist: pathway Tasks by owner or role, and the actions a
//! responder takes on one (claim, acknowledge, complete, reassign). Each
//! action is checked against the FHIR Task state machine, fed to the
//! pathway engine, and written with the engine's effects in one commit.
//! Tasks are also readable and searchable through the FHIR API.

use crate::audit::{Action as AuditAction, Entity, Event, ProvenanceInput};
use crate::committer::{ReadSet, CONFLICT_RETRIES};
use crate::fhir_search::Search;
use crate::pathway_rt::{parse_instance, PATHWAY_INSTANCE, TASK};
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_pathways::{
    transition, DecisionOption, DecisionReason, DecisionSpec, Engine, TaskStatus,
};
use bedside_record::TaskRecord;
use bedside_store::{Commit, DocFilter, DocPage};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

/// What a responder does to a Task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    /// Take it: `accepted`, owner = the actor.
    Claim,
    /// Start working on it: `in-progress`.
    Acknowledge,
    Complete,
    /// Hand it to `to` (status unchanged).
    Reassign,
}

impl FromStr for TaskAction {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        Ok(match s {
            "claim" => Self::Claim,
            "acknowledge" => Self::Acknowledge,
            "complete" => Self::Complete,
            "reassign" => Self::Reassign,
            other => {
                return Err(ApiError::bad_request(
                    format!("unknown worklist action {other:?}: expected claim, acknowledge, complete or reassign"),
                    Some("action"),
                ))
            }
        })
    }
}

/// What a person decided when completing a Task whose pathway step offers
/// a decision (`<bedside:decision>`): the option's code, a coded reason
/// when the option has reasons, and an optional free-text comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionInput {
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub comment: Option<String>,
}

/// The code system of the decisions in `Task.output`.
pub const DECISION_SYSTEM: &str = "urn:bedside:pathway-decision";
/// The code system of the decisions' coded reasons.
pub const DECISION_REASON_SYSTEM: &str = "urn:bedside:pathway-decision-reason";

/// Who a worklist action is taken as. With a signed-in person, that
/// person's Practitioner (from their token); an `actor` asked for in the
/// request that names anyone else is refused (403), since the worklist
/// never acts for someone on their word. With no sign-in (demo mode), the
/// demo user picked, else the `actor` asked for.
pub fn acting_as(
    who: &crate::audit::Actor,
    asked: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let asked = asked.map(str::trim).filter(|a| !a.is_empty());
    match (&who.principal, &who.practitioner, asked) {
        (Some(_), Some(p), Some(a)) if a != p => Err(ApiError::new(
            403,
            "forbidden",
            format!("the worklist acts as the signed-in person ({p}); `actor` {a} is refused"),
            Some("actor"),
        )),
        (Some(sub), None, Some(a)) => Err(ApiError::new(
            403,
            "forbidden",
            format!(
                "the worklist acts as the signed-in person; {sub}'s sign-in names no Practitioner (fhirUser claim), so `actor` {a} is refused"
            ),
            Some("actor"),
        )),
        (Some(_), p, _) => Ok(p.clone()),
        (None, Some(p), _) => Ok(Some(p.clone())),
        (None, None, a) => Ok(a.map(str::to_string)),
    }
}

fn has_role(task: &Value, role: &str) -> bool {
    task["performerType"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|pt| {
            pt["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["code"] == role)
        })
}

fn conflict(msg: String) -> ApiError {
    ApiError::new(409, "business-rule", msg, Some("Task.status"))
}

/// Tasks on one worklist page by default, and at most.
pub const WORKLIST_PAGE: u32 = 100;
pub const WORKLIST_PAGE_MAX: u32 = 1000;

/// What a worklist lists: Tasks for an owner (`Practitioner/..` or a role
/// name as stored) or a role (`performerType`), with a status (default:
/// every open one), `count` per page from `offset` (`None` = all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorklistQuery {
    pub owner: Option<String>,
    pub role: Option<String>,
    pub status: Option<String>,
    pub count: Option<u32>,
    pub offset: u32,
}

impl WorklistQuery {
    /// From the query parameters `owner`, `role`, `status`, `_count`
    /// (default [`WORKLIST_PAGE`], at most [`WORKLIST_PAGE_MAX`]) and
    /// `_offset`; an unknown parameter or a bad number is a 400.
    pub fn from_params(q: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let num = |k: &str, max: u32| -> Result<Option<u32>, ApiError> {
            q.get(k)
                .map(|v| {
                    v.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| {
                        ApiError::bad_request(
                            format!("{k}={v:?} is not a whole number from 0 to {max}"),
                            Some(k),
                        )
                    })
                })
                .transpose()
        };
        for k in q.keys() {
            if !matches!(
                k.as_str(),
                "owner" | "role" | "status" | "_count" | "_offset"
            ) {
                return Err(ApiError::bad_request(
                    format!("worklist parameter {k:?} is not supported (owner, role, status, _count, _offset)"),
                    Some(k.as_str()),
                ));
            }
        }
        Ok(Self {
            owner: q.get("owner").cloned(),
            role: q.get("role").cloned(),
            status: q.get("status").cloned(),
            count: Some(num("_count", WORKLIST_PAGE_MAX)?.unwrap_or(WORKLIST_PAGE)),
            offset: num("_offset", u32::MAX)?.unwrap_or(0),
        })
    }

    /// The filters that are set, as (parameter, value).
    fn filters(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("owner", &self.owner),
            ("role", &self.role),
            ("status", &self.status),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }

    /// The query string of this query at another offset (for paging links).
    pub fn query_string(&self, offset: u32) -> String {
        let mut parts: Vec<String> = self
            .filters()
            .map(|(k, v)| format!("{k}={}", crate::pulse::enc(v)))
            .collect();
        if let Some(n) = self.count {
            parts.push(format!("_count={n}"));
        }
        parts.push(format!("_offset={offset}"));
        parts.join("&")
    }
}

/// One page of a worklist, newest Task first; the Tasks as stored JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct WorklistPage {
    pub tasks: Vec<bedside_store::DocText>,
    pub offset: u32,
    /// Whether Tasks follow this page.
    pub more: bool,
}

impl WorklistPage {
    /// The page as one JSON array, the stored bodies passed through.
    pub fn to_json(&self) -> String {
        let len = self.tasks.iter().map(|t| t.body.len() + 1).sum::<usize>() + 2;
        let mut out = String::with_capacity(len);
        out.push('[');
        for (i, t) in self.tasks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&t.body);
        }
        out.push(']');
        out
    }

    /// The Tasks parsed (a body that does not parse is skipped and logged).
    pub fn values(&self) -> Vec<Value> {
        self.tasks
            .iter()
            .filter_map(|t| match serde_json::from_str(&t.body) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(task = %t.id, error = %e, "stored Task does not parse; not listed");
                    None
                }
            })
            .collect()
    }
}

impl App {
    /// Every Task matching (see [`WorklistQuery`]; no paging), parsed.
    /// Newest first.
    pub async fn worklist(
        &self,
        owner: Option<&str>,
        role: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let q = WorklistQuery {
            owner: owner.map(str::to_string),
            role: role.map(str::to_string),
            status: status.map(str::to_string),
            count: None,
            offset: 0,
        };
        Ok(self.worklist_page(&q).await?.values())
    }

    /// One page of the worklist. The status filter and the paging run in
    /// the store (only the page is read); a role filter reads the bodies
    /// of every Task of the status and pages after it.
    pub async fn worklist_page(&self, q: &WorklistQuery) -> Result<WorklistPage, ApiError> {
        let status_in: Vec<String> = match &q.status {
            Some(s) => {
                TaskStatus::from_str(s)
                    .map_err(|e| ApiError::bad_request(e.to_string(), Some("status")))?;
                vec![s.clone()]
            }
            None => TaskStatus::ALL
                .into_iter()
                .filter(|s| !s.is_terminal())
                .map(|s| s.as_str().to_string())
                .collect(),
        };
        let in_store = q.role.is_none();
        let page = DocPage {
            filter: DocFilter {
                kind: TASK.into(),
                owner: q.owner.clone(),
                // One more than the page: whether more follow.
                limit: q.count.filter(|_| in_store).map(|n| n.saturating_add(1)),
                ..DocFilter::default()
            },
            status_in,
            newest_first: true,
            offset: if in_store { q.offset } else { 0 },
        };
        let mut tasks = self.store.list_document_texts(&page).await?;
        if let Some(r) = &q.role {
            tasks.retain(|t| serde_json::from_str::<Value>(&t.body).is_ok_and(|v| has_role(&v, r)));
            tasks.drain(..tasks.len().min(q.offset as usize));
        }
        let more = q.count.is_some_and(|n| tasks.len() > n as usize);
        if let Some(n) = q.count {
            tasks.truncate(n as usize);
        }
        Ok(WorklistPage {
            tasks,
            offset: q.offset,
            more,
        })
    }

    /// [`App::worklist_page`] by `who`, recorded in the audit log before
    /// the Tasks are returned (subtype `worklist-read`, `via` = `api` or
    /// `ui`): the query, how many Tasks, and one entity per patient
    /// listed, so a patient's access history shows who saw them on a
    /// worklist.
    pub async fn worklist_as(
        &self,
        who: &crate::audit::Actor,
        via: &str,
        q: &WorklistQuery,
    ) -> Result<WorklistPage, ApiError> {
        let r = self.worklist_page(q).await;
        let params: Vec<String> = q
            .filters()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(q.count.map(|n| format!("_count={n}")))
            .chain((q.offset > 0).then(|| format!("_offset={}", q.offset)))
            .collect();
        let mut query = Entity::query(TASK, &params.join("&")).detail("via", via);
        if let Ok(page) = &r {
            query = query.detail("total", page.tasks.len());
        }
        let mut ev = Event::rest("search-type", "worklist-read", AuditAction::Read)
            .by(who)
            .entity(query);
        match &r {
            Ok(page) => {
                let mut patients: Vec<&str> = page
                    .tasks
                    .iter()
                    .filter_map(|t| t.patient_id.as_deref())
                    .map(|p| p.strip_prefix("Patient/").unwrap_or(p))
                    .collect();
                patients.sort_unstable();
                patients.dedup();
                for p in patients {
                    ev = ev.patient(Some(p));
                }
            }
            Err(e) => {
                ev = ev.outcome(crate::audit::Outcome::MinorFailure, Some(&e.message()));
            }
        }
        self.record_access(ev, r).await
    }

    /// `GET /fhir/Task/{id}`.
    pub async fn read_task(&self, id: &str) -> Result<Value, ApiError> {
        self.store
            .get_document(TASK, id)
            .await?
            .map(|d| d.body)
            .ok_or_else(|| ApiError::not_found(format!("Task/{id} is not stored")))
    }

    /// `GET /fhir/Task?patient=&owner=&status=` (paged, `_summary=count`).
    pub(crate) async fn search_tasks(&self, q: &Search) -> Result<Value, ApiError> {
        let filter = DocFilter {
            kind: TASK.into(),
            patient_id: q.patient().map(str::to_string),
            status: q.get("status").map(str::to_string),
            owner: q.get("owner").map(str::to_string),
            since: None,
            limit: None,
        };
        let base = &self.config.public_url;
        if q.summary_count {
            let n = self.store.count_documents(&filter).await?;
            return Ok(q.page(base, n, std::iter::empty()));
        }
        let docs = self.store.list_documents(&filter).await?;
        Ok(q.page(
            base,
            docs.len() as u64,
            docs.into_iter()
                .map(|d| (format!("{base}/fhir/Task/{}", d.id), d.body)),
        ))
    }

    /// [`App::task_action_as`] with no authenticated principal (demo mode).
    pub async fn task_action(
        &self,
        task_id: &str,
        action: TaskAction,
        actor: Option<&str>,
        to: Option<&str>,
        output: Map<String, Value>,
        now: Instant,
    ) -> Result<Value, ApiError> {
        let who = crate::audit::Actor::anonymous();
        self.task_action_as(&who, task_id, action, actor, to, output, now)
            .await
    }

    /// Apply a worklist action asked by `who`; returns the updated Task. A
    /// change the Task state machine forbids is a 409 naming both states.
    /// The transition is recorded (AuditEvent and Provenance) in the commit
    /// that writes it.
    #[allow(clippy::too_many_arguments)]
    pub async fn task_action_as(
        &self,
        who: &crate::audit::Actor,
        task_id: &str,
        action: TaskAction,
        actor: Option<&str>,
        to: Option<&str>,
        output: Map<String, Value>,
        now: Instant,
    ) -> Result<Value, ApiError> {
        self.task_action_decided(
            who,
            task_id,
            action,
            actor,
            to,
            output,
            &DecisionInput::default(),
            now,
        )
        .await
    }

    /// [`App::task_action_as`] with the decision a completion records. The
    /// actor is [`acting_as`] `who` (a signed-in person acts as
    /// themselves); completing a Task whose step offers a decision needs
    /// one of its options (or `output` already setting its variable to an
    /// option's value), which is written to the instance variable the
    /// gateway reads, to `Task.output` (coded) and to the audit entry.
    #[allow(clippy::too_many_arguments)]
    pub async fn task_action_decided(
        &self,
        who: &crate::audit::Actor,
        task_id: &str,
        action: TaskAction,
        actor: Option<&str>,
        to: Option<&str>,
        output: Map<String, Value>,
        decision: &DecisionInput,
        now: Instant,
    ) -> Result<Value, ApiError> {
        let acting = acting_as(who, actor)?;
        let actor = acting.as_deref();
        // The Task and its pathway instance are read for update: a timer or
        // another replica changing either in between makes the write fail
        // whole, and the action is applied again to what is stored then.
        let mut attempt = 0;
        loop {
            let mut reads = ReadSet::default();
            let (commit, body) = self
                .task_action_commit(
                    who,
                    task_id,
                    action,
                    actor,
                    to,
                    output.clone(),
                    decision,
                    now,
                    &mut reads,
                )
                .await?;
            match self.write_checked(commit, &reads).await {
                Ok(()) => return Ok(body),
                Err(e) if e.is_conflict() && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tracing::debug!(
                        task = task_id,
                        attempt,
                        "worklist action raced another write; again"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The commit of one worklist action on what is stored now, and the
    /// Task as it will be.
    #[allow(clippy::too_many_arguments)]
    async fn task_action_commit(
        &self,
        who: &crate::audit::Actor,
        task_id: &str,
        action: TaskAction,
        actor: Option<&str>,
        to: Option<&str>,
        output: Map<String, Value>,
        decision: &DecisionInput,
        now: Instant,
        reads: &mut ReadSet,
    ) -> Result<(Commit, Value), ApiError> {
        let mut output = output;
        let stored = self
            .read_for_update(reads, TASK, task_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Task/{task_id} is not stored")))?;
        let mut task =
            TaskRecord::from_document(stored).map_err(|e| ApiError::internal(e.to_string()))?;
        let current_text = task.document().status.clone().unwrap_or_default();
        let current = TaskStatus::from_str(&current_text)
            .map_err(|e| ApiError::internal(format!("Task/{task_id}: {e}")))?;
        let mut chosen: Option<(DecisionOption, Option<DecisionReason>)> = None;
        let target = match action {
            TaskAction::Claim => Some(TaskStatus::Accepted),
            TaskAction::Acknowledge => Some(TaskStatus::InProgress),
            TaskAction::Complete => Some(TaskStatus::Completed),
            TaskAction::Reassign => None,
        };
        // A change the state machine forbids is a 409 before anything
        // else is checked (a decision on a Task not yet taken, say).
        if let Some(to_status) = target {
            transition(current, to_status).map_err(|e| {
                conflict(format!(
                    "Task/{task_id}: cannot {} a task that is {}: {e}",
                    action_name(action),
                    current
                ))
            })?;
        }
        match action {
            TaskAction::Claim => {
                let a = actor.ok_or_else(|| {
                    ApiError::bad_request(
                        "claim needs a Practitioner: the sign-in names none (fhirUser claim) and no `actor` was given",
                        Some("actor"),
                    )
                })?;
                task.set_owner(a);
            }
            TaskAction::Reassign => {
                let t =
                    to.ok_or_else(|| ApiError::bad_request("reassign needs `to`", Some("to")))?;
                if current.is_terminal() {
                    return Err(conflict(format!(
                        "Task/{task_id} is {current}: a finished task cannot be reassigned"
                    )));
                }
                task.set_owner(t);
            }
            TaskAction::Acknowledge => task.set_started(now),
            TaskAction::Complete => {
                chosen = self.decide(&task, decision, &mut output)?;
                task.set_ended(now);
                task.set_output(&output);
                if let Some((o, r)) = &chosen {
                    if let Some(r) = r {
                        task.add_coded_output(
                            "decision-reason",
                            "Reason",
                            DECISION_REASON_SYSTEM,
                            &r.code,
                            &r.display,
                        );
                    }
                    task.add_coded_output(
                        "decision",
                        "Decision",
                        DECISION_SYSTEM,
                        &o.code,
                        &o.display,
                    );
                }
                if let Some(a) = actor {
                    let text = match &chosen {
                        Some((o, Some(r))) => format!("completed: {} ({})", o.display, r.display),
                        Some((o, None)) => format!("completed: {}", o.display),
                        None => "completed".to_string(),
                    };
                    task.set_note(a, now, &text);
                }
            }
        }
        let mut commit = Commit::default();
        if let Some(to_status) = target {
            transition(current, to_status).map_err(|e| {
                conflict(format!(
                    "Task/{task_id}: cannot {} a task that is {}: {e}",
                    action_name(action),
                    current
                ))
            })?;
            task.set_status(to_status.as_str());
            let mut output = output;
            if to_status == TaskStatus::Completed {
                // Who completed it, for the steps that follow (e.g. the
                // author of a DetectedIssue): the actor, else the owner.
                if let Some(by) = actor
                    .map(str::to_string)
                    .or_else(|| task.document().owner.clone())
                {
                    output.insert("completed_by".into(), Value::String(by));
                }
            }
            self.feed_engine(&task, to_status, output, now, &mut commit, reads)
                .await?;
        }
        task.touch(now, chrono::Utc::now());
        let doc = task.document();
        let body = doc.body.clone();
        let new_status = doc.status.clone().unwrap_or_default();
        let target = format!("{TASK}/{task_id}");
        let mut what = Entity::reference(&target)
            .detail("action", action_name(action))
            .detail("from", &current_text)
            .detail("to", &new_status);
        if let Some(a) = actor {
            what = what.detail("actor", a);
        }
        if let Some(t) = to {
            what = what.detail("assignee", t);
        }
        if let Some((o, r)) = &chosen {
            what = what.detail("decision", &o.code);
            if let Some(r) = r {
                what = what.detail("reason", &r.code);
            }
        }
        let ev = Event::rest(
            "update",
            &format!("task-{}", action_name(action)),
            AuditAction::Update,
        )
        .by(who)
        .patient(doc.patient_id.as_deref())
        .entity(what);
        self.record(&mut commit, ev);
        commit
            .documents
            .push(crate::audit::provenance(&ProvenanceInput {
                target: &target,
                patient_id: doc.patient_id.as_deref(),
                activity: "UPDATE",
                occurred: now,
                actor: Some(who),
                model: None,
                sources: task
                    .focus()
                    .map(|f| json!({"reference": f}))
                    .into_iter()
                    .collect(),
                discriminator: &format!(
                    "{}|{new_status}|{}",
                    action_name(action),
                    doc.owner.as_deref().unwrap_or_default()
                ),
            }));
        // The task write goes before the engine's so a cancellation by the
        // engine (none for this task) is not overwritten.
        commit.documents.insert(0, task.into_document());
        Ok((commit, body))
    }

    /// `GET /fhir/Provenance?target=Task/abc|patient=..`: the Provenance
    /// of what Bedside wrote, oldest first (paged).
    pub(crate) async fn search_provenance(&self, q: &Search) -> Result<Value, ApiError> {
        let filter = DocFilter {
            kind: crate::audit::PROVENANCE.into(),
            patient_id: q
                .get("patient")
                .map(|p| p.strip_prefix("Patient/").unwrap_or(p).to_string()),
            status: None,
            owner: q.get("target").map(str::to_string),
            since: None,
            limit: None,
        };
        if filter.patient_id.is_none() && filter.owner.is_none() {
            return Err(ApiError::new(
                400,
                "not-supported",
                "search on Provenance needs `target` or `patient`",
                None,
            ));
        }
        let docs = self.store.list_documents(&filter).await?;
        let base = &self.config.public_url;
        Ok(q.page(
            base,
            docs.len() as u64,
            docs.into_iter()
                .map(|d| (format!("{base}/fhir/Provenance/{}", d.id), d.body)),
        ))
    }

    /// The decision the Task's step offers, if any (from its pathway's
    /// `<bedside:decision>`).
    pub fn step_decision(&self, task: &Value) -> Option<DecisionSpec> {
        let (def, element) = bedside_pathways::model::task_step(task)?;
        self.pathways.definition(def)?.decision(element).cloned()
    }

    /// Check `input` against the decision the Task's step offers and write
    /// the chosen value (and reason, comment) into `output`; the option
    /// and reason chosen. A step without a decision takes none.
    fn decide(
        &self,
        task: &TaskRecord,
        input: &DecisionInput,
        output: &mut Map<String, Value>,
    ) -> Result<Option<(DecisionOption, Option<DecisionReason>)>, ApiError> {
        let step = task.code_text().unwrap_or("this step").to_string();
        let Some(spec) = self.step_decision(task.resource()) else {
            if let Some(d) = &input.decision {
                return Err(ApiError::bad_request(
                    format!("{step} offers no decision; `decision` {d:?} is not taken"),
                    Some("decision"),
                ));
            }
            return Ok(None);
        };
        let offered = || {
            spec.options
                .iter()
                .map(|o| format!("{} ({})", o.code, o.display))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let option = match &input.decision {
            Some(code) => spec.option(code).cloned().ok_or_else(|| {
                ApiError::bad_request(
                    format!(
                        "{step}: decision {code:?} is not offered; choose one of {}",
                        offered()
                    ),
                    Some("decision"),
                )
            })?,
            // Completed with the variable already set (the API's `output`).
            None => {
                let mut set = Value::Object(output.clone());
                for part in spec.variable.split('.') {
                    set = set.get(part).cloned().unwrap_or(Value::Null);
                }
                spec.options
                    .iter()
                    .find(|o| o.value == set)
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            format!("{step} is completed with a decision: one of {}", offered()),
                            Some("decision"),
                        )
                    })?
            }
        };
        let reason = match (&input.reason, option.reasons.is_empty()) {
            (Some(code), false) => Some(
                option
                    .reasons
                    .iter()
                    .find(|r| &r.code == code)
                    .cloned()
                    .ok_or_else(|| {
                        let list: Vec<&str> =
                            option.reasons.iter().map(|r| r.code.as_str()).collect();
                        ApiError::bad_request(
                            format!(
                                "{step}: reason {code:?} is not one of {} for {:?}",
                                list.join(", "),
                                option.code
                            ),
                            Some("reason"),
                        )
                    })?,
            ),
            (Some(code), true) => {
                return Err(ApiError::bad_request(
                    format!(
                        "{step}: decision {:?} takes no reason; {code:?} is not taken",
                        option.code
                    ),
                    Some("reason"),
                ))
            }
            (None, false) if input.decision.is_some() => {
                let list: Vec<&str> = option.reasons.iter().map(|r| r.code.as_str()).collect();
                return Err(ApiError::bad_request(
                    format!(
                        "{step}: decision {:?} needs a coded reason: one of {}",
                        option.code,
                        list.join(", ")
                    ),
                    Some("reason"),
                ));
            }
            (None, _) => None,
        };
        spec.write(option.value.clone(), output);
        let head = spec
            .variable
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut extra = Map::new();
        if let Some(r) = &reason {
            extra.insert("reason".into(), Value::String(r.code.clone()));
        }
        if let Some(c) = input
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            extra.insert("comment".into(), Value::String(c.to_string()));
        }
        if !extra.is_empty() && head != spec.variable {
            if let Some(obj) = output.get_mut(&head).and_then(Value::as_object_mut) {
                obj.extend(extra);
            }
        }
        Ok(Some((option, reason)))
    }

    async fn feed_engine(
        &self,
        task: &TaskRecord,
        status: TaskStatus,
        output: Map<String, Value>,
        now: Instant,
        commit: &mut Commit,
        reads: &mut ReadSet,
    ) -> Result<(), ApiError> {
        let Some(inst_id) = task.instance_id() else {
            return Ok(());
        };
        let Some(idoc) = self
            .read_for_update(reads, PATHWAY_INSTANCE, inst_id)
            .await?
        else {
            return Ok(());
        };
        let mut inst = parse_instance(&idoc)?;
        let Some(def) = self.pathways.definition(&inst.definition_id) else {
            return Ok(());
        };
        let effects = Engine::on_task_update(&def, &mut inst, task.id(), status, output, now)
            .map_err(|e| conflict(e.to_string()))?;
        self.apply_effects(&def, &idoc.patient_id, &mut inst, effects, now, commit)
            .await
    }
}

fn action_name(a: TaskAction) -> &'static str {
    match a {
        TaskAction::Claim => "claim",
        TaskAction::Acknowledge => "acknowledge",
        TaskAction::Complete => "complete",
        TaskAction::Reassign => "reassign",
    }
}
