//! Small formatting helpers shared by pages and charts.

use chrono::{DateTime, Utc};

/// A number with `decimals` places; non-finite values print as an en dash.
pub(crate) fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "\u{2013}".to_string()
    }
}

/// A proportion as a percentage with one decimal ("12.5%").
pub(crate) fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "\u{2013}".to_string()
    }
}

/// An SVG coordinate: one decimal is plenty and keeps snapshots stable.
pub(crate) fn c(v: f64) -> String {
    // `+ 0.0` turns -0.0 into 0.0 so "-0" never appears.
    let r = (v * 10.0).round() / 10.0 + 0.0;
    if r == r.trunc() {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Date and time as shown to users (UTC, minutes).
pub(crate) fn datetime(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Machine-readable time for `<time datetime>` and `data-deadline`.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "in 14 min", "overdue by 3 h 5 min": the text the countdown script keeps
/// updating, rendered once on the server so the page reads well without JS.
/// Returns the text and whether the deadline has passed.
pub(crate) fn countdown(deadline: &DateTime<Utc>, now: &DateTime<Utc>) -> (String, bool) {
    let secs = (*deadline - *now).num_seconds();
    let overdue = secs < 0;
    let span = human_span(secs.unsigned_abs());
    if overdue {
        (format!("overdue by {span}"), true)
    } else {
        (format!("in {span}"), false)
    }
}

/// Same rounding as `countdown()` in assets/bedside.js (keep them in step).
fn human_span(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

/// Percent-encode one URL path segment or query value (RFC 3986 unreserved
/// characters pass through).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A string safe to use inside an HTML id (letters, digits, '-', '_').
pub(crate) fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                ch
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() || !out.starts_with(|ch: char| ch.is_ascii_alphabetic()) {
        out.insert_str(0, "x-");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn countdown_text_and_overdue_flag() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let later = now + chrono::Duration::seconds(14 * 60 + 5);
        assert_eq!(
            countdown(&later, &now),
            ("in 14 min 5 s".to_string(), false)
        );
        let earlier = now - chrono::Duration::seconds(3 * 3600 + 5 * 60);
        assert_eq!(
            countdown(&earlier, &now),
            ("overdue by 3 h 5 min".to_string(), true)
        );
        let days = now + chrono::Duration::hours(50);
        assert_eq!(countdown(&days, &now).0, "in 2 d 2 h");
    }

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode_component("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(encode_component("sepsis-1.2_x~"), "sepsis-1.2_x~");
        assert_eq!(encode_component("é"), "%C3%A9");
    }

    #[test]
    fn slugs_are_valid_ids() {
        assert_eq!(slug("Task/1 2"), "Task-1-2");
        assert_eq!(slug("9abc"), "x-9abc");
        assert_eq!(slug(""), "x-");
    }

    #[test]
    fn coordinates_are_rounded() {
        assert_eq!(c(1.0), "1");
        assert_eq!(c(1.26), "1.3");
        assert_eq!(c(-0.04), "0");
        assert_eq!(num(f64::NAN, 2), "\u{2013}");
    }
}
