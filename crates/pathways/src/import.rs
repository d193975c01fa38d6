//! BPMN 2.0 XML -> [`Definition`], collecting every problem on the way.
//!
//! Extension attributes are read from Bedside's own namespace first, then
//! Camunda 7 (`camunda:`) and Camunda 8 (`zeebe:`) as Camunda Modeler and
//! bpmn.io write them.

use crate::duration::IsoDuration;
use crate::feel::Expr;
use crate::model::*;
use crate::xml::{
    self, Element, NS_BEDSIDE, NS_BPMN, NS_BPMNDI, NS_CAMUNDA, NS_DC, NS_DI, NS_ZEEBE,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// Process children without execution semantics: ignored.
const ARTIFACTS: &[&str] = &[
    "documentation",
    "extensionElements",
    "laneSet",
    "textAnnotation",
    "association",
    "group",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "property",
    "ioSpecification",
];

struct Ctx<'a> {
    problems: Vec<Problem>,
    messages: HashMap<&'a str, Option<&'a str>>,
    signals: HashMap<&'a str, Option<&'a str>>,
}

impl Ctx<'_> {
    fn err(&mut self, id: &str, msg: impl Into<String>) {
        self.problems.push(Problem::error(Some(id), msg));
    }
    fn warn(&mut self, id: &str, msg: impl Into<String>) {
        self.problems.push(Problem::warning(Some(id), msg));
    }
}

/// Import `xml`; returns the definition when the document was readable
/// enough to build one, and every problem found (errors and warnings).
pub(crate) fn load(xml_text: &str) -> (Option<Definition>, Vec<Problem>) {
    let root = match xml::parse(xml_text) {
        Ok(r) => r,
        Err(e) => return (None, vec![Problem::error(None, e.to_string())]),
    };
    if !root.is_bpmn("definitions") {
        let msg = format!(
            "root element is <{}>, expected bpmn:definitions in namespace {NS_BPMN}",
            root.qname
        );
        return (None, vec![Problem::error(None, msg)]);
    }
    let mut cx = Ctx {
        problems: Vec::new(),
        messages: named_children(&root, "message"),
        signals: named_children(&root, "signal"),
    };
    let processes: Vec<&Element> = root.children_named(NS_BPMN, "process").collect();
    let process = match processes.as_slice() {
        [p] => *p,
        [] => {
            cx.problems
                .push(Problem::error(None, "no bpmn:process in the document"));
            return (None, cx.problems);
        }
        many => {
            let ids: Vec<&str> = many.iter().filter_map(|p| p.id()).collect();
            cx.problems.push(Problem::error(
                None,
                format!(
                    "{} processes ({}); a pathway file holds exactly one",
                    many.len(),
                    ids.join(", ")
                ),
            ));
            return (None, cx.problems);
        }
    };
    let pid = process.id().unwrap_or("process").to_string();

    let mut nodes: Vec<Node> = Vec::new();
    let mut flows: Vec<Flow> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    // ids of unsupported elements: flows to them are not also "dangling".
    let mut unsupported: HashSet<String> = HashSet::new();
    for el in &process.children {
        if el.ns.as_deref() != Some(NS_BPMN) || ARTIFACTS.contains(&el.local.as_str()) {
            continue;
        }
        let Some(id) = el.id() else {
            cx.problems.push(Problem::error(
                None,
                format!("<{}> at line {} has no id", el.qname, el.line),
            ));
            continue;
        };
        if !seen.insert(id.to_string()) {
            cx.err(
                id,
                format!("duplicate id (second <{}> at line {})", el.qname, el.line),
            );
            continue;
        }
        if el.local == "sequenceFlow" {
            if let Some(f) = sequence_flow(&mut cx, el, id) {
                flows.push(f);
            }
            continue;
        }
        match node_kind(&mut cx, el, id) {
            Some(kind) => nodes.push(Node {
                id: id.to_string(),
                name: el.attr("name").map(str::to_string),
                kind,
                incoming: Vec::new(),
                outgoing: Vec::new(),
                boundaries: Vec::new(),
            }),
            None => {
                unsupported.insert(id.to_string());
            }
        }
    }

    let node_index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();
    let mut kept_flows = Vec::new();
    for f in flows {
        let mut ok = true;
        for (end, r) in [("sourceRef", &f.source), ("targetRef", &f.target)] {
            if unsupported.contains(r.as_str()) {
                ok = false;
            } else if !node_index.contains_key(r.as_str()) {
                cx.err(&f.id, format!("{end} {r:?} does not name a flow node"));
                ok = false;
            }
        }
        if ok {
            kept_flows.push(f);
        }
    }
    let flows = kept_flows;
    for f in &flows {
        nodes[node_index[&f.source]].outgoing.push(f.id.clone());
        nodes[node_index[&f.target]].incoming.push(f.id.clone());
    }
    let attachments: Vec<(String, String)> = nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::BoundaryEvent { attached_to, .. } => {
                Some((n.id.clone(), attached_to.clone()))
            }
            _ => None,
        })
        .collect();
    for (b, host) in attachments {
        match node_index.get(&host) {
            Some(i) => nodes[*i].boundaries.push(b),
            None if unsupported.contains(&host) => {}
            None => cx.err(
                &b,
                format!("attachedToRef {host:?} does not name an activity"),
            ),
        }
    }
    default_due_dates(&mut nodes, &node_index);

    let flow_index = flows
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.clone(), i))
        .collect();
    let diagram = diagram(&mut cx, &root);
    let digest = hex::encode(Sha256::digest(xml_text.as_bytes()));
    let def = Definition {
        id: pid,
        name: process.attr("name").map(str::to_string),
        digest,
        nodes,
        flows,
        diagram,
        warnings: Vec::new(),
        node_index,
        flow_index,
    };
    crate::validate::structure(&def, unsupported.is_empty(), &mut cx.problems);
    (Some(def), cx.problems)
}

