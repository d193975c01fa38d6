//! The monitoring dashboard, computed from the stored record with
//! `bedside-monitor`: predictions labelled by each model's own outcome
//! definition (performance over time, reliability, headline metrics),
//! inputs against the package's training profile (PSI), cards and their
//! feedback (override reasons, override rate, time to action). Alert
//! burden per unit needs patient-days per unit, which is not computed here.

use crate::hooks::{CARD, FEEDBACK};
use crate::pipeline::PREDICTION;
use crate::scoring::Scheduled;
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_models::Prediction;
use bedside_monitor::drift::{psi_against, quantile_key_probability, BinProfile};
use bedside_monitor::{intervals, metrics};
use bedside_store::{DocFilter, Document};
use bedside_ui::charts::{Bar, RefLine, ReliabilityBin, TimePoint};
use bedside_ui::{Choice, DashboardView, Estimate, PerformanceSeries, Tiles};
use std::collections::BTreeMap;

/// Fewer labelled rows than this in a period: no point on the chart.
const MIN_ROWS_PER_POINT: usize = 10;

struct Labelled {
    at: Instant,
    p: f64,
    y: bool,
}

fn docs(kind: &str, owner: Option<&str>) -> DocFilter {
    DocFilter {
        kind: kind.into(),
        owner: owner.map(str::to_string),
        ..Default::default()
    }
}

fn est(e: Option<intervals::Estimate>) -> Option<Estimate> {
    e.map(|e| Estimate::with_ci(e.value, e.lower, e.upper))
}

fn auroc_over_time(rows: &[Labelled]) -> Vec<TimePoint> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Vec::new();
    };
    let span = last.at - first.at;
    let period = if span > chrono::Duration::days(21) {
        chrono::Duration::days(7)
    } else {
        chrono::Duration::days(1)
    };
    let mut out = Vec::new();
    let mut start = first.at;
    while start <= last.at {
        let end = start + period;
        let win: Vec<&Labelled> = rows
            .iter()
            .filter(|r| r.at >= start && r.at < end)
            .collect();
        let scores: Vec<f64> = win.iter().map(|r| r.p).collect();
        let labels: Vec<bool> = win.iter().map(|r| r.y).collect();
        if win.len() >= MIN_ROWS_PER_POINT {
            if let Some(e) = intervals::auroc_ci(&scores, &labels, 0.95) {
                out.push(TimePoint {
                    at: start + period / 2,
                    value: e.value,
                    lo: Some(e.lower),
                    hi: Some(e.upper),
                    n: Some(win.len() as u64),
                });
            }
        }
        start = end;
    }
    out
}

impl App {
    /// Labelled predictions of one model (time order) and the current
    /// value of each input, from the stored `prediction` documents.
    async fn labelled_predictions(
        &self,
        sched: &Scheduled,
    ) -> Result<(Vec<Labelled>, BTreeMap<String, Vec<f64>>), ApiError> {
        let stored = self
            .store
            .list_documents(&docs(PREDICTION, Some(sched.id())))
            .await?;
        let mut outcomes = BTreeMap::new();
        let mut rows = Vec::with_capacity(stored.len());
        let mut inputs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for d in &stored {
            let (Some(pid), Ok(p)) = (
                &d.patient_id,
                serde_json::from_value::<Prediction>(d.body.clone()),
            ) else {
                continue;
            };
            if !outcomes.contains_key(pid) {
                outcomes.insert(pid.clone(), self.patient_outcome_events(pid).await?);
            }
            let y = sched.spec.outcome.label(&outcomes[pid], p.at);
            for f in &p.features {
                if let Some(v) = f.value {
                    inputs.entry(f.name.clone()).or_default().push(v);
                }
            }
            rows.push(Labelled {
                at: p.at,
                p: p.probability.get(),
                y,
            });
        }
        rows.sort_by_key(|r| r.at);
        Ok((rows, inputs))
    }

    fn drift_bars(&self, sched: &Scheduled, inputs: &BTreeMap<String, Vec<f64>>) -> Vec<Bar> {
        let Some(model) = &sched.model else {
            return Vec::new();
        };
        let mut bars: Vec<Bar> = model
            .package
            .profile
            .features
            .iter()
            .filter_map(|f| {
                let pts: Vec<(f64, f64)> = f
                    .quantiles
                    .iter()
                    .filter_map(|(k, v)| Some((quantile_key_probability(k)?, *v)))
                    .collect();
                let profile = BinProfile::from_quantiles(&pts, f.n)?;
                let psi = psi_against(&profile, inputs.get(&f.name)?)?;
                Some(Bar {
                    label: f.name.clone(),
                    value: psi,
                })
            })
            .collect();
        bars.sort_by(|a, b| b.value.total_cmp(&a.value));
        bars
    }

