//! bedside-pathways: a pure BPMN 2.0 engine for escalation pathways.
//!
//! Placeholder doc; completed below.

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
