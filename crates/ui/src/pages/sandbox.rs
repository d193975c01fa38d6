//! EHR sandbox: pick a patient, see the timeline, fire CDS hooks at
//! Bedside's own services exactly as an EHR would (the script in
//! `assets/bedside.js` does the HTTP), and see the cards.

use crate::charts::{sparkline, SparkPoint};
use crate::layout::{page, NavItem};
use crate::urls;
use crate::util::{datetime, iso};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};

/// The sandbox page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxView {
    /// The search text (`?q=`); the list is filtered by it.
    pub query: String,
    /// Patients in the store (the renderer filters by `query`).
    pub patients: Vec<PatientListItem>,
    /// The chosen patient (`?patient=`).
    pub selected: Option<PatientTimeline>,
    /// Bedside's CDS services (from discovery).
    pub services: Vec<CdsServiceRef>,
    /// `fhirServer` sent in hook requests (Bedside's FHIR base URL).
    pub fhir_server: String,
    /// `context.userId` sent in hook requests ("Practitioner/demo").
    pub user_id: String,
    /// Offer the demo control that starts the escalation pathway for the
    /// selected patient (a POST to [`urls::SANDBOX_START_PATHWAY`]).
    #[serde(default)]
    pub can_start_pathway: bool,
}

/// One patient in the picker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientListItem {
    /// FHIR Patient id.
    pub id: String,
    /// Pseudonym or name, as given.
    pub display: String,
    /// One line: "F, 67 y, ICU".
    pub details: Option<String>,
}

/// The selected patient's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientTimeline {
    pub id: String,
    pub display: String,
    pub details: Option<String>,
    /// `context.encounterId` for hook requests.
    pub encounter_id: Option<String>,
    /// Vitals and labs, one sparkline each.
    pub channels: Vec<ChannelView>,
    /// Other events, any order (shown newest first).
    pub events: Vec<TimelineEvent>,
    /// `context.draftOrders` for order-sign (a FHIR Bundle); a lactate
    /// ServiceRequest draft is used when `None`.
    pub draft_orders: Option<serde_json::Value>,
}

/// One input channel's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelView {
    /// "Heart rate".
    pub name: String,
    /// "/min".
    pub unit: String,
    pub points: Vec<SparkPoint>,
}

/// A timeline event (condition, medication, alert, task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    /// "Condition", "Medication", "Alert".
    pub kind: String,
    pub text: String,
}

/// A CDS service to fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdsServiceRef {
    pub id: String,
    /// "patient-view", "order-sign".
    pub hook: String,
    pub title: String,
}

/// The draft orders used for order-sign when the server supplies none:
/// one draft ServiceRequest (serum lactate, LOINC 2524-7) for the patient.
pub fn default_draft_orders(patient_id: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "sandbox-draft-1",
                "status": "draft",
                "intent": "order",
                "code": { "coding": [{
                    "system": "http://loinc.org",
                    "code": "2524-7",
                    "display": "Lactate [Moles/volume] in Serum or Plasma"
                }] },
                "subject": { "reference": format!("Patient/{patient_id}") }
            }
        }]
    })
}

/// The sandbox page.
pub fn render_sandbox(v: &SandboxView) -> Markup {
    page(
        "EHR sandbox",
        Some(NavItem::Sandbox),
        html! {
            h1 { "EHR sandbox" }
            p.muted { "Acts as an EHR: fires CDS Hooks at Bedside's own services with a signed JWT and shows the cards as an EHR would." }
            div.sandbox-grid {
                (patient_picker(v))
                @match &v.selected {
                    Some(p) => (patient_panel(v, p)),
                    None => section.patient-panel aria-labelledby="pick-h" { h2 #pick-h { "No patient selected" } p { "Choose a patient from the list." } },
                }
            }
        },
    )
}

/// The patient list alone (what the search box swaps in).
pub fn patient_list_fragment(v: &SandboxView) -> Markup {
    let q = v.query.trim().to_lowercase();
    let shown: Vec<&PatientListItem> = v
        .patients
        .iter()
        .filter(|p| {
            q.is_empty()
                || p.display.to_lowercase().contains(&q)
                || p.id.to_lowercase().contains(&q)
        })
        .collect();
    let current = v.selected.as_ref().map(|p| p.id.as_str());
    html! {
        div #patient-list {
            p.muted role="status" { (shown.len()) " of " (v.patients.len()) " patients" }
            ul.patients {
                @for p in shown {
                    li {
                        @let href = urls::sandbox(Some(&p.id), Some(&v.query));
                        @if current == Some(p.id.as_str()) {
                            a href=(href) aria-current="true" { (p.display) }
                        } @else {
                            a href=(href) { (p.display) }
                        }
                        @if let Some(d) = &p.details { " " span.muted { (d) } }
                    }
                }
            }
        }
    }
}

