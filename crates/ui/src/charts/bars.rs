//! Horizontal bar charts: drift (PSI) per feature with reference lines,
//! override reasons, alert burden per unit.

use super::{empty, figure, RefLine, Scale};
use crate::util::{c, num};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// One bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

/// A horizontal bar chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarChart {
    /// Unique (per page) HTML id.
    pub id: String,
    pub title: String,
    /// Name of the measured quantity ("PSI", "overrides").
    pub value_label: String,
    pub bars: Vec<Bar>,
    /// Vertical dashed reference lines (e.g. PSI 0.1 and 0.25).
    pub ref_lines: Vec<RefLine>,
    /// Decimal places for printed values.
    pub decimals: usize,
}

const W: f64 = 640.0;
const LABEL_W: f64 = 180.0;
const ROW: f64 = 26.0;
const TOP: f64 = 22.0;
const RIGHT: f64 = 64.0;

/// Renders a [`BarChart`]; bars keep the given order. Negative or
/// non-finite values are drawn as zero-length bars but printed as given.
pub fn bar_chart(chart: &BarChart) -> Markup {
    if chart.bars.is_empty() {
        return empty(&chart.id, &chart.title, "Nothing recorded yet.");
    }
    let h = TOP + ROW * chart.bars.len() as f64 + 8.0;
    let max = chart
        .bars
        .iter()
        .map(|b| b.value)
        .chain(chart.ref_lines.iter().map(|r| r.value))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let max = if max > 0.0 { max * 1.05 } else { 1.0 };
    let xs = Scale::new(0.0, max, LABEL_W, W - RIGHT);
    let d = chart.decimals;
    let desc = format!(
        "{} for {} items{}. Largest: {}.",
        chart.value_label,
        chart.bars.len(),
        if chart.ref_lines.is_empty() {
            String::new()
        } else {
            let refs: Vec<String> = chart
                .ref_lines
                .iter()
                .map(|r| format!("{} at {}", r.label, num(r.value, d)))
                .collect();
            format!("; reference lines: {}", refs.join(", "))
        },
        chart
            .bars
            .iter()
            .filter(|b| b.value.is_finite())
            .max_by(|a, b| a.value.total_cmp(&b.value))
            .map(|b| format!("{} {}", b.label, num(b.value, d)))
            .unwrap_or_default()
    );
    let body = html! {
        @for (i, b) in chart.bars.iter().enumerate() {
            @let y = TOP + ROW * i as f64;
            @let v = if b.value.is_finite() { b.value.max(0.0) } else { 0.0 };
            g.bar-row {
                text.bar-label x=(c(LABEL_W - 8.0)) y=(c(y + ROW / 2.0 + 4.0)) text-anchor="end" { (truncate(&b.label, 26)) }
                rect.bar x=(c(LABEL_W)) y=(c(y + 4.0)) width=(c(xs.at(v) - LABEL_W)) height=(c(ROW - 8.0)) {
                    title { (b.label) ": " (num(b.value, d)) " " (chart.value_label) }
                }
                text.value-label x=(c(xs.at(v) + 6.0)) y=(c(y + ROW / 2.0 + 4.0)) { (num(b.value, d)) }
            }
        }
        @for r in chart.ref_lines.iter().filter(|r| r.value.is_finite()) {
            line.ref-line x1=(c(xs.at(r.value))) x2=(c(xs.at(r.value))) y1=(c(TOP - 4.0)) y2=(c(h - 6.0)) {}
            text.ref-label x=(c(xs.at(r.value))) y=(c(TOP - 8.0)) text-anchor="middle" { (r.label) }
        }
    };
    let table = html! {
        table {
            thead { tr { th scope="col" { "Item" } th scope="col" { (chart.value_label) } } }
            tbody {
                @for b in &chart.bars {
                    tr { td { (b.label) } td.num { (num(b.value, d)) } }
                }
            }
        }
    };
    figure(&chart.id, &chart.title, &desc, (W, h), body, table)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('\u{2026}');
        t
    }
}
