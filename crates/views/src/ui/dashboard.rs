//! The monitoring dashboard: the figures of [`Views::monitoring`] (the
//! `MonitoringSnapshot`: headline performance, rolling performance, live
//! PPV, drift against the training profile, use by unit, alarms), plus the
//! two things the snapshot does not carry per item: the reliability
//! diagram's bins (same label rule, `bedside-monitor` calibration) and the
//! minutes from each shown card to its first feedback (the histogram).
//!
//! Replayed data is historical: performance and drift are computed on the
//! data clock (the newest stored prediction), use and trust on the wall
//! clock when the two are further apart than the monitoring window.

use crate::monitoring::{MonitoringQuery, MonitoringSnapshot, Record};
use crate::{ViewError, Views};
use bedside_core::Instant;
use bedside_models::Model;
use bedside_monitor::{intervals, metrics};
use bedside_record::kinds::{CARD, FEEDBACK};
use bedside_record::{FeedbackRecord, Record as _};
use bedside_store::DocFilter;
use bedside_ui::charts::{Bar, RefLine, ReliabilityBin, TimePoint};
use bedside_ui::{Alarm, Choice, DashboardView, Estimate, PerformanceSeries, Tiles};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A cached view is reused at most this long: figures that depend on the
/// wall clock alone (windows ending now, labels turning negative as the
/// horizon passes) move on even when nothing is written.
pub const DASHBOARD_MAX_AGE_SECS: i64 = 60;

/// Dashboards by requested model, each with the store change marker read
/// before it was computed (see [`bedside_store::Store::change_marker`]).
#[derive(Default)]
pub struct DashboardCache {
    entries: Mutex<HashMap<Option<String>, (String, DashboardView)>>,
}

impl DashboardCache {
    fn get(&self, key: &Option<String>, marker: &str, now: Instant) -> Option<DashboardView> {
        let g = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (m, v) = g.get(key)?;
        let age = now - v.as_of;
        (m == marker
            && age >= chrono::Duration::zero()
            && age.num_seconds() < DASHBOARD_MAX_AGE_SECS)
            .then(|| v.clone())
    }

    /// Forget every view (the monitoring configuration changed).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn put(&self, key: Option<String>, marker: String, v: DashboardView) {
        let mut g = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Keys are the served models (and the default): a handful.
        g.insert(key, (marker, v));
    }
}

fn since(kind: &str, owner: &str, from: Instant) -> DocFilter {
    DocFilter {
        kind: kind.into(),
        owner: Some(owner.to_string()),
        since: Some(from),
        ..Default::default()
    }
}

fn est(e: &Option<intervals::Estimate>) -> Option<Estimate> {
    e.as_ref()
        .map(|e| Estimate::with_ci(e.value, e.lower, e.upper))
}

fn series(
    snap: &MonitoringSnapshot,
    metric: &str,
    pick: impl Fn(&bedside_monitor::subgroups::PerformanceSummary) -> Option<intervals::Estimate>,
    reference: Option<RefLine>,
) -> Option<PerformanceSeries> {
    let points: Vec<TimePoint> = snap
        .rolling
        .iter()
        .filter_map(|w| {
            let e = pick(&w.summary)?;
            Some(TimePoint {
                at: w.start + (w.end - w.start) / 2,
                value: e.value,
                lo: Some(e.lower),
                hi: Some(e.upper),
                n: Some(w.summary.n),
            })
        })
        .collect();
    (!points.is_empty()).then(|| PerformanceSeries {
        metric: metric.into(),
        points,
        reference,
    })
}

fn tiles(data: &MonitoringSnapshot, used: &MonitoringSnapshot) -> Tiles {
    let perf = &data.performance;
    Tiles {
        auroc: est(&perf.auroc),
        auprc: perf.auprc.map(Estimate::point),
        ece: perf.ece.map(Estimate::point),
        live_ppv: est(&data.live_ppv.ppv),
        certified_ppv_floor: data.live_ppv.certified_floor,
        alerts_per_100_patient_days: None,
        alert_budget: None,
        override_rate: est(&used.usage.overall.override_rate),
        alerts: used.usage.overall.shown,
    }
}

