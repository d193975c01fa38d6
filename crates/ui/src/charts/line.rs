//! Line over time with an uncertainty band (performance over time with CI).

use super::{empty, figure, ticks, RefLine, Scale};
use crate::util::{c, datetime, num};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// One estimate at one time, with an optional interval and sample size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    pub at: DateTime<Utc>,
    pub value: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// Number of cases behind the estimate.
    pub n: Option<u64>,
}

/// A line chart over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    /// Unique (per page) HTML id.
    pub id: String,
    pub title: String,
    /// Name of the plotted quantity ("AUROC").
    pub y_label: String,
    pub points: Vec<TimePoint>,
    /// Fixed y range, e.g. `(0.0, 1.0)`; computed from the data when `None`.
    pub y_range: Option<(f64, f64)>,
    /// A reference value (e.g. the certified PPV floor).
    pub reference: Option<RefLine>,
    /// Decimal places for printed values.
    pub decimals: usize,
}

const W: f64 = 640.0;
const H: f64 = 260.0;
const L: f64 = 52.0;
const R: f64 = 24.0;
const T: f64 = 16.0;
const B: f64 = 36.0;

/// Renders a [`LineChart`]. Points with a non-finite value are skipped; the
/// band is drawn through the points that have both `lo` and `hi`.
pub fn line_band_chart(chart: &LineChart) -> Markup {
    let pts: Vec<&TimePoint> = chart
        .points
        .iter()
        .filter(|p| p.value.is_finite())
        .collect();
    if pts.is_empty() {
        return empty(&chart.id, &chart.title, "No data yet for this period.");
    }
    let (y0, y1) = chart
        .y_range
        .unwrap_or_else(|| auto_range(&pts, chart.reference.as_ref()));
    let t0 = pts.iter().map(|p| p.at.timestamp()).min().unwrap_or(0) as f64;
    let t1 = pts.iter().map(|p| p.at.timestamp()).max().unwrap_or(0) as f64;
    let (t0, t1) = if t1 > t0 {
        (t0, t1)
    } else {
        (t0 - 43_200.0, t1 + 43_200.0)
    };
    let xs = Scale::new(t0, t1, L, W - R);
    let ys = Scale::new(y0, y1, H - B, T);
    let x = |p: &TimePoint| xs.at(p.at.timestamp() as f64);
    let y = |v: f64| ys.at(v.clamp(y0, y1));
    let d = chart.decimals;

    let banded: Vec<(&TimePoint, f64, f64)> = pts
        .iter()
        .filter_map(|p| match (p.lo, p.hi) {
            (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => Some((*p, lo, hi)),
            _ => None,
        })
        .collect();
    let band: Vec<String> = banded
        .iter()
        .map(|(p, _, hi)| format!("{},{}", c(x(p)), c(y(*hi))))
        .chain(
            banded
                .iter()
                .rev()
                .map(|(p, lo, _)| format!("{},{}", c(x(p)), c(y(*lo)))),
        )
        .collect();
    let line: Vec<String> = pts
        .iter()
        .map(|p| format!("{},{}", c(x(p)), c(y(p.value))))
        .collect();
    let last = pts[pts.len() - 1];
    let x_ticks = time_ticks(&pts);

    let desc = format!(
        "{} from {} to {}: {} points, latest {}{}.",
        chart.y_label,
        datetime(&pts[0].at),
        datetime(&last.at),
        pts.len(),
        num(last.value, d),
        chart
            .reference
            .as_ref()
            .map(|r| format!("; {} {}", r.label, num(r.value, d)))
            .unwrap_or_default()
    );
    let body = html! {
        g.axis {
            @for v in ticks(y0, y1, 4) {
                line.grid x1=(c(L)) x2=(c(W - R)) y1=(c(ys.at(v))) y2=(c(ys.at(v))) {}
                text x=(c(L - 6.0)) y=(c(ys.at(v) + 4.0)) text-anchor="end" { (num(v, d.min(2))) }
            }
            @for t in &x_ticks {
                text x=(c(xs.at(t.timestamp() as f64))) y=(c(H - B + 18.0)) text-anchor="middle" { (t.format("%b %d")) }
            }
            text x="12" y=(c(T + (H - B - T) / 2.0)) text-anchor="middle"
                transform=(format!("rotate(-90 12 {})", c(T + (H - B - T) / 2.0))) { (chart.y_label) }
        }
        @if band.len() >= 4 {
            polygon.band points=(band.join(" ")) {}
        }
        @if let Some(r) = &chart.reference {
            @if r.value.is_finite() {
                line.ref-line x1=(c(L)) x2=(c(W - R)) y1=(c(y(r.value))) y2=(c(y(r.value))) {}
                text.ref-label x=(c(L + 4.0)) y=(c(y(r.value) - 4.0)) { (r.label) " " (num(r.value, d)) }
            }
        }
        polyline.series points=(line.join(" ")) {}
        @for p in &pts {
            circle.point cx=(c(x(p))) cy=(c(y(p.value))) r="4" {
                title { (point_text(p, d)) }
            }
        }
        text.value-label x=(c(x(last) - 6.0)) y=(c(y(last.value) - 8.0)) text-anchor="end" { (num(last.value, d)) }
    };
    let table = html! {
        table {
            thead { tr { th scope="col" { "Time" } th scope="col" { (chart.y_label) } th scope="col" { "95% CI" } th scope="col" { "n" } } }
            tbody {
                @for p in &pts {
                    tr {
                        td { (datetime(&p.at)) }
                        td.num { (num(p.value, d)) }
                        td.num { (ci_text(p.lo, p.hi, d)) }
                        td.num { (p.n.map(|n| n.to_string()).unwrap_or_default()) }
                    }
                }
            }
        }
    };
    figure(&chart.id, &chart.title, &desc, (W, H), body, table)
}

fn point_text(p: &TimePoint, d: usize) -> String {
    let mut s = format!("{}: {}", datetime(&p.at), num(p.value, d));
    if p.lo.is_some() || p.hi.is_some() {
        s.push_str(&format!(" (95% CI {})", ci_text(p.lo, p.hi, d)));
    }
    if let Some(n) = p.n {
        s.push_str(&format!(", n = {n}"));
    }
    s
}

pub(crate) fn ci_text(lo: Option<f64>, hi: Option<f64>, d: usize) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{}\u{2013}{}", num(lo, d), num(hi, d)),
        _ => String::new(),
    }
}

fn auto_range(pts: &[&TimePoint], reference: Option<&RefLine>) -> (f64, f64) {
    let vals = pts
        .iter()
        .flat_map(|p| [Some(p.value), p.lo, p.hi])
        .flatten()
        .chain(reference.map(|r| r.value))
        .filter(|v| v.is_finite());
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.1).max(1e-6);
    (lo - pad, hi + pad)
}

/// Up to six tick times taken from the data (first, last and evenly between).
fn time_ticks(pts: &[&TimePoint]) -> Vec<DateTime<Utc>> {
    let n = pts.len();
    let k = n.min(6);
    if k <= 1 {
        return vec![pts[0].at];
    }
    let mut out: Vec<DateTime<Utc>> = (0..k).map(|i| pts[i * (n - 1) / (k - 1)].at).collect();
    out.dedup();
    out
}