fn named_children<'a>(root: &'a Element, local: &'a str) -> HashMap<&'a str, Option<&'a str>> {
    root.children_named(NS_BPMN, local)
        .filter_map(|m| m.id().map(|id| (id, m.attr("name"))))
        .collect()
}

fn sequence_flow(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<Flow> {
    let (Some(source), Some(target)) = (el.attr("sourceRef"), el.attr("targetRef")) else {
        cx.err(id, "sequence flow needs both sourceRef and targetRef");
        return None;
    };
    let condition = match el.child(NS_BPMN, "conditionExpression") {
        None => None,
        Some(c) => match Expr::parse(&c.text) {
            Ok(e) => Some(e),
            Err(e) => {
                cx.err(id, format!("bad condition: {e}"));
                // keep the flow conditional (never true) so the gateway
                // checks do not report it a second time
                Expr::parse("null").ok()
            }
        },
    };
    Some(Flow {
        id: id.to_string(),
        name: el.attr("name").map(str::to_string),
        source: source.to_string(),
        target: target.to_string(),
        condition,
    })
}

/// Build the node kind, or report the element as unsupported (`None`).
fn node_kind(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<NodeKind> {
    for lc in [
        "multiInstanceLoopCharacteristics",
        "standardLoopCharacteristics",
    ] {
        if el.child(NS_BPMN, lc).is_some() {
            cx.err(id, format!("<{}> with {lc} is not supported", el.qname));
            return None;
        }
    }
    let defs: Vec<&Element> = el
        .children
        .iter()
        .filter(|c| c.ns.as_deref() == Some(NS_BPMN) && c.local.ends_with("EventDefinition"))
        .collect();
    let kind = match el.local.as_str() {
        "startEvent" => start_event(cx, el, id, &defs)?,
        "endEvent" => match defs.as_slice() {
            [] => NodeKind::EndEvent { terminate: false },
            [d] if d.local == "terminateEventDefinition" => NodeKind::EndEvent { terminate: true },
            _ => return unsupported_defs(cx, el, id, &defs),
        },
        "serviceTask" => service_task(cx, el, id)?,
        "userTask" => NodeKind::UserTask(user_task(cx, el, id)?),
        "exclusiveGateway" => NodeKind::ExclusiveGateway {
            default: el.attr("default").map(str::to_string),
        },
        "parallelGateway" => NodeKind::ParallelGateway,
        "eventBasedGateway" => {
            if el.attr("instantiate") == Some("true") {
                cx.err(id, "instantiating event-based gateways are not supported");
                return None;
            }
            NodeKind::EventBasedGateway
        }
        "boundaryEvent" => {
            let trigger = catch_trigger(cx, el, id, &defs)?;
            let Some(attached) = el.attr("attachedToRef") else {
                cx.err(id, "boundary event without attachedToRef");
                return None;
            };
            let scope = match ext(el, "until") {
                None | Some("acknowledged") => TimerScope::UntilAcknowledged,
                Some("completed") => TimerScope::UntilCompleted,
                Some(other) => {
                    cx.err(
                        id,
                        format!("bedside:until is {other:?}; expected \"acknowledged\" or \"completed\""),
                    );
                    return None;
                }
            };
            NodeKind::BoundaryEvent {
                attached_to: attached.to_string(),
                interrupting: el.attr("cancelActivity") != Some("false"),
                trigger,
                scope,
            }
        }
        "intermediateCatchEvent" => {
            NodeKind::IntermediateCatchEvent(catch_trigger(cx, el, id, &defs)?)
        }
        _ => {
            cx.err(
                id,
                format!(
                    "<{}> is not supported by the Bedside pathway engine",
                    el.qname
                ),
            );
            return None;
        }
    };
    Some(kind)
}

fn unsupported_defs<T>(cx: &mut Ctx<'_>, el: &Element, id: &str, defs: &[&Element]) -> Option<T> {
    let tags: Vec<&str> = defs.iter().map(|d| d.qname.as_str()).collect();
    cx.err(
        id,
        format!("<{}> with {} is not supported", el.qname, tags.join(" + ")),
    );
    None
}

fn start_event(cx: &mut Ctx<'_>, el: &Element, id: &str, defs: &[&Element]) -> Option<NodeKind> {
    let trigger = match defs {
        [] => StartTrigger::None,
        [d] if d.local == "messageEventDefinition" => {
            StartTrigger::Message(ref_name(cx, id, d, "messageRef")?)
        }
        [d] if d.local == "signalEventDefinition" => {
            StartTrigger::Signal(ref_name(cx, id, d, "signalRef")?)
        }
        _ => return unsupported_defs(cx, el, id, defs),
    };
    Some(NodeKind::StartEvent(trigger))
}

fn catch_trigger(
    cx: &mut Ctx<'_>,
    el: &Element,
    id: &str,
    defs: &[&Element],
) -> Option<CatchTrigger> {
    match defs {
        [d] if d.local == "messageEventDefinition" => {
            Some(CatchTrigger::Message(ref_name(cx, id, d, "messageRef")?))
        }
        [d] if d.local == "timerEventDefinition" => {
            for other in ["timeDate", "timeCycle"] {
                if d.child(NS_BPMN, other).is_some() {
                    cx.err(
                        id,
                        format!(
                            "timer with {other} is not supported; use timeDuration (e.g. PT15M)"
                        ),
                    );
                    return None;
                }
            }
            let Some(td) = d.child(NS_BPMN, "timeDuration") else {
                cx.err(id, "timer without timeDuration");
                return None;
            };
            match IsoDuration::parse(&td.text) {
                Ok(dur) => Some(CatchTrigger::Timer(dur)),
                Err(e) => {
                    cx.err(id, format!("bad timer duration: {e}"));
                    None
                }
            }
        }
        [] => {
            cx.err(
                id,
                format!(
                    "<{}> without an event definition is not supported",
                    el.qname
                ),
            );
            None
        }
        _ => unsupported_defs(cx, el, id, defs),
    }
}

/// Resolve `messageRef` / `signalRef` to the referenced element's name.
fn ref_name(cx: &mut Ctx<'_>, id: &str, d: &Element, attr: &str) -> Option<String> {
    let table = if attr == "messageRef" {
        &cx.messages
    } else {
        &cx.signals
    };
    let Some(r) = d.attr(attr) else {
        cx.err(id, format!("{} without {attr}", d.qname));
        return None;
    };
    match table.get(r) {
        Some(Some(name)) if !name.trim().is_empty() => Some(name.trim().to_string()),
        Some(_) => {
            cx.err(id, format!("{attr} {r:?} names an element without a name"));
            None
        }
        None => {
            cx.err(
                id,
                format!(
                    "{attr} {r:?} does not name a bpmn:{}",
                    &attr[..attr.len() - 3]
                ),
            );
            None
        }
    }
}

/// An extension attribute: `bedside:` first, then `camunda:`.
fn ext<'a>(el: &'a Element, local: &str) -> Option<&'a str> {
    el.attr_ns(NS_BEDSIDE, local)
        .or_else(|| el.attr_ns(NS_CAMUNDA, local))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A zeebe extension element's attribute (`<zeebe:taskDefinition type=..>`).
fn zeebe<'a>(el: &'a Element, child: &str, attr: &str) -> Option<&'a str> {
    el.child(NS_BPMN, "extensionElements")
        .and_then(|x| x.child(NS_ZEEBE, child))
        .and_then(|c| c.attr(attr))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn service_task(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<NodeKind> {
    let implementation = el.attr("implementation").filter(|s| !s.starts_with("##"));
    let binding = el
        .attr_ns(NS_BEDSIDE, "action")
        .or(implementation)
        .or_else(|| el.attr_ns(NS_CAMUNDA, "topic"))
        .or_else(|| zeebe(el, "taskDefinition", "type"));
    let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    let Some(binding) = binding else {
        cx.err(
            id,
            format!(
                "service task is not bound to a Bedside action (set bedside:action, implementation, camunda:topic or zeebe:taskDefinition type to one of {})",
                known.join(", ")
            ),
        );
        return None;
    };
    let Some(action) = Action::parse(binding) else {
        cx.err(
            id,
            format!(
                "unknown action {binding:?}; expected one of {}",
                known.join(", ")
            ),
        );
        return None;
    };
    let inputs = inputs(cx, el, id)?;
    Some(NodeKind::ServiceTask { action, inputs })
}

fn input_value(cx: &mut Ctx<'_>, id: &str, name: &str, text: &str) -> Option<InputValue> {
    let t = text.trim();
    if t.starts_with('=') {
        match Expr::parse(t) {
            Ok(e) => Some(InputValue::Expr(e)),
            Err(e) => {
                cx.err(id, format!("input {name:?}: {e}"));
                None
            }
        }
    } else if t.contains("${") || t.contains("#{") {
        cx.err(
            id,
            format!("input {name:?}: JUEL expressions are not supported; write =FEEL"),
        );
        None
    } else {
        Some(InputValue::Literal(t.to_string()))
    }
}

/// `camunda:inputOutput/inputParameter` and `zeebe:ioMapping/input`.
fn inputs(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<Vec<Input>> {
    let mut out = Vec::new();
    let mut ok = true;
    let Some(x) = el.child(NS_BPMN, "extensionElements") else {
        return Some(out);
    };
    let mut raw: Vec<(String, String)> = Vec::new();
    for io in x.children_named(NS_CAMUNDA, "inputOutput") {
        for p in io.children_named(NS_CAMUNDA, "inputParameter") {
            let Some(name) = p.attr("name") else {
                cx.err(id, "camunda:inputParameter without name");
                ok = false;
                continue;
            };
            if let Some(c) = p.children.first() {
                cx.err(
                    id,
                    format!(
                        "input {name:?}: <{}> values are not supported; use =FEEL",
                        c.qname
                    ),
                );
                ok = false;
                continue;
            }
            raw.push((name.to_string(), p.text.clone()));
        }
    }
    for io in x.children_named(NS_ZEEBE, "ioMapping") {
        for p in io.children_named(NS_ZEEBE, "input") {
            match (p.attr("target"), p.attr("source")) {
                (Some(t), Some(s)) => raw.push((t.to_string(), s.to_string())),
                _ => {
                    cx.err(id, "zeebe:input needs source and target");
                    ok = false;
                }
            }
        }
    }
    for (name, text) in raw {
        match input_value(cx, id, &name, &text) {
            Some(value) => out.push(Input { name, value }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn priority(cx: &mut Ctx<'_>, id: &str, raw: &str) -> Option<String> {
    if PRIORITIES.contains(&raw) {
        return Some(raw.to_string());
    }
    // Camunda writes numeric priorities (0-100): map to FHIR by quartile.
    match raw.parse::<u32>() {
        Ok(n) if n <= 100 => Some(PRIORITIES[(n as usize / 25).min(3)].to_string()),
        _ => {
            cx.err(
                id,
                format!("priority {raw:?} is not one of routine, urgent, asap, stat (or 0-100)"),
            );
            None
        }
    }
}

fn user_task(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<UserTaskSpec> {
    let groups = ext(el, "role")
        .or_else(|| ext(el, "candidateGroups"))
        .or_else(|| zeebe(el, "assignmentDefinition", "candidateGroups"));
    let roles: Vec<String> = groups
        .map(|g| {
            g.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let assignee_raw = el
        .attr_ns(NS_BEDSIDE, "owner")
        .or_else(|| ext(el, "assignee"))
        .or_else(|| zeebe(el, "assignmentDefinition", "assignee"));
    let assignee = match assignee_raw {
        Some(a) => Some(input_value(cx, id, "assignee", a)?),
        None => None,
    };
    if roles.is_empty() && assignee.is_none() {
        cx.warn(
            id,
            "user task has no candidate group (role) or assignee: its Task will have no owner",
        );
    }
    let prio_raw = ext(el, "priority").or_else(|| zeebe(el, "priorityDefinition", "priority"));
    let priority = match prio_raw {
        Some(p) => priority(cx, id, p)?,
        None => "routine".to_string(),
    };
    let due_raw = ext(el, "due")
        .or_else(|| ext(el, "dueDate"))
        .or_else(|| zeebe(el, "taskSchedule", "dueDate"));
    let due = match due_raw {
        Some(d) => match IsoDuration::parse(d) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.err(id, format!("bad due duration: {e}"));
                return None;
            }
        },
        None => None,
    };
    let description = el
        .child(NS_BPMN, "documentation")
        .map(|d| d.text.trim().to_string())
        .filter(|s| !s.is_empty());
    Some(UserTaskSpec {
        roles,
        assignee,
        priority,
        due,
        description,
        inputs: inputs(cx, el, id)?,
    })
}

/// A user task without an explicit due date is due when its first
/// escalation (interrupting boundary timer) fires.
fn default_due_dates(nodes: &mut [Node], index: &HashMap<String, usize>) {
    for i in 0..nodes.len() {
        let NodeKind::UserTask(spec) = &nodes[i].kind else {
            continue;
        };
        if spec.due.is_some() {
            continue;
        }
        let shortest = nodes[i]
            .boundaries
            .iter()
            .filter_map(|b| index.get(b).map(|j| &nodes[*j].kind))
            .filter_map(|k| match k {
                NodeKind::BoundaryEvent {
                    interrupting: true,
                    trigger: CatchTrigger::Timer(d),
                    ..
                } => Some(d.clone()),
                _ => None,
            })
            .min_by_key(|d| d.as_delta());
        if let NodeKind::UserTask(spec) = &mut nodes[i].kind {
            spec.due = shortest;
        }
    }
}

fn num_attr(el: &Element, name: &str) -> Option<f64> {
    el.attr(name)?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

fn bounds(el: Option<&Element>) -> Option<[f64; 4]> {
    let b = el?;
    Some([
        num_attr(b, "x")?,
        num_attr(b, "y")?,
        num_attr(b, "width")?,
        num_attr(b, "height")?,
    ])
}

fn diagram(cx: &mut Ctx<'_>, root: &Element) -> Diagram {
    let mut d = Diagram::default();
    let mut shapes = Vec::new();
    root.descendants(NS_BPMNDI, "BPMNShape", &mut shapes);
    for s in shapes {
        let Some(el) = s.attr("bpmnElement") else {
            continue;
        };
        let Some(b) = bounds(s.child(NS_DC, "Bounds")) else {
            cx.warn(el, "diagram shape without valid dc:Bounds");
            continue;
        };
        let label = bounds(
            s.child(NS_BPMNDI, "BPMNLabel")
                .and_then(|l| l.child(NS_DC, "Bounds")),
        );
        d.shapes.push(Shape {
            element_id: el.to_string(),
            x: b[0],
            y: b[1],
            w: b[2],
            h: b[3],
            label,
        });
    }
    let mut edges = Vec::new();
    root.descendants(NS_BPMNDI, "BPMNEdge", &mut edges);
    for e in edges {
        let Some(el) = e.attr("bpmnElement") else {
            continue;
        };
        let waypoints: Option<Vec<(f64, f64)>> = e
            .children_named(NS_DI, "waypoint")
            .map(|w| Some((num_attr(w, "x")?, num_attr(w, "y")?)))
            .collect();
        match waypoints {
            Some(w) if w.len() >= 2 => d.edges.push(Edge {
                element_id: el.to_string(),
                waypoints: w,
            }),
            _ => cx.warn(el, "diagram edge needs at least two valid di:waypoint"),
        }
    }
    d
}