fn alarms(snap: &MonitoringSnapshot) -> Vec<Alarm> {
    snap.alarms
        .iter()
        .map(|a| Alarm {
            raised_at: snap.now,
            severity: "warning".into(),
            metric: a.metric.clone(),
            message: a.message.clone(),
            task_url: None,
        })
        .collect()
}

impl Views {
    /// Reliability bins of one model's predictions made in `[from, to)`,
    /// labelled by the package's outcome definition with the outcome
    /// events of the monitoring record (read once for the snapshot).
    fn reliability(model: &Model, rec: &Record, from: Instant, to: Instant) -> Vec<ReliabilityBin> {
        let none = Vec::new();
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        for p in rec.predictions.iter().filter(|p| p.at >= from && p.at < to) {
            let events = rec.outcome_events.get(&p.patient).unwrap_or(&none);
            scores.push(p.probability);
            labels.push(model.package.spec.outcome.label(events, p.at));
        }
        metrics::calibration(&scores, &labels, 10)
            .map(|cal| {
                cal.bins
                    .iter()
                    .map(|b| {
                        let k = (b.observed * b.count as f64).round() as u64;
                        let ci = intervals::wilson(k, b.count, 0.95);
                        ReliabilityBin {
                            predicted: b.mean_predicted,
                            observed: b.observed,
                            count: b.count,
                            lo: ci.map(|c| c.0),
                            hi: ci.map(|c| c.1),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Minutes from each shown card (since `from`) to its first feedback.
    async fn minutes_to_feedback(&self, model: &str, from: Instant) -> Result<Vec<f64>, ViewError> {
        let cards: BTreeMap<String, Instant> = self
            .store
            .list_documents(&since(CARD, model, from))
            .await?
            .into_iter()
            .filter(|c| c.status.as_deref() == Some("shown"))
            .map(|c| (c.id, c.created_at))
            .collect();
        let mut first: BTreeMap<String, Instant> = BTreeMap::new();
        for f in self
            .store
            .list_documents(&since(FEEDBACK, model, from))
            .await?
        {
            let Ok(feedback) = FeedbackRecord::from_document(&f) else {
                continue;
            };
            let e = first.entry(feedback.item.card).or_insert(f.created_at);
            *e = (*e).min(f.created_at);
        }
        Ok(first
            .iter()
            .filter_map(|(card, t)| {
                let shown = cards.get(card)?;
                Some(((*t - *shown).num_seconds().max(0) as f64) / 60.0)
            })
            .collect())
    }

    /// Override reasons by display text (the policy's coded reasons).
    fn reason_bars(&self, snap: &MonitoringSnapshot) -> Vec<Bar> {
        let view = self.policy_for(&snap.model_id);
        let reasons = &view.policy.override_reasons;
        snap.usage
            .overall
            .override_reasons
            .iter()
            .map(|(code, n)| Bar {
                label: reasons
                    .iter()
                    .find(|r| &r.code == code)
                    .map(|r| r.display.clone())
                    .unwrap_or_else(|| code.clone()),
                value: *n as f64,
            })
            .collect()
    }

    /// The dashboard for `model` (an id; default the first served model).
    /// Reused from [`DashboardCache`] while the store's change marker is
    /// unchanged and the cached view is under [`DASHBOARD_MAX_AGE_SECS`]
    /// old; `as_of` says when its figures were computed.
    pub async fn ui_dashboard(
        &self,
        model: Option<&str>,
        now: Instant,
    ) -> Result<DashboardView, ViewError> {
        let key = model.map(str::to_string);
        // Read before computing: a commit made while computing changes
        // the marker, so that view is never reused after it.
        let marker = self.store.change_marker().await?;
        if let Some(m) = &marker {
            if let Some(v) = self.dashboards.get(&key, m, now) {
                return Ok(v);
            }
        }
        let v = self.dashboard_view(model, now).await?;
        if let Some(m) = marker {
            self.dashboards.put(key, m, v.clone());
        }
        Ok(v)
    }

    /// The dashboard computed afresh from the record.
    async fn dashboard_view(
        &self,
        model: Option<&str>,
        now: Instant,
    ) -> Result<DashboardView, ViewError> {
        let served: Vec<&Model> = self.models.iter().map(|m| &**m).collect();
        let models = served
            .iter()
            .map(|s| Choice {
                value: s.id().to_string(),
                label: format!(
                    "{} {}",
                    s.package
                        .spec
                        .name
                        .clone()
                        .unwrap_or_else(|| s.id().to_string()),
                    s.package.spec.version
                ),
            })
            .collect();
        let sched = match model {
            Some(m) => Some(
                *served
                    .iter()
                    .find(|s| s.id() == m)
                    .ok_or_else(|| ViewError::not_found(format!("model {m:?} is not served")))?,
            ),
            None => served.first().copied(),
        };
        let mut v = DashboardView {
            models,
            selected: sched.map(|s| s.id().to_string()),
            window: "no model is served".into(),
            as_of: now,
            tiles: Tiles::default(),
            performance: Vec::new(),
            reliability: Vec::new(),
            drift: Vec::new(),
            override_reasons: Vec::new(),
            alert_burden: Vec::new(),
            time_to_action_minutes: Vec::new(),
            alarms: Vec::new(),
            trust_pulse: Vec::new(),
            training: Vec::new(),
            untrained_card_users: None,
        };
        let Some(sched) = sched else { return Ok(v) };
        let id = sched.id().to_string();
        let clock = self.monitoring_clock(&id).await?.unwrap_or(now).min(now);
        let cfg = self.monitoring_config();
        let (data, rec) = self
            .monitoring_parts(
                &MonitoringQuery {
                    model_id: id.clone(),
                    now: clock,
                },
                &cfg,
            )
            .await?;
        let window = data.window.end - data.window.start;
        let live = if now - clock > window {
            Some(
                self.monitoring(&MonitoringQuery {
                    model_id: id.clone(),
                    now,
                })
                .await?,
            )
        } else {
            None
        };
        let used = live.as_ref().unwrap_or(&data);
        let days = window.num_hours() as f64 / 24.0;
        v.window = match &live {
            Some(_) => format!(
                "performance and drift: {days:.0} days of data up to {} (the newest prediction; replayed data); use and feedback: {days:.0} days up to now",
                clock.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("{days:.0} days up to now"),
        };
        v.tiles = tiles(&data, used);
        let floor = data.live_ppv.certified_floor.map(|f| RefLine {
            value: f,
            label: "certified PPV floor".into(),
        });
        v.performance = [
            series(
                &data,
                "AUROC",
                |s| s.auroc.clone(),
                Some(RefLine {
                    value: 0.5,
                    label: "chance".into(),
                }),
            ),
            series(
                &data,
                "PPV of flagged predictions",
                |s| s.ppv.clone(),
                floor,
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        v.reliability = Self::reliability(sched, &rec, data.window.start, clock);
        let mut drift: Vec<Bar> = data
            .drift
            .training
            .iter()
            .filter_map(|d| {
                Some(Bar {
                    label: d.name.clone(),
                    value: d.psi?,
                })
            })
            .collect();
        drift.sort_by(|a, b| b.value.total_cmp(&a.value));
        v.drift = drift;
        v.override_reasons = self.reason_bars(used);
        v.trust_pulse = used
            .trust_pulse
            .iter()
            .map(|p| Bar {
                label: format!(
                    "from {} ({} answer{})",
                    p.start.format("%Y-%m-%d"),
                    p.answers,
                    if p.answers == 1 { "" } else { "s" }
                ),
                value: p.mean_score,
            })
            .collect();
        v.alert_burden = used
            .usage
            .by_unit
            .iter()
            .filter_map(|(unit, u)| {
                Some(Bar {
                    label: unit.clone(),
                    value: u.alerts_per_clinician_shift?,
                })
            })
            .collect();
        v.time_to_action_minutes = self.minutes_to_feedback(&id, used.window.start).await?;
        v.alarms = alarms(&data);
        if live.is_some() {
            v.alarms.extend(alarms(used));
        }
        Ok(v)
    }
}
