//! `bedside evaluate --sweep`: the re-alert, quiet-period and suppression
//! settings certified on a cohort's calibration split, one row per
//! combination; and the text form of `--certified`'s "promise kept?" table.

use bedside_app::evaluate::ScoredCohort;
use bedside_policy::config::ActionsMode;
use bedside_policy::replay::certify_policy;
use bedside_policy::PolicyConfig;
use serde::Serialize;
use serde_json::Value;

/// Re-alert on a rise of this many probability points (`None`: never on a rise).
pub const RISES: [Option<f64>; 3] = [None, Some(0.15), Some(0.3)];
/// Quiet periods tried, hours (168: a week; 720: 30 days, in practice one
/// alert per stay).
pub const QUIET_HOURS: [f64; 7] = [12.0, 24.0, 48.0, 72.0, 168.0, 336.0, 720.0];
/// Suppression modes tried (`off`: actions under way never suppress).
pub const MODES: [ActionsMode; 3] = [ActionsMode::All, ActionsMode::Any, ActionsMode::Off];

/// One combination and what it certifies.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub rise_absolute: Option<f64>,
    pub quiet_period_hours: f64,
    pub suppression_mode: &'static str,
    pub certified: bool,
    pub threshold: Option<f64>,
    pub alerts_per_100_patient_days: Option<f64>,
    pub alerts_per_100_patient_days_upper: Option<f64>,
    pub per_alert_ppv: Option<f64>,
    pub per_alert_ppv_lower: Option<f64>,
    pub sensitivity: Option<f64>,
    pub patients_alerted: Option<u64>,
    pub patients: usize,
    /// Why not, when not certified.
    pub reason: Option<String>,
}

/// Certify every combination of [`RISES`], [`QUIET_HOURS`] and [`MODES`]
/// (all else from `base`) on the calibration split.
pub fn sweep(
    cohort: &ScoredCohort,
    base: &PolicyConfig,
    window: f64,
    model_id: &str,
) -> Vec<SweepRow> {
    let set = cohort.replay_set("calibration", window);
    let mut out = Vec::new();
    for rise in RISES {
        for quiet in QUIET_HOURS {
            for mode in MODES {
                let mut p = base.clone();
                p.realert.rise_absolute = rise;
                p.realert.quiet_period_hours = quiet;
                p.pathway_actions.mode = mode;
                let cert = certify_policy(&set, &p, model_id);
                let c = cert.certified();
                out.push(SweepRow {
                    rise_absolute: rise,
                    quiet_period_hours: quiet,
                    suppression_mode: match mode {
                        ActionsMode::All => "all",
                        ActionsMode::Any => "any",
                        ActionsMode::Off => "off",
                    },
                    certified: c.is_some(),
                    threshold: c.map(|c| c.threshold),
                    alerts_per_100_patient_days: c.map(|c| c.alert_rate_per_100_patient_days),
                    alerts_per_100_patient_days_upper: c
                        .and_then(|c| c.alert_rate_upper_per_100_patient_days),
                    per_alert_ppv: c.map(|c| c.ppv),
                    per_alert_ppv_lower: c.map(|c| c.ppv_lower),
                    sensitivity: c.and_then(|c| c.sensitivity),
                    patients_alerted: c.and_then(|c| c.n_patients_alerted),
                    patients: set.trajectories.len(),
                    reason: match &cert {
                        bedside_policy::Certification::NotCertified { reason } => {
                            Some(reason.clone())
                        }
                        _ => None,
                    },
                });
            }
        }
    }
    out
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// The sweep as a Markdown table.
pub fn markdown(rows: &[SweepRow]) -> String {
    let mut s = String::from(
        "| re-alert rise | quiet period (h) | suppression | certified | threshold | alerts / 100 pd (upper) | per-alert PPV (lower) | sensitivity |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} ({}) | {} ({}) | {} |\n",
            r.rise_absolute.map_or("none".into(), |x| format!("{x}")),
            r.quiet_period_hours,
            r.suppression_mode,
            if r.certified { "yes" } else { "no" },
            num(r.threshold, 3),
            num(r.alerts_per_100_patient_days, 2),
            num(r.alerts_per_100_patient_days_upper, 2),
            num(r.per_alert_ppv, 2),
            num(r.per_alert_ppv_lower, 2),
            num(r.sensitivity, 2),
        ));
    }
    if let Some(r) = rows.first() {
        s.push_str(&format!(
            "\n{} calibration patients; each row certified by replaying them through the whole policy.\n",
            r.patients
        ));
    }
    s
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) => n.as_f64().map_or("-".into(), |x| format!("{x:.3}")),
        Value::Bool(b) => (if *b { "yes" } else { "NO" }).to_string(),
        Value::Array(a) if a.len() == 2 => format!("[{}, {}]", cell(&a[0]), cell(&a[1])),
        other => other.to_string(),
    }
}

/// The "promise kept?" table of an evaluation report, as text.
pub fn promise_text(report: &Value) -> String {
    let p = &report["promise"];
    let mut s = format!(
        "Model {} on {} patients ({} split, {:.1} patient-days); certification: {}\n{}\n\n",
        report["model"]["id"].as_str().unwrap_or("?"),
        report["patients"],
        report["split"].as_str().unwrap_or("?"),
        report["patient_days"].as_f64().unwrap_or(0.0),
        p["certification_source"].as_str().unwrap_or("?"),
        p["statement"].as_str().unwrap_or(""),
    );
    s.push_str(
        "| measure | certified | observed | 95% interval | kept? |\n|---|---|---|---|---|\n",
    );
    for m in p["measures"].as_array().into_iter().flatten() {
        let certified = match &m["certified"] {
            Value::Object(o) => o
                .iter()
                .map(|(k, v)| format!("{k} {}", cell(v)))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => ["naive_15min", "patients", "max"]
                .iter()
                .find(|k| m[**k].is_number())
                .map_or("-".into(), |k| format!("{k} {}", cell(&m[*k]))),
            v => cell(v),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            m["measure"].as_str().unwrap_or("?"),
            certified,
            cell(&m["observed"]),
            cell(&m["interval"]),
            cell(&m["kept"]),
        ));
    }
    s.push_str("\n| baseline | alerts / 100 pd | per-alert PPV | recognized sensitivity | median lead before (h) | alerts per clinician shift |\n|---|---|---|---|---|---|\n");
    if let Value::Object(b) = &p["baselines"] {
        for (k, v) in b {
            s.push_str(&format!(
                "| {k} | {} | {} | {} | {} | {} |\n",
                cell(&v["alerts_per_100_patient_days"]),
                cell(&v["per_alert_ppv"]),
                cell(&v["recognized_sensitivity"]),
                cell(&v["median_lead_time_before_outcome_hours"]),
                cell(&v["alerts_per_clinician_per_12h_shift"]),
            ));
        }
    }
    s
}
