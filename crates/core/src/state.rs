//! Per-patient input state, updated one event at a time.
//!
//! Each named input channel (e.g. `heart_rate`, `lactate`) keeps the points
//! inside a retention window ending at its newest point, plus the newest
//! point itself. A point from a resource not seen before costs O(1) when it
//! is the newest (the usual case) and O(log n) when late, with n bounded by
//! the retention window, so an event at hour 200 of a stay costs the same
//! as one at hour 10. Late and out-of-order points are inserted in time
//! order; a corrected version of a point (same source key) replaces it
//! (finding it scans the window, which only newer versions pay).

use crate::Instant;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Administrative sex as FHIR `Patient.gender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

/// One value of a channel at one time, with the key of the resource that
/// carried it (`Type/id`), so a corrected version can replace it.
///
/// Serialized as `[seconds, nanoseconds, v, source]` (the stored state
/// holds thousands of points; integers encode and decode several times
/// faster than RFC 3339 text); the older `{"t", "v", "source"}` object is
/// still read.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub t: Instant,
    pub v: f64,
    pub source: String,
}

impl Serialize for Point {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(4)?;
        t.serialize_element(&self.t.timestamp())?;
        t.serialize_element(&self.t.timestamp_subsec_nanos())?;
        t.serialize_element(&self.v)?;
        t.serialize_element(&self.source)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Point;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a point: [seconds, nanoseconds, value, source]")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Point, A::Error> {
                use serde::de::Error;
                let missing = |i| A::Error::invalid_length(i, &self);
                let secs: i64 = a.next_element()?.ok_or_else(|| missing(0))?;
                let nanos: u32 = a.next_element()?.ok_or_else(|| missing(1))?;
                let v: f64 = a.next_element()?.ok_or_else(|| missing(2))?;
                let source: String = a.next_element()?.ok_or_else(|| missing(3))?;
                let t = chrono::DateTime::from_timestamp(secs, nanos).ok_or_else(|| {
                    A::Error::custom(format!("point time {secs}.{nanos} out of range"))
                })?;
                Ok(Point { t, v, source })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<Point, A::Error> {
                #[derive(Deserialize)]
                struct Old {
                    t: Instant,
                    v: f64,
                    source: String,
                }
                let o = Old::deserialize(serde::de::value::MapAccessDeserializer::new(a))?;
                Ok(Point {
                    t: o.t,
                    v: o.v,
                    source: o.source,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The recent history of one channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelSeries {
    /// Points sorted by time (ties by source), all within `retention` of the
    /// newest point.
    pub points: VecDeque<Point>,
    /// How many distinct points this channel has ever received.
    pub total: u64,
}

impl ChannelSeries {
    /// Insert or replace (by `source`) a point, then drop points older than
    /// `retention` before the newest one. Returns true if anything changed.
    ///
    /// Finding an older point of the same source scans the window; when
    /// the caller knows the source is new to this series (a resource never
    /// seen before), [`ChannelSeries::insert_new`] skips that scan.
    pub fn upsert(&mut self, p: Point, retention: Duration) -> bool {
        if let Some(i) = self.points.iter().position(|q| q.source == p.source) {
            if self.points[i] == p {
                return false;
            }
            self.points.remove(i);
            self.place(p, retention);
            return true;
        }
        self.insert_new(p, retention)
    }

    /// Insert a point whose `source` has no point in this series yet, then
    /// drop points older than `retention` before the newest one. Amortised
    /// O(log n) with n bounded by the retention window, and O(1) for the
    /// usual newest-last arrival, so it costs the same at hour 200 of a stay
    /// as at hour 10. (With a source already present, the series would hold
    /// it twice: use [`ChannelSeries::upsert`] then.) Returns true.
    pub fn insert_new(&mut self, p: Point, retention: Duration) -> bool {
        self.total += 1;
        if let Some(newest) = self.points.back() {
            if p.t < newest.t - retention {
                // Too old to matter for any window; count it only.
                return true;
            }
        }
        self.place(p, retention);
        true
    }

    /// Insert in (time, source) order and trim to the retention window.
    fn place(&mut self, p: Point, retention: Duration) {
        let newest_last = self
            .points
            .back()
            .is_none_or(|q| (q.t, q.source.as_str()) <= (p.t, p.source.as_str()));
        if newest_last {
            self.points.push_back(p);
        } else {
            let idx = self
                .points
                .partition_point(|q| (q.t, q.source.as_str()) <= (p.t, p.source.as_str()));
            self.points.insert(idx, p);
        }
        let newest = self.points.back().map(|q| q.t).expect("just inserted");
        while self
            .points
            .front()
            .is_some_and(|q| q.t < newest - retention)
        {
            self.points.pop_front();
        }
    }

    /// Points with `t` in `(at - window, at]`.
    pub fn window(&self, at: Instant, window: Duration) -> impl Iterator<Item = &Point> {
        let lo = self.points.partition_point(|q| q.t <= at - window);
        let hi = self.points.partition_point(|q| q.t <= at);
        self.points.range(lo..hi.max(lo))
    }

    /// The newest point at or before `at`.
    pub fn last_at(&self, at: Instant) -> Option<&Point> {
        let hi = self.points.partition_point(|q| q.t <= at);
        if hi == 0 {
            None
        } else {
            self.points.get(hi - 1)
        }
    }
}

/// What Bedside knows of the patient's current (or last) encounter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EncounterInfo {
    pub id: String,
    /// v3 ActCode class, e.g. `IMP` (inpatient), `EMER`.
    pub class: Option<String>,
    pub status: Option<String>,
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    /// `Location/...` references, newest last.
    pub locations: Vec<String>,
    /// `Practitioner/...` or `PractitionerRole/...` references with their
    /// participation type code (ATND, ADM, PPRF, ...).
    pub participants: Vec<(String, String)>,
}

/// Everything the models and the policy need to know about one patient,
/// kept incrementally. Serialized as one blob per patient in the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientState {
    pub patient_id: String,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    /// US Core race / ethnicity category display, when present.
    pub race: Option<String>,
    pub ethnicity: Option<String>,
    /// Numeric input channels by name.
    pub channels: BTreeMap<String, ChannelSeries>,
    /// Event channels by name (e.g. `antibiotic_ordered`,
    /// `blood_culture_ordered`, `lactate_ordered`, `comfort_care`): the times
    /// they happened, newest kept within retention, keyed by source.
    pub events: BTreeMap<String, ChannelSeries>,
    /// Encounters by id.
    pub encounters: BTreeMap<String, EncounterInfo>,
    /// Care team members (`Practitioner/...`) with their role code.
    pub care_team: Vec<(String, String)>,
    /// Newest event time seen for this patient.
    pub last_event: Option<Instant>,
}

impl PatientState {
    pub fn new(patient_id: impl Into<String>) -> Self {
        Self {
            patient_id: patient_id.into(),
            ..Default::default()
        }
    }

    /// Age in whole years at `at`, if the birth date is known.
    pub fn age_years(&self, at: Instant) -> Option<f64> {
        let b = self.birth_date?;
        let d = at.date_naive();
        let mut years = d.years_since(b)? as f64;
        if years < 0.0 {
            years = 0.0;
        }
        Some(years)
    }

    /// The encounter active at `at` (started at or before, not ended before),
    /// preferring the latest start.
    pub fn encounter_at(&self, at: Instant) -> Option<&EncounterInfo> {
        self.encounters
            .values()
            .filter(|e| e.start.is_some_and(|s| s <= at) && e.end.is_none_or(|end| end >= at))
            .max_by_key(|e| e.start)
    }

    fn touch(&mut self, t: Instant) {
        if self.last_event.is_none_or(|l| t > l) {
            self.last_event = Some(t);
        }
    }

    /// Record a numeric value on a channel (replacing the point of the
    /// same source, if any).
    pub fn observe(&mut self, channel: &str, p: Point, retention: Duration) -> bool {
        self.touch(p.t);
        series(&mut self.channels, channel).upsert(p, retention)
    }

    /// Record that an event of a kind happened (value 1.0 by convention).
    pub fn record_event(&mut self, kind: &str, p: Point, retention: Duration) -> bool {
        self.touch(p.t);
        series(&mut self.events, kind).upsert(p, retention)
    }

    /// [`PatientState::observe`] for a point whose source has no point on
    /// this channel yet (see [`ChannelSeries::insert_new`]).
    pub fn observe_new(&mut self, channel: &str, p: Point, retention: Duration) -> bool {
        self.touch(p.t);
        series(&mut self.channels, channel).insert_new(p, retention)
    }

    /// [`PatientState::record_event`] for a point whose source has no point
    /// on this event channel yet (see [`ChannelSeries::insert_new`]).
    pub fn record_event_new(&mut self, kind: &str, p: Point, retention: Duration) -> bool {
        self.touch(p.t);
        series(&mut self.events, kind).insert_new(p, retention)
    }

    /// Did an event of `kind` happen in `(at - window, at]`?
    pub fn event_within(&self, kind: &str, at: Instant, window: Duration) -> bool {
        self.events
            .get(kind)
            .is_some_and(|s| s.window(at, window).next().is_some())
    }
}

/// The series of a channel, created on first use (without allocating the
/// name when it exists).
fn series<'a>(map: &'a mut BTreeMap<String, ChannelSeries>, name: &str) -> &'a mut ChannelSeries {
    if !map.contains_key(name) {
        map.insert(name.to_string(), ChannelSeries::default());
    }
    map.get_mut(name).expect("just inserted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }
    fn p(h: i64, v: f64, s: &str) -> Point {
        Point {
            t: t(h),
            v,
            source: s.into(),
        }
    }

    #[test]
    fn out_of_order_points_are_sorted_and_windowed() {
        let mut c = ChannelSeries::default();
        let r = Duration::hours(48);
        assert!(c.upsert(p(5, 1.0, "a"), r));
        assert!(c.upsert(p(3, 2.0, "b"), r));
        assert!(c.upsert(p(4, 3.0, "c"), r));
        let ts: Vec<_> = c.points.iter().map(|q| q.v).collect();
        assert_eq!(ts, vec![2.0, 3.0, 1.0]);
        assert_eq!(c.last_at(t(4)).unwrap().v, 3.0);
        let w: Vec<_> = c.window(t(5), Duration::hours(2)).map(|q| q.v).collect();
        assert_eq!(w, vec![3.0, 1.0]);
        assert_eq!(c.total, 3);
    }

    #[test]
    fn same_point_twice_changes_nothing_and_correction_replaces() {
        let mut c = ChannelSeries::default();
        let r = Duration::hours(48);
        assert!(c.upsert(p(1, 1.0, "a"), r));
        assert!(!c.upsert(p(1, 1.0, "a"), r));
        assert!(c.upsert(p(1, 9.0, "a"), r));
        assert_eq!(c.points.len(), 1);
        assert_eq!(c.points[0].v, 9.0);
        assert_eq!(c.total, 1);
    }

    #[test]
    fn insert_new_orders_late_points_and_trims_like_upsert() {
        let r = Duration::hours(24);
        let (mut a, mut b) = (ChannelSeries::default(), ChannelSeries::default());
        for (i, h) in [5, 3, 30, 4, 29, 1, 60, 59].into_iter().enumerate() {
            let pt = p(h, h as f64, &format!("o{i}"));
            assert!(a.upsert(pt.clone(), r));
            assert!(b.insert_new(pt, r));
        }
        assert_eq!(a, b);
        let ts: Vec<_> = b.points.iter().map(|q| q.v).collect();
        assert_eq!(ts, vec![59.0, 60.0]);
        assert_eq!(b.total, 8);
    }

    #[test]
    fn points_round_trip_and_the_old_form_is_read() {
        let mut c = ChannelSeries::default();
        let r = Duration::hours(48);
        let mut late = p(2, -0.5, "Observation/x");
        late.t += Duration::nanoseconds(123_456_789);
        c.upsert(p(1, 1.25, "Observation/a\"b"), r);
        c.upsert(late, r);
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("[1704070800,0,1.25,"), "{text}");
        let back: ChannelSeries = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        let old = r#"{"points":[{"t":"2024-01-01T01:00:00Z","v":1.25,"source":"Observation/a"}],"total":1}"#;
        let back: ChannelSeries = serde_json::from_str(old).unwrap();
        assert_eq!(back.points[0], p(1, 1.25, "Observation/a"));
        assert!(serde_json::from_str::<Point>("[1, 2]").is_err());
        assert!(serde_json::from_str::<Point>(r#"[9223372036854775807, 0, 1.0, "x"]"#).is_err());
    }

    #[test]
    fn retention_bounds_the_series() {
        let mut c = ChannelSeries::default();
        let r = Duration::hours(24);
        for h in 0..500 {
            c.upsert(p(h, h as f64, &format!("o{h}")), r);
        }
        assert!(c.points.len() <= 25);
        assert_eq!(c.total, 500);
        assert_eq!(c.points.back().unwrap().v, 499.0);
    }
}
