//! Structural checks on an imported definition, and the text report that
//! `bedside pathway validate` prints.

use crate::model::*;
use std::collections::{HashMap, HashSet, VecDeque};

/// Check the graph of an imported definition; push every finding.
/// `complete` is false when unsupported elements were left out: the graph
/// checks that would only echo those gaps (dead ends, unreachable nodes)
/// are skipped then.
pub(crate) fn structure(def: &Definition, complete: bool, out: &mut Vec<Problem>) {
    starts_and_ends(def, out);
    for n in &def.nodes {
        match &n.kind {
            NodeKind::ExclusiveGateway { default } => exclusive(def, n, default.as_deref(), out),
            NodeKind::EventBasedGateway => event_based(def, n, out),
            NodeKind::BoundaryEvent { attached_to, .. } => boundary(def, n, attached_to, out),
            _ => {}
        }
        let is_end = matches!(
            n.kind,
            NodeKind::EndEvent { .. } | NodeKind::BoundaryEvent { .. }
        );
        if complete && n.outgoing.is_empty() && !is_end {
            out.push(Problem::warning(
                Some(&n.id),
                format!(
                    "{} has no outgoing sequence flow: the token ends here (implicit end)",
                    n.kind.tag()
                ),
            ));
        }
    }
    for f in &def.flows {
        let from_exclusive = def
            .node(&f.source)
            .is_some_and(|s| matches!(s.kind, NodeKind::ExclusiveGateway { .. }));
        if f.condition.is_some() && !from_exclusive {
            out.push(Problem::error(
                Some(&f.id),
                "condition expressions are only supported on flows leaving an exclusive gateway",
            ));
        }
    }
    if complete {
        reachability(def, out);
    }
    diagram_coverage(def, out);
}

fn starts_and_ends(def: &Definition, out: &mut Vec<Problem>) {
    let mut triggers: HashMap<StartTrigger, &str> = HashMap::new();
    for n in &def.nodes {
        match &n.kind {
            NodeKind::StartEvent(t) => {
                if !n.incoming.is_empty() {
                    out.push(Problem::error(
                        Some(&n.id),
                        "start event has incoming flows",
                    ));
                }
                if let Some(other) = triggers.insert(t.clone(), &n.id) {
                    out.push(Problem::error(
                        Some(&n.id),
                        format!("start event has the same trigger as {other}: ambiguous start"),
                    ));
                }
            }
            NodeKind::EndEvent { .. } if !n.outgoing.is_empty() => {
                out.push(Problem::error(Some(&n.id), "end event has outgoing flows"));
            }
            _ => {}
        }
    }
    if triggers.is_empty() {
        out.push(Problem::error(
            Some(&def.id),
            "process has no (supported) start event",
        ));
    }
}

fn exclusive(def: &Definition, n: &Node, default: Option<&str>, out: &mut Vec<Problem>) {
    if let Some(d) = default {
        if !n.outgoing.iter().any(|f| f == d) {
            out.push(Problem::error(
                Some(&n.id),
                format!("default flow {d:?} is not an outgoing flow of this gateway"),
            ));
        } else if def.flow(d).is_some_and(|f| f.condition.is_some()) {
            out.push(Problem::error(
                Some(d),
                "the default flow of a gateway must not have a condition",
            ));
        }
    }
    if n.outgoing.len() < 2 {
        return;
    }
    for fid in &n.outgoing {
        let Some(f) = def.flow(fid) else { continue };
        if f.condition.is_none() && Some(fid.as_str()) != default {
            out.push(Problem::error(
                Some(fid),
                format!(
                    "flow leaving exclusive gateway {} has no condition and is not its default",
                    n.id
                ),
            ));
        }
    }
    if default.is_none() {
        out.push(Problem::warning(
            Some(&n.id),
            "exclusive gateway has no default flow: if no condition is true (e.g. a variable is \
             missing) the instance stops with an incident",
        ));
    }
}

