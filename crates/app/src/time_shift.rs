//! Moving a recorded cohort to the present: every FHIR `dateTime` /
//! `instant` in a resource moves by the same offset, and every `date` by
//! the same number of whole days, so intervals, ages and the order of
//! events are kept. `bedside demo` replays its cohort shifted so that its
//! last events are now (cards, deadlines and the dashboard then look as
//! they would on a ward today); `--no-time-shift` keeps the recorded times.
//!
//! Written by hand: no FHIR crate rewrites every date of a resource in
//! place, and the rule is short (a string is a date when it parses as one
//! of the three R4 forms; partial dates `YYYY` / `YYYY-MM` are left, as
//! they cannot move by days without changing their precision).

use bedside_core::Instant;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat};
use serde_json::Value;

/// `s` moved by `offset` when it is an R4 `dateTime` with a time or an
/// `instant` (its own UTC offset and precision kept), or by
/// `offset`'s whole days when it is a full `date`; `None` otherwise.
pub fn shift_str(s: &str, offset: Duration) -> Option<String> {
    if s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T') {
        let t = DateTime::parse_from_rfc3339(s).ok()?;
        let moved = t + offset;
        let fraction = s[19..].starts_with('.');
        let utc = s.ends_with('Z');
        let text = moved.to_rfc3339_opts(
            if fraction {
                SecondsFormat::Millis
            } else {
                SecondsFormat::Secs
            },
            utc,
        );
        return Some(text);
    }
    if s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        let moved = d + Duration::days(offset.num_days());
        return Some(moved.format("%Y-%m-%d").to_string());
    }
    None
}

/// Elements that are never dates even when their text reads like one.
const NOT_DATES: [&str; 6] = ["id", "reference", "system", "code", "url", "value"];

/// Shift every date in `v` in place (see [`shift_str`]), leaving ids,
/// references, systems, codes, URLs and identifier values alone.
pub fn shift_value(v: &mut Value, offset: Duration) {
    match v {
        Value::String(s) => {
            if let Some(moved) = shift_str(s, offset) {
                *s = moved;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift_value(x, offset)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if !(NOT_DATES.contains(&k.as_str()) && x.is_string()) {
                    shift_value(x, offset);
                }
            }
        }
        _ => {}
    }
}

/// One NDJSON line shifted; a line that is not JSON is returned as it was
/// (ingest rejects it with its own reason).
pub fn shift_line(bytes: &[u8], offset: Duration) -> Vec<u8> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            shift_value(&mut v, offset);
            serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec())
        }
        Err(_) => bytes.to_vec(),
    }
}

/// The offset that moves `last` to `now`, in whole minutes (so shifted
/// times keep round values).
pub fn offset_to(last: Instant, now: Instant) -> Duration {
    Duration::minutes((now - last).num_minutes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_move_and_everything_else_stays() {
        let off = Duration::days(800) + Duration::hours(3);
        let mut v = json!({
            "resourceType": "Observation",
            "id": "2024-01-01",
            "status": "final",
            "effectiveDateTime": "2024-03-01T10:00:00Z",
            "issued": "2024-03-01T10:05:00.250+01:00",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"},
            "valueQuantity": {"value": 88, "unit": "/min"},
            "extension": [{"valueDate": "2024-02-29"}, {"valueDate": "2024-02"}]
        });
        shift_value(&mut v, off);
        assert_eq!(v["effectiveDateTime"], "2026-05-10T13:00:00Z");
        assert_eq!(v["issued"], "2026-05-10T13:05:00.250+01:00");
        assert_eq!(v["extension"][0]["valueDate"], "2026-05-09");
        assert_eq!(
            v["extension"][1]["valueDate"], "2024-02",
            "partial date kept"
        );
        assert_eq!(v["code"]["coding"][0]["code"], "8867-4");
        assert_eq!(v["valueQuantity"]["value"], 88);
        assert_eq!(v["id"], "2024-01-01", "an id is never a date");
    }

    #[test]
    fn intervals_are_kept() {
        let off = Duration::minutes(1_234_567);
        let a = shift_str("2024-03-01T10:00:00Z", off).unwrap();
        let b = shift_str("2024-03-02T11:30:00Z", off).unwrap();
        let a: DateTime<chrono::Utc> = a.parse().unwrap();
        let b: DateTime<chrono::Utc> = b.parse().unwrap();
        assert_eq!(b - a, Duration::minutes(25 * 60 + 30));
        assert_eq!(shift_str("not a date", off), None);
        assert_eq!(shift_str("2024-13-01", off), None);
    }

    #[test]
    fn a_line_that_is_not_json_is_kept() {
        assert_eq!(shift_line(b"{oops", Duration::days(1)), b"{oops".to_vec());
    }
}
