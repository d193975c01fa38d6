//! Inline, accessible SVG charts.
//!
//! Hand-written SVG on purpose: the Rust plotting crates produce either
//! bitmaps or large standalone SVG without `<title>`/`<desc>`, per-mark
//! tooltips or a data table, and we want small markup that is part of the
//! page (styled by `bedside.css`, readable by screen readers, allowed by a
//! strict Content-Security-Policy). Every chart is a `<figure>` holding an
//! `<svg role="img">` with `<title>` and `<desc>`, a `<title>` on each mark
//! (numbers on hover), the numbers printed beside the marks, and a
//! `<details>` table with the same numbers.
//!
//! Colours come from presentation attributes and CSS classes only (no
//! `style` attributes), all with at least 4.5:1 contrast on white.

mod bars;
mod histogram;
mod line;
mod reliability;
mod sparkline;

pub use bars::{bar_chart, Bar, BarChart};
pub use histogram::{histogram_box, quantile, BoxSummary};
pub use line::{line_band_chart, LineChart, TimePoint};
pub use reliability::{reliability_diagram, ReliabilityBin};
pub use sparkline::{sparkline, SparkPoint};

use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// A labelled reference value drawn as a dashed line (a certified floor,
/// a PSI threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefLine {
    pub value: f64,
    pub label: String,
}

/// Maps a data interval onto a pixel interval (linear).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    /// A scale from `[d0, d1]` to `[p0, p1]`; a degenerate domain is widened
    /// by one unit so nothing divides by zero.
    pub fn new(d0: f64, d1: f64, p0: f64, p1: f64) -> Self {
        let (d0, d1) = if (d1 - d0).abs() < f64::EPSILON {
            (d0 - 0.5, d1 + 0.5)
        } else {
            (d0, d1)
        };
        Scale { d0, d1, p0, p1 }
    }

    /// The pixel position of `v`.
    pub fn at(&self, v: f64) -> f64 {
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

/// `n + 1` evenly spaced tick values over `[lo, hi]`.
pub(crate) fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let n = n.max(1);
    (0..=n)
        .map(|i| lo + (hi - lo) * i as f64 / n as f64)
        .collect()
}

/// The common frame: figure, svg with title/desc, then the data table.
pub(crate) fn figure(
    id: &str,
    title: &str,
    desc: &str,
    view: (f64, f64),
    svg_body: Markup,
    table: Markup,
) -> Markup {
    let tid = format!("{id}-title");
    let did = format!("{id}-desc");
    html! {
        figure.chart #(id) {
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby=(format!("{tid} {did}"))
                viewBox=(format!("0 0 {} {}", view.0, view.1)) preserveAspectRatio="xMinYMin meet" {
                title #(tid) { (title) }
                desc #(did) { (desc) }
                (svg_body)
            }
            figcaption { (title) }
            details {
                summary { "Data table: " (title) }
                (table)
            }
        }
    }
}

/// The chart shown when there is nothing to plot: says so in words.
pub(crate) fn empty(id: &str, title: &str, why: &str) -> Markup {
    html! {
        figure.chart.chart-empty #(id) {
            figcaption { (title) }
            p.empty { (why) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_maps_endpoints_and_midpoint() {
        let s = Scale::new(0.0, 1.0, 100.0, 0.0);
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(1.0), 0.0);
        assert_eq!(s.at(0.25), 75.0);
    }

    #[test]
    fn degenerate_domain_does_not_divide_by_zero() {
        let s = Scale::new(3.0, 3.0, 0.0, 10.0);
        assert_eq!(s.at(3.0), 5.0);
    }
}
