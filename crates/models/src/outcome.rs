//! Outcome labelling: does a scoring time count as a positive?
//!
//! The rule is declared in `model.toml [outcome]` so training labels and
//! `bedside evaluate` labels come from one definition. A condition matches
//! when its code has one of the declared prefixes in the declared system.
//! A scoring time `at` is positive when a matching condition's time (onset
//! or recorded, per `time_basis`, falling back to the other when absent) is
//! `<= at + horizon_hours` and, if `lookback_hours` is set, `>= at -
//! lookback_hours`; a condition abated before `at` does not count.

use crate::spec::OutcomeSpec;
use bedside_core::Instant;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// The parts of a FHIR Condition that labelling needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvent {
    pub system: String,
    pub code: String,
    pub onset: Option<Instant>,
    pub recorded: Option<Instant>,
    pub abatement: Option<Instant>,
}

fn hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0).round() as i64)
}

impl OutcomeSpec {
    /// Does a code belong to the outcome definition?
    pub fn matches(&self, system: &str, code: &str) -> bool {
        self.codes
            .iter()
            .any(|c| c.system == system && c.prefixes.iter().any(|p| code.starts_with(p.as_str())))
    }

    /// The time of an event under this definition's time basis.
    pub fn event_time(&self, e: &OutcomeEvent) -> Option<Instant> {
        if self.time_basis == "recorded" {
            e.recorded.or(e.onset)
        } else {
            e.onset.or(e.recorded)
        }
    }

    /// Label for a scoring time: true when any matching event falls in the
    /// outcome window of `at` (see the module doc).
    pub fn label(&self, events: &[OutcomeEvent], at: Instant) -> bool {
        events.iter().any(|e| {
            if !self.matches(&e.system, &e.code) || e.abatement.is_some_and(|a| a < at) {
                return false;
            }
            let Some(t) = self.event_time(e) else {
                return false;
            };
            t <= at + hours(self.horizon_hours)
                && self.lookback_hours.is_none_or(|lb| t >= at - hours(lb))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::CodeSetSpec;
    use chrono::TimeZone;

    fn t(h: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn spec(lookback: Option<f64>) -> OutcomeSpec {
        OutcomeSpec {
            description: "sepsis".into(),
            time_basis: "onset".into(),
            lookback_hours: lookback,
            horizon_hours: 24.0,
            detection_window_hours: None,
            codes: vec![CodeSetSpec {
                system: "http://hl7.org/fhir/sid/icd-10-cm".into(),
                prefixes: vec!["A41".into(), "R65.2".into()],
            }],
        }
    }

    fn ev(code: &str, onset: i64, abated: Option<i64>) -> OutcomeEvent {
        OutcomeEvent {
            system: "http://hl7.org/fhir/sid/icd-10-cm".into(),
            code: code.into(),
            onset: Some(t(onset)),
            recorded: Some(t(onset + 1)),
            abatement: abated.map(t),
        }
    }

    #[test]
    fn window_prefix_and_abatement() {
        let s = spec(None);
        assert!(s.matches("http://hl7.org/fhir/sid/icd-10-cm", "R65.21"));
        assert!(!s.matches("http://snomed.info/sct", "A41.9"));
        assert!(!s.matches("http://hl7.org/fhir/sid/icd-10-cm", "J18.9"));
        let e = [ev("A41.9", 10, Some(100))];
        assert!(!s.label(&e, t(-15)), "more than 24 h before onset");
        assert!(s.label(&e, t(-14)), "exactly 24 h before onset");
        assert!(s.label(&e, t(50)), "prevalent, not abated");
        assert!(!s.label(&e, t(101)), "abated");
        let s6 = spec(Some(6.0));
        assert!(
            s6.label(&e, t(16)) && !s6.label(&e, t(17)),
            "lookback bounds prevalence"
        );
        assert!(!s.label(&[ev("J18.9", 10, None)], t(10)));
        let rec = OutcomeSpec {
            time_basis: "recorded".into(),
            ..spec(Some(0.0))
        };
        assert!(
            !rec.label(&e, t(10) + Duration::minutes(90)),
            "recorded at 11h, lookback 0"
        );
        assert!(rec.label(&e, t(11)));
    }
}
