//! The executable form of a BPMN process, as the importer builds it.

use crate::duration::IsoDuration;
use crate::feel::Expr;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// How bad a [`Problem`] is: errors stop a definition from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of import or validation, tied to a BPMN element when there
/// is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub severity: Severity,
    /// The `id` of the BPMN element at fault (`None` for document-level
    /// problems such as malformed XML).
    pub element_id: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn error(id: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            element_id: id.map(str::to_string),
            message: message.into(),
        }
    }
    pub fn warning(id: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            element_id: id.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.element_id {
            Some(id) => write!(f, "{sev}: {id}: {}", self.message),
            None => write!(f, "{sev}: {}", self.message),
        }
    }
}

/// What starts an instance (the trigger of a start event).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum StartTrigger {
    None,
    Message(String),
    Signal(String),
}

/// Bedside actions a service task can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CreateTask,
    SendCommunication,
    WriteRiskAssessment,
    WriteDetectedIssue,
    Webhook,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::CreateTask,
        Action::SendCommunication,
        Action::WriteRiskAssessment,
        Action::WriteDetectedIssue,
        Action::Webhook,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CreateTask => "create_task",
            Action::SendCommunication => "send_communication",
            Action::WriteRiskAssessment => "write_risk_assessment",
            Action::WriteDetectedIssue => "write_detected_issue",
            Action::Webhook => "webhook",
        }
    }
    pub fn parse(s: &str) -> Option<Action> {
        Self::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

/// An input mapping value: a literal string, or a FEEL expression (text
/// starting with `=`) evaluated against the instance variables.
#[derive(Debug, Clone, PartialEq)]
pub enum InputValue {
    Literal(String),
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub name: String,
    pub value: InputValue,
}

/// FHIR Task priority codes, in increasing urgency.
pub const PRIORITIES: [&str; 4] = ["routine", "urgent", "asap", "stat"];

#[derive(Debug, Clone, PartialEq)]
pub struct UserTaskSpec {
    /// Candidate roles (`camunda:candidateGroups`, comma separated).
    pub roles: Vec<String>,
    /// Owner (`camunda:assignee`): a literal reference or an expression.
    pub assignee: Option<InputValue>,
    /// One of [`PRIORITIES`].
    pub priority: String,
    /// Deadline after creation. Defaults to the shortest boundary timer.
    pub due: Option<IsoDuration>,
    /// From `bpmn:documentation`.
    pub description: Option<String>,
    pub inputs: Vec<Input>,
    /// The decision the task is completed with, if its step offers one
    /// (`<bedside:decision>` in its `extensionElements`).
    pub decision: Option<DecisionSpec>,
}

/// The choice a person makes when completing a user task: one of
/// `options`, written to the instance variable `variable` (a dotted path,
/// `nurse.decision`), which the gateway after the task reads.
///
/// ```xml
/// <bedside:decision variable="nurse.decision">
///   <bedside:option code="escalate" display="Escalate to the physician" />
///   <bedside:option code="resolved" display="Resolved at the bedside" />
/// </bedside:decision>
/// ```
///
/// An option's `value` (default: its code) is `true`/`false` as a
/// boolean, a number as a number, else a string; its `<bedside:reason
/// code display>` children are the coded reasons, one of which must then
/// be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionSpec {
    pub variable: String,
    pub options: Vec<DecisionOption>,
}

/// One option of a [`DecisionSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionOption {
    /// What the worklist submits ("escalate").
    pub code: String,
    /// What a person reads ("Escalate to the physician").
    pub display: String,
    /// What the variable is set to.
    pub value: serde_json::Value,
    /// Coded reasons, one of which is required when there are any.
    pub reasons: Vec<DecisionReason>,
}

/// A coded reason for a [`DecisionOption`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionReason {
    pub code: String,
    pub display: String,
}

impl DecisionSpec {
    /// The option with `code`.
    pub fn option(&self, code: &str) -> Option<&DecisionOption> {
        self.options.iter().find(|o| o.code == code)
    }

    /// The instance variables completing with `value` sets
    /// (`nurse.decision` = "escalate" becomes `{"nurse": {"decision":
    /// "escalate"}}`), merged into `into` (an object already there keeps
    /// its other keys).
    pub fn write(
        &self,
        value: serde_json::Value,
        into: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        let parts: Vec<&str> = self.variable.split('.').collect();
        let mut cur = into;
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur.insert((*p).to_string(), value);
                return;
            }
            let slot = cur
                .entry((*p).to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !slot.is_object() {
                *slot = serde_json::Value::Object(Default::default());
            }
            let Some(next) = slot.as_object_mut() else {
                return;
            };
            cur = next;
        }
    }
}

/// When a boundary timer stops counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerScope {
    /// Cancelled once the task is acknowledged (received, accepted or
    /// in-progress): "acknowledge within N minutes or escalate". Default.
    UntilAcknowledged,
    /// Runs until the task is completed (`bedside:until="completed"`).
    UntilCompleted,
}

/// What a catching event waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum CatchTrigger {
    Timer(IsoDuration),
    Message(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    StartEvent(StartTrigger),
    EndEvent {
        terminate: bool,
    },
    ServiceTask {
        action: Action,
        inputs: Vec<Input>,
    },
    UserTask(UserTaskSpec),
    ExclusiveGateway {
        default: Option<String>,
    },
    ParallelGateway,
    EventBasedGateway,
    BoundaryEvent {
        attached_to: String,
        interrupting: bool,
        trigger: CatchTrigger,
        scope: TimerScope,
    },
    IntermediateCatchEvent(CatchTrigger),
}

