//! FHIR R4 Task status and its allowed transitions.
//!
//! The table follows the R4 Task state machine
//! (<https://hl7.org/fhir/R4/task.html#statemachine>): a request is
//! received, accepted or rejected; accepted work is started, put on hold,
//! completed or failed; anything not finished can be cancelled; and any
//! state may be marked entered-in-error.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// R4 `Task.status` (value set `task-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    Draft,
    Requested,
    Received,
    Accepted,
    Rejected,
    Ready,
    Cancelled,
    InProgress,
    OnHold,
    Failed,
    Completed,
    EnteredInError,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 12] = [
        TaskStatus::Draft,
        TaskStatus::Requested,
        TaskStatus::Received,
        TaskStatus::Accepted,
        TaskStatus::Rejected,
        TaskStatus::Ready,
        TaskStatus::Cancelled,
        TaskStatus::InProgress,
        TaskStatus::OnHold,
        TaskStatus::Failed,
        TaskStatus::Completed,
        TaskStatus::EnteredInError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Draft => "draft",
            TaskStatus::Requested => "requested",
            TaskStatus::Received => "received",
            TaskStatus::Accepted => "accepted",
            TaskStatus::Rejected => "rejected",
            TaskStatus::Ready => "ready",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::InProgress => "in-progress",
            TaskStatus::OnHold => "on-hold",
            TaskStatus::Failed => "failed",
            TaskStatus::Completed => "completed",
            TaskStatus::EnteredInError => "entered-in-error",
        }
    }

    /// No further work happens on the task.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed
                | TaskStatus::Cancelled
                | TaskStatus::Rejected
                | TaskStatus::Failed
                | TaskStatus::EnteredInError
        )
    }

    /// Someone has taken ownership: this stops "acknowledge within N
    /// minutes" escalation timers.
    pub fn is_acknowledged(self) -> bool {
        matches!(
            self,
            TaskStatus::Received | TaskStatus::Accepted | TaskStatus::InProgress
        )
    }

    /// The states reachable from `self` in one step.
    pub fn next(self) -> &'static [TaskStatus] {
        use TaskStatus::*;
        match self {
            Draft => &[Requested, Cancelled, EnteredInError],
            Requested => &[
                Received,
                Accepted,
                Rejected,
                Ready,
                InProgress,
                Cancelled,
                EnteredInError,
            ],
            Received => &[
                Accepted,
                Rejected,
                Ready,
                InProgress,
                Cancelled,
                EnteredInError,
            ],
            Accepted => &[
                Ready,
                InProgress,
                Completed,
                Cancelled,
                Failed,
                EnteredInError,
            ],
            Ready => &[InProgress, Completed, Cancelled, Failed, EnteredInError],
            InProgress => &[Completed, Failed, Cancelled, OnHold, EnteredInError],
            OnHold => &[InProgress, Cancelled, Failed, EnteredInError],
            Completed | Cancelled | Rejected | Failed => &[EnteredInError],
            EnteredInError => &[],
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `Task.status` code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown FHIR Task status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for TaskStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// A status change the Task state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Task status cannot change from {from} to {to}")]
pub struct TransitionError {
    pub from: TaskStatus,
    pub to: TaskStatus,
}

/// Check one status change. Staying in the same state is not a transition
/// and is refused too (callers treat repeats as idempotent before asking).
pub fn transition(from: TaskStatus, to: TaskStatus) -> Result<(), TransitionError> {
    if from.next().contains(&to) {
        Ok(())
    } else {
        Err(TransitionError { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn the_usual_lifecycle_is_allowed() {
        for (a, b) in [
            (Requested, Accepted),
            (Requested, Received),
            (Received, Accepted),
            (Accepted, InProgress),
            (InProgress, OnHold),
            (OnHold, InProgress),
            (InProgress, Completed),
            (Accepted, Completed),
            (Requested, Cancelled),
            (Completed, EnteredInError),
        ] {
            assert_eq!(transition(a, b), Ok(()), "{a} -> {b}");
        }
    }

    #[test]
    fn finished_tasks_do_not_reopen_and_errors_name_both_states() {
        for t in [Completed, Cancelled, Rejected, Failed] {
            for to in [Requested, Accepted, InProgress, Completed] {
                assert!(transition(t, to).is_err(), "{t} -> {to}");
            }
        }
        assert!(transition(Requested, Completed).is_err());
        assert!(transition(Accepted, Accepted).is_err());
        let e = transition(Completed, InProgress).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Task status cannot change from completed to in-progress"
        );
        assert!(EnteredInError.next().is_empty());
    }

    #[test]
    fn every_status_round_trips_through_its_code() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(s));
            let j = serde_json::to_value(s).unwrap();
            assert_eq!(j, serde_json::json!(s.as_str()));
            // every state except entered-in-error can be marked in error
            assert_eq!(s.next().contains(&EnteredInError), s != EnteredInError);
        }
        assert!("done".parse::<TaskStatus>().is_err());
    }
}
