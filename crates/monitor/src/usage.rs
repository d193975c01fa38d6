//! Use and trust: how clinicians respond to alerts, and the trust pulse.
//!
//! Definitions (per group: overall, by unit, by role):
//! - `acceptance_rate = accepted / shown`, `override_rate = overridden / shown`
//!   (alerts displayed are the denominator, as in CDS override studies);
//! - `acted_on`: shown alerts that were accepted or followed by a first action;
//! - time to first action: minutes from alert to the first action (order
//!   placed, task acknowledged or completed), median and p90 (numpy linear
//!   quantiles);
//! - alerts per clinician per shift: alerts over clinician-shifts that
//!   received at least one alert (12 h shifts from `anchor_hour` UTC).

use crate::intervals::{proportion, Estimate, IntervalMethod};
use crate::metrics::quantile;
use bedside_core::Instant;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How a clinician answered a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKind {
    Accepted,
    Overridden,
    Snoozed,
}

/// One alert as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub at: Instant,
    pub unit: Option<String>,
    /// Recipient role (e.g. `attending`, `rrt-nurse`).
    pub role: Option<String>,
    /// Recipient (`Practitioner/...`).
    pub clinician: Option<String>,
    pub shown: bool,
    pub response: Option<ResponseKind>,
    /// Override reason code, when overridden or snoozed.
    pub reason: Option<String>,
    /// First action after the alert (order placed, task acknowledged/completed).
    pub first_action_at: Option<Instant>,
}

/// A distribution summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub n: u64,
    pub median: f64,
    pub p90: f64,
}

/// Use metrics for one group of alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageStats {
    pub alerts: u64,
    pub shown: u64,
    pub acted_on: u64,
    pub accepted: u64,
    pub overridden: u64,
    pub snoozed: u64,
    pub acceptance_rate: Option<Estimate>,
    pub override_rate: Option<Estimate>,
    pub override_reasons: BTreeMap<String, u64>,
    pub minutes_to_first_action: Option<Spread>,
    pub alerts_per_clinician_shift: Option<f64>,
    pub max_alerts_per_clinician_shift: u64,
}

/// Use metrics overall, by unit and by role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub overall: UsageStats,
    pub by_unit: BTreeMap<String, UsageStats>,
    pub by_role: BTreeMap<String, UsageStats>,
}

/// Shift boundaries for per-shift counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShiftConfig {
    pub hours: f64,
    pub anchor_hour: u32,
}

impl Default for ShiftConfig {
    fn default() -> Self {
        Self {
            hours: 12.0,
            anchor_hour: 7,
        }
    }
}

/// Index of the shift containing `t`.
pub fn shift_index(t: Instant, cfg: &ShiftConfig) -> i64 {
    let anchor = Utc
        .timestamp_opt(i64::from(cfg.anchor_hour) * 3600, 0)
        .single()
        .unwrap_or_default();
    let hours = if cfg.hours > 0.0 { cfg.hours } else { 12.0 };
    ((t - anchor).num_milliseconds() as f64 / (hours * 3_600_000.0)).floor() as i64
}

/// Use metrics of one group.
pub fn usage_stats(records: &[&AlertRecord], shift: &ShiftConfig) -> UsageStats {
    let shown: Vec<&&AlertRecord> = records.iter().filter(|r| r.shown).collect();
    let n_shown = shown.len() as u64;
    let is = |k: ResponseKind| shown.iter().filter(|r| r.response == Some(k)).count() as u64;
    let (accepted, overridden, snoozed) = (
        is(ResponseKind::Accepted),
        is(ResponseKind::Overridden),
        is(ResponseKind::Snoozed),
    );
    let acted_on = shown
        .iter()
        .filter(|r| r.response == Some(ResponseKind::Accepted) || r.first_action_at.is_some())
        .count() as u64;
    let mut reasons = BTreeMap::new();
    for r in shown.iter().filter(|r| {
        matches!(
            r.response,
            Some(ResponseKind::Overridden | ResponseKind::Snoozed)
        )
    }) {
        *reasons
            .entry(r.reason.clone().unwrap_or_else(|| "none".into()))
            .or_insert(0) += 1;
    }
    let mins: Vec<f64> = records
        .iter()
        .filter_map(|r| {
            r.first_action_at
                .map(|a| (a - r.at).num_milliseconds() as f64 / 60_000.0)
        })
        .filter(|m| *m >= 0.0)
        .collect();
    let spread = match (quantile(&mins, 0.5), quantile(&mins, 0.9)) {
        (Some(median), Some(p90)) => Some(Spread {
            n: mins.len() as u64,
            median,
            p90,
        }),
        _ => None,
    };
    let mut per_shift: BTreeMap<(&str, i64), u64> = BTreeMap::new();
    for r in records {
        if let Some(c) = &r.clinician {
            *per_shift
                .entry((c.as_str(), shift_index(r.at, shift)))
                .or_insert(0) += 1;
        }
    }
    let routed: u64 = per_shift.values().sum();
    let rate = |k| proportion(k, n_shown, 0.95, IntervalMethod::Wilson);
    UsageStats {
        alerts: records.len() as u64,
        shown: n_shown,
        acted_on,
        accepted,
        overridden,
        snoozed,
        acceptance_rate: rate(accepted),
        override_rate: rate(overridden),
        override_reasons: reasons,
        minutes_to_first_action: spread,
        alerts_per_clinician_shift: (!per_shift.is_empty())
            .then(|| routed as f64 / per_shift.len() as f64),
        max_alerts_per_clinician_shift: per_shift.values().copied().max().unwrap_or(0),
    }
}

