//! Pathway view: the BPMN diagram drawn from its diagram-interchange (DI)
//! coordinates, with a badge of waiting instances on each element; the
//! diagram fragment is re-fetched by htmx every 5 s.

use super::Choice;
use crate::layout::{page, NavItem};
use crate::urls;
use crate::util::{c, datetime, iso, slug};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// The pathways page: a selector and, when one is chosen, its diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathwaysView {
    /// Loaded pathways (value = process id).
    pub available: Vec<Choice>,
    pub diagram: Option<PathwayDiagram>,
}

/// One pathway's drawing and live counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathwayDiagram {
    /// Process id.
    pub id: String,
    pub name: Option<String>,
    /// When the counts were taken.
    pub as_of: DateTime<Utc>,
    pub shapes: Vec<DiagramShape>,
    pub edges: Vec<DiagramEdge>,
}

/// One flow node with its DI bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagramShape {
    pub element_id: String,
    pub name: Option<String>,
    pub kind: ShapeKind,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Label bounds `[x, y, w, h]` when the modeler saved them.
    pub label: Option<[f64; 4]>,
    /// Instances currently waiting at this element.
    pub waiting: u64,
}

/// One sequence flow with its DI waypoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagramEdge {
    pub element_id: String,
    pub name: Option<String>,
    pub waypoints: Vec<(f64, f64)>,
}

/// How a flow node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    StartEvent,
    EndEvent,
    /// An end event that terminates the process (drawn with a filled dot).
    TerminateEndEvent,
    IntermediateEvent,
    BoundaryEvent,
    UserTask,
    ServiceTask,
    Task,
    ExclusiveGateway,
    ParallelGateway,
    EventBasedGateway,
}

impl ShapeKind {
    /// From a BPMN element tag ("userTask", "exclusiveGateway", ...), e.g.
    /// `bedside_pathways::NodeKind::tag()`; unknown tags draw as a task.
    pub fn from_bpmn_tag(tag: &str) -> ShapeKind {
        match tag {
            "startEvent" => ShapeKind::StartEvent,
            "endEvent" => ShapeKind::EndEvent,
            "intermediateCatchEvent" | "intermediateThrowEvent" => ShapeKind::IntermediateEvent,
            "boundaryEvent" => ShapeKind::BoundaryEvent,
            "userTask" => ShapeKind::UserTask,
            "serviceTask" => ShapeKind::ServiceTask,
            "exclusiveGateway" => ShapeKind::ExclusiveGateway,
            "parallelGateway" => ShapeKind::ParallelGateway,
            "eventBasedGateway" => ShapeKind::EventBasedGateway,
            _ => ShapeKind::Task,
        }
    }

    fn label(self) -> &'static str {
        match self {
            ShapeKind::StartEvent => "start event",
            ShapeKind::EndEvent => "end event",
            ShapeKind::TerminateEndEvent => "terminate end event",
            ShapeKind::IntermediateEvent => "intermediate event",
            ShapeKind::BoundaryEvent => "boundary event",
            ShapeKind::UserTask => "user task",
            ShapeKind::ServiceTask => "service task",
            ShapeKind::Task => "task",
            ShapeKind::ExclusiveGateway => "exclusive gateway",
            ShapeKind::ParallelGateway => "parallel gateway",
            ShapeKind::EventBasedGateway => "event-based gateway",
        }
    }

    fn is_task(self) -> bool {
        matches!(
            self,
            ShapeKind::UserTask | ShapeKind::ServiceTask | ShapeKind::Task
        )
    }
}

/// The pathways page.
pub fn render_pathways(v: &PathwaysView) -> Markup {
    let title = v
        .diagram
        .as_ref()
        .map(|d| d.name.clone().unwrap_or_else(|| d.id.clone()))
        .unwrap_or_else(|| "Pathways".into());
    page(
        &title,
        Some(NavItem::Pathways),
        html! {
            h1 { (title) }
            nav aria-label="Pathways" {
                ul.pathway-list {
                    @for p in &v.available {
                        li {
                            @if v.diagram.as_ref().map(|d| d.id.as_str()) == Some(p.value.as_str()) {
                                a href=(urls::pathway(&p.value)) aria-current="page" { (p.label) }
                            } @else {
                                a href=(urls::pathway(&p.value)) { (p.label) }
                            }
                        }
                    }
                }
                @if v.available.is_empty() { p { "No pathways loaded." } }
            }
            @if let Some(d) = &v.diagram { (pathway_diagram_fragment(d)) }
        },
    )
}