impl NodeKind {
    /// The BPMN tag this kind comes from (for messages).
    pub fn tag(&self) -> &'static str {
        match self {
            NodeKind::StartEvent(_) => "startEvent",
            NodeKind::EndEvent { .. } => "endEvent",
            NodeKind::ServiceTask { .. } => "serviceTask",
            NodeKind::UserTask(_) => "userTask",
            NodeKind::ExclusiveGateway { .. } => "exclusiveGateway",
            NodeKind::ParallelGateway => "parallelGateway",
            NodeKind::EventBasedGateway => "eventBasedGateway",
            NodeKind::BoundaryEvent { .. } => "boundaryEvent",
            NodeKind::IntermediateCatchEvent(_) => "intermediateCatchEvent",
        }
    }
}

/// A flow node of the process.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub name: Option<String>,
    pub kind: NodeKind,
    /// Sequence flow ids, in document order.
    pub incoming: Vec<String>,
    pub outgoing: Vec<String>,
    /// Boundary event ids attached to this node, in document order.
    pub boundaries: Vec<String>,
}

impl Node {
    /// Name, or id when unnamed.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: String,
    pub name: Option<String>,
    pub source: String,
    pub target: String,
    pub condition: Option<Expr>,
    /// Why a token takes this flow, in words (its BPMN `documentation`):
    /// the next user task's Task gives it as its reason ("Called by the
    /// covering physician"), so a Task reached by several paths names the
    /// one that was taken.
    pub documentation: Option<String>,
}

/// Diagram bounds of one element (BPMNShape / dc:Bounds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub element_id: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Label bounds, when the modeler saved them.
    pub label: Option<[f64; 4]>,
}

/// Diagram route of one sequence flow (BPMNEdge / di:waypoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub element_id: String,
    pub waypoints: Vec<(f64, f64)>,
}

/// BPMN diagram interchange, for drawing the pathway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagram {
    pub shapes: Vec<Shape>,
    pub edges: Vec<Edge>,
}

/// A loaded, validated pathway.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The process id.
    pub id: String,
    pub name: Option<String>,
    /// SHA-256 (hex) of the XML text: instances remember it, so an
    /// instance is never resumed against a different drawing.
    pub digest: String,
    /// Flow nodes in document order.
    pub nodes: Vec<Node>,
    pub flows: Vec<Flow>,
    pub diagram: Diagram,
    /// Warnings found while loading (errors prevent loading).
    pub warnings: Vec<Problem>,
    pub(crate) node_index: HashMap<String, usize>,
    pub(crate) flow_index: HashMap<String, usize>,
}

impl Definition {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.node_index.get(id).map(|i| &self.nodes[*i])
    }
    /// The decision the user task `element` is completed with, if any.
    pub fn decision(&self, element: &str) -> Option<&DecisionSpec> {
        match &self.node(element)?.kind {
            NodeKind::UserTask(spec) => spec.decision.as_ref(),
            _ => None,
        }
    }
    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flow_index.get(id).map(|i| &self.flows[*i])
    }
    /// The triggers that start this pathway (one per start event).
    pub fn start_triggers(&self) -> Vec<StartTrigger> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::StartEvent(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }
    /// A JSON outline for drawing: the process id and name, each node
    /// (`id`, `name`, `kind` = BPMN tag, `attached_to` for boundary events,
    /// `roles` for user tasks), each flow (`id`, `source`, `target`,
    /// `name`, `condition` text, `default`), and the diagram shapes and
    /// edges. Overlay [`crate::Instance::active_elements`] to show where an
    /// instance stands.
    pub fn outline(&self) -> serde_json::Value {
        use serde_json::json;
        let defaults: Vec<&str> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::ExclusiveGateway { default } => default.as_deref(),
                _ => None,
            })
            .collect();
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| {
                let mut v = json!({"id": n.id, "name": n.name, "kind": n.kind.tag()});
                match &n.kind {
                    NodeKind::BoundaryEvent { attached_to, .. } => {
                        v["attached_to"] = json!(attached_to)
                    }
                    NodeKind::UserTask(spec) => v["roles"] = json!(spec.roles),
                    _ => {}
                }
                v
            })
            .collect();
        let flows: Vec<serde_json::Value> = self
            .flows
            .iter()
            .map(|f| {
                json!({
                    "id": f.id, "source": f.source, "target": f.target, "name": f.name,
                    "condition": f.condition.as_ref().map(|c| c.to_string()),
                    "default": defaults.contains(&f.id.as_str()),
                })
            })
            .collect();
        json!({
            "id": self.id, "name": self.name, "nodes": nodes, "flows": flows,
            "diagram": self.diagram,
        })
    }
    /// Every message name the pathway waits for after it started.
    pub fn catch_messages(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::BoundaryEvent {
                    trigger: CatchTrigger::Message(m),
                    ..
                }
                | NodeKind::IntermediateCatchEvent(CatchTrigger::Message(m)) => Some(m.clone()),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The pathway definition id and the BPMN element of a Task Bedside
/// wrote (`instantiatesUri` `urn:bedside:pathway:{id}`, `code` in the
/// step system), if it is one.
pub fn task_step(task: &serde_json::Value) -> Option<(&str, &str)> {
    let def = task["instantiatesUri"]
        .as_str()?
        .strip_prefix("urn:bedside:pathway:")?;
    let element = task["code"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == crate::task::STEP_SYSTEM)?["code"]
        .as_str()?;
    Some((def, element))
}