/// Use metrics overall, by unit and by role (missing unit/role: `unknown`).
pub fn usage_report(records: &[AlertRecord], shift: &ShiftConfig) -> UsageReport {
    let all: Vec<&AlertRecord> = records.iter().collect();
    let by = |key: &dyn Fn(&AlertRecord) -> Option<String>| {
        let mut m: BTreeMap<String, Vec<&AlertRecord>> = BTreeMap::new();
        for r in records {
            m.entry(key(r).unwrap_or_else(|| "unknown".into()))
                .or_default()
                .push(r);
        }
        m.into_iter()
            .map(|(k, v)| (k, usage_stats(&v, shift)))
            .collect()
    };
    UsageReport {
        overall: usage_stats(&all, shift),
        by_unit: by(&|r| r.unit.clone()),
        by_role: by(&|r| r.role.clone()),
    }
}

// ------------------------------------------------------------ trust pulse --

/// Trust pulse settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PulseConfig {
    /// At most one pulse per clinician per this many days.
    pub period_days: f64,
    /// Share of eligible cards that carry the pulse link, in [0, 1].
    pub sample_share: f64,
}

impl Default for PulseConfig {
    fn default() -> Self {
        Self {
            period_days: 14.0,
            sample_share: 0.2,
        }
    }
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    // MurmurHash3 fmix64 finalizer: FNV's high bits alone are poorly mixed.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
    h ^ (h >> 33)
}

/// Whether to offer the pulse on this card to this clinician. Pure and
/// deterministic: offered when no pulse was offered to the clinician within
/// the last `period_days`, and the card falls in the sampled share (a
/// stable hash of clinician and card id).
pub fn pulse_offer(
    cfg: &PulseConfig,
    clinician: &str,
    card_id: &str,
    at: Instant,
    last_offered: Option<Instant>,
) -> bool {
    let period_ms = (cfg.period_days * 86_400_000.0) as i64;
    if last_offered.is_some_and(|l| (at - l).num_milliseconds() < period_ms) {
        return false;
    }
    let u = (fnv1a(&format!("{clinician}|{card_id}")) >> 11) as f64 / (1u64 << 53) as f64;
    u < cfg.sample_share
}

/// One answer: agreement with "I trust this model's alerts", 1-5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseAnswer {
    pub clinician: String,
    pub at: Instant,
    pub score: u8,
}

/// Trust in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulsePeriod {
    pub start: Instant,
    pub answers: u64,
    pub mean_score: f64,
    /// Share answering 4 or 5, with a Wilson interval.
    pub agree: Option<Estimate>,
}

