//! BPMN diagram interchange: shapes and edges for drawing.

use super::Ctx;
use crate::model::*;
use crate::xml::{Element, NS_BPMNDI, NS_DC, NS_DI};

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

pub(super) fn diagram(cx: &mut Ctx<'_>, root: &Element) -> Diagram {
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
