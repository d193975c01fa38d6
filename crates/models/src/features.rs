//! Features computed from a [`PatientState`] at a scoring time.
//!
//! [`FeatureSet::compute`] is the one function that turns patient state into
//! model inputs, online (scoring) and offline (`bedside features` export for
//! training), so there is no train/serve skew. It is pure and deterministic
//! and reads only points with `t <= at`.

use crate::problem::Problems;
use crate::spec::FeatureSpec;
use bedside_core::{Instant, PatientState, Sex};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a feature computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// Newest value at or before `at`, no older than the window if one is set.
    Last {
        channel: String,
        window_hours: Option<f64>,
    },
    Mean {
        channel: String,
        window_hours: f64,
    },
    Min {
        channel: String,
        window_hours: f64,
    },
    Max {
        channel: String,
        window_hours: f64,
    },
    /// Least-squares slope in channel units per hour over the window (needs
    /// two points at distinct times).
    Slope {
        channel: String,
        window_hours: f64,
    },
    /// Number of points in the window (0 when none; never missing).
    Count {
        channel: String,
        window_hours: f64,
    },
    /// Hours since the newest value at or before `at`.
    HoursSinceLast {
        channel: String,
    },
    /// 1 when the channel has no value in the window, else 0 (never missing).
    Missing {
        channel: String,
        window_hours: f64,
    },
    /// Age in whole years.
    Age,
    /// 1 male, 0 female, missing otherwise.
    Sex,
    /// Hours since the start of the encounter active at `at`.
    HoursSinceAdmission,
}

impl FeatureKind {
    pub fn channel(&self) -> Option<&str> {
        match self {
            Self::Last { channel, .. }
            | Self::Mean { channel, .. }
            | Self::Min { channel, .. }
            | Self::Max { channel, .. }
            | Self::Slope { channel, .. }
            | Self::Count { channel, .. }
            | Self::HoursSinceLast { channel }
            | Self::Missing { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// Longest look-back this feature needs, in hours (None: newest point only).
    pub fn window_hours(&self) -> Option<f64> {
        match self {
            Self::Last { window_hours, .. } => *window_hours,
            Self::Mean { window_hours, .. }
            | Self::Min { window_hours, .. }
            | Self::Max { window_hours, .. }
            | Self::Slope { window_hours, .. }
            | Self::Count { window_hours, .. }
            | Self::Missing { window_hours, .. } => Some(*window_hours),
            _ => None,
        }
    }
}

/// One feature: its name (as the scorer knows it), what it computes, and how
/// to show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDef {
    pub name: String,
    #[serde(flatten)]
    pub kind: FeatureKind,
    pub label: String,
    /// Unit of the feature value (`mmol/L`, `mmol/L/h`, `h`, `years`, ...);
    /// empty for indicators and counts.
    pub unit: String,
}

/// The ordered feature definitions of a model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FeatureSet {
    pub defs: Vec<FeatureDef>,
}

impl FeatureSet {
    /// Build from manifest entries; `units` maps channel name to unit.
    /// Problems are reported at `model.toml:features[i].key`.
    pub fn from_specs(
        specs: &[FeatureSpec],
        units: &BTreeMap<String, String>,
        problems: &mut Problems,
    ) -> Self {
        let mut defs = Vec::new();
        let mut seen = BTreeMap::new();
        for (i, s) in specs.iter().enumerate() {
            let loc = |k: &str| format!("model.toml:features[{i}].{k}");
            if s.name.trim().is_empty() {
                problems.push(loc("name"), "feature name is empty");
            } else if let Some(j) = seen.insert(s.name.clone(), i) {
                problems.push(
                    loc("name"),
                    format!("duplicate feature name {:?} (also features[{j}])", s.name),
                );
            }
            if let Some(kind) = parse_kind(s, i, problems) {
                let unit = feature_unit(&kind, units);
                let label = s.label.clone().unwrap_or_else(|| s.name.clone());
                defs.push(FeatureDef {
                    name: s.name.clone(),
                    kind,
                    label,
                    unit,
                });
            }
        }
        Self { defs }
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
    pub fn names(&self) -> Vec<&str> {
        self.defs.iter().map(|d| d.name.as_str()).collect()
    }

    /// Longest window any feature reads, in hours: the retention the
    /// patient state must keep for these features to be exact.
    pub fn required_retention_hours(&self) -> f64 {
        self.defs
            .iter()
            .filter_map(|d| d.kind.window_hours())
            .fold(0.0, f64::max)
    }

    /// Feature values at `at` (None = missing), in definition order.
    pub fn compute(&self, state: &PatientState, at: Instant) -> Vec<Option<f64>> {
        self.defs
            .iter()
            .map(|d| compute_one(&d.kind, state, at))
            .collect()
    }
}

fn parse_kind(s: &FeatureSpec, i: usize, problems: &mut Problems) -> Option<FeatureKind> {
    let loc = |k: &str| format!("model.toml:features[{i}].{k}");
    let needs_channel = !matches!(s.kind.as_str(), "age" | "sex" | "hours_since_admission");
    let ch = if needs_channel {
        let c = s.channel.clone().filter(|c| !c.is_empty());
        if c.is_none() {
            problems.push(loc("channel"), format!("kind {:?} needs a channel", s.kind));
        }
        c
    } else {
        if s.channel.is_some() {
            problems.push(
                loc("channel"),
                format!("kind {:?} takes no channel", s.kind),
            );
        }
        None
    };
    let window = match s.window_hours {
        Some(w) if !(w.is_finite() && w > 0.0) => {
            problems.push(
                loc("window_hours"),
                format!("window must be a positive number of hours, got {w}"),
            );
            return None;
        }
        w => w,
    };
    let mut need_window = |w: Option<f64>| -> Option<f64> {
        if w.is_none() {
            problems.push(
                loc("window_hours"),
                format!("kind {:?} needs window_hours", s.kind),
            );
        }
        w
    };
    let kind = match s.kind.as_str() {
        "last" => FeatureKind::Last {
            channel: ch?,
            window_hours: window,
        },
        "mean" => FeatureKind::Mean {
            window_hours: need_window(window)?,
            channel: ch?,
        },
        "min" => FeatureKind::Min {
            window_hours: need_window(window)?,
            channel: ch?,
        },
        "max" => FeatureKind::Max {
            window_hours: need_window(window)?,
            channel: ch?,
        },
        "slope" => FeatureKind::Slope {
            window_hours: need_window(window)?,
            channel: ch?,
        },
        "count" => FeatureKind::Count {
            window_hours: need_window(window)?,
            channel: ch?,
        },
        "missing" => FeatureKind::Missing {
            window_hours: need_window(window)?,
            channel: ch?,
        },
        "hours_since_last" => FeatureKind::HoursSinceLast { channel: ch? },
        "age" => FeatureKind::Age,
        "sex" => FeatureKind::Sex,
        "hours_since_admission" => FeatureKind::HoursSinceAdmission,
        other => {
            problems.push(
                loc("kind"),
                format!(
                    "unknown feature kind {other:?} (expected last, mean, min, max, slope, \
                     count, hours_since_last, missing, age, sex, hours_since_admission)"
                ),
            );
            return None;
        }
    };
    Some(kind)
}

fn feature_unit(kind: &FeatureKind, units: &BTreeMap<String, String>) -> String {
    let u = |c: &str| units.get(c).cloned().unwrap_or_default();
    match kind {
        FeatureKind::Last { channel, .. }
        | FeatureKind::Mean { channel, .. }
        | FeatureKind::Min { channel, .. }
        | FeatureKind::Max { channel, .. } => u(channel),
        FeatureKind::Slope { channel, .. } => format!("{}/h", u(channel)),
        FeatureKind::HoursSinceLast { .. } | FeatureKind::HoursSinceAdmission => "h".into(),
        FeatureKind::Age => "years".into(),
        FeatureKind::Count { .. } | FeatureKind::Missing { .. } | FeatureKind::Sex => String::new(),
    }
}

fn hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0).round() as i64)
}

