//! One step of execution: enter nodes, wait, trigger, cancel.

use super::state::*;
use super::EngineError;
use crate::model::*;
use crate::task::{transition, TaskStatus};
use bedside_core::Instant;
use serde_json::{Map, Value};
use std::collections::VecDeque;

/// One step in progress.
pub(super) struct Run<'a> {
    pub(super) def: &'a Definition,
    pub(super) inst: &'a mut Instance,
    pub(super) now: Instant,
    pub(super) effects: Vec<Effect>,
    /// (node to enter, flow it came through)
    pub(super) queue: VecDeque<(String, Option<String>)>,
    pub(super) last_end: Option<String>,
    /// The documentation of the last documented flow taken in this step:
    /// the reason the next user task's Task gives.
    why: Option<String>,
}

impl<'a> Run<'a> {
    pub(super) fn new(def: &'a Definition, inst: &'a mut Instance, now: Instant) -> Self {
        Self {
            def,
            inst,
            now,
            effects: Vec::new(),
            queue: VecDeque::new(),
            last_end: None,
            why: None,
        }
    }

    fn log(&mut self, element_id: &str, event: impl Into<String>) {
        self.inst.history.push(Step {
            at: self.now,
            element_id: element_id.to_string(),
            event: event.into(),
        });
    }

    pub(super) fn advance(&mut self) {
        while let Some((node_id, via)) = self.queue.pop_front() {
            if !self.inst.is_running() {
                break;
            }
            // Every queued id comes from the validated graph.
            if let Some(node) = self.def.node(&node_id) {
                self.enter(node, via);
            }
        }
        if !self.inst.is_running() || !self.inst.tokens.is_empty() {
            return;
        }
        let stuck: Vec<String> = self
            .inst
            .joins
            .iter()
            .filter(|(_, m)| m.values().any(|c| *c > 0))
            .map(|(g, _)| g.clone())
            .collect();
        if stuck.is_empty() {
            let end = self.last_end.clone().unwrap_or_default();
            self.finish(end, false);
            return;
        }
        // Nothing is left that could reach these joins: a deadlock.
        for g in stuck {
            let message = "parallel join waits for a branch that can no longer arrive".to_string();
            self.log(&g, "incident");
            self.effects.push(Effect::Incident {
                element_id: g.clone(),
                message: message.clone(),
            });
            let id = self.inst.next_token;
            self.inst.next_token += 1;
            self.inst.tokens.push(Token {
                id,
                element_id: g,
                wait: Wait::Incident { message },
            });
        }
    }

    fn finish(&mut self, end_event: String, terminated: bool) {
        self.inst.status = if terminated {
            InstanceStatus::Terminated
        } else {
            InstanceStatus::Completed
        };
        self.inst.ended_at = Some(self.now);
        self.inst.end_event = Some(end_event.clone());
        self.inst.joins.clear();
        self.log(&end_event, "instance-completed");
        self.effects.push(Effect::Completed {
            end_event,
            terminated,
        });
    }

    /// Queue the targets of every outgoing flow of `node`.
    fn leave(&mut self, node: &Node) {
        if node.outgoing.is_empty() {
            self.last_end = Some(node.id.clone());
        }
        for fid in &node.outgoing {
            if let Some(f) = self.def.flow(fid) {
                self.queue.push_back((f.target.clone(), Some(f.id.clone())));
            }
        }
    }

    fn take(&mut self, flow_id: &str) {
        if let Some(f) = self.def.flow(flow_id) {
            self.queue.push_back((f.target.clone(), Some(f.id.clone())));
        }
    }

