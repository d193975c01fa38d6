//! Building a [`PathwayDiagram`] from the pathway engine's JSON outline
//! (`bedside_pathways::Definition::outline()`), read as plain JSON so this
//! crate stays independent of the engine.

use super::pathway::{DiagramEdge, DiagramShape, PathwayDiagram, ShapeKind};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;

/// Why an outline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OutlineError {
    #[error("pathway outline: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Deserialize)]
struct Outline {
    id: String,
    name: Option<String>,
    nodes: Vec<OutlineNode>,
    #[serde(default)]
    flows: Vec<OutlineFlow>,
    #[serde(default)]
    diagram: OutlineDiagram,
}

#[derive(Deserialize)]
struct OutlineNode {
    id: String,
    name: Option<String>,
    kind: String,
}

#[derive(Deserialize)]
struct OutlineFlow {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct OutlineDiagram {
    #[serde(default)]
    shapes: Vec<OutlineShape>,
    #[serde(default)]
    edges: Vec<OutlineEdge>,
}

#[derive(Deserialize)]
struct OutlineShape {
    element_id: String,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    label: Option<[f64; 4]>,
}

#[derive(Deserialize)]
struct OutlineEdge {
    element_id: String,
    waypoints: Vec<(f64, f64)>,
}

impl PathwayDiagram {
    /// The drawing of a pathway from its outline JSON (`id`, `name`,
    /// `nodes[{id, name, kind}]`, `flows[{id, name}]`,
    /// `diagram{shapes[{element_id, x, y, w, h, label}], edges[{element_id,
    /// waypoints}]}`), with `waiting[element_id]` instances per element.
    /// Shapes of elements that are not flow nodes (pools, lanes,
    /// annotations) and edges that are not sequence flows (associations,
    /// message flows) are left out.
    pub fn from_outline(
        outline: &serde_json::Value,
        waiting: &HashMap<String, u64>,
        as_of: DateTime<Utc>,
    ) -> Result<PathwayDiagram, OutlineError> {
        let o: Outline = serde_json::from_value(outline.clone())?;
        let nodes: HashMap<&str, &OutlineNode> =
            o.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let flows: HashMap<&str, &OutlineFlow> =
            o.flows.iter().map(|f| (f.id.as_str(), f)).collect();
        let mut shapes = Vec::with_capacity(o.diagram.shapes.len());
        for s in &o.diagram.shapes {
            let Some(node) = nodes.get(s.element_id.as_str()) else {
                continue;
            };
            shapes.push(DiagramShape {
                element_id: s.element_id.clone(),
                name: node.name.clone(),
                kind: ShapeKind::from_bpmn_tag(&node.kind),
                x: s.x,
                y: s.y,
                w: s.w,
                h: s.h,
                label: s.label,
                waiting: waiting.get(&s.element_id).copied().unwrap_or(0),
            });
        }
        let edges = o
            .diagram
            .edges
            .iter()
            .filter_map(|e| {
                let flow = flows.get(e.element_id.as_str())?;
                Some(DiagramEdge {
                    element_id: e.element_id.clone(),
                    name: flow.name.clone(),
                    waypoints: e.waypoints.clone(),
                })
            })
            .collect();
        Ok(PathwayDiagram {
            id: o.id,
            name: o.name,
            as_of,
            shapes,
            edges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn outline() -> serde_json::Value {
        json!({
            "id": "p", "name": "Pathway",
            "nodes": [
                {"id": "s", "name": null, "kind": "startEvent"},
                {"id": "t", "name": "Review", "kind": "userTask", "roles": ["nurse"]}
            ],
            "flows": [{"id": "f", "source": "s", "target": "t", "name": "go", "condition": null, "default": false}],
            "diagram": {
                "shapes": [
                    {"element_id": "s", "x": 0.0, "y": 0.0, "w": 36.0, "h": 36.0, "label": null},
                    {"element_id": "t", "x": 80.0, "y": -22.0, "w": 100.0, "h": 80.0, "label": [1.0, 2.0, 3.0, 4.0]}
                ],
                "edges": [{"element_id": "f", "waypoints": [[36.0, 18.0], [80.0, 18.0]]}]
            }
        })
    }

    #[test]
    fn reads_the_engine_outline_with_counts() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let waiting = HashMap::from([("t".to_string(), 2u64)]);
        let d = PathwayDiagram::from_outline(&outline(), &waiting, at).unwrap();
        assert_eq!(d.id, "p");
        assert_eq!(d.shapes.len(), 2);
        assert_eq!(d.shapes[0].kind, ShapeKind::StartEvent);
        assert_eq!(d.shapes[0].waiting, 0);
        assert_eq!(d.shapes[1].kind, ShapeKind::UserTask);
        assert_eq!(d.shapes[1].name.as_deref(), Some("Review"));
        assert_eq!(d.shapes[1].label, Some([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(d.shapes[1].waiting, 2);
        assert_eq!(d.edges[0].name.as_deref(), Some("go"));
        assert_eq!(d.edges[0].waypoints, vec![(36.0, 18.0), (80.0, 18.0)]);
    }

    #[test]
    fn pools_lanes_and_associations_are_left_out() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut o = outline();
        o["diagram"]["shapes"][0]["element_id"] = json!("Lane_1");
        o["diagram"]["edges"][0]["element_id"] = json!("Association_1");
        let d = PathwayDiagram::from_outline(&o, &HashMap::new(), at).unwrap();
        assert_eq!(d.shapes.len(), 1);
        assert_eq!(d.shapes[0].element_id, "t");
        assert!(d.edges.is_empty());
    }

    #[test]
    fn errors_name_the_problem() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let e = PathwayDiagram::from_outline(&json!({"id": 3}), &HashMap::new(), at).unwrap_err();
        assert!(e.to_string().starts_with("pathway outline: "), "{e}");
    }
}
