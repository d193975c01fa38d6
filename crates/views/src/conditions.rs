//! What the read side takes from stored FHIR resources that are not
//! Bedside's own: outcome events from Conditions, FHIR times.

use crate::{ViewError, Views};
use bedside_core::Instant;
use bedside_models::OutcomeEvent;

/// FHIR dateTime/instant/date to an instant (dates at midnight UTC).
pub fn parse_time(s: &str) -> Option<Instant> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let d = match s.len() {
        4 => chrono::NaiveDate::parse_from_str(&format!("{s}-01-01"), "%Y-%m-%d").ok()?,
        7 => chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()?,
        _ => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?,
    };
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Outcome events (codes with times) from a stored Condition.
pub fn outcome_events(condition: &serde_json::Value) -> Vec<OutcomeEvent> {
    bedside_models::outcome::condition_events(condition)
}

impl Views {
    /// Outcome events of a patient, from the stored Conditions.
    pub async fn patient_outcome_events(
        &self,
        patient_id: &str,
    ) -> Result<Vec<OutcomeEvent>, ViewError> {
        let encounters = self
            .models
            .iter()
            .any(|m| m.package.spec.outcome.reads_encounters());
        self.patient_outcome_events_with(patient_id, encounters)
            .await
    }

    /// A patient's outcome events from the stored Conditions, and from the
    /// stored Encounters (discharge disposition, `classHistory`) when
    /// `encounters`.
    pub async fn patient_outcome_events_with(
        &self,
        patient_id: &str,
        encounters: bool,
    ) -> Result<Vec<OutcomeEvent>, ViewError> {
        let mut events = Vec::new();
        for r in self
            .store
            .resources_for_patient("Condition", patient_id)
            .await?
        {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.body) {
                events.extend(outcome_events(&v));
            }
        }
        if encounters {
            for r in self
                .store
                .resources_for_patient("Encounter", patient_id)
                .await?
            {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.body) {
                    events.extend(bedside_models::outcome::encounter_events(&v));
                }
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_times_and_partial_dates() {
        let t = parse_time("2024-05-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-05-01T08:00:00+00:00");
        assert_eq!(
            parse_time("2024").unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2024-05").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(parse_time("May 2024").is_none());
    }

    #[test]
    fn a_condition_gives_one_event_per_coding() {
        let c = serde_json::json!({"onsetPeriod": {"start": "2024-05-01"},
            "code": {"coding": [{"system": "s", "code": "a"}, {"code": "no system"}]}});
        let e = outcome_events(&c);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, "a");
        assert_eq!(e[0].onset, parse_time("2024-05-01"));
    }
}
