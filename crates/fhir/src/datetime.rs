//! FHIR R4 `date`, `dateTime` and `instant` primitives.
//!
//! Partial dates (`2024`, `2024-05`, `2024-05-01`) are allowed where R4
//! allows them (`date`, `dateTime`); a time always carries seconds and a
//! time zone (`Z` or `±hh:mm`). A partial value's instant is the start of
//! the period it names, in UTC.

use bedside_core::Instant;
use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How precise a date/time value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    /// Full date and time with zone.
    Time,
}

/// Which primitive is being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    Date,
    DateTime,
    Instant,
}

impl DateKind {
    fn name(self) -> &'static str {
        match self {
            DateKind::Date => "date",
            DateKind::DateTime => "dateTime",
            DateKind::Instant => "instant",
        }
    }
}

/// A parsed FHIR date, dateTime or instant, keeping the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirDateTime {
    raw: String,
    start: Instant,
    precision: Precision,
}

impl FhirDateTime {
    /// Parse as the given primitive; the error says what is wrong.
    pub fn parse(s: &str, kind: DateKind) -> Result<Self, String> {
        let (start, precision) = parse_inner(s, kind)
            .ok_or_else(|| format!("{s:?} is not a valid FHIR {}", kind.name()))?;
        Ok(Self {
            raw: s.to_string(),
            start,
            precision,
        })
    }
    /// The start of the named period (the instant itself for full values).
    pub fn instant(&self) -> Instant {
        self.start
    }
    pub fn precision(&self) -> Precision {
        self.precision
    }
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The calendar date (UTC) of the start.
    pub fn date(&self) -> NaiveDate {
        self.start.date_naive()
    }
    /// An instant as FHIR text (`2024-01-01T10:00:00Z`, sub-seconds kept).
    pub fn from_instant(t: Instant) -> Self {
        Self {
            raw: format_instant(t),
            start: t,
            precision: Precision::Time,
        }
    }
}

impl fmt::Display for FhirDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Format an instant as FHIR `instant` text.
pub fn format_instant(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u32 = 0;
    for d in b {
        v = v * 10 + u32::from(d - b'0');
    }
    Some(v)
}

fn parse_inner(s: &str, kind: DateKind) -> Option<(Instant, Precision)> {
    let b = s.as_bytes();
    if b.len() < 4 {
        return None;
    }
    let year = digits(&b[0..4])? as i32;
    if year == 0 {
        return None;
    }
    let rest = &b[4..];
    if rest.is_empty() {
        if kind == DateKind::Instant {
            return None;
        }
        let d = NaiveDate::from_ymd_opt(year, 1, 1)?;
        return Some((
            Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)),
            Precision::Year,
        ));
    }
    if rest.len() < 3 || rest[0] != b'-' {
        return None;
    }
    let month = digits(&rest[1..3])?;
    let rest = &rest[3..];
    if rest.is_empty() {
        if kind == DateKind::Instant {
            return None;
        }
        let d = NaiveDate::from_ymd_opt(year, month, 1)?;
        return Some((
            Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)),
            Precision::Month,
        ));
    }
    if rest.len() < 3 || rest[0] != b'-' {
        return None;
    }
    let day = digits(&rest[1..3])?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let rest = &rest[3..];
    if rest.is_empty() {
        if kind == DateKind::Instant {
            return None;
        }
        return Some((
            Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)),
            Precision::Day,
        ));
    }
    if kind == DateKind::Date || rest[0] != b'T' || rest.len() < 9 {
        return None;
    }
    // THH:MM:SS
    if rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let hh = digits(&rest[1..3])?;
    let mm = digits(&rest[4..6])?;
    let mut ss = digits(&rest[7..9])?;
    let mut rest = &rest[9..];
    let mut nanos: u32 = 0;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let frac = &rest[1..1 + n];
        let mut v: u64 = 0;
        for (i, d) in frac.iter().enumerate() {
            if i < 9 {
                v = v * 10 + u64::from(d - b'0');
            }
        }
        for _ in n.min(9)..9 {
            v *= 10;
        }
        nanos = v as u32;
        rest = &rest[1 + n..];
    }
    if ss == 60 {
        // Leap second: chrono represents it as 59 s + 1e9 ns.
        ss = 59;
        nanos = nanos.saturating_add(1_000_000_000);
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hh, mm, ss, nanos)?;
    let offset_secs: i32 = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])? as i32;
            let om = digits(&[*m1, *m2])? as i32;
            if oh > 14 || om > 59 || (oh == 14 && om != 0) {
                return None;
            }
            let v = oh * 3600 + om * 60;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let off = FixedOffset::east_opt(offset_secs)?;
    let local = date.and_time(time);
    let t = off.from_local_datetime(&local).single()?;
    Some((t.with_timezone(&Utc), Precision::Time))
}

macro_rules! date_newtype {
    ($name:ident, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub FhirDateTime);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, String> {
                FhirDateTime::parse(s, $kind).map(Self)
            }
            pub fn instant(&self) -> Instant {
                self.0.instant()
            }
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.as_str())
            }
        }
    };
}

date_newtype!(Date, DateKind::Date, "A FHIR `date` (partial allowed).");
date_newtype!(
    DateTime,
    DateKind::DateTime,
    "A FHIR `dateTime` (partial allowed)."
);
date_newtype!(
    FhirInstant,
    DateKind::Instant,
    "A FHIR `instant` (full precision)."
);

impl FhirInstant {
    pub fn from_instant(t: Instant) -> Self {
        Self(FhirDateTime::from_instant(t))
    }
}
impl DateTime {
    pub fn from_instant(t: Instant) -> Self {
        Self(FhirDateTime::from_instant(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_r4_allows() {
        for s in [
            "2024",
            "2024-02",
            "2024-02-29",
            "2024-02-29T10:00:00Z",
            "2024-02-29T10:00:00.123456Z",
            "2024-02-29T10:00:00+05:30",
            "2024-02-29T10:00:00-14:00",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(FhirDateTime::parse(s, DateKind::DateTime).is_ok(), "{s}");
        }
        let t = FhirDateTime::parse("2024-01-01T10:00:00+02:00", DateKind::DateTime).unwrap();
        assert_eq!(format_instant(t.instant()), "2024-01-01T08:00:00Z");
        let d = FhirDateTime::parse("2024-05", DateKind::Date).unwrap();
        assert_eq!(d.precision(), Precision::Month);
        assert_eq!(format_instant(d.instant()), "2024-05-01T00:00:00Z");
    }

    #[test]
    fn rejects_what_r4_forbids() {
        for s in [
            "",
            "24",
            "2024-13",
            "2023-02-29",
            "2024-01-01T10:00Z",
            "2024-01-01T10:00:00",
            "2024-01-01 10:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:00:00.Z",
            "2024-01-01T10:00:00+15:00",
            "0000-01-01",
            "2024-1-01",
            "yesterday",
        ] {
            assert!(FhirDateTime::parse(s, DateKind::DateTime).is_err(), "{s}");
        }
        assert!(FhirDateTime::parse("2024-01-01", DateKind::Instant).is_err());
        assert!(FhirDateTime::parse("2024-01-01T10:00:00Z", DateKind::Date).is_err());
    }
}
