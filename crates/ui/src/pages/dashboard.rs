//! Monitoring dashboard: headline tiles, performance over time, reliability,
//! drift, override reasons, alert burden, time-to-action and alarms.

use super::{Choice, Estimate};
use crate::charts::{self, Bar, BarChart, LineChart, RefLine, ReliabilityBin, TimePoint};
use crate::layout::{page, NavItem};
use crate::util::{datetime, num, pct};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// Everything the dashboard shows for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    /// Models to choose from (value = model id or `id@version`).
    pub models: Vec<Choice>,
    /// The chosen model's `value`.
    pub selected: Option<String>,
    /// "last 30 days", "since go-live".
    pub window: String,
    pub as_of: DateTime<Utc>,
    pub tiles: Tiles,
    /// One chart per metric over time (AUROC by week, live PPV by week ...).
    pub performance: Vec<PerformanceSeries>,
    pub reliability: Vec<ReliabilityBin>,
    /// PSI per input feature (and the score) against the training profile.
    pub drift: Vec<Bar>,
    /// Number of overrides per reason.
    pub override_reasons: Vec<Bar>,
    /// Alert burden per unit: alerts shown per clinician per shift.
    pub alert_burden: Vec<Bar>,
    /// Minutes from alert to first action (or first feedback), one value
    /// per alert acted on.
    pub time_to_action_minutes: Vec<f64>,
    pub alarms: Vec<Alarm>,
    /// The trust pulse: mean answer (1-5) per period, the label naming the
    /// period and how many answered.
    #[serde(default)]
    pub trust_pulse: Vec<Bar>,
    /// Training coverage: clinicians who attested the use case's training
    /// for the model version served, per role and unit.
    #[serde(default)]
    pub training: Vec<Bar>,
    /// Clinicians shown the model's cards who have not attested its
    /// training (`None`: the model serves no use case).
    #[serde(default)]
    pub untrained_card_users: Option<u64>,
}

/// The headline numbers; `None` shows "not enough data".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tiles {
    pub auroc: Option<Estimate>,
    pub auprc: Option<Estimate>,
    /// Expected calibration error (lower is better).
    pub ece: Option<Estimate>,
    /// Live positive predictive value of the alerts.
    pub live_ppv: Option<Estimate>,
    /// The PPV floor the policy certified.
    pub certified_ppv_floor: Option<f64>,
    pub alerts_per_100_patient_days: Option<f64>,
    /// The alert budget (alerts per 100 patient-days) the policy promised.
    pub alert_budget: Option<f64>,
    /// Share of cards overridden (0..=1).
    pub override_rate: Option<Estimate>,
    /// Number of alerts behind the rates.
    pub alerts: u64,
}

/// One metric over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceSeries {
    /// "AUROC", "Live PPV".
    pub metric: String,
    pub points: Vec<TimePoint>,
    /// e.g. the certified floor for live PPV.
    pub reference: Option<RefLine>,
}

/// A governance alarm raised by monitoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub raised_at: DateTime<Utc>,
    /// "critical", "warning", "info".
    pub severity: String,
    /// What was breached ("live PPV below floor", "PSI creatinine").
    pub metric: String,
    pub message: String,
    /// Link to the governance task, when one was opened.
    pub task_url: Option<String>,
}

/// The monitoring dashboard page.
pub fn render_dashboard(v: &DashboardView) -> Markup {
    page(
        "Monitoring dashboard",
        Some(NavItem::Dashboard),
        dashboard_body(v),
    )
}