/// The `#pathway-diagram` element alone: what htmx fetches every 5 s from
/// `/ui/pathways/{id}/diagram` and swaps in place.
pub fn pathway_diagram_fragment(d: &PathwayDiagram) -> Markup {
    let name = d.name.as_deref().unwrap_or(&d.id);
    let (vx, vy, vw, vh) = bounds(d);
    let marker = format!("arrow-{}", slug(&d.id));
    let total: u64 = d.shapes.iter().map(|s| s.waiting).sum();
    html! {
        div #pathway-diagram hx-get=(urls::pathway_diagram(&d.id)) hx-trigger="every 5s" hx-swap="outerHTML" {
            p.muted {
                (total) (if total == 1 { " instance waiting" } else { " instances waiting" }) ". Counts as of "
                time datetime=(iso(&d.as_of)) { (datetime(&d.as_of)) } "; refreshed every 5 seconds."
            }
            figure.chart.bpmn {
                svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="bpmn-title bpmn-desc"
                    viewBox=(format!("{} {} {} {}", c(vx), c(vy), c(vw), c(vh))) preserveAspectRatio="xMinYMin meet" {
                    title #bpmn-title { "Pathway diagram: " (name) }
                    desc #bpmn-desc { (d.shapes.len()) " elements, " (d.edges.len()) " sequence flows; " (total) " instances waiting. The table below lists the counts." }
                    defs {
                        marker #(marker) viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                            path.arrowhead d="M 0 0 L 10 5 L 0 10 z" {}
                        }
                    }
                    @for e in &d.edges { (edge(e, &marker)) }
                    @for s in &d.shapes { (shape(s)) }
                    // Flow labels and counts last, so no shape (e.g. a
                    // boundary event on a task's corner) paints over them.
                    @for e in &d.edges { (edge_label(e)) }
                    @for s in d.shapes.iter().filter(|s| s.waiting > 0) { (badge(s)) }
                }
                figcaption { "Pathway diagram: " (name) }
                details {
                    summary { "Data table: instances waiting per element" }
                    table {
                        thead { tr { th scope="col" { "Element" } th scope="col" { "Kind" } th scope="col" { "Waiting" } } }
                        tbody {
                            @for s in &d.shapes {
                                tr { td { (s.name.as_deref().unwrap_or(&s.element_id)) } td { (s.kind.label()) } td.num { (s.waiting) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The view box `(x, y, w, h)` covering every shape, label and waypoint.
fn bounds(d: &PathwayDiagram) -> (f64, f64, f64, f64) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for s in &d.shapes {
        xs.extend([s.x, s.x + s.w + 12.0]);
        ys.extend([s.y - 12.0, s.y + s.h + 30.0]);
        if let Some([lx, ly, lw, lh]) = s.label {
            xs.extend([lx, lx + lw]);
            ys.extend([ly, ly + lh]);
        }
    }
    for e in &d.edges {
        for (x, y) in &e.waypoints {
            xs.push(*x);
            ys.push(*y);
        }
    }
    let finite = |v: &Vec<f64>| {
        v.iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
    };
    let (x0, x1) = finite(&xs);
    let (y0, y1) = finite(&ys);
    if !x0.is_finite() || !y0.is_finite() {
        return (0.0, 0.0, 100.0, 100.0);
    }
    (x0 - 20.0, y0 - 20.0, x1 - x0 + 40.0, y1 - y0 + 40.0)
}

fn edge(e: &DiagramEdge, marker: &str) -> Markup {
    let pts: Vec<String> = e
        .waypoints
        .iter()
        .map(|(x, y)| format!("{},{}", c(*x), c(*y)))
        .collect();
    html! {
        g.bpmn-flow data-element-id=(e.element_id) {
            polyline.flow points=(pts.join(" ")) marker-end=(format!("url(#{marker})")) {}
        }
    }
}

/// The number of instances waiting, on the top edge of the shape (centred,
/// between the usual positions of boundary events).
fn badge(s: &DiagramShape) -> Markup {
    let (x, y) = (s.x + s.w / 2.0, s.y);
    html! {
        g.badge data-element-id=(s.element_id) {
            circle cx=(c(x)) cy=(c(y)) r="11" {}
            text x=(c(x)) y=(c(y + 4.0)) text-anchor="middle" { (s.waiting) }
        }
    }
}

/// A flow's name above the middle of its middle segment (with a halo, see
/// bedside.css).
fn edge_label(e: &DiagramEdge) -> Markup {
    let mid = if e.waypoints.len() >= 2 {
        let i = (e.waypoints.len() - 1) / 2;
        let (a, b) = (e.waypoints[i], e.waypoints[i + 1]);
        Some(((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0))
    } else {
        None
    };
    html! {
        @if let (Some(n), Some((mx, my))) = (&e.name, mid) {
            text.flow-label x=(c(mx)) y=(c(my - 6.0)) text-anchor="middle" { (n) }
        }
    }
}

fn shape(s: &DiagramShape) -> Markup {
    let name = s.name.as_deref().unwrap_or("");
    let (cx, cy) = (s.x + s.w / 2.0, s.y + s.h / 2.0);
    let r = s.w.min(s.h) / 2.0;
    let kind_class = format!("bpmn-{}", s.kind.label().replace(' ', "-"));
    html! {
        g class=(format!("bpmn-shape {kind_class}")) data-element-id=(s.element_id) data-waiting=(s.waiting) {
            title { (if name.is_empty() { &s.element_id } else { name }) " (" (s.kind.label()) "): " (s.waiting) " waiting" }
            @match s.kind {
                k if k.is_task() => {
                    rect.node x=(c(s.x)) y=(c(s.y)) width=(c(s.w)) height=(c(s.h)) rx="10" {}
                    @if k != ShapeKind::Task {
                        text.kind-label x=(c(s.x + 6.0)) y=(c(s.y + 12.0)) { (if k == ShapeKind::UserTask { "user" } else { "service" }) }
                    }
                    (wrapped(name, cx, cy, s.w))
                }
                ShapeKind::ExclusiveGateway | ShapeKind::ParallelGateway | ShapeKind::EventBasedGateway => {
                    polygon.node points=(format!("{},{} {},{} {},{} {},{}", c(cx), c(s.y), c(s.x + s.w), c(cy), c(cx), c(s.y + s.h), c(s.x), c(cy))) {}
                    (gateway_marker(s.kind, cx, cy, r))
                    (outside_label(s, name))
                }
                _ => {
                    @let class = match s.kind {
                        ShapeKind::EndEvent | ShapeKind::TerminateEndEvent => "node end",
                        _ => "node",
                    };
                    circle class=(class) cx=(c(cx)) cy=(c(cy)) r=(c(r)) {}
                    @if matches!(s.kind, ShapeKind::IntermediateEvent | ShapeKind::BoundaryEvent) {
                        circle.node-inner cx=(c(cx)) cy=(c(cy)) r=(c((r - 3.0).max(1.0))) {}
                    }
                    @if s.kind == ShapeKind::TerminateEndEvent {
                        circle.marker-fill cx=(c(cx)) cy=(c(cy)) r=(c(r * 0.55)) {}
                    }
                    (outside_label(s, name))
                }
            }
        }
    }
}

fn gateway_marker(kind: ShapeKind, cx: f64, cy: f64, r: f64) -> Markup {
    let m = r * 0.4;
    html! {
        @match kind {
            ShapeKind::ExclusiveGateway => {
                line.marker x1=(c(cx - m)) y1=(c(cy - m)) x2=(c(cx + m)) y2=(c(cy + m)) {}
                line.marker x1=(c(cx - m)) y1=(c(cy + m)) x2=(c(cx + m)) y2=(c(cy - m)) {}
            }
            ShapeKind::ParallelGateway => {
                line.marker x1=(c(cx)) y1=(c(cy - m * 1.3)) x2=(c(cx)) y2=(c(cy + m * 1.3)) {}
                line.marker x1=(c(cx - m * 1.3)) y1=(c(cy)) x2=(c(cx + m * 1.3)) y2=(c(cy)) {}
            }
            _ => {
                circle.marker cx=(c(cx)) cy=(c(cy)) r=(c(m * 1.2)) {}
            }
        }
    }
}

/// Events and gateways carry their name outside: at the DI label bounds
/// when given, else centred below the shape.
fn outside_label(s: &DiagramShape, name: &str) -> Markup {
    let (x, y, w) = match s.label {
        Some([lx, ly, lw, _]) => (lx + lw / 2.0, ly + 10.0, lw.max(60.0)),
        None => (s.x + s.w / 2.0, s.y + s.h + 14.0, 100.0),
    };
    html! {
        @if !name.is_empty() {
            @for (i, l) in wrap(name, (w / 6.5) as usize).iter().enumerate() {
                text.node-label x=(c(x)) y=(c(y + 13.0 * i as f64)) text-anchor="middle" { (l) }
            }
        }
    }
}

/// Task names centred inside the rectangle.
fn wrapped(name: &str, cx: f64, cy: f64, w: f64) -> Markup {
    let lines = wrap(name, ((w - 8.0) / 7.0).max(4.0) as usize);
    let top = cy - 13.0 * (lines.len() as f64 - 1.0) / 2.0 + 4.0;
    html! {
        @for (i, l) in lines.iter().enumerate() {
            text.node-label x=(c(cx)) y=(c(top + 13.0 * i as f64)) text-anchor="middle" { (l) }
        }
    }
}

/// Greedy word wrap at `width` characters (long words stay whole).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    let mut lines: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_greedily() {
        assert_eq!(
            wrap("Review sepsis alert now", 13),
            vec!["Review sepsis", "alert now"]
        );
        assert_eq!(wrap("", 10), Vec::<String>::new());
        assert_eq!(
            wrap("supercalifragilistic", 5),
            vec!["supercalifragilistic"]
        );
    }

    #[test]
    fn tags_map_to_kinds() {
        assert_eq!(ShapeKind::from_bpmn_tag("userTask"), ShapeKind::UserTask);
        assert_eq!(
            ShapeKind::from_bpmn_tag("exclusiveGateway"),
            ShapeKind::ExclusiveGateway
        );
        assert_eq!(
            ShapeKind::from_bpmn_tag("boundaryEvent"),
            ShapeKind::BoundaryEvent
        );
        assert_eq!(ShapeKind::from_bpmn_tag("weird"), ShapeKind::Task);
    }
}
