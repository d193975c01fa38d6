//! Measured values as a clinician reads them: UCUM codes shown in
//! clinical notation (`Cel` → `°C`, `mm[Hg]` → `mmHg`, `10*3/uL` →
//! `×10⁹/L`) and numbers rounded to the precision the unit is charted
//! with (`95.66666666666667 mm[Hg]` → `96 mmHg`), never in scientific
//! notation.

/// The clinical notation of a UCUM unit; unknown units are shown as
/// written, with UCUM's annotation braces removed (`{score}` → ``).
pub fn display_unit(ucum: &str) -> String {
    let u = ucum.trim();
    let shown = match u {
        "Cel" => "°C",
        "[degF]" => "°F",
        "mm[Hg]" => "mmHg",
        // 10³ per microlitre is the same number as 10⁹ per litre.
        "10*3/uL" | "10*9/L" | "10^9/L" => "×10⁹/L",
        "10*6/uL" | "10*12/L" | "10^12/L" => "×10¹²/L",
        "/min" | "1/min" | "{beats}/min" | "{breaths}/min" => "/min",
        "a" | "years" => "years",
        "h" => "h",
        "d" => "days",
        "ug/L" => "µg/L",
        "ug/mL" => "µg/mL",
        "umol/L" => "µmol/L",
        "[iU]/L" | "[IU]/L" => "IU/L",
        "U/L" => "U/L",
        "1" => "",
        other => {
            // `{score}`, `{ratio}`: annotations carry no unit.
            if other.starts_with('{') && other.ends_with('}') {
                ""
            } else {
                return other.replace("mm[Hg]", "mmHg").replace("Cel", "°C");
            }
        }
    };
    shown.to_string()
}

/// How many decimals a value in `ucum` is charted with: whole numbers for
/// rates, pressures, saturations and ages, one decimal for temperatures;
/// otherwise by size (≥ 100: none, ≥ 10: one, else two).
fn decimals(v: f64, ucum: &str) -> usize {
    match ucum.trim() {
        "mm[Hg]" | "/min" | "1/min" | "%" | "a" | "years" => 0,
        "Cel" | "[degF]" => 1,
        "h" if v.abs() >= 10.0 => 0,
        "h" => 1,
        _ => {
            let a = v.abs();
            if a >= 100.0 {
                0
            } else if a >= 10.0 {
                1
            } else {
                2
            }
        }
    }
}

/// `v` rounded as charted in `ucum` (see [`decimals`]), trailing zeros
/// cut, never `-0` and never in scientific notation; `—` when not finite.
pub fn format_number(v: f64, ucum: &str) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let d = decimals(v, ucum);
    let s = format!("{v:.d$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// A value with its unit as a clinician reads it: `38.4 °C`, `96 mmHg`,
/// `12 ×10⁹/L`, `95%` (a percent sign is written without a space).
pub fn format_value(v: f64, ucum: &str) -> String {
    let n = format_number(v, ucum);
    if !v.is_finite() {
        // No number, no unit: "—", not "—%".
        return n;
    }
    let unit = display_unit(ucum);
    if unit.is_empty() {
        n
    } else if unit == "%" {
        format!("{n}%")
    } else {
        format!("{n} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucum_codes_read_as_clinicians_write_them() {
        assert_eq!(display_unit("Cel"), "°C");
        assert_eq!(display_unit("mm[Hg]"), "mmHg");
        assert_eq!(display_unit("10*3/uL"), "×10⁹/L");
        assert_eq!(display_unit("{score}"), "");
        assert_eq!(display_unit("mm[Hg]/h"), "mmHg/h");
        assert_eq!(display_unit("mmol/L"), "mmol/L");
    }

    #[test]
    fn values_are_rounded_as_charted() {
        assert_eq!(format_value(95.66666666666667, "mm[Hg]"), "96 mmHg");
        assert_eq!(format_value(38.44, "Cel"), "38.4 °C");
        assert_eq!(format_value(12.34, "10*3/uL"), "12.3 ×10⁹/L");
        assert_eq!(format_value(94.0, "%"), "94%");
        assert_eq!(format_value(113.91666666666667, "h"), "114 h");
        assert_eq!(format_value(0.08333, "h"), "0.1 h");
        assert_eq!(format_value(0.0833, "mg/L"), "0.08 mg/L");
        assert_eq!(format_value(-0.001, ""), "0");
        assert_eq!(format_value(f64::NAN, "%"), "—");
        assert!(!format_number(1e-7, "ng/mL").contains('e'));
    }
}