fn dashboard_body(v: &DashboardView) -> Markup {
    html! {
        h1 { "Monitoring dashboard" }
        form.inline-form method="get" action=(crate::urls::dashboard(None)) {
            label for="model-select" { "Model" }
            select #model-select name="model" {
                @for m in &v.models {
                    option value=(m.value) selected[v.selected.as_deref() == Some(m.value.as_str())] { (m.label) }
                }
            }
            button type="submit" { "Show" }
        }
        p.muted { "Window: " (v.window) ". As of " time datetime=(crate::util::iso(&v.as_of)) { (datetime(&v.as_of)) } "." }
        section aria-labelledby="tiles-h" {
            h2 #tiles-h { "Headline" }
            (tiles(&v.tiles))
        }
        section aria-labelledby="alarms-h" {
            h2 #alarms-h { "Alarms" }
            (alarms(&v.alarms))
        }
        section aria-labelledby="perf-h" {
            h2 #perf-h { "Performance over time" }
            div.chart-grid {
                @for (i, s) in v.performance.iter().enumerate() {
                    (charts::line_band_chart(&LineChart {
                        id: format!("perf-{i}"),
                        title: format!("{} over time", s.metric),
                        y_label: s.metric.clone(),
                        points: s.points.clone(),
                        y_range: Some((0.0, 1.0)),
                        reference: s.reference.clone(),
                        decimals: 3,
                    }))
                }
                @if v.performance.is_empty() { p.empty { "No outcomes linked yet." } }
            }
        }
        section aria-labelledby="cal-h" {
            h2 #cal-h { "Calibration and drift" }
            div.chart-grid {
                (charts::reliability_diagram("reliability", "Reliability diagram", &v.reliability))
                (charts::bar_chart(&BarChart {
                    id: "drift".into(),
                    title: "Input drift per feature (PSI)".into(),
                    value_label: "PSI".into(),
                    bars: v.drift.clone(),
                    ref_lines: vec![
                        RefLine { value: 0.1, label: "0.1 watch".into() },
                        RefLine { value: 0.25, label: "0.25 act".into() },
                    ],
                    decimals: 3,
                }))
            }
        }
        section aria-labelledby="use-h" {
            h2 #use-h { "Use and burden" }
            @if let Some(n) = v.untrained_card_users {
                p.untrained { (n) " clinician(s) shown this model's cards have not completed its training." }
            }
            div.chart-grid {
                (charts::bar_chart(&BarChart {
                    id: "override-reasons".into(),
                    title: "Override reasons".into(),
                    value_label: "overrides".into(),
                    bars: v.override_reasons.clone(),
                    ref_lines: vec![],
                    decimals: 0,
                }))
                (charts::bar_chart(&BarChart {
                    id: "alert-burden".into(),
                    title: "Alert burden by unit: alerts per clinician per shift".into(),
                    value_label: "alerts per clinician-shift".into(),
                    bars: v.alert_burden.clone(),
                    ref_lines: vec![],
                    decimals: 1,
                }))
                (charts::histogram_box("time-to-action", "Time from alert to action", &v.time_to_action_minutes, "min", 12))
                (charts::bar_chart(&BarChart {
                    id: "training-coverage".into(),
                    title: "Training coverage: clinicians trained, by role and unit".into(),
                    value_label: "clinicians".into(),
                    bars: v.training.clone(),
                    ref_lines: vec![],
                    decimals: 0,
                }))
                (charts::bar_chart(&BarChart {
                    id: "trust-pulse".into(),
                    title: "Trust pulse: how much clinicians trust the alerts (1-5)".into(),
                    value_label: "mean answer".into(),
                    bars: v.trust_pulse.clone(),
                    ref_lines: vec![],
                    decimals: 1,
                }))
            }
        }
    }
}

fn tiles(t: &Tiles) -> Markup {
    let ppv_low = match (t.live_ppv, t.certified_ppv_floor) {
        (Some(p), Some(f)) => p.value < f,
        _ => false,
    };
    let over_budget = match (t.alerts_per_100_patient_days, t.alert_budget) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    };
    html! {
        ul.tiles {
            (tile("AUROC", t.auroc.map(|e| e.markup(3)), None, false))
            (tile("AUPRC", t.auprc.map(|e| e.markup(3)), None, false))
            (tile("ECE (lower is better)", t.ece.map(|e| e.markup(3)), None, false))
            (tile("Live PPV", t.live_ppv.map(|e| e.markup(3)),
                t.certified_ppv_floor.map(|f| format!("certified floor {}", num(f, 3))), ppv_low))
            (tile("Alerts per 100 patient-days", t.alerts_per_100_patient_days.map(|a| html! { span.value { (num(a, 1)) } }),
                t.alert_budget.map(|b| format!("budget {}", num(b, 1))), over_budget))
            (tile("Override rate", t.override_rate.map(|e| html! {
                span.value { (pct(e.value)) }
                @if let (Some(lo), Some(hi)) = (e.lo, e.hi) { " " span.ci { "95% CI " (pct(lo)) "\u{2013}" (pct(hi)) } }
            }), Some(format!("{} alerts", t.alerts)), false))
        }
    }
}

fn tile(label: &str, value: Option<Markup>, note: Option<String>, breach: bool) -> Markup {
    html! {
        li.tile.breach[breach] {
            span.tile-label { (label) }
            @match value {
                Some(v) => (v),
                None => span.value.muted { "not enough data" },
            }
            @if let Some(n) = note { span.tile-note { (n) } }
            @if breach { strong.breach-text { "Breach" } }
        }
    }
}

fn alarms(list: &[Alarm]) -> Markup {
    html! {
        @if list.is_empty() {
            p { "No open alarms." }
        } @else {
            ul.alarms {
                @for a in list {
                    li class=(format!("alarm sev-{}", crate::util::slug(&a.severity))) {
                        strong { (a.severity) ": " (a.metric) }
                        " \u{2013} " (a.message) " "
                        time datetime=(crate::util::iso(&a.raised_at)) { (datetime(&a.raised_at)) }
                        @if let Some(u) = &a.task_url { " " a href=(u) { "governance task" } }
                    }
                }
            }
        }
    }
}