    fn enter(&mut self, node: &Node, via: Option<String>) {
        if let Some(doc) = via
            .as_deref()
            .and_then(|v| self.def.flow(v))
            .and_then(|f| f.documentation.clone())
        {
            self.why = Some(doc);
        }
        let token = self.inst.next_token;
        self.inst.next_token += 1;
        self.log(&node.id, "entered");
        match &node.kind {
            NodeKind::StartEvent(_) | NodeKind::BoundaryEvent { .. } => self.leave(node),
            NodeKind::EndEvent { terminate } => {
                self.last_end = Some(node.id.clone());
                if *terminate {
                    self.terminate(&node.id);
                }
            }
            NodeKind::ServiceTask { action, inputs } => {
                let params = eval_inputs(inputs, &self.inst.variables);
                self.effects.push(Effect::ServiceCall {
                    call_id: timer_id_for(&self.inst.id, &node.id, token),
                    element_id: node.id.clone(),
                    action: *action,
                    params,
                });
                self.leave(node);
            }
            NodeKind::UserTask(spec) => self.user_task(node, spec, token),
            NodeKind::ExclusiveGateway { default } => {
                self.exclusive(node, default.as_deref(), token)
            }
            NodeKind::ParallelGateway => self.parallel(node, via),
            NodeKind::EventBasedGateway => {
                let mut timers = Vec::new();
                let mut messages = Vec::new();
                for fid in &node.outgoing {
                    let target = self.def.flow(fid).and_then(|f| self.def.node(&f.target));
                    if let Some(t) = target {
                        if let NodeKind::IntermediateCatchEvent(trigger) = &t.kind {
                            self.subscribe(
                                &t.id,
                                trigger,
                                token,
                                false,
                                &mut timers,
                                &mut messages,
                            );
                        }
                    }
                }
                self.push_token(token, node, Wait::EventGateway { timers, messages });
            }
            NodeKind::IntermediateCatchEvent(trigger) => {
                let (mut timers, mut messages) = (Vec::new(), Vec::new());
                self.subscribe(&node.id, trigger, token, false, &mut timers, &mut messages);
                let wait = match (timers.pop(), messages.pop()) {
                    (Some(t), _) => Wait::Timer(t),
                    (None, Some(m)) => Wait::Message(m),
                    (None, None) => return,
                };
                self.push_token(token, node, wait);
            }
        }
    }

    fn push_token(&mut self, id: u64, node: &Node, wait: Wait) {
        self.inst.tokens.push(Token {
            id,
            element_id: node.id.clone(),
            wait,
        });
    }

    fn subscribe(
        &mut self,
        event_id: &str,
        trigger: &CatchTrigger,
        token: u64,
        until_ack: bool,
        timers: &mut Vec<WaitTimer>,
        messages: &mut Vec<WaitMessage>,
    ) {
        match trigger {
            CatchTrigger::Timer(d) => {
                let timer_id = timer_id_for(&self.inst.id, event_id, token);
                let due_at = self.now + d.as_delta();
                self.effects.push(Effect::ScheduleTimer {
                    timer_id: timer_id.clone(),
                    element_id: event_id.to_string(),
                    due_at,
                });
                timers.push(WaitTimer {
                    timer_id,
                    event_id: event_id.to_string(),
                    due_at,
                    until_ack,
                });
            }
            CatchTrigger::Message(m) => messages.push(WaitMessage {
                event_id: event_id.to_string(),
                message: m.clone(),
            }),
        }
    }

    fn user_task(&mut self, node: &Node, spec: &UserTaskSpec, token: u64) {
        let task_id = task_id_for(&self.inst.id, &node.id, token);
        let vars = &self.inst.variables;
        let owner = spec.assignee.as_ref().and_then(|a| match a {
            InputValue::Literal(s) => Some(s.clone()),
            InputValue::Expr(e) => match e.eval(vars) {
                Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            },
        });
        let create = CreateTask {
            task_id: task_id.clone(),
            instance_id: self.inst.id.clone(),
            definition_id: self.def.id.clone(),
            element_id: node.id.clone(),
            name: node.label().to_string(),
            roles: spec.roles.clone(),
            owner,
            priority: spec.priority.clone(),
            due: spec.due.as_ref().map(|d| self.now + d.as_delta()),
            description: with_reason(spec.description.as_deref(), self.why.take()),
            inputs: eval_inputs(&spec.inputs, vars),
        };
        self.effects.push(Effect::CreateTask(create));
        let (mut timers, mut messages) = (Vec::new(), Vec::new());
        for b in &node.boundaries {
            let Some(bn) = self.def.node(b) else { continue };
            if let NodeKind::BoundaryEvent { trigger, scope, .. } = &bn.kind {
                let until_ack = *scope == TimerScope::UntilAcknowledged;
                self.subscribe(
                    &bn.id,
                    trigger,
                    token,
                    until_ack,
                    &mut timers,
                    &mut messages,
                );
            }
        }
        self.push_token(
            token,
            node,
            Wait::UserTask {
                task_id,
                status: TaskStatus::Requested,
                timers,
                messages,
            },
        );
    }

    fn exclusive(&mut self, node: &Node, default: Option<&str>, token: u64) {
        if node.outgoing.is_empty() {
            return self.leave(node); // implicit end (validation warns)
        }
        if node.outgoing.len() == 1 && default.is_none() {
            let only = self.def.flow(&node.outgoing[0]);
            if only.is_some_and(|f| f.condition.is_none()) {
                return self.take(&node.outgoing[0]);
            }
        }
        let chosen = node
            .outgoing
            .iter()
            .filter(|f| Some(f.as_str()) != default)
            .find(|fid| {
                self.def
                    .flow(fid)
                    .and_then(|f| f.condition.as_ref())
                    .is_some_and(|c| c.holds(&self.inst.variables))
            })
            .map(String::as_str)
            .or(default);
        match chosen {
            Some(f) => {
                let f = f.to_string();
                self.take(&f);
            }
            None => {
                let message =
                    "no outgoing condition is true and there is no default flow".to_string();
                self.log(&node.id, "incident");
                self.effects.push(Effect::Incident {
                    element_id: node.id.clone(),
                    message: message.clone(),
                });
                self.push_token(token, node, Wait::Incident { message });
            }
        }
    }

