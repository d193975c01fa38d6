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
    let t = |k: &str| condition[k].as_str().and_then(parse_time);
    let onset = t("onsetDateTime").or_else(|| {
        condition["onsetPeriod"]["start"]
            .as_str()
            .and_then(parse_time)
    });
    let recorded = t("recordedDate");
    let abatement = t("abatementDateTime");
    condition["code"]["coding"]
        .as_array()
        .map(|codings| {
            codings
                .iter()
                .filter_map(|c| {
                    Some(OutcomeEvent {
                        system: c["system"].as_str()?.to_string(),
                        code: c["code"].as_str()?.to_string(),
                        onset,
                        recorded,
                        abatement,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Views {
    /// Outcome events of a patient, from the stored Conditions.
    pub async fn patient_outcome_events(
        &self,
        patient_id: &str,
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
