//! Reliability diagram: mean predicted risk against observed event rate per
//! bin, with the diagonal of perfect calibration and the bin counts.

use super::line::ci_text;
use super::{empty, figure, ticks, Scale};
use crate::util::{c, num, pct};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// One calibration bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Mean predicted probability in the bin (0..=1).
    pub predicted: f64,
    /// Observed event rate in the bin (0..=1).
    pub observed: f64,
    /// Number of predictions in the bin.
    pub count: u64,
    /// Optional interval on the observed rate.
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

const SIZE: f64 = 360.0;
const PAD: f64 = 44.0;
const TOP: f64 = 14.0;
const RIGHT: f64 = 14.0;

/// The pixel scales of the plot area (x: predicted, y: observed); public
/// to the crate so tests can check where a point lands.
pub(crate) fn scales() -> (Scale, Scale) {
    (
        Scale::new(0.0, 1.0, PAD, SIZE - RIGHT),
        Scale::new(0.0, 1.0, SIZE - PAD, TOP),
    )
}

/// Renders a reliability diagram; bins outside 0..=1 or non-finite are
/// dropped, empty bins are listed in the table but not plotted.
pub fn reliability_diagram(id: &str, title: &str, bins: &[ReliabilityBin]) -> Markup {
    let ok: Vec<&ReliabilityBin> = bins
        .iter()
        .filter(|b| (0.0..=1.0).contains(&b.predicted) && (0.0..=1.0).contains(&b.observed))
        .collect();
    if ok.iter().all(|b| b.count == 0) {
        return empty(id, title, "No predictions with known outcomes yet.");
    }
    let (xs, ys) = scales();
    let max_n = ok.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let total: u64 = ok.iter().map(|b| b.count).sum();
    let desc = format!(
        "Mean predicted risk (x) against observed event rate (y) in {} bins, {} predictions. \
         Points on the dashed diagonal are perfectly calibrated; below it the model over-predicts.",
        ok.len(),
        total
    );
    let body = html! {
        g.axis {
            @for v in ticks(0.0, 1.0, 5) {
                line.grid x1=(c(xs.at(0.0))) x2=(c(xs.at(1.0))) y1=(c(ys.at(v))) y2=(c(ys.at(v))) {}
                text x=(c(PAD - 6.0)) y=(c(ys.at(v) + 4.0)) text-anchor="end" { (num(v, 1)) }
                text x=(c(xs.at(v))) y=(c(SIZE - PAD + 16.0)) text-anchor="middle" { (num(v, 1)) }
            }
            text x=(c(xs.at(0.5))) y=(c(SIZE - 6.0)) text-anchor="middle" { "Mean predicted risk" }
            text x="12" y=(c(ys.at(0.5))) text-anchor="middle" transform=(format!("rotate(-90 12 {})", c(ys.at(0.5)))) { "Observed rate" }
        }
        line.diagonal x1=(c(xs.at(0.0))) y1=(c(ys.at(0.0))) x2=(c(xs.at(1.0))) y2=(c(ys.at(1.0))) {}
        @for b in ok.iter().filter(|b| b.count > 0) {
            @let (px, py) = (xs.at(b.predicted), ys.at(b.observed));
            g.bin {
                @if let (Some(lo), Some(hi)) = (b.lo, b.hi) {
                    @if lo.is_finite() && hi.is_finite() {
                        line.whisker x1=(c(px)) x2=(c(px)) y1=(c(ys.at(lo.clamp(0.0, 1.0)))) y2=(c(ys.at(hi.clamp(0.0, 1.0)))) {}
                    }
                }
                circle.point cx=(c(px)) cy=(c(py)) r=(c(3.0 + 6.0 * (b.count as f64 / max_n).sqrt())) {
                    title { (bin_text(b)) }
                }
                text.count-label x=(c(px + 9.0)) y=(c(py + 4.0)) { "n=" (b.count) }
            }
        }
    };
    let table = html! {
        table {
            thead { tr { th scope="col" { "Mean predicted" } th scope="col" { "Observed" } th scope="col" { "95% CI" } th scope="col" { "Count" } } }
            tbody {
                @for b in &ok {
                    tr { td.num { (pct(b.predicted)) } td.num { (pct(b.observed)) } td.num { (ci_text(b.lo, b.hi, 3)) } td.num { (b.count) } }
                }
            }
        }
    };
    figure(id, title, &desc, (SIZE, SIZE), body, table)
}

fn bin_text(b: &ReliabilityBin) -> String {
    format!(
        "predicted {}, observed {}, n = {}",
        pct(b.predicted),
        pct(b.observed),
        b.count
    )
}
