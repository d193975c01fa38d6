//! BPMN 2.0 XML -> [`Definition`], collecting every problem on the way.
//!
//! Extension attributes are read from Bedside's own namespace first, then
//! Camunda 7 (`camunda:`) and Camunda 8 (`zeebe:`) as Camunda Modeler and
//! bpmn.io write them.

mod diagram;
mod events;
mod tasks;

use diagram::diagram;
use events::node_kind;

use crate::feel::Expr;
use crate::model::*;
use crate::xml::{self, Element, NS_BPMN};
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

pub(super) struct Ctx<'a> {
    pub(super) problems: Vec<Problem>,
    pub(super) messages: HashMap<&'a str, Option<&'a str>>,
    pub(super) signals: HashMap<&'a str, Option<&'a str>>,
}

impl Ctx<'_> {
    pub(super) fn err(&mut self, id: &str, msg: impl Into<String>) {
        self.problems.push(Problem::error(Some(id), msg));
    }
    pub(super) fn warn(&mut self, id: &str, msg: impl Into<String>) {
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
    let mut cx = match definitions(&root) {
        Ok(cx) => cx,
        Err(problem) => return (None, vec![problem]),
    };
    let Some(process) = the_process(&root, &mut cx) else {
        return (None, cx.problems);
    };
    let pid = process.id().unwrap_or("process").to_string();

    let Elements {
        mut nodes,
        flows,
        unsupported,
    } = read_elements(&mut cx, process);

    let node_index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();
    let flows = connect_flows(&mut cx, &mut nodes, &node_index, flows, &unsupported);
    attach_boundaries(&mut cx, &mut nodes, &node_index, &unsupported);
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

/// The root is `bpmn:definitions`: the context with its messages and
/// signals, else the problem.
fn definitions(root: &Element) -> Result<Ctx<'_>, Problem> {
    if !root.is_bpmn("definitions") {
        let msg = format!(
            "root element is <{}>, expected bpmn:definitions in namespace {NS_BPMN}",
            root.qname
        );
        return Err(Problem::error(None, msg));
    }
    Ok(Ctx {
        problems: Vec::new(),
        messages: named_children(root, "message"),
        signals: named_children(root, "signal"),
    })
}

/// The one `bpmn:process` of the document (none or several: an error).
fn the_process<'a>(root: &'a Element, cx: &mut Ctx<'_>) -> Option<&'a Element> {
    let processes: Vec<&Element> = root.children_named(NS_BPMN, "process").collect();
    match processes.as_slice() {
        [p] => Some(*p),
        [] => {
            cx.problems
                .push(Problem::error(None, "no bpmn:process in the document"));
            None
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
            None
        }
    }
}

/// The process's flow nodes and sequence flows, not yet connected.
struct Elements {
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    /// ids of unsupported elements: flows to them are not also "dangling".
    unsupported: HashSet<String>,
}

/// Read the process's children in document order (artifacts and other
/// namespaces skipped; an element without an id or with a duplicate id is
/// an error and skipped).
fn read_elements(cx: &mut Ctx<'_>, process: &Element) -> Elements {
    let mut nodes: Vec<Node> = Vec::new();
    let mut flows: Vec<Flow> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
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
            if let Some(f) = sequence_flow(cx, el, id) {
                flows.push(f);
            }
            continue;
        }
        match node_kind(cx, el, id) {
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
    Elements {
        nodes,
        flows,
        unsupported,
    }
}

/// Keep the flows whose both ends are flow nodes (an end that names
/// nothing is an error; one at an unsupported element is already
/// reported) and record them on their nodes' incoming and outgoing lists.
fn connect_flows(
    cx: &mut Ctx<'_>,
    nodes: &mut [Node],
    node_index: &HashMap<String, usize>,
    flows: Vec<Flow>,
    unsupported: &HashSet<String>,
) -> Vec<Flow> {
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
    for f in &kept_flows {
        nodes[node_index[&f.source]].outgoing.push(f.id.clone());
        nodes[node_index[&f.target]].incoming.push(f.id.clone());
    }
    kept_flows
}

/// Record each boundary event on the activity it is attached to.
fn attach_boundaries(
    cx: &mut Ctx<'_>,
    nodes: &mut [Node],
    node_index: &HashMap<String, usize>,
    unsupported: &HashSet<String>,
) {
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
        documentation: el
            .child(NS_BPMN, "documentation")
            .map(|d| d.text.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty()),
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