/// Trust over time in periods of `cfg.period_days` from `origin`. Answers
/// outside 1-5 are ignored; a clinician's second answer within one period
/// is ignored (the once-per-period rule, enforced again here).
pub fn pulse_trend(
    answers: &[PulseAnswer],
    cfg: &PulseConfig,
    origin: Instant,
) -> Vec<PulsePeriod> {
    let period_ms = (cfg.period_days * 86_400_000.0).max(1.0);
    let mut sorted: Vec<&PulseAnswer> = answers
        .iter()
        .filter(|a| (1..=5).contains(&a.score) && a.at >= origin)
        .collect();
    sorted.sort_by_key(|a| a.at);
    let mut seen: BTreeSet<(i64, &str)> = BTreeSet::new();
    let mut per: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    for a in sorted {
        let idx = ((a.at - origin).num_milliseconds() as f64 / period_ms).floor() as i64;
        if seen.insert((idx, a.clinician.as_str())) {
            per.entry(idx).or_default().push(a.score);
        }
    }
    per.into_iter()
        .map(|(idx, scores)| {
            let n = scores.len() as u64;
            let agree = scores.iter().filter(|&&s| s >= 4).count() as u64;
            PulsePeriod {
                start: origin + chrono::Duration::milliseconds((idx as f64 * period_ms) as i64),
                answers: n,
                mean_score: scores.iter().map(|&s| f64::from(s)).sum::<f64>() / n as f64,
                agree: proportion(agree, n, 0.95, IntervalMethod::Wilson),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(h: i64) -> Instant {
        Utc.with_ymd_and_hms(2026, 3, 2, 7, 0, 0).unwrap() + Duration::hours(h)
    }

    fn rec(
        h: i64,
        unit: &str,
        who: &str,
        resp: Option<ResponseKind>,
        act_min: Option<i64>,
    ) -> AlertRecord {
        AlertRecord {
            at: t(h),
            unit: Some(unit.into()),
            role: Some("attending".into()),
            clinician: Some(who.into()),
            shown: true,
            response: resp,
            reason: (resp == Some(ResponseKind::Overridden)).then(|| "not-septic".into()),
            first_action_at: act_min.map(|m| t(h) + Duration::minutes(m)),
        }
    }

    #[test]
    fn usage_rates_time_to_action_and_shift_load() {
        use ResponseKind::*;
        let mut rs = vec![
            rec(0, "icu", "a", Some(Accepted), Some(10)),
            rec(1, "icu", "a", Some(Overridden), None),
            rec(2, "icu", "a", None, Some(30)),
            rec(13, "ward", "b", Some(Overridden), None),
            rec(14, "ward", "b", Some(Accepted), Some(50)),
        ];
        rs.push(AlertRecord {
            shown: false,
            ..rec(3, "icu", "a", None, None)
        });
        let r = usage_report(&rs, &ShiftConfig::default());
        let o = &r.overall;
        assert_eq!(
            (o.alerts, o.shown, o.accepted, o.overridden, o.acted_on),
            (6, 5, 2, 2, 3)
        );
        assert!((o.override_rate.as_ref().unwrap().value - 0.4).abs() < 1e-12);
        assert_eq!(o.override_reasons.get("not-septic"), Some(&2));
        let s = o.minutes_to_first_action.as_ref().unwrap();
        // np.median([10, 30, 50]) = 30, np.percentile(.., 90) = 46
        assert_eq!((s.n, s.median, s.p90), (3, 30.0, 46.0));
        // a: 4 alerts in shift 0; b: 2 alerts in shift 1.
        assert_eq!(o.alerts_per_clinician_shift, Some(3.0));
        assert_eq!(o.max_alerts_per_clinician_shift, 4);
        assert_eq!(r.by_unit["ward"].alerts, 2);
        assert_eq!(r.by_role["attending"].alerts, 6);
    }

    #[test]
    fn pulse_is_offered_at_most_once_per_period_and_to_a_share() {
        let cfg = PulseConfig {
            period_days: 7.0,
            sample_share: 1.0,
        };
        assert!(pulse_offer(&cfg, "a", "card1", t(0), None));
        assert!(!pulse_offer(&cfg, "a", "card2", t(24 * 6), Some(t(0))));
        assert!(pulse_offer(&cfg, "a", "card2", t(24 * 7), Some(t(0))));
        let none = PulseConfig {
            sample_share: 0.0,
            ..cfg
        };
        assert!(!pulse_offer(&none, "a", "card1", t(0), None));
        let share = PulseConfig {
            sample_share: 0.25,
            ..cfg
        };
        let hits = (0..4000)
            .filter(|i| pulse_offer(&share, "a", &format!("card{i}"), t(0), None))
            .count();
        assert!((800..1200).contains(&hits), "{hits} of 4000 at share 0.25");
        // Deterministic.
        assert_eq!(
            pulse_offer(&share, "a", "card7", t(0), None),
            pulse_offer(&share, "a", "card7", t(0), None)
        );
    }

    #[test]
    fn pulse_trend_shows_eroding_trust_and_drops_repeat_answers() {
        let cfg = PulseConfig {
            period_days: 7.0,
            sample_share: 1.0,
        };
        let a = |who: &str, day: i64, score| PulseAnswer {
            clinician: who.into(),
            at: t(24 * day),
            score,
        };
        let answers = vec![
            a("x", 0, 5),
            a("y", 1, 4),
            a("x", 2, 1),
            a("x", 8, 2),
            a("y", 9, 2),
            a("z", 9, 9),
        ];
        let tr = pulse_trend(&answers, &cfg, t(0));
        assert_eq!(tr.len(), 2);
        assert_eq!(
            (tr[0].answers, tr[0].mean_score),
            (2, 4.5),
            "x's second answer in week 0 ignored"
        );
        assert_eq!(
            (tr[1].answers, tr[1].mean_score),
            (2, 2.0),
            "score 9 ignored"
        );
        assert_eq!(tr[1].agree.as_ref().unwrap().value, 0.0);
        assert_eq!(tr[1].start, t(24 * 7));
    }
}