    fn parallel(&mut self, node: &Node, via: Option<String>) {
        if node.incoming.len() <= 1 {
            return self.leave(node);
        }
        let arrived = self.inst.joins.entry(node.id.clone()).or_default();
        if let Some(f) = via {
            *arrived.entry(f).or_default() += 1;
        }
        let complete = node
            .incoming
            .iter()
            .all(|f| arrived.get(f).is_some_and(|c| *c > 0));
        if complete {
            for f in &node.incoming {
                if let Some(c) = arrived.get_mut(f) {
                    *c -= 1;
                }
            }
            arrived.retain(|_, c| *c > 0);
            if arrived.is_empty() {
                self.inst.joins.remove(&node.id);
            }
            self.leave(node);
        }
    }

    /// Cancel everything a removed token was waiting on.
    fn release(&mut self, token: &Token, reason: &str, fired: Option<&str>) {
        let keep = |t: &&WaitTimer| Some(t.timer_id.as_str()) != fired;
        match &token.wait {
            Wait::UserTask {
                task_id,
                status,
                timers,
                ..
            } => {
                for t in timers.iter().filter(keep) {
                    self.cancel_timer(&t.timer_id);
                }
                if !status.is_terminal() {
                    self.effects.push(Effect::CancelTask {
                        task_id: task_id.clone(),
                        element_id: token.element_id.clone(),
                        reason: reason.to_string(),
                    });
                }
            }
            Wait::EventGateway { timers, .. } => {
                for t in timers.iter().filter(keep) {
                    self.cancel_timer(&t.timer_id);
                }
            }
            Wait::Timer(t) => {
                if keep(&t) {
                    self.cancel_timer(&t.timer_id)
                }
            }
            Wait::Message(_) | Wait::Incident { .. } => {}
        }
    }

    fn cancel_timer(&mut self, timer_id: &str) {
        self.effects.push(Effect::CancelTimer {
            timer_id: timer_id.to_string(),
        });
    }

    fn terminate(&mut self, end_id: &str) {
        let tokens = std::mem::take(&mut self.inst.tokens);
        let reason = format!("pathway ended at {end_id}");
        for t in &tokens {
            self.release(t, &reason, None);
        }
        self.queue.clear();
        self.finish(end_id.to_string(), true);
    }

    /// Fire a timer; false when nothing waits on it.
    pub(super) fn fire_timer(&mut self, timer_id: &str) -> bool {
        if !self.inst.is_running() {
            return false;
        }
        let hit = self.inst.tokens.iter().find_map(|t| {
            let timers: &[WaitTimer] = match &t.wait {
                Wait::UserTask { timers, .. } | Wait::EventGateway { timers, .. } => timers,
                Wait::Timer(w) => std::slice::from_ref(w),
                _ => &[],
            };
            timers
                .iter()
                .find(|w| w.timer_id == timer_id)
                .map(|w| (t.id, w.event_id.clone()))
        });
        let Some((token_id, event_id)) = hit else {
            return false;
        };
        self.log(&event_id, "timer-fired");
        self.trigger(token_id, &event_id, Some(timer_id), "timer");
        true
    }

    /// The catch event `event_id` of token `token_id` happened.
    fn trigger(&mut self, token_id: u64, event_id: &str, timer_id: Option<&str>, what: &str) {
        let Some(event) = self.def.node(event_id) else {
            return;
        };
        let Some(idx) = self.inst.tokens.iter().position(|t| t.id == token_id) else {
            return;
        };
        match &event.kind {
            NodeKind::BoundaryEvent {
                interrupting: false,
                ..
            } => {
                // Keep the task. A timer is one-shot; a message caught on
                // the task's boundary counts as acknowledging the task.
                if let Wait::UserTask { timers, .. } = &mut self.inst.tokens[idx].wait {
                    timers.retain(|w| Some(w.timer_id.as_str()) != timer_id);
                }
                if timer_id.is_none() {
                    self.acknowledge(idx);
                }
                self.queue.push_back((event.id.clone(), None));
            }
            NodeKind::BoundaryEvent { .. } => {
                let t = self.inst.tokens.remove(idx);
                let reason = format!("{what} {} fired", event.label());
                self.release(&t, &reason, timer_id);
                self.queue.push_back((event.id.clone(), None));
            }
            _ => {
                // An intermediate catch event (alone or after an event-based
                // gateway): it is passed, not entered again.
                let t = self.inst.tokens.remove(idx);
                self.release(&t, "", timer_id);
                self.log(&event.id, "passed");
                self.leave(event);
            }
        }
    }

