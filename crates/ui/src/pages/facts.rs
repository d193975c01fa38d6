//! Model facts (one page per model version) and the models index.

use super::Estimate;
use crate::layout::{page, NavItem};
use crate::markdown::markdown_to_html;
use crate::urls;
use crate::util::{num, pct};
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};

/// The model facts page of one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFactsView {
    pub model_id: String,
    pub version: String,
    /// Display name (falls back to the id).
    pub name: Option<String>,
    /// Deployment stage ("silent", "pilot", "live").
    pub stage: Option<String>,
    /// The package's card (`card.md`, ideally with the generated facts).
    pub card_markdown: String,
    /// HTI-1 source attributes, in the order to show them.
    pub source_attributes: Vec<SourceAttribute>,
    /// Headline metrics on held-out / live data.
    pub metrics: Vec<MetricRow>,
    pub subgroups: Vec<SubgroupRow>,
    /// What the alert policy certified.
    pub promise: Option<CertifiedPromise>,
}

/// One HTI-1 source attribute ("Intended use", "Training data").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceAttribute {
    pub name: String,
    pub value: String,
}

/// A metric with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub name: String,
    pub estimate: Estimate,
    /// Cases behind the estimate.
    pub n: Option<u64>,
    /// Where it comes from ("test split", "live, last 30 days").
    pub source: Option<String>,
}

/// Performance in one subgroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupRow {
    /// "Age band", "Sex", "Unit".
    pub attribute: String,
    /// "65+", "female", "ICU".
    pub group: String,
    pub n: u64,
    pub events: u64,
    pub auroc: Option<Estimate>,
    pub ppv: Option<Estimate>,
    pub ece: Option<f64>,
}

/// The certified promise of the alert policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedPromise {
    /// False when no threshold could be certified (the policy then alerts on nothing).
    pub certified: bool,
    pub ppv_floor: f64,
    /// Confidence of the lower bound (0.95).
    pub confidence: f64,
    pub threshold: Option<f64>,
    /// Alert budget, alerts per 100 patient-days.
    pub alert_budget: Option<f64>,
    /// Expected alerts per 100 patient-days at the threshold.
    pub expected_alerts: Option<f64>,
    /// The policy's own wording.
    pub statement: String,
}

/// The model facts page.
pub fn render_model_facts(v: &ModelFactsView) -> Markup {
    let name = v.name.as_deref().unwrap_or(&v.model_id);
    page(
        &format!("{name} {} \u{2013} model facts", v.version),
        Some(NavItem::Models),
        html! {
            h1 { (name) " " span.muted { "version " (v.version) } }
            p {
                "Model " code { (v.model_id) } ", version " code { (v.version) }
                @if let Some(s) = &v.stage { ", stage " strong.stage { (s) } }
                ". " a href=(urls::dashboard(Some(&v.model_id))) { "Monitoring for this model" }
            }
            section aria-labelledby="promise-h" {
                h2 #promise-h { "Certified promise" }
                (promise(v.promise.as_ref()))
            }
            section aria-labelledby="metrics-h" {
                h2 #metrics-h { "Performance" }
                @if v.metrics.is_empty() { p { "No metrics recorded." } } @else {
                    table {
                        thead { tr { th scope="col" { "Metric" } th scope="col" { "Estimate (95% CI)" } th scope="col" { "n" } th scope="col" { "Source" } } }
                        tbody {
                            @for m in &v.metrics {
                                tr {
                                    th scope="row" { (m.name) }
                                    td.num { (m.estimate.text(3)) }
                                    td.num { (m.n.map(|n| n.to_string()).unwrap_or_default()) }
                                    td { (m.source.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="subgroups-h" {
                h2 #subgroups-h { "Subgroups" }
                @if v.subgroups.is_empty() { p { "No subgroup results recorded." } } @else {
                    table {
                        thead { tr {
                            th scope="col" { "Attribute" } th scope="col" { "Group" } th scope="col" { "n" } th scope="col" { "Events" }
                            th scope="col" { "AUROC (95% CI)" } th scope="col" { "PPV (95% CI)" } th scope="col" { "ECE" }
                        } }
                        tbody {
                            @for s in &v.subgroups {
                                tr {
                                    td { (s.attribute) } th scope="row" { (s.group) }
                                    td.num { (s.n) } td.num { (s.events) }
                                    td.num { (s.auroc.map(|e| e.text(3)).unwrap_or_else(|| "\u{2013}".into())) }
                                    td.num { (s.ppv.map(|e| e.text(3)).unwrap_or_else(|| "\u{2013}".into())) }
                                    td.num { (s.ece.map(|e| num(e, 3)).unwrap_or_else(|| "\u{2013}".into())) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="hti-h" {
                h2 #hti-h { "Source attributes (HTI-1)" }
                @if v.source_attributes.is_empty() { p { "None recorded." } } @else {
                    table.attributes {
                        tbody {
                            @for a in &v.source_attributes {
                                tr { th scope="row" { (a.name) } td { (a.value) } }
                            }
                        }
                    }
                }
            }
            section.model-card aria-labelledby="card-h" {
                h2 #card-h { "Model card" }
                // Raw HTML in the card is escaped by markdown_to_html.
                (PreEscaped(markdown_to_html(&v.card_markdown, 2)))
            }
        },
    )
}

fn promise(p: Option<&CertifiedPromise>) -> Markup {
    html! {
        @match p {
            None => p { "No alert policy is attached to this model version." },
            Some(p) if p.certified => {
                p.promise-ok {
                    "Alerts when risk \u{2265} " strong { (p.threshold.map(|t| num(t, 3)).unwrap_or_else(|| "\u{2013}".into())) }
                    ": PPV at least " strong { (pct(p.ppv_floor)) } " with " (pct(p.confidence)) " confidence"
                    @if let Some(b) = p.alert_budget { ", within a budget of " (num(b, 1)) " alerts per 100 patient-days" }
                    @if let Some(e) = p.expected_alerts { " (expected " (num(e, 1)) ")" }
                    "."
                }
                p { (p.statement) }
            }
            Some(p) => {
                p.promise-none {
                    strong { "Not certified: " } "no threshold reaches a PPV floor of " (pct(p.ppv_floor))
                    " within the budget, so the policy alerts on nothing."
                }
                p { (p.statement) }
            }
        }
    }
}

/// The models index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelsIndexView {
    pub models: Vec<ModelListItem>,
}

/// One model version in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelListItem {
    pub id: String,
    pub version: String,
    pub name: Option<String>,
    pub stage: Option<String>,
    pub intended_use: Option<String>,
}

/// The models index page: every loaded model version with links to its
/// facts and its monitoring.
pub fn render_models(v: &ModelsIndexView) -> Markup {
    page(
        "Models",
        Some(NavItem::Models),
        html! {
            h1 { "Models" }
            @if v.models.is_empty() { p { "No models loaded." } } @else {
                table {
                    thead { tr { th scope="col" { "Model" } th scope="col" { "Version" } th scope="col" { "Stage" } th scope="col" { "Intended use" } th scope="col" { "Monitoring" } } }
                    tbody {
                        @for m in &v.models {
                            tr {
                                th scope="row" { a href=(urls::model_facts(&m.id, &m.version)) { (m.name.as_deref().unwrap_or(&m.id)) } }
                                td { (m.version) }
                                td { (m.stage.as_deref().unwrap_or("\u{2013}")) }
                                td { (m.intended_use.as_deref().unwrap_or("")) }
                                td { a href=(urls::dashboard(Some(&m.id))) { "Dashboard" } }
                            }
                        }
                    }
                }
            }
        },
    )
}