fn hours_between(a: Instant, b: Instant) -> f64 {
    (b - a).num_milliseconds() as f64 / 3_600_000.0
}

fn compute_one(kind: &FeatureKind, state: &PatientState, at: Instant) -> Option<f64> {
    let series = kind.channel().and_then(|c| state.channels.get(c));
    let window = |w: f64| series.into_iter().flat_map(move |s| s.window(at, hours(w)));
    match kind {
        FeatureKind::Last { window_hours, .. } => {
            let p = series?.last_at(at)?;
            match window_hours {
                Some(w) if p.t <= at - hours(*w) => None,
                _ => Some(p.v),
            }
        }
        FeatureKind::Mean { window_hours, .. } => {
            let (n, sum) = window(*window_hours).fold((0usize, 0.0), |(n, s), p| (n + 1, s + p.v));
            (n > 0).then(|| sum / n as f64)
        }
        FeatureKind::Min { window_hours, .. } => {
            window(*window_hours).map(|p| p.v).reduce(f64::min)
        }
        FeatureKind::Max { window_hours, .. } => {
            window(*window_hours).map(|p| p.v).reduce(f64::max)
        }
        FeatureKind::Slope { window_hours, .. } => {
            let pts: Vec<(f64, f64)> = window(*window_hours)
                .map(|p| (hours_between(at, p.t), p.v))
                .collect();
            slope(&pts)
        }
        FeatureKind::Count { window_hours, .. } => Some(window(*window_hours).count() as f64),
        FeatureKind::Missing { window_hours, .. } => {
            Some(if window(*window_hours).next().is_none() {
                1.0
            } else {
                0.0
            })
        }
        FeatureKind::HoursSinceLast { .. } => {
            let p = series?.last_at(at)?;
            Some(hours_between(p.t, at))
        }
        FeatureKind::Age => state.age_years(at),
        FeatureKind::Sex => match state.sex? {
            Sex::Male => Some(1.0),
            Sex::Female => Some(0.0),
            Sex::Other | Sex::Unknown => None,
        },
        FeatureKind::HoursSinceAdmission => {
            let start = state.encounter_at(at)?.start?;
            Some(hours_between(start, at))
        }
    }
}

/// Ordinary least-squares slope of v on t; None with fewer than two
/// distinct times.
fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mt = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let mv = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(t, v) in pts {
        sxy += (t - mt) * (v - mv);
        sxx += (t - mt) * (t - mt);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}
