//! bedside-pathways: BPMN 2.0 escalation pathways as a pure engine.
//!
//! A hospital draws its pathway in bpmn.io or Camunda Modeler; Bedside
//! imports the file ([`Definition::parse`], or [`validate`] to list every
//! problem with the id of the element at fault), and runs instances of it.
//! A user task becomes an owned, deadlined FHIR Task for a role or person
//! ([`task::build_task`]); boundary timers escalate when nobody acknowledges
//! in time; messages (bundle ordered, alert overridden, acknowledged) end or
//! advance the instance.
//!
//! # Supported BPMN
//! `process`; `startEvent` (none, message, signal); `endEvent` (none,
//! terminate); `serviceTask` bound to an [`Action`] (`bedside:action`,
//! `implementation`, `camunda:topic` or `zeebe:taskDefinition type`);
//! `userTask` (`camunda:candidateGroups` / `camunda:assignee`, zeebe
//! `assignmentDefinition`, `bedside:role` / `bedside:owner`; `bedside:due`
//! ISO duration, default the shortest interrupting boundary timer;
//! `bedside:priority`); `exclusiveGateway` (conditions in a FEEL subset,
//! see [`feel`], default flow); `parallelGateway` (fork/join);
//! `eventBasedGateway`; `boundaryEvent` timer (`timeDuration`, interrupting
//! or not; `bedside:until="acknowledged"` (default) or `"completed"`) and
//! message; `intermediateCatchEvent` timer and message; `sequenceFlow`.
//! Input mappings (`camunda:inputParameter`, `zeebe:input`) are literal
//! text, or FEEL when they start with `=`. Everything else is reported as
//! unsupported, by id.
//!
//! # Running
//! [`Engine`] is a set of pure functions: `start`, `on_timer`,
//! `on_message`, `on_task_update` take the [`Definition`], the
//! [`Instance`] (serde, stored by the caller), an input and `now`, and
//! return the [`Effect`]s to carry out: create/cancel a Task, schedule /
//! cancel a timer (a store job with `dedupe_key = timer_id`), call a
//! service, completed, incident. Task and timer ids derive from instance
//! id + element id + token number, so replaying a step after a crash
//! yields the same ids; firing a timer nobody waits for is a no-op.
//!
//! # Start variables
//! The reference pathways read `patient.identifiers`, `patient.location`,
//! `risk` (with `risk.top_factors`), `observations`, `allergies`,
//! `medications`, `covering_physician` (sepsis) and `study`, `finding`,
//! `contrast_allergies`, `prior_imaging`, `responsible_radiologist`
//! (radiology); task completion outputs `nurse.decision`,
//! `physician.decision`, `review.agrees_with_ai`, `review.report`. The
//! shapes are those [`task::build_task`] documents.
//!
//! ARCHITECTURE INVARIANT: this crate does no IO and reads no clock; every
//! state change is a function of (definition, instance, input, now), and
//! no clinical pathway is hard-coded here.

pub mod duration;
pub mod engine;
pub mod feel;
mod import;
pub mod model;
pub mod task;
mod validate;
mod xml;

pub use duration::{DurationError, IsoDuration};
pub use engine::{
    task_id_for, timer_id_for, CreateTask, Effect, Engine, EngineError, Instance, InstanceStatus,
    Step, Token, Wait, WaitMessage, WaitTimer,
};
pub use feel::{Expr, ExprError};
pub use model::*;
pub use task::{build_task, transition, TaskBuildError, TaskStatus, TransitionError};
pub use validate::format_problems;
/// The namespace of Bedside's BPMN extension attributes (`bedside:`).
pub use xml::NS_BEDSIDE;

impl Definition {
    /// Import a BPMN 2.0 document. Fails with every problem found when
    /// there is at least one error; warnings are kept in
    /// [`Definition::warnings`].
    pub fn parse(xml: &str) -> Result<Definition, Vec<Problem>> {
        let (def, problems) = import::load(xml);
        match def {
            Some(mut d) if !problems.iter().any(|p| p.severity == Severity::Error) => {
                d.warnings = problems;
                Ok(d)
            }
            _ => Err(problems),
        }
    }
}

/// Every problem (errors and warnings) of a BPMN document, each with the
/// id of the element at fault. Empty means the file loads cleanly.
pub fn validate(xml: &str) -> Vec<Problem> {
    import::load(xml).1
}
