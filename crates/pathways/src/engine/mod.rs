//! The pure execution engine: (definition, instance, input, now) ->
//! (new instance, effects). No IO, no clock: `now` is always passed in.
//!
//! Each entry point works on a copy of the instance and writes it back only
//! on success, so an error leaves the caller's instance untouched.

mod run;
mod state;

use run::Run;
pub use state::*;

use crate::model::*;
use crate::task::{TaskStatus, TransitionError};
use bedside_core::Instant;
use serde_json::{Map, Value};

/// Why a step was refused. A refused step changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("instance {instance} runs on definition {expected_id} ({expected_digest}), not on {got_id} ({got_digest})")]
    DefinitionMismatch {
        instance: String,
        expected_id: String,
        expected_digest: String,
        got_id: String,
        got_digest: String,
    },
    #[error("definition {definition} has no start event for {trigger:?}")]
    NoStartEvent {
        definition: String,
        trigger: StartTrigger,
    },
    #[error("task {task_id}: {source}")]
    Transition {
        task_id: String,
        source: TransitionError,
    },
}

/// Namespace for the engine's entry points (the engine holds no state).
pub struct Engine;

impl Engine {
    /// Start an instance at the start event matching `trigger`, with
    /// `vars` as its variables (e.g. the alert's patient, risk and context).
    pub fn start(
        def: &Definition,
        instance_id: &str,
        trigger: &StartTrigger,
        vars: Map<String, Value>,
        now: Instant,
    ) -> Result<(Instance, Vec<Effect>), EngineError> {
        let start = def
            .nodes
            .iter()
            .find(|n| matches!(&n.kind, NodeKind::StartEvent(t) if t == trigger))
            .ok_or_else(|| EngineError::NoStartEvent {
                definition: def.id.clone(),
                trigger: trigger.clone(),
            })?;
        let mut inst = Instance {
            id: instance_id.to_string(),
            definition_id: def.id.clone(),
            definition_digest: def.digest.clone(),
            status: InstanceStatus::Running,
            variables: vars,
            tokens: Vec::new(),
            joins: Default::default(),
            next_token: 1,
            started_at: now,
            ended_at: None,
            end_event: None,
            history: Vec::new(),
        };
        let mut run = Run::new(def, &mut inst, now);
        run.queue.push_back((start.id.clone(), None));
        run.advance();
        let effects = run.effects;
        Ok((inst, effects))
    }

    /// A timer job came due. Unknown or no longer awaited timers are a
    /// no-op (empty effects), so a timer may safely fire twice.
    pub fn on_timer(
        def: &Definition,
        inst: &mut Instance,
        timer_id: &str,
        now: Instant,
    ) -> Result<Vec<Effect>, EngineError> {
        check(def, inst)?;
        let mut work = inst.clone();
        let mut run = Run::new(def, &mut work, now);
        if !run.fire_timer(timer_id) {
            return Ok(Vec::new());
        }
        run.advance();
        let effects = run.effects;
        *inst = work;
        Ok(effects)
    }

    /// A message for this instance (the caller correlates messages to
    /// instances, e.g. by patient and alert). `task_id` narrows delivery to
    /// the boundary events of that task. Every waiting subscription with
    /// this name receives it; `payload` is merged into the variables. A
    /// message nobody waits for is a no-op and changes nothing.
    pub fn on_message(
        def: &Definition,
        inst: &mut Instance,
        message: &str,
        task_id: Option<&str>,
        payload: Map<String, Value>,
        now: Instant,
    ) -> Result<Vec<Effect>, EngineError> {
        check(def, inst)?;
        let mut work = inst.clone();
        let mut run = Run::new(def, &mut work, now);
        if !run.deliver(message, task_id, payload) {
            return Ok(Vec::new());
        }
        run.advance();
        let effects = run.effects;
        *inst = work;
        Ok(effects)
    }

    /// The FHIR Task `task_id` changed status. Received / accepted /
    /// in-progress acknowledge it (stopping its escalation timers);
    /// completed, cancelled, rejected, failed and entered-in-error finish
    /// the user task and the token moves on. On completion `output` is
    /// merged into the variables (e.g. `{"review": {"agrees_with_ai":
    /// false}}`). Updates for tasks no token waits on are a no-op; an
    /// update the Task state machine forbids is an error.
    pub fn on_task_update(
        def: &Definition,
        inst: &mut Instance,
        task_id: &str,
        status: TaskStatus,
        output: Map<String, Value>,
        now: Instant,
    ) -> Result<Vec<Effect>, EngineError> {
        check(def, inst)?;
        let mut work = inst.clone();
        let mut run = Run::new(def, &mut work, now);
        if !run.task_update(task_id, status, output)? {
            return Ok(Vec::new());
        }
        run.advance();
        let effects = run.effects;
        *inst = work;
        Ok(effects)
    }
}

fn check(def: &Definition, inst: &Instance) -> Result<(), EngineError> {
    if inst.definition_id != def.id || inst.definition_digest != def.digest {
        return Err(EngineError::DefinitionMismatch {
            instance: inst.id.clone(),
            expected_id: inst.definition_id.clone(),
            expected_digest: inst.definition_digest.clone(),
            got_id: def.id.clone(),
            got_digest: def.digest.clone(),
        });
    }
    Ok(())
}
