//! Histogram with a box plot above it (time from alert to action).

use super::{empty, figure, ticks, Scale};
use crate::util::{c, num};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// Five-number summary (quartiles by linear interpolation, the default of
/// numpy's `percentile` and R's type 7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxSummary {
    pub n: usize,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

impl BoxSummary {
    /// Summary of the finite values in `samples`, or `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<BoxSummary> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(BoxSummary {
            n: v.len(),
            min: v[0],
            q1: quantile(&v, 0.25),
            median: quantile(&v, 0.5),
            q3: quantile(&v, 0.75),
            max: v[v.len() - 1],
        })
    }
}

/// The `q` quantile of an ascending, non-empty slice (linear interpolation
/// between closest ranks). Returns NaN for an empty slice.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

const W: f64 = 640.0;
const H: f64 = 260.0;
const L: f64 = 52.0;
const R: f64 = 24.0;
const BOX_TOP: f64 = 12.0;
const BOX_H: f64 = 28.0;
const HIST_TOP: f64 = 56.0;
const B: f64 = 40.0;

/// Histogram of `samples` in `bins` equal-width bins from 0 (or the minimum,
/// if negative) to the maximum, with a box plot (whiskers at min and max).
pub fn histogram_box(id: &str, title: &str, samples: &[f64], unit: &str, bins: usize) -> Markup {
    let Some(sum) = BoxSummary::of(samples) else {
        return empty(id, title, "No completed actions yet.");
    };
    let bins = bins.clamp(1, 60);
    let lo = sum.min.min(0.0);
    let hi = if sum.max > lo { sum.max } else { lo + 1.0 };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in samples.iter().filter(|v| v.is_finite()) {
        let i = (((v - lo) / width).floor() as usize).min(bins - 1);
        counts[i] += 1;
    }
    let max_count = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let xs = Scale::new(lo, hi, L, W - R);
    let ys = Scale::new(0.0, max_count, H - B, HIST_TOP);
    let mid = BOX_TOP + BOX_H / 2.0;
    let desc = format!(
        "{} values in {unit}: median {}, interquartile range {} to {}, minimum {}, maximum {}.",
        sum.n,
        num(sum.median, 1),
        num(sum.q1, 1),
        num(sum.q3, 1),
        num(sum.min, 1),
        num(sum.max, 1)
    );
    let body = html! {
        g.axis {
            @for v in ticks(lo, hi, 5) {
                text x=(c(xs.at(v))) y=(c(H - B + 16.0)) text-anchor="middle" { (num(v, 0)) }
            }
            text x=(c(L + (W - R - L) / 2.0)) y=(c(H - 6.0)) text-anchor="middle" { "Time (" (unit) ")" }
            line.grid x1=(c(L)) x2=(c(W - R)) y1=(c(H - B)) y2=(c(H - B)) {}
        }
        g.box-plot {
            title { "median " (num(sum.median, 1)) " " (unit) ", IQR " (num(sum.q1, 1)) "\u{2013}" (num(sum.q3, 1)) }
            line.whisker x1=(c(xs.at(sum.min))) x2=(c(xs.at(sum.q1))) y1=(c(mid)) y2=(c(mid)) {}
            line.whisker x1=(c(xs.at(sum.q3))) x2=(c(xs.at(sum.max))) y1=(c(mid)) y2=(c(mid)) {}
            rect.box x=(c(xs.at(sum.q1))) y=(c(BOX_TOP)) width=(c(xs.at(sum.q3) - xs.at(sum.q1))) height=(c(BOX_H)) {}
            line.median x1=(c(xs.at(sum.median))) x2=(c(xs.at(sum.median))) y1=(c(BOX_TOP)) y2=(c(BOX_TOP + BOX_H)) {}
            // Beside the box (right of it, or left when the box reaches the edge).
            @if xs.at(sum.q3) < W * 0.7 {
                text.value-label x=(c(xs.at(sum.q3) + 6.0)) y=(c(mid + 4.0)) { "median " (num(sum.median, 1)) }
            } @else {
                text.value-label x=(c(xs.at(sum.q1) - 6.0)) y=(c(mid + 4.0)) text-anchor="end" { "median " (num(sum.median, 1)) }
            }
        }
        @for (i, n) in counts.iter().enumerate() {
            @let (b0, b1) = (lo + width * i as f64, lo + width * (i + 1) as f64);
            @if *n > 0 {
                rect.bar x=(c(xs.at(b0) + 1.0)) y=(c(ys.at(*n as f64))) width=(c((xs.at(b1) - xs.at(b0) - 2.0).max(1.0))) height=(c(ys.at(0.0) - ys.at(*n as f64))) {
                    title { (num(b0, 1)) "\u{2013}" (num(b1, 1)) " " (unit) ": " (n) }
                }
                text.value-label x=(c((xs.at(b0) + xs.at(b1)) / 2.0)) y=(c(ys.at(*n as f64) - 4.0)) text-anchor="middle" { (n) }
            }
        }
    };
    let table = html! {
        table {
            caption { "Summary: n " (sum.n) ", min " (num(sum.min, 1)) ", Q1 " (num(sum.q1, 1)) ", median " (num(sum.median, 1)) ", Q3 " (num(sum.q3, 1)) ", max " (num(sum.max, 1)) " " (unit) }
            thead { tr { th scope="col" { "From (" (unit) ")" } th scope="col" { "To (" (unit) ")" } th scope="col" { "Count" } } }
            tbody {
                @for (i, n) in counts.iter().enumerate() {
                    tr { td.num { (num(lo + width * i as f64, 1)) } td.num { (num(lo + width * (i + 1) as f64, 1)) } td.num { (n) } }
                }
            }
        }
    };
    figure(id, title, &desc, (W, H), body, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_match_numpy_linear_interpolation() {
        // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) == [1.75, 2.5, 3.25]
        let s = BoxSummary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.q1, s.median, s.q3), (1.75, 2.5, 3.25));
        assert_eq!((s.min, s.max, s.n), (1.0, 4.0, 4));
    }

    #[test]
    fn non_finite_samples_are_ignored() {
        let s = BoxSummary::of(&[f64::NAN, 5.0, f64::INFINITY]).unwrap();
        assert_eq!((s.n, s.median), (1, 5.0));
        assert!(BoxSummary::of(&[f64::NAN]).is_none());
    }
}
