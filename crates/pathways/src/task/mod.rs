//! FHIR R4 Task: the status lifecycle and the builder for user tasks.

mod build;
mod lifecycle;

pub use build::{
    build_task, performer_type, TaskBuildError, INPUT_TYPE_SYSTEM, ROLE_SYSTEM, STEP_SYSTEM,
};
pub use lifecycle::{transition, TaskStatus, TransitionError, UnknownStatus};