fn patient_picker(v: &SandboxView) -> Markup {
    html! {
        section.patient-picker aria-labelledby="patients-h" {
            h2 #patients-h { "Patients" }
            form.search-form method="get" action="/ui/sandbox" role="search" {
                label for="patient-search" { "Search patients" }
                input #patient-search type="search" name="q" value=(v.query) autocomplete="off"
                    hx-get="/ui/sandbox" hx-trigger="input changed delay:300ms, search" hx-target="#patient-list"
                    hx-select="#patient-list" hx-swap="outerHTML";
                button type="submit" { "Search" }
            }
            (patient_list_fragment(v))
        }
    }
}

fn patient_panel(v: &SandboxView, p: &PatientTimeline) -> Markup {
    let drafts = p
        .draft_orders
        .clone()
        .unwrap_or_else(|| default_draft_orders(&p.id));
    // JSON inside <script type="application/json">: escape '<' so the text
    // can never close the element.
    let drafts = serde_json::to_string(&drafts)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c");
    let mut events: Vec<&TimelineEvent> = p.events.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    html! {
        section.patient-panel #sandbox aria-labelledby="patient-h"
            data-fhir-server=(v.fhir_server) data-user-id=(v.user_id) data-patient-id=(p.id)
            data-encounter-id=[p.encounter_id.as_deref()] data-token-url=(urls::SANDBOX_TOKEN) {
            h2 #patient-h { (p.display) @if let Some(d) = &p.details { " " span.muted { (d) } } }
            script #draft-orders type="application/json" { (PreEscaped(drafts)) }
            div.hook-buttons role="group" aria-label="Fire CDS Hooks" {
                @for s in &v.services {
                    button.fire type="button" data-service-id=(s.id) data-hook=(s.hook) {
                        "Fire " (s.hook) " " span.muted { "(" (s.title) ")" }
                    }
                }
                @if v.services.is_empty() { p { "No CDS services are registered." } }
            }
            noscript { p { "Firing hooks needs JavaScript (the page acts as the EHR's client)." } }
            @if v.can_start_pathway {
                form.start-pathway method="post" action=(urls::SANDBOX_START_PATHWAY) {
                    input type="hidden" name="patient" value=(p.id);
                    button type="submit" aria-describedby="start-pathway-note" { "Start escalation pathway" }
                    " "
                    span.muted #start-pathway-note { "Demo: starts the pathway from this patient's latest risk, as if the alert policy had escalated it; the tasks appear in the worklist." }
                }
            }
            p #hook-status role="status" {}
            div #cds-cards aria-live="polite" {}
            h3 { "Vitals and labs" }
            @if p.channels.is_empty() { p { "No measurements." } }
            div.sparks {
                @for (i, ch) in p.channels.iter().enumerate() {
                    (sparkline(&format!("spark-{i}"), &ch.name, &ch.unit, &ch.points))
                }
            }
            h3 { "Events" }
            @if events.is_empty() { p { "No events." } } @else {
                ol.timeline {
                    @for e in events {
                        li { time datetime=(iso(&e.at)) { (datetime(&e.at)) } " " strong { (e.kind) } " " (e.text) }
                    }
                }
            }
        }
    }
}