    /// Cards shown by a model, and their feedback: override reasons,
    /// override rate, minutes from card to feedback, cards shown.
    async fn card_use(
        &self,
        model: &str,
    ) -> Result<(Vec<Bar>, Option<Estimate>, Vec<f64>, u64), ApiError> {
        let cards: Vec<Document> = self
            .store
            .list_documents(&docs(CARD, Some(model)))
            .await?
            .into_iter()
            .filter(|c| c.status.as_deref() == Some("shown"))
            .collect();
        let feedback = self
            .store
            .list_documents(&docs(FEEDBACK, Some(model)))
            .await?;
        let mut reasons: BTreeMap<String, f64> = BTreeMap::new();
        let mut minutes = Vec::new();
        let overridden = feedback
            .iter()
            .filter(|f| f.status.as_deref() == Some("overridden"))
            .count();
        for f in &feedback {
            let item = &f.body["item"];
            if f.status.as_deref() == Some("overridden") {
                let r = &item["overrideReason"]["reason"];
                let label = r["display"]
                    .as_str()
                    .or_else(|| r["code"].as_str())
                    .unwrap_or("(no reason given)");
                *reasons.entry(label.to_string()).or_default() += 1.0;
            }
            let card_id = item["card"].as_str().unwrap_or_default();
            if let Some(c) = cards.iter().find(|c| c.id == card_id) {
                minutes.push(((f.created_at - c.created_at).num_seconds().max(0) as f64) / 60.0);
            }
        }
        let rate = intervals::proportion(
            overridden as u64,
            feedback.len() as u64,
            0.95,
            intervals::IntervalMethod::Wilson,
        );
        let bars = |m: BTreeMap<String, f64>| {
            m.into_iter()
                .map(|(label, value)| Bar { label, value })
                .collect::<Vec<_>>()
        };
        Ok((bars(reasons), est(rate), minutes, cards.len() as u64))
    }

    /// The dashboard for `model` (an id; default the first served model).
    pub async fn ui_dashboard(
        &self,
        model: Option<&str>,
        now: Instant,
    ) -> Result<DashboardView, ApiError> {
        let served: Vec<&Scheduled> = self.models.iter().filter(|s| s.model.is_some()).collect();
        let models = served
            .iter()
            .map(|s| Choice {
                value: s.id().to_string(),
                label: format!(
                    "{} {}",
                    s.spec.name.clone().unwrap_or_else(|| s.id().to_string()),
                    s.spec.version
                ),
            })
            .collect();
        let sched = match model {
            Some(m) => Some(
                *served
                    .iter()
                    .find(|s| s.id() == m)
                    .ok_or_else(|| ApiError::not_found(format!("model {m:?} is not served")))?,
            ),
            None => served.first().copied(),
        };
        let mut v = DashboardView {
            models,
            selected: sched.map(|s| s.id().to_string()),
            window: "every stored prediction and card".into(),
            as_of: now,
            tiles: Tiles::default(),
            performance: Vec::new(),
            reliability: Vec::new(),
            drift: Vec::new(),
            override_reasons: Vec::new(),
            alert_burden: Vec::new(),
            time_to_action_minutes: Vec::new(),
            alarms: Vec::new(),
        };
        let Some(sched) = sched else { return Ok(v) };
        let (rows, inputs) = self.labelled_predictions(sched).await?;
        let scores: Vec<f64> = rows.iter().map(|r| r.p).collect();
        let labels: Vec<bool> = rows.iter().map(|r| r.y).collect();
        v.tiles.auroc = est(intervals::auroc_ci(&scores, &labels, 0.95));
        v.tiles.auprc = metrics::average_precision(&scores, &labels).map(Estimate::point);
        if let Some(cal) = metrics::calibration(&scores, &labels, 10) {
            v.tiles.ece = Some(Estimate::point(cal.ece));
            v.reliability = cal
                .bins
                .iter()
                .map(|b| ReliabilityBin {
                    predicted: b.mean_predicted,
                    observed: b.observed,
                    count: b.count,
                    lo: None,
                    hi: None,
                })
                .collect();
        }
        let points = auroc_over_time(&rows);
        if !points.is_empty() {
            v.performance.push(PerformanceSeries {
                metric: "AUROC".into(),
                points,
                reference: Some(RefLine {
                    value: 0.5,
                    label: "chance".into(),
                }),
            });
        }
        v.drift = self.drift_bars(sched, &inputs);
        let (reasons, rate, minutes, alerts) = self.card_use(sched.id()).await?;
        v.override_reasons = reasons;
        v.tiles.override_rate = rate;
        v.time_to_action_minutes = minutes;
        v.tiles.alerts = alerts;
        if let Some(c) = self
            .hooks
            .certifications
            .get(sched.id())
            .and_then(|c| c.certified())
        {
            v.tiles.certified_ppv_floor = Some(c.ppv_floor);
            v.tiles.alert_budget = Some(c.alert_budget_per_100_patient_days);
        }
        Ok(v)
    }
}