    /// Cancel the acknowledge-or-escalate timers of the token at `idx`.
    fn acknowledge(&mut self, idx: usize) {
        let mut cancelled = Vec::new();
        if let Wait::UserTask { timers, .. } = &mut self.inst.tokens[idx].wait {
            timers.retain(|w| {
                if w.until_ack {
                    cancelled.push(w.timer_id.clone());
                }
                !w.until_ack
            });
        }
        for t in cancelled {
            self.cancel_timer(&t);
        }
    }

    pub(super) fn deliver(
        &mut self,
        message: &str,
        task_id: Option<&str>,
        payload: Map<String, Value>,
    ) -> bool {
        if !self.inst.is_running() {
            return false;
        }
        let mut hits: Vec<(u64, String)> = Vec::new();
        for t in &self.inst.tokens {
            let (subs, tid): (&[WaitMessage], Option<&str>) = match &t.wait {
                Wait::UserTask {
                    messages, task_id, ..
                } => (messages, Some(task_id)),
                Wait::EventGateway { messages, .. } => (messages, None),
                Wait::Message(m) => (std::slice::from_ref(m), None),
                _ => (&[], None),
            };
            if task_id.is_some() && task_id != tid {
                continue;
            }
            if let Some(m) = subs.iter().find(|m| m.message == message) {
                hits.push((t.id, m.event_id.clone()));
            }
        }
        if hits.is_empty() {
            return false;
        }
        self.inst.variables.extend(payload);
        for (token, event_id) in hits {
            if !self.inst.is_running() {
                break;
            }
            self.log(&event_id, format!("message {message}"));
            self.trigger(token, &event_id, None, "message");
            // Run each delivery to its next wait state before the next one,
            // so a terminate end event reached by one stops the rest.
            self.advance_queue_only();
        }
        true
    }

    fn advance_queue_only(&mut self) {
        while let Some((node_id, via)) = self.queue.pop_front() {
            if !self.inst.is_running() {
                self.queue.clear();
                break;
            }
            if let Some(node) = self.def.node(&node_id) {
                self.enter(node, via);
            }
        }
    }

    pub(super) fn task_update(
        &mut self,
        task_id: &str,
        status: TaskStatus,
        output: Map<String, Value>,
    ) -> Result<bool, EngineError> {
        if !self.inst.is_running() {
            return Ok(false);
        }
        let Some(idx) =
            self.inst.tokens.iter().position(
                |t| matches!(&t.wait, Wait::UserTask { task_id: id, .. } if id == task_id),
            )
        else {
            return Ok(false);
        };
        let Wait::UserTask {
            status: current, ..
        } = &mut self.inst.tokens[idx].wait
        else {
            return Ok(false);
        };
        if *current == status {
            return Ok(false);
        }
        transition(*current, status).map_err(|source| EngineError::Transition {
            task_id: task_id.to_string(),
            source,
        })?;
        *current = status;
        let element = self.inst.tokens[idx].element_id.clone();
        self.log(&element, format!("task-{status}"));
        if status.is_acknowledged() {
            self.acknowledge(idx);
        }
        if status.is_terminal() {
            let token = self.inst.tokens.remove(idx);
            self.release(&token, "", None);
            if status == TaskStatus::Completed {
                self.inst.variables.extend(output);
            }
            if let Some(node) = self.def.node(&element) {
                self.leave(node);
            }
        }
        Ok(true)
    }
}

fn eval_inputs(inputs: &[Input], vars: &Map<String, Value>) -> Map<String, Value> {
    inputs
        .iter()
        .map(|i| {
            let v = match &i.value {
                InputValue::Literal(s) => Value::String(s.clone()),
                InputValue::Expr(e) => e.eval(vars),
            };
            (i.name.clone(), v)
        })
        .collect()
}

/// A Task's description: the user task's documentation, then the reason
/// the path taken to it gives ("… Reason: called by the covering
/// physician.").
fn with_reason(doc: Option<&str>, why: Option<String>) -> Option<String> {
    match (doc, why) {
        (Some(d), Some(w)) => Some(format!("{} Reason: {w}", d.trim())),
        (None, Some(w)) => Some(format!("Reason: {w}")),
        (d, None) => d.map(str::to_string),
    }
}
