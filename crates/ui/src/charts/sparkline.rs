//! Sparklines for a patient's vitals and labs.

use super::Scale;
use crate::util::{c, datetime, num};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparkPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
}

const W: f64 = 180.0;
const H: f64 = 40.0;
const PAD: f64 = 4.0;

/// A labelled sparkline: the channel name, a small line with the latest
/// point marked, the latest value printed beside it, and a table of all
/// values. Non-finite values are skipped.
pub fn sparkline(id: &str, label: &str, unit: &str, points: &[SparkPoint]) -> Markup {
    let mut pts: Vec<&SparkPoint> = points.iter().filter(|p| p.value.is_finite()).collect();
    pts.sort_by_key(|p| p.at);
    let Some(last) = pts.last().copied() else {
        return html! { div.spark #(id) { span.spark-label { (label) } span.empty { "no values" } } };
    };
    let t0 = pts[0].at.timestamp() as f64;
    let t1 = last.at.timestamp() as f64;
    let (v0, v1) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.value), b.max(p.value))
        });
    let xs = Scale::new(t0, t1, PAD, W - PAD);
    let ys = Scale::new(v0, v1, H - PAD, PAD);
    let line: Vec<String> = pts
        .iter()
        .map(|p| {
            format!(
                "{},{}",
                c(xs.at(p.at.timestamp() as f64)),
                c(ys.at(p.value))
            )
        })
        .collect();
    let summary = format!(
        "{label}: {} values from {} to {}, range {}\u{2013}{} {unit}, latest {} {unit}",
        pts.len(),
        datetime(&pts[0].at),
        datetime(&last.at),
        num(v0, 1),
        num(v1, 1),
        num(last.value, 1)
    );
    html! {
        div.spark #(id) {
            span.spark-label { (label) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(summary) viewBox=(format!("0 0 {W} {H}")) width=(W) height=(H) {
                title { (summary) }
                polyline.series points=(line.join(" ")) {}
                circle.point cx=(c(xs.at(t1))) cy=(c(ys.at(last.value))) r="3" {}
            }
            span.spark-value { (num(last.value, 1)) " " (unit) }
            details {
                summary { "Values: " (label) }
                table {
                    thead { tr { th scope="col" { "Time" } th scope="col" { (label) " (" (unit) ")" } } }
                    tbody {
                        @for p in pts.iter().rev() {
                            tr { td { (datetime(&p.at)) } td.num { (num(p.value, 1)) } }
                        }
                    }
                }
            }
        }
    }
}
