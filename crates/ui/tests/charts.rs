//! Charts put marks where the numbers say, and print the numbers.

mod common;

use bedside_ui::charts::*;
use bedside_ui::*;
use common::check::assert_clean;
use scraper::{Html, Selector};

fn doc(m: maud::Markup) -> Html {
    let s = m.into_string();
    assert_clean("chart", &s, false);
    Html::parse_fragment(&s)
}

fn all<'a>(d: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    d.select(&Selector::parse(css).unwrap()).collect()
}

fn f(e: &scraper::ElementRef<'_>, attr: &str) -> f64 {
    e.value()
        .attr(attr)
        .unwrap_or_else(|| panic!("no {attr}"))
        .parse()
        .unwrap()
}

#[test]
fn reliability_point_on_the_diagonal_lands_on_it() {
    let bins = [
        ReliabilityBin {
            predicted: 0.5,
            observed: 0.5,
            count: 10,
            lo: None,
            hi: None,
        },
        ReliabilityBin {
            predicted: 0.2,
            observed: 0.6,
            count: 10,
            lo: None,
            hi: None,
        },
    ];
    let d = doc(reliability_diagram("r", "Reliability", &bins));
    let diag = &all(&d, "line.diagonal")[0];
    let (x1, y1, x2, y2) = (f(diag, "x1"), f(diag, "y1"), f(diag, "x2"), f(diag, "y2"));
    let on_line = |x: f64, y: f64| ((y - y1) * (x2 - x1) - (x - x1) * (y2 - y1)).abs() < 1.0;
    let pts = all(&d, "circle.point");
    assert_eq!(pts.len(), 2);
    assert!(
        on_line(f(&pts[0], "cx"), f(&pts[0], "cy")),
        "(0.5, 0.5) must be on the diagonal"
    );
    assert!(
        !on_line(f(&pts[1], "cx"), f(&pts[1], "cy")),
        "(0.2, 0.6) must not be"
    );
    // Under-prediction (observed > predicted) is above the diagonal: smaller y.
    let y_diag_at = y1 + (f(&pts[1], "cx") - x1) / (x2 - x1) * (y2 - y1);
    assert!(f(&pts[1], "cy") < y_diag_at);
    // Counts are printed beside the points and listed in the table.
    let labels: Vec<String> = all(&d, "text.count-label")
        .iter()
        .map(|t| t.text().collect())
        .collect();
    assert_eq!(labels, vec!["n=10", "n=10"]);
    assert_eq!(all(&d, "details tbody tr").len(), 2);
}

#[test]
fn reliability_without_counts_says_so() {
    let s = reliability_diagram("r", "Reliability", &[]).into_string();
    assert!(s.contains("No predictions with known outcomes yet"));
    assert!(!s.contains("<svg"));
}

#[test]
fn bars_are_proportional_and_reference_lines_sit_at_their_values() {
    let chart = BarChart {
        id: "drift".into(),
        title: "PSI".into(),
        value_label: "PSI".into(),
        bars: vec![
            Bar {
                label: "lactate".into(),
                value: 0.2,
            },
            Bar {
                label: "age".into(),
                value: 0.1,
            },
        ],
        ref_lines: vec![
            RefLine {
                value: 0.1,
                label: "0.1".into(),
            },
            RefLine {
                value: 0.25,
                label: "0.25".into(),
            },
        ],
        decimals: 2,
    };
    let d = doc(bar_chart(&chart));
    let rects = all(&d, "rect.bar");
    let (w0, w1) = (f(&rects[0], "width"), f(&rects[1], "width"));
    assert!(
        (w0 / w1 - 2.0).abs() < 0.02,
        "0.2 is twice 0.1: {w0} vs {w1}"
    );
    let x0 = f(&rects[0], "x");
    let refs = all(&d, "line.ref-line");
    // The 0.1 line ends exactly where the 0.1 bar ends.
    assert!((f(&refs[0], "x1") - (x0 + w1)).abs() < 0.2);
    assert!(f(&refs[1], "x1") > x0 + w0, "0.25 is right of 0.2");
    let values: Vec<String> = all(&d, "text.value-label")
        .iter()
        .map(|t| t.text().collect())
        .collect();
    assert_eq!(values, vec!["0.20", "0.10"]);
    let tips: Vec<String> = all(&d, "rect.bar title")
        .iter()
        .map(|t| t.text().collect())
        .collect();
    assert_eq!(tips[0], "lactate: 0.20 PSI");
}

