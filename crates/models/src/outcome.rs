//! Outcome labelling: does a scoring time count as a positive?
//!
//! The rule is declared in `model.toml [outcome]` so training labels and
//! `bedside evaluate` labels come from one definition. An event is a coded
//! FHIR element with a time ([`OutcomeElement`]): a Condition's code (time:
//! onset or recorded, per `time_basis`, falling back to the other when
//! absent; ended by its abatement), an Encounter's discharge disposition
//! (time: the Encounter's `period.end`) or the class of an Encounter
//! `classHistory` entry (time: the entry's `period.start`). An event
//! matches when it is of a declared element and its code has one of the
//! declared prefixes in the declared system. A scoring time `at` is
//! positive when a matching event's time is `<= at + horizon_hours` and,
//! if `lookback_hours` is set, `>= at - lookback_hours`; an event abated
//! before `at` does not count.
//!
//! [`condition_events`] and [`encounter_events`] read the events from the
//! resources' JSON.

use crate::spec::{OutcomeElement, OutcomeSpec};
use bedside_core::Instant;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The parts of a coded FHIR element that labelling needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvent {
    #[serde(default)]
    pub element: OutcomeElement,
    pub system: String,
    pub code: String,
    pub onset: Option<Instant>,
    pub recorded: Option<Instant>,
    pub abatement: Option<Instant>,
}

/// A FHIR dateTime / instant with a time zone (a date-only value is the
/// start of that day, UTC).
fn parse_time(s: &str) -> Option<Instant> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn codings(concept: &Value) -> impl Iterator<Item = (&str, &str)> {
    concept["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["system"].as_str()?, c["code"].as_str()?)))
}

/// Outcome events (codes with times) of a Condition's JSON.
pub fn condition_events(condition: &Value) -> Vec<OutcomeEvent> {
    let t = |v: &Value| v.as_str().and_then(parse_time);
    let onset = t(&condition["onsetDateTime"]).or_else(|| t(&condition["onsetPeriod"]["start"]));
    let recorded = t(&condition["recordedDate"]);
    let abatement = t(&condition["abatementDateTime"]);
    codings(&condition["code"])
        .map(|(system, code)| OutcomeEvent {
            element: OutcomeElement::ConditionCode,
            system: system.to_string(),
            code: code.to_string(),
            onset,
            recorded,
            abatement,
        })
        .collect()
}

/// Outcome events of an Encounter's JSON: its discharge disposition at
/// `period.end` (none while the encounter has no end) and each
/// `classHistory` entry's class at the entry's `period.start`.
pub fn encounter_events(encounter: &Value) -> Vec<OutcomeEvent> {
    let t = |v: &Value| v.as_str().and_then(parse_time);
    let event = |element, (system, code): (&str, &str), at| OutcomeEvent {
        element,
        system: system.to_string(),
        code: code.to_string(),
        onset: at,
        recorded: None,
        abatement: None,
    };
    let mut out = Vec::new();
    if let Some(end) = t(&encounter["period"]["end"]) {
        out.extend(
            codings(&encounter["hospitalization"]["dischargeDisposition"])
                .map(|c| event(OutcomeElement::DischargeDisposition, c, Some(end))),
        );
    }
    for entry in encounter["classHistory"].as_array().into_iter().flatten() {
        let Some(start) = t(&entry["period"]["start"]) else {
            continue;
        };
        // `class` is a Coding (not a CodeableConcept) in R4.
        let c = &entry["class"];
        if let (Some(system), Some(code)) = (c["system"].as_str(), c["code"].as_str()) {
            out.push(event(
                OutcomeElement::ClassHistory,
                (system, code),
                Some(start),
            ));
        }
    }
    out
}

fn hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0).round() as i64)
}

impl OutcomeSpec {
    /// Does a Condition code belong to the outcome definition?
    pub fn matches(&self, system: &str, code: &str) -> bool {
        self.matches_in(OutcomeElement::ConditionCode, system, code)
    }

    /// Does a code of this element belong to the outcome definition?
    pub fn matches_in(&self, element: OutcomeElement, system: &str, code: &str) -> bool {
        self.codes.iter().any(|c| {
            c.element == element
                && c.system == system
                && c.prefixes.iter().any(|p| code.starts_with(p.as_str()))
        })
    }

    /// Does an event belong to the outcome definition?
    pub fn matches_event(&self, e: &OutcomeEvent) -> bool {
        self.matches_in(e.element, &e.system, &e.code)
    }

    /// Does the definition read Encounters (not only Conditions)?
    pub fn reads_encounters(&self) -> bool {
        self.codes.iter().any(|c| c.element.on_encounter())
    }

