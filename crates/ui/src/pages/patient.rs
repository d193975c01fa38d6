//! One patient's page: the risk history of each model that scores the
//! patient, the factors behind the latest risk, the open Tasks and the
//! vitals and labs. A clinician lands here from a card's SMART link (the
//! EHR launches Bedside for the patient in context).

use crate::charts::{sparkline, SparkPoint};
use crate::layout::page;
use crate::pages::sandbox::ChannelView;
use crate::util::{datetime, iso};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// The patient page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientView {
    pub id: String,
    pub display: String,
    pub details: Option<String>,
    /// One entry per model that has scored the patient.
    pub risks: Vec<RiskHistory>,
    /// Tasks not yet completed, cancelled or failed, newest first.
    pub open_tasks: Vec<OpenTask>,
    /// Vitals and labs, one sparkline each.
    pub channels: Vec<ChannelView>,
    /// Who opened the page through a SMART launch (`fhirUser`), if so.
    pub launched_by: Option<String>,
}

/// One model's risk over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskHistory {
    pub model: String,
    pub version: String,
    /// Probability in percent, oldest first.
    pub points: Vec<SparkPoint>,
    pub latest_at: DateTime<Utc>,
    /// Latest probability, 0..1.
    pub latest: f64,
    /// Horizon of the prediction, in hours.
    pub horizon_hours: f64,
    /// The factors of the latest risk, largest first, as sentences.
    pub factors: Vec<String>,
    /// Shown under approximate factors.
    pub factor_note: Option<String>,
}

/// A Task still open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenTask {
    pub id: String,
    pub title: String,
    pub status: String,
    pub created: DateTime<Utc>,
    pub owner: Option<String>,
}

/// The patient page.
pub fn render_patient(v: &PatientView) -> Markup {
    page(
        &format!("Patient {}", v.display),
        None,
        html! {
            h1 { (v.display) @if let Some(d) = &v.details { " " span.muted { (d) } } }
            @if let Some(u) = &v.launched_by {
                p.muted #launched-by { "Opened from the EHR by " (u) "." }
            }
            section aria-labelledby="risk-h" {
                h2 #risk-h { "Risk history" }
                @if v.risks.is_empty() { p { "No model has scored this patient." } }
                @for (i, r) in v.risks.iter().enumerate() {
                    article.risk {
                        h3 { (r.model) " " span.muted { "v" (r.version) } }
                        p {
                            "Latest: " strong.value { (format!("{:.0}%", r.latest * 100.0)) }
                            " within " (format!("{:.0}", r.horizon_hours)) " h, at "
                            time datetime=(iso(&r.latest_at)) { (datetime(&r.latest_at)) }
                        }
                        (sparkline(&format!("risk-{i}"), "Risk", "%", &r.points))
                        h4 { "Factors of the latest risk" }
                        @if r.factors.is_empty() { p { "No factors were computed." } } @else {
                            ul.factors { @for f in &r.factors { li { (f) } } }
                        }
                        @if let Some(n) = &r.factor_note { p.muted { (n) } }
                    }
                }
            }
            section aria-labelledby="tasks-h" {
                h2 #tasks-h { "Open tasks" }
                @if v.open_tasks.is_empty() { p { "No open tasks." } } @else {
                    table.tasks {
                        thead { tr { th scope="col" { "Task" } th scope="col" { "Status" } th scope="col" { "Owner" } th scope="col" { "Created" } } }
                        tbody {
                            @for t in &v.open_tasks {
                                tr data-task-id=(t.id) {
                                    td { (t.title) }
                                    td { (t.status) }
                                    td { (t.owner.as_deref().unwrap_or("unassigned")) }
                                    td { time datetime=(iso(&t.created)) { (datetime(&t.created)) } }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="vitals-h" {
                h2 #vitals-h { "Vitals and labs" }
                @if v.channels.is_empty() { p { "No measurements." } }
                div.sparks {
                    @for (i, ch) in v.channels.iter().enumerate() {
                        (sparkline(&format!("spark-{i}"), &ch.name, &ch.unit, &ch.points))
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_risk_factors_and_open_tasks_escaped() {
        let at = DateTime::parse_from_rfc3339("2024-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let v = PatientView {
            id: "p1".into(),
            display: "Ann <Lee>".into(),
            details: None,
            risks: vec![RiskHistory {
                model: "sepsis".into(),
                version: "1".into(),
                points: vec![SparkPoint { at, value: 42.0 }],
                latest_at: at,
                latest: 0.42,
                horizon_hours: 12.0,
                factors: vec!["Lactate 4.1 mmol/L raises the risk".into()],
                factor_note: None,
            }],
            open_tasks: vec![OpenTask {
                id: "t1".into(),
                title: "Review patient".into(),
                status: "ready".into(),
                created: at,
                owner: None,
            }],
            channels: vec![],
            launched_by: Some("Practitioner/7".into()),
        };
        let html = render_patient(&v).into_string();
        assert!(html.contains("Ann &lt;Lee&gt;"), "{html}");
        assert!(html.contains("42%"));
        assert!(html.contains("Lactate 4.1 mmol/L raises the risk"));
        assert!(html.contains("Review patient"));
        assert!(html.contains("Opened from the EHR by Practitioner/7"));
        let empty = PatientView {
            risks: vec![],
            open_tasks: vec![],
            launched_by: None,
            ..v
        };
        let html = render_patient(&empty).into_string();
        assert!(html.contains("No model has scored this patient."));
        assert!(html.contains("No open tasks."));
    }
}
