//! ISO-8601 durations as BPMN timers write them (`PT15M`, `P1DT2H`, `P2W`).
//!
//! Years and months are rejected: their length depends on the calendar, and
//! an escalation deadline must be an exact span.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid ISO-8601 duration {text:?}: {reason}")]
pub struct DurationError {
    pub text: String,
    pub reason: String,
}

/// An exact, non-negative duration parsed from ISO-8601 text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IsoDuration {
    text: String,
    millis: i64,
}

impl IsoDuration {
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let t = text.trim();
        let fail = |reason: &str| DurationError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = t
            .strip_prefix('P')
            .ok_or_else(|| fail("must start with 'P' (e.g. PT15M)"))?;
        if rest.is_empty() {
            return Err(fail("no components after 'P'"));
        }
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) => {
                if t.is_empty() {
                    return Err(fail("no components after 'T'"));
                }
                (d, Some(t))
            }
            None => (rest, None),
        };
        let mut millis: f64 = 0.0;
        for (value, unit) in components(date).map_err(|r| fail(&r))? {
            millis += value
                * match unit {
                    'W' => 7.0 * 86_400_000.0,
                    'D' => 86_400_000.0,
                    'Y' | 'M' => {
                        return Err(fail(
                            "years and months have no fixed length; use days (PnD) or weeks",
                        ))
                    }
                    _ => return Err(fail(&format!("unknown date unit '{unit}'"))),
                };
        }
        for (value, unit) in components(time.unwrap_or("")).map_err(|r| fail(&r))? {
            millis += value
                * match unit {
                    'H' => 3_600_000.0,
                    'M' => 60_000.0,
                    'S' => 1000.0,
                    _ => return Err(fail(&format!("unknown time unit '{unit}'"))),
                };
        }
        // About 100 years: anything longer is a typo, and it keeps
        // `now + duration` far from chrono's range limits.
        if !(0.0..=3.2e12).contains(&millis) {
            return Err(fail("longer than 100 years"));
        }
        Ok(Self {
            text: t.to_string(),
            millis: millis.round() as i64,
        })
    }

    pub fn as_delta(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.millis)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `"1DT"`-free component list: `"2H30M"` -> `[(2, 'H'), (30, 'M')]`.
fn components(s: &str) -> Result<Vec<(f64, char)>, String> {
    let mut out = Vec::new();
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            num.push(if c == ',' { '.' } else { c });
        } else if c.is_ascii_uppercase() {
            if num.is_empty() {
                return Err(format!("unit '{c}' without a number"));
            }
            let v: f64 = num
                .parse()
                .map_err(|_| format!("bad number {num:?} before '{c}'"))?;
            if out.iter().any(|(_, u)| *u == c) {
                return Err(format!("unit '{c}' given twice"));
            }
            out.push((v, c));
            num.clear();
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    if !num.is_empty() {
        return Err(format!("number {num:?} without a unit"));
    }
    Ok(out)
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl TryFrom<String> for IsoDuration {
    type Error = DurationError;
    fn try_from(s: String) -> Result<Self, DurationError> {
        Self::parse(&s)
    }
}
impl From<IsoDuration> for String {
    fn from(d: IsoDuration) -> String {
        d.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mins(s: &str) -> i64 {
        IsoDuration::parse(s).unwrap().as_delta().num_minutes()
    }

    #[test]
    fn reads_common_timer_durations() {
        assert_eq!(mins("PT15M"), 15);
        assert_eq!(mins("PT1H30M"), 90);
        assert_eq!(mins("P1DT2H"), 26 * 60);
        assert_eq!(mins("P2W"), 2 * 7 * 24 * 60);
        assert_eq!(
            IsoDuration::parse("PT0.5S").unwrap().as_delta(),
            TimeDelta::milliseconds(500)
        );
    }

    #[test]
    fn rejects_calendar_units_and_malformed_text() {
        for bad in [
            "",
            "15M",
            "P",
            "PT",
            "P1M",
            "P1Y",
            "PT15",
            "PTM",
            "PT1H1H",
            "pt15m",
            "PT-5M",
            "P1000000D",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = IsoDuration::parse("P1M").unwrap_err();
        assert!(e.to_string().contains("P1M"));
    }
}