#[test]
fn line_chart_higher_values_are_higher_and_band_surrounds_the_line() {
    use chrono::{Duration, TimeZone, Utc};
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let chart = LineChart {
        id: "auroc".into(),
        title: "AUROC".into(),
        y_label: "AUROC".into(),
        points: vec![
            TimePoint {
                at: t,
                value: 0.6,
                lo: Some(0.5),
                hi: Some(0.7),
                n: Some(50),
            },
            TimePoint {
                at: t + Duration::days(7),
                value: 0.9,
                lo: Some(0.85),
                hi: Some(0.95),
                n: Some(60),
            },
            TimePoint {
                at: t + Duration::days(14),
                value: f64::NAN,
                lo: None,
                hi: None,
                n: None,
            },
        ],
        y_range: Some((0.0, 1.0)),
        reference: Some(RefLine {
            value: 0.75,
            label: "floor".into(),
        }),
        decimals: 2,
    };
    let d = doc(line_band_chart(&chart));
    let pts = all(&d, "circle.point");
    assert_eq!(pts.len(), 2, "the NaN point is skipped");
    assert!(
        f(&pts[0], "cx") < f(&pts[1], "cx"),
        "later is further right"
    );
    assert!(
        f(&pts[1], "cy") < f(&pts[0], "cy"),
        "0.9 is drawn above 0.6"
    );
    let r = &all(&d, "line.ref-line")[0];
    let ry = f(r, "y1");
    assert!(
        ry < f(&pts[0], "cy") && ry > f(&pts[1], "cy"),
        "0.75 lies between"
    );
    let band = all(&d, "polygon.band")[0]
        .value()
        .attr("points")
        .unwrap()
        .to_string();
    assert_eq!(band.split(' ').count(), 4);
    let tip: String = pts[0].text().collect();
    assert_eq!(
        tip,
        "2026-01-01 00:00 UTC: 0.60 (95% CI 0.50\u{2013}0.70), n = 50"
    );
}

#[test]
fn histogram_counts_every_sample_once() {
    let samples = [1.0, 2.0, 2.5, 9.0, 10.0, f64::NAN];
    let d = doc(histogram_box("tta", "Time to action", &samples, "min", 5));
    let counts: u64 = all(&d, "details tbody tr td:nth-child(3)")
        .iter()
        .map(|t| t.text().collect::<String>().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counts, 5);
    let m = &all(&d, "line.median")[0];
    let b = &all(&d, "rect.box")[0];
    let (bx, bw) = (f(b, "x"), f(b, "width"));
    assert!(
        f(m, "x1") > bx && f(m, "x1") < bx + bw,
        "median inside the box"
    );
}

#[test]
fn bpmn_shapes_follow_the_di_coordinates() {
    let v = common::pathways();
    let d = doc(pathway_diagram_fragment(v.diagram.as_ref().unwrap()));
    let task = &all(&d, r#"g[data-element-id="review"] rect.node"#)[0];
    assert_eq!(
        (
            f(task, "x"),
            f(task, "y"),
            f(task, "width"),
            f(task, "height")
        ),
        (200.0, 78.0, 100.0, 80.0)
    );
    let gw = all(&d, r#"g[data-element-id="gw"] polygon.node"#)[0]
        .value()
        .attr("points")
        .unwrap()
        .to_string();
    assert_eq!(
        gw, "385,93 410,118 385,143 360,118",
        "diamond through the edge midpoints"
    );
    assert_eq!(
        all(&d, r#"g[data-element-id="gw"] line.marker"#).len(),
        2,
        "X marker"
    );
    let end = &all(&d, r#"g[data-element-id="end"] circle"#)[0];
    assert_eq!(
        (f(end, "cx"), f(end, "cy"), f(end, "r")),
        (488.0, 118.0, 18.0)
    );
    assert!(end.value().attr("class").unwrap().contains("end"));
    let flow = all(&d, r#"g[data-element-id="f4"] polyline"#)[0]
        .value()
        .attr("points")
        .unwrap()
        .to_string();
    assert_eq!(flow, "280,176 280,225 360,225");
    // Badges only where instances wait, with the count.
    let badges: Vec<String> = all(&d, "g.badge text")
        .iter()
        .map(|t| t.text().collect())
        .collect();
    assert_eq!(badges, vec!["3", "1"]);
    let wait = &all(&d, r#"g[data-element-id="review"]"#)[0];
    assert_eq!(wait.value().attr("data-waiting"), Some("3"));
    // The fragment polls itself.
    let root = &all(&d, "#pathway-diagram")[0];
    assert_eq!(
        root.value().attr("hx-get"),
        Some("/ui/pathways/sepsis_escalation/diagram")
    );
    assert_eq!(root.value().attr("hx-trigger"), Some("every 5s"));
}

#[test]
fn sparkline_marks_the_latest_value() {
    use chrono::{Duration, TimeZone, Utc};
    let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let pts = [
        SparkPoint {
            at: t + Duration::hours(1),
            value: 120.0,
        },
        SparkPoint { at: t, value: 80.0 },
    ];
    let d = doc(sparkline("s", "Heart rate", "/min", &pts));
    let dot = &all(&d, "circle.point")[0];
    let line = all(&d, "polyline.series")[0]
        .value()
        .attr("points")
        .unwrap()
        .to_string();
    assert_eq!(
        line.split(' ').next_back().unwrap(),
        format!("{},{}", f(dot, "cx"), f(dot, "cy"))
    );
    let v: String = all(&d, ".spark-value")[0].text().collect();
    assert_eq!(v, "120.0 /min");
}
