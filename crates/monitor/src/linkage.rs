//! Outcome linkage and rolling windows.
//!
//! A prediction made at `t` with horizon `h` is labelled once its outcome
//! is knowable: **positive** if the patient's outcome onset falls in
//! `(t, t + h]`; **negative** if `now >= t + h` (or the stay ended, see
//! below) without an outcome in that window; otherwise **pending** (the
//! label-free CBPE estimate covers pending predictions). Predictions made
//! at or after the outcome onset are **excluded** (the outcome was already
//! there). A stay that ended without an outcome before `t + h` is negative
//! once it ended.

use crate::subgroups::{summarize, LabeledPrediction, PerformanceSummary, SummaryConfig};
use bedside_core::Instant;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A stored prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub patient: String,
    pub at: Instant,
    pub probability: f64,
    pub flagged: bool,
    pub attributes: BTreeMap<String, String>,
}

/// What is known of a patient's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeFacts {
    /// Outcome onset (or recorded) time, if it happened.
    pub onset: Option<Instant>,
    /// When the stay ended, if it did.
    pub stay_end: Option<Instant>,
}

/// The label state of one prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelState {
    Positive,
    Negative,
    Pending,
    Excluded,
}

/// Label one prediction.
pub fn label(at: Instant, horizon: Duration, outcome: &OutcomeFacts, now: Instant) -> LabelState {
    if let Some(o) = outcome.onset {
        if o <= at {
            return LabelState::Excluded;
        }
        if o <= at + horizon {
            return if o <= now {
                LabelState::Positive
            } else {
                LabelState::Pending
            };
        }
    }
    let end = at + horizon;
    if now >= end
        || outcome
            .stay_end
            .is_some_and(|e| e <= now && e < end && outcome.onset.is_none_or(|o| o > e))
    {
        LabelState::Negative
    } else {
        LabelState::Pending
    }
}

/// Linked predictions: labelled rows (for metrics) and pending probabilities
/// (for CBPE).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Linked {
    pub labeled: Vec<(Instant, LabeledPrediction)>,
    pub pending: Vec<(Instant, f64)>,
    pub excluded: u64,
}

/// Join predictions to outcomes (patients absent from `outcomes` have no
/// known outcome and no known stay end).
pub fn link(
    predictions: &[PredictionRecord],
    outcomes: &BTreeMap<String, OutcomeFacts>,
    horizon: Duration,
    now: Instant,
) -> Linked {
    let none = OutcomeFacts::default();
    let mut out = Linked::default();
    for p in predictions {
        let o = outcomes.get(&p.patient).unwrap_or(&none);
        let row = |label| LabeledPrediction {
            probability: p.probability,
            label,
            flagged: p.flagged,
            attributes: p.attributes.clone(),
        };
        match label(p.at, horizon, o, now) {
            LabelState::Positive => out.labeled.push((p.at, row(true))),
            LabelState::Negative => out.labeled.push((p.at, row(false))),
            LabelState::Pending => out.pending.push((p.at, p.probability)),
            LabelState::Excluded => out.excluded += 1,
        }
    }
    out
}

/// One rolling window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub start: Instant,
    pub end: Instant,
    pub summary: PerformanceSummary,
}

/// Performance in windows `[start, start + window)` stepping by `step` from
/// `from` while `start < to`; empty windows are skipped.
pub fn rolling(
    rows: &[(Instant, LabeledPrediction)],
    from: Instant,
    to: Instant,
    window: Duration,
    step: Duration,
    cfg: &SummaryConfig,
) -> Vec<WindowSummary> {
    let mut out = Vec::new();
    if step <= Duration::zero() || window <= Duration::zero() {
        return out;
    }
    let mut start = from;
    while start < to {
        let end = start + window;
        let in_win: Vec<&LabeledPrediction> = rows
            .iter()
            .filter(|(t, _)| *t >= start && *t < end)
            .map(|(_, r)| r)
            .collect();
        if !in_win.is_empty() {
            out.push(WindowSummary {
                start,
                end,
                summary: summarize(&in_win, cfg),
            });
        }
        start += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn h(x: i64) -> Instant {
        Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap() + Duration::hours(x)
    }

    #[test]
    fn labels_follow_the_horizon() {
        let hz = Duration::hours(12);
        let o = |onset: Option<i64>, end: Option<i64>| OutcomeFacts {
            onset: onset.map(h),
            stay_end: end.map(h),
        };
        assert_eq!(
            label(h(0), hz, &o(Some(6), None), h(7)),
            LabelState::Positive
        );
        assert_eq!(
            label(h(0), hz, &o(Some(6), None), h(5)),
            LabelState::Pending,
            "onset not yet known at now"
        );
        assert_eq!(
            label(h(0), hz, &o(Some(20), None), h(30)),
            LabelState::Negative,
            "outcome after the horizon"
        );
        assert_eq!(label(h(0), hz, &o(None, None), h(11)), LabelState::Pending);
        assert_eq!(label(h(0), hz, &o(None, None), h(12)), LabelState::Negative);
        assert_eq!(
            label(h(0), hz, &o(None, Some(4)), h(5)),
            LabelState::Negative,
            "discharged without outcome"
        );
        assert_eq!(
            label(h(8), hz, &o(Some(6), None), h(30)),
            LabelState::Excluded
        );
    }

    #[test]
    fn link_and_roll() {
        let pred = |p: &str, t: i64, prob: f64| PredictionRecord {
            patient: p.into(),
            at: h(t),
            probability: prob,
            flagged: prob >= 0.5,
            attributes: BTreeMap::new(),
        };
        let preds = vec![
            pred("a", 0, 0.9),
            pred("b", 0, 0.1),
            pred("a", 30, 0.8),
            pred("c", 40, 0.3),
        ];
        let outcomes: BTreeMap<String, OutcomeFacts> = [(
            "a".to_string(),
            OutcomeFacts {
                onset: Some(h(5)),
                stay_end: None,
            },
        )]
        .into_iter()
        .collect();
        let l = link(&preds, &outcomes, Duration::hours(12), h(45));
        assert_eq!(l.labeled.len(), 2);
        assert_eq!(l.excluded, 1);
        assert_eq!(l.pending, vec![(h(40), 0.3)]);
        let w = rolling(
            &l.labeled,
            h(0),
            h(48),
            Duration::hours(24),
            Duration::hours(24),
            &SummaryConfig::default(),
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].summary.n, 2);
        let auc = w[0].summary.auroc.as_ref().unwrap();
        assert_eq!(
            (auc.value, auc.lower, auc.upper),
            (1.0, 0.0, 1.0),
            "DeLong needs two per class"
        );
    }
}