fn event_based(def: &Definition, n: &Node, out: &mut Vec<Problem>) {
    if n.outgoing.len() < 2 {
        out.push(Problem::warning(
            Some(&n.id),
            "event-based gateway with fewer than two outgoing flows",
        ));
    }
    for fid in &n.outgoing {
        let Some(f) = def.flow(fid) else { continue };
        let ok = def
            .node(&f.target)
            .is_some_and(|t| matches!(t.kind, NodeKind::IntermediateCatchEvent(_)));
        if !ok {
            out.push(Problem::error(
                Some(fid),
                format!(
                    "event-based gateway {} must lead to intermediate catch events (timer or message)",
                    n.id
                ),
            ));
        }
    }
}

fn boundary(def: &Definition, n: &Node, host: &str, out: &mut Vec<Problem>) {
    if let Some(h) = def.node(host) {
        if !matches!(h.kind, NodeKind::UserTask(_)) {
            out.push(Problem::error(
                Some(&n.id),
                format!(
                    "boundary events are supported on user tasks only ({host} is a {}, which completes at once)",
                    h.kind.tag()
                ),
            ));
        }
    }
    if !n.incoming.is_empty() {
        out.push(Problem::error(
            Some(&n.id),
            "boundary event has incoming flows",
        ));
    }
    if n.outgoing.is_empty() {
        out.push(Problem::error(
            Some(&n.id),
            "boundary event has no outgoing flow",
        ));
    }
}

fn reachability(def: &Definition, out: &mut Vec<Problem>) {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&Node> = def
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::StartEvent(_)))
        .collect();
    while let Some(n) = queue.pop_front() {
        if !seen.insert(&n.id) {
            continue;
        }
        let next = n
            .outgoing
            .iter()
            .filter_map(|f| def.flow(f))
            .map(|f| f.target.as_str())
            .chain(n.boundaries.iter().map(String::as_str));
        for t in next {
            if let Some(tn) = def.node(t) {
                queue.push_back(tn);
            }
        }
    }
    for n in &def.nodes {
        if !seen.contains(n.id.as_str()) {
            out.push(Problem::warning(
                Some(&n.id),
                format!("{} is not reachable from any start event", n.kind.tag()),
            ));
        }
    }
}

fn diagram_coverage(def: &Definition, out: &mut Vec<Problem>) {
    if def.diagram.shapes.is_empty() && def.diagram.edges.is_empty() {
        out.push(Problem::warning(
            None,
            "no diagram interchange (bpmndi): the pathway cannot be drawn",
        ));
        return;
    }
    let shapes: HashSet<&str> = def
        .diagram
        .shapes
        .iter()
        .map(|s| s.element_id.as_str())
        .collect();
    let edges: HashSet<&str> = def
        .diagram
        .edges
        .iter()
        .map(|e| e.element_id.as_str())
        .collect();
    for n in &def.nodes {
        if !shapes.contains(n.id.as_str()) {
            out.push(Problem::warning(
                Some(&n.id),
                "no diagram shape (bpmndi:BPMNShape)",
            ));
        }
    }
    for f in &def.flows {
        if !edges.contains(f.id.as_str()) {
            out.push(Problem::warning(
                Some(&f.id),
                "no diagram edge (bpmndi:BPMNEdge)",
            ));
        }
    }
}

/// Render problems one per line, errors first, then a summary line:
///
/// ```text
/// error: Activity_1: <bpmn:subProcess> is not supported by the Bedside pathway engine
/// warning: Gateway_2: exclusive gateway has no default flow: ...
/// 1 error, 1 warning
/// ```
pub fn format_problems(problems: &[Problem]) -> String {
    let mut sorted: Vec<&Problem> = problems.iter().collect();
    sorted.sort_by_key(|p| p.severity); // stable: document order within a severity
    let mut s = String::new();
    for p in &sorted {
        s.push_str(&p.to_string());
        s.push('\n');
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if problems.is_empty() {
        s.push_str("ok: no problems\n");
    } else {
        s.push_str(&format!(
            "{}, {}\n",
            plural(errors, "error"),
            plural(warnings, "warning")
        ));
    }
    s
}
