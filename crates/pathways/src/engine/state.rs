//! Durable instance state and the effects the engine asks the caller for.

use crate::model::Action;
use crate::task::TaskStatus;
use bedside_core::Instant;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A running (or finished) pathway instance. The caller stores it as JSON
/// after every step; nothing else is needed to resume after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub definition_id: String,
    /// [`crate::Definition::digest`] of the drawing it runs on.
    pub definition_digest: String,
    pub status: InstanceStatus,
    pub variables: Map<String, Value>,
    /// Tokens waiting somewhere, in creation order.
    pub tokens: Vec<Token>,
    /// Parallel joins: gateway id -> incoming flow id -> tokens arrived.
    pub joins: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>,
    /// Counter for token numbers; every node entry takes the next one, so
    /// task and timer ids derived from it are the same on every replay.
    pub next_token: u64,
    pub started_at: Instant,
    pub ended_at: Option<Instant>,
    /// The end event that finished the instance.
    pub end_event: Option<String>,
    /// What happened, in order (for audit and time-to-action metrics).
    pub history: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    Running,
    Completed,
    /// Ended by a terminate end event.
    Terminated,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at: Instant,
    pub element_id: String,
    pub event: String,
}

/// A token waiting at a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: u64,
    pub element_id: String,
    pub wait: Wait,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitTimer {
    pub timer_id: String,
    /// The timer event (boundary or intermediate catch).
    pub event_id: String,
    pub due_at: Instant,
    /// Cancelled when the task is acknowledged.
    pub until_ack: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitMessage {
    pub event_id: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    /// At a user task: its FHIR Task, boundary timers and messages.
    UserTask {
        task_id: String,
        status: TaskStatus,
        timers: Vec<WaitTimer>,
        messages: Vec<WaitMessage>,
    },
    /// At an intermediate timer catch event.
    Timer(WaitTimer),
    /// At an intermediate message catch event.
    Message(WaitMessage),
    /// At an event-based gateway: whichever event comes first wins.
    EventGateway {
        timers: Vec<WaitTimer>,
        messages: Vec<WaitMessage>,
    },
    /// Stuck: no outgoing flow of an exclusive gateway could be taken.
    Incident { message: String },
}

/// A FHIR Task to create for a user task. See [`crate::task::build_task`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateTask {
    /// Deterministic FHIR id, see [`task_id_for`].
    pub task_id: String,
    pub instance_id: String,
    pub definition_id: String,
    pub element_id: String,
    /// The user task's name.
    pub name: String,
    /// Candidate roles (e.g. `nurse`).
    pub roles: Vec<String>,
    /// The assignee when the pathway names one (e.g. `Practitioner/12`).
    pub owner: Option<String>,
    /// FHIR priority: routine | urgent | asap | stat.
    pub priority: String,
    /// Deadline (`Task.restriction.period.end`).
    pub due: Option<Instant>,
    pub description: Option<String>,
    /// Evaluated input mappings; see [`crate::task::build_task`] for the
    /// names it understands.
    pub inputs: Map<String, Value>,
}

/// What the caller must do after a step. Apply them in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    CreateTask(CreateTask),
    /// Cancel an open FHIR Task (escalated past it, or instance ended).
    CancelTask {
        task_id: String,
        element_id: String,
        reason: String,
    },
    /// Create a job with `dedupe_key = timer_id` due at `due_at`; when it
    /// runs, call [`crate::Engine::on_timer`].
    ScheduleTimer {
        timer_id: String,
        element_id: String,
        due_at: Instant,
    },
    /// The timer is no longer needed (firing it anyway is a no-op).
    CancelTimer {
        timer_id: String,
    },
    /// Run a Bedside action; `call_id` is deterministic for idempotency.
    ServiceCall {
        call_id: String,
        element_id: String,
        action: Action,
        params: Map<String, Value>,
    },
    /// The instance finished.
    Completed {
        end_event: String,
        terminated: bool,
    },
    /// A token is stuck (e.g. no gateway condition held): needs a person.
    Incident {
        element_id: String,
        message: String,
    },
}

/// Deterministic FHIR Task id for the user task `element_id` entered as
/// token number `token` of `instance_id`: `pw-` and 30 hex digits of a
/// SHA-256, so it is a valid FHIR id whatever the instance id looks like.
pub fn task_id_for(instance_id: &str, element_id: &str, token: u64) -> String {
    let mut h = Sha256::new();
    h.update(instance_id.as_bytes());
    h.update([0]);
    h.update(element_id.as_bytes());
    h.update([0]);
    h.update(token.to_be_bytes());
    let hex = hex::encode(h.finalize());
    format!("pw-{}", &hex[..30])
}

/// Deterministic timer id (the caller's job dedupe key).
pub fn timer_id_for(instance_id: &str, event_id: &str, token: u64) -> String {
    format!("{instance_id}/{event_id}/{token}")
}

impl Instance {
    /// The token waiting on the FHIR Task `task_id`, if any.
    pub fn token_for_task(&self, task_id: &str) -> Option<&Token> {
        self.tokens
            .iter()
            .find(|t| matches!(&t.wait, Wait::UserTask { task_id: id, .. } if id == task_id))
    }
    /// Ids of the FHIR Tasks still open.
    pub fn open_tasks(&self) -> Vec<&str> {
        self.tokens
            .iter()
            .filter_map(|t| match &t.wait {
                Wait::UserTask { task_id, .. } => Some(task_id.as_str()),
                _ => None,
            })
            .collect()
    }
    /// Ids of the timers still pending (what the job queue should hold).
    pub fn pending_timers(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for t in &self.tokens {
            match &t.wait {
                Wait::UserTask { timers, .. } | Wait::EventGateway { timers, .. } => {
                    out.extend(timers.iter().map(|w| w.timer_id.as_str()))
                }
                Wait::Timer(w) => out.push(w.timer_id.as_str()),
                _ => {}
            }
        }
        out
    }
    /// Element ids where tokens wait (for drawing an instance's state).
    pub fn active_elements(&self) -> Vec<&str> {
        self.tokens.iter().map(|t| t.element_id.as_str()).collect()
    }
    pub fn is_running(&self) -> bool {
        self.status == InstanceStatus::Running
    }
}