    /// The earliest time of a matching event, if any.
    pub fn first_event_time(&self, events: &[OutcomeEvent]) -> Option<Instant> {
        events
            .iter()
            .filter(|e| self.matches_event(e))
            .filter_map(|e| self.event_time(e))
            .min()
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
            if !self.matches_event(e) || e.abatement.is_some_and(|a| a < at) {
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
                element: OutcomeElement::ConditionCode,
                system: "http://hl7.org/fhir/sid/icd-10-cm".into(),
                prefixes: vec!["A41".into(), "R65.2".into()],
            }],
        }
    }

    fn ev(code: &str, onset: i64, abated: Option<i64>) -> OutcomeEvent {
        OutcomeEvent {
            element: OutcomeElement::ConditionCode,
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

    const DISPOSITION: &str = "http://terminology.hl7.org/CodeSystem/discharge-disposition";
    const ACT: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

    /// Death or ICU transfer within 24 h, future events only.
    fn deterioration() -> OutcomeSpec {
        let set = |element, system: &str, code: &str| CodeSetSpec {
            element,
            system: system.into(),
            prefixes: vec![code.into()],
        };
        OutcomeSpec {
            description: "death or ICU transfer".into(),
            time_basis: "onset".into(),
            lookback_hours: Some(0.0),
            horizon_hours: 24.0,
            detection_window_hours: None,
            codes: vec![
                set(OutcomeElement::DischargeDisposition, DISPOSITION, "exp"),
                set(OutcomeElement::ClassHistory, ACT, "ACUTE"),
            ],
        }
    }

    fn encounter(disposition: &str, end: Option<&str>, icu_at: Option<&str>) -> Value {
        let mut history = vec![serde_json::json!({
            "class": {"system": ACT, "code": "IMP"},
            "period": {"start": "2024-05-01T00:00:00Z"}
        })];
        if let Some(at) = icu_at {
            history.push(serde_json::json!({
                "class": {"system": ACT, "code": "ACUTE", "display": "ICU"},
                "period": {"start": at}
            }));
        }
        let mut period = serde_json::json!({"start": "2024-05-01T00:00:00Z"});
        if let Some(end) = end {
            period["end"] = end.into();
        }
        serde_json::json!({
            "resourceType": "Encounter",
            "class": {"system": ACT, "code": "IMP"},
            "period": period,
            "classHistory": history,
            "hospitalization": {"dischargeDisposition": {"coding": [
                {"system": DISPOSITION, "code": disposition}
            ]}}
        })
    }

    #[test]
    fn death_is_the_disposition_at_the_encounter_end() {
        let s = deterioration();
        let e = encounter_events(&encounter("exp", Some("2024-05-03T00:00:00Z"), None));
        assert_eq!(s.first_event_time(&e), Some(t(48)));
        assert!(!s.label(&e, t(23)), "25 h before death");
        assert!(s.label(&e, t(24)) && s.label(&e, t(47)));
        assert!(!s.label(&e, t(49)), "after the event (lookback 0)");
        // Discharged home: no positive row, whatever the time.
        let home = encounter_events(&encounter("home", Some("2024-05-03T00:00:00Z"), None));
        assert!((0..60).all(|h| !s.label(&home, t(h))));
        // No end yet: the disposition has no time and is not an event.
        let open = encounter_events(&encounter("exp", None, None));
        assert_eq!(s.first_event_time(&open), None);
    }

    #[test]
    fn icu_transfer_is_a_class_history_entry() {
        let s = deterioration();
        let e = encounter_events(&encounter(
            "home",
            Some("2024-05-06T00:00:00Z"),
            Some("2024-05-03T00:00:00Z"),
        ));
        assert_eq!(s.first_event_time(&e), Some(t(48)));
        assert!(s.label(&e, t(30)) && !s.label(&e, t(20)));
        // The ward entry (IMP, at admission) is not an outcome.
        assert!(!s.label(&e, t(-10)));
        // A Condition coded ACUTE in the same system is not a classHistory entry.
        let cond = condition_events(&serde_json::json!({
            "code": {"coding": [{"system": ACT, "code": "ACUTE"}]},
            "onsetDateTime": "2024-05-01T10:00:00Z"
        }));
        assert_eq!(cond.len(), 1);
        assert!(!s.label(&cond, t(0)));
        // And the Condition definition does not read Encounter elements.
        assert!(!spec(None).reads_encounters() && s.reads_encounters());
        assert!(!spec(None).label(&e, t(40)));
    }

    #[test]
    fn condition_times_from_json() {
        let c = condition_events(&serde_json::json!({
            "code": {"coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "A41.9"},
                {"code": "no-system"}
            ]},
            "onsetPeriod": {"start": "2024-05-01T10:00:00Z"},
            "recordedDate": "2024-05-02",
            "abatementDateTime": "2024-05-04T00:00:00+02:00"
        }));
        assert_eq!(c.len(), 1, "a coding without a system is skipped");
        assert_eq!(c[0].onset, Some(t(10)));
        assert_eq!(c[0].recorded, Some(t(24)));
        assert_eq!(c[0].abatement, Some(t(70)));
        assert!(spec(None).label(&c, t(0)));
    }

    #[test]
    fn element_names_parse_and_unknown_ones_are_refused() {
        let ok: CodeSetSpec = toml::from_str(
            "element = \"Encounter.classHistory.class\"\nsystem = \"s\"\nprefixes = [\"ACUTE\"]",
        )
        .unwrap();
        assert_eq!(ok.element, OutcomeElement::ClassHistory);
        let default: CodeSetSpec = toml::from_str("system = \"s\"\nprefixes = [\"A\"]").unwrap();
        assert_eq!(default.element, OutcomeElement::ConditionCode);
        let err = toml::from_str::<CodeSetSpec>(
            "element = \"Encounter.location\"\nsystem = \"s\"\nprefixes = [\"A\"]",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Encounter.location") && err.contains("Encounter.classHistory.class"),
            "{err}"
        );
    }
}
