//! NEWS2 (Royal College of Physicians, 2017; SpO2 scale 1), the early
//! warning score wards already run, as a baseline for evaluating a
//! deterioration model on the same rows (`bedside evaluate`).
//!
//! It reads the ingest channels by their standard names (see
//! `config/channels.toml`): `resp_rate`, `spo2`, `o2_flow` / `fio2`
//! (supplemental oxygen), `temperature`, `sbp`, `heart_rate`, and `avpu`
//! (0 alert, higher = new confusion, voice, pain, unresponsive) or else
//! `gcs` (< 15 scores as not alert). Each parameter is the newest value at
//! or before the scoring time within [`WINDOW_HOURS`]; a parameter with no
//! such value scores 0 and is listed in [`News2::missing`] (oxygen with no
//! flow or FiO2 charted counts as air). Values are rounded to the charted
//! precision before banding (whole numbers; temperature to 0.1 °C).

use bedside_core::{Instant, PatientState};
use chrono::Duration;

/// How old a charted value may be and still count.
pub const WINDOW_HOURS: i64 = 12;

/// The score of one scoring time.
#[derive(Debug, Clone, PartialEq)]
pub struct News2 {
    pub total: u32,
    /// Parameters with no value in the window (scored 0).
    pub missing: Vec<&'static str>,
}

fn last(state: &PatientState, channel: &str, at: Instant) -> Option<f64> {
    let p = state.channels.get(channel)?.last_at(at)?;
    (p.t > at - Duration::hours(WINDOW_HOURS)).then_some(p.v)
}

fn respiration(rr: f64) -> u32 {
    match rr.round() as i64 {
        ..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    }
}

fn spo2_scale1(s: f64) -> u32 {
    match s.round() as i64 {
        ..=91 => 3,
        92..=93 => 2,
        94..=95 => 1,
        _ => 0,
    }
}

fn systolic(sbp: f64) -> u32 {
    match sbp.round() as i64 {
        ..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    }
}

fn pulse(hr: f64) -> u32 {
    match hr.round() as i64 {
        ..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    }
}

fn temperature(t: f64) -> u32 {
    // Tenths of a degree, so the bands' edges (35.0, 36.0, 38.0, 39.0) are exact.
    match (t * 10.0).round() as i64 {
        ..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    }
}

/// NEWS2 at `at`; `None` when no parameter has a value in the window.
pub fn score(state: &PatientState, at: Instant) -> Option<News2> {
    let mut total = 0;
    let mut missing = Vec::new();
    let mut any = false;
    let mut part = |name: &'static str, value: Option<f64>, band: fn(f64) -> u32| match value {
        Some(v) if v.is_finite() => {
            any = true;
            total += band(v);
        }
        _ => missing.push(name),
    };
    part(
        "respiration_rate",
        last(state, "resp_rate", at),
        respiration,
    );
    part("spo2", last(state, "spo2", at), spo2_scale1);
    part("systolic_bp", last(state, "sbp", at), systolic);
    part("pulse", last(state, "heart_rate", at), pulse);
    part("temperature", last(state, "temperature", at), temperature);
    let conscious = last(state, "avpu", at)
        .map(|a| if a > 0.0 { 3.0 } else { 0.0 })
        .or_else(|| last(state, "gcs", at).map(|g| if g < 15.0 { 3.0 } else { 0.0 }));
    part("consciousness", conscious, |v| v as u32);
    let flow = last(state, "o2_flow", at);
    let fio2 = last(state, "fio2", at);
    let oxygen = match (flow, fio2) {
        (None, None) => None,
        (f, x) => Some(f.is_some_and(|f| f > 0.0) || x.is_some_and(|x| x > 21.5)),
    };
    match oxygen {
        Some(o2) => {
            any = true;
            total += if o2 { 2 } else { 0 };
        }
        None => missing.push("supplemental_oxygen"),
    }
    any.then_some(News2 { total, missing })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_core::Point;
    use chrono::TimeZone;

    fn t(h: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn state(values: &[(&str, i64, f64)]) -> PatientState {
        let mut s = PatientState::new("p1");
        for (i, (ch, h, v)) in values.iter().enumerate() {
            let p = Point {
                t: t(*h),
                v: *v,
                source: format!("Observation/{i}"),
            };
            s.observe(ch, p, Duration::days(30));
        }
        s
    }

    #[test]
    fn normal_observations_score_zero() {
        let s = state(&[
            ("resp_rate", 0, 16.0),
            ("spo2", 0, 97.0),
            ("o2_flow", 0, 0.0),
            ("temperature", 0, 37.0),
            ("sbp", 0, 120.0),
            ("heart_rate", 0, 70.0),
            ("avpu", 0, 0.0),
        ]);
        assert_eq!(
            score(&s, t(1)),
            Some(News2 {
                total: 0,
                missing: vec![]
            })
        );
    }

    #[test]
    fn each_band_edge() {
        // RCP chart, scale 1: 3 + 2 + 2 (oxygen) + 3 + 1 + 3 (confusion) + 1.
        let s = state(&[
            ("resp_rate", 0, 8.0),
            ("spo2", 0, 93.0),
            ("o2_flow", 0, 2.0),
            ("sbp", 0, 90.0),
            ("heart_rate", 0, 91.0),
            ("avpu", 0, 1.0),
            ("temperature", 0, 39.0),
        ]);
        assert_eq!(score(&s, t(0)).unwrap().total, 15);
        assert_eq!(temperature(35.0), 3);
        assert_eq!(temperature(35.1), 1);
        assert_eq!(temperature(38.1), 1);
        assert_eq!(temperature(39.1), 2);
        assert_eq!(
            (respiration(9.0), respiration(21.0), respiration(25.0)),
            (1, 2, 3)
        );
        assert_eq!((spo2_scale1(95.4), spo2_scale1(95.6)), (1, 0));
        assert_eq!(
            (systolic(110.0), systolic(111.0), systolic(220.0)),
            (1, 0, 3)
        );
        assert_eq!((pulse(40.0), pulse(50.0), pulse(131.0)), (3, 1, 3));
    }

    #[test]
    fn old_and_absent_values_are_missing() {
        let s = state(&[
            ("resp_rate", 0, 26.0),
            ("heart_rate", 0, 140.0),
            ("gcs", 10, 13.0),
        ]);
        let n = score(&s, t(12)).unwrap();
        // The 12-hour-old values no longer count; GCS 13 is not alert.
        assert_eq!(n.total, 3);
        assert!(n.missing.contains(&"respiration_rate") && n.missing.contains(&"pulse"));
        assert!(n.missing.contains(&"supplemental_oxygen"));
        assert_eq!(score(&s, t(11)).unwrap().total, 9);
        assert_eq!(score(&state(&[]), t(0)), None);
        // A value charted after the scoring time is not read.
        assert_eq!(score(&s, t(-1)), None);
    }
}
