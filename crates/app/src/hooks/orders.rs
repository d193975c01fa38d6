//! Order context: what `order-select` / `order-sign` already have in the
//! draft. `context.draftOrders` (a Bundle of request resources) is read;
//! `context.selections` references entries of that Bundle, so every
//! selection is a drafted order too. A drafted order is described by
//! the codings of its code (`code`, or `medicationCodeableConcept` for
//! medications) and by the event kinds the ingest event rules
//! (`config/channels.toml`) give that code: a class such as ATC `J01*`,
//! the RxNorm ingredients of a class, or its text. A suggestion whose
//! resource has one of the drafted codings, or whose `unless_event` is a
//! drafted event, is not offered: Bedside never suggests ordering what is
//! being ordered. At `order-sign`, a use case's `draft_requires` rules
//! say what a draft lacks (a drafted `when` event with none of `requires`
//! drafted or on record): one warning card each. Nothing here names a
//! clinical use case.

use super::*;
use bedside_fhir::types::CodeableConcept;
use bedside_ingest::ChannelMap;
use bedside_usecase::{DraftRequirement, Suggestion as SuggestionTemplate, UseCase};
use std::collections::{BTreeSet, HashSet};

/// Statuses of a request resource that is not (or no longer) an order.
const NOT_ORDERED: [&str; 3] = ["cancelled", "revoked", "entered-in-error"];

/// What the draft of an ordering session holds.
#[derive(Debug, Default)]
pub(super) struct Drafted {
    /// `(system, code)` of every coding of a drafted order's code.
    codes: HashSet<(String, String)>,
    /// Event kinds of the drafted orders (e.g. `antibiotic_ordered`).
    pub(super) events: BTreeSet<String>,
    /// Drafted orders read (for the log).
    pub(super) orders: usize,
}

/// The resource type and the code of a request resource, if it has one.
fn order_code(resource: &Value) -> Option<(&str, CodeableConcept)> {
    let rtype = resource.get("resourceType")?.as_str()?;
    let concept = resource
        .get("medicationCodeableConcept")
        .or_else(|| resource.get("code"))?;
    Some((rtype, serde_json::from_value(concept.clone()).ok()?))
}

impl Drafted {
    /// The drafted orders of a hook request (none when the hook carries
    /// no `draftOrders`).
    pub(super) fn of(req: &HookRequest, map: &ChannelMap) -> Self {
        let mut out = Drafted::default();
        let Some(bundle) = &req.context.draft_orders else {
            return out;
        };
        let entries = bundle["entry"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for r in entries.iter().filter_map(|e| e.get("resource")) {
            if r["status"]
                .as_str()
                .is_some_and(|s| NOT_ORDERED.contains(&s))
            {
                continue;
            }
            let Some((rtype, concept)) = order_code(r) else {
                continue;
            };
            out.orders += 1;
            for c in &concept.coding {
                if let (Some(s), Some(k)) = (&c.system, &c.code) {
                    out.codes.insert((s.clone(), k.clone()));
                }
            }
            for rule in map.events_for(rtype).filter(|rule| rule.matches(&concept)) {
                out.events.insert(rule.name.clone());
            }
        }
        out
    }

    /// Whether the draft already orders what `template` suggests.
    pub(super) fn covers(&self, template: &SuggestionTemplate) -> bool {
        if template
            .unless_event
            .as_ref()
            .is_some_and(|e| self.events.contains(e))
        {
            return true;
        }
        order_code(&template.resource).is_some_and(|(_, c)| {
            c.coding.iter().any(|cd| match (&cd.system, &cd.code) {
                (Some(s), Some(k)) => self.codes.contains(&(s.clone(), k.clone())),
                _ => false,
            })
        })
    }
}

impl Drafted {
    /// The rules the draft triggers and does not meet: a drafted event of
    /// a rule's `when`, and none of its `requires` drafted or `on_record`
    /// (the patient's event channels).
    pub(super) fn lacking<'a>(
        &self,
        rules: &'a [DraftRequirement],
        on_record: &BTreeSet<String>,
    ) -> Vec<&'a DraftRequirement> {
        rules
            .iter()
            .filter(|r| r.when.iter().any(|e| self.events.contains(e)))
            .filter(|r| {
                !r.requires
                    .iter()
                    .any(|e| self.events.contains(e) || on_record.contains(e))
            })
            .collect()
    }
}

/// An event channel as words ("blood_culture_ordered" -> "blood culture
/// ordered").
fn words(e: &str) -> String {
    e.replace('_', " ")
}

/// The warning card saying what the draft lacks (no uuid: nothing to give
/// feedback on; the risk card is the one that carries the alert).
pub(super) fn lack_card(r: &DraftRequirement, u: &UseCase) -> bedside_cds::Card {
    let when: Vec<String> = r.when.iter().map(|e| words(e)).collect();
    let requires: Vec<String> = r.requires.iter().map(|e| words(e)).collect();
    bedside_cds::Card {
        uuid: None,
        summary: r
            .message
            .chars()
            .take(bedside_usecase::SUMMARY_MAX - 1)
            .collect(),
        detail: Some(format!(
            "The orders being signed include: {}. Not in this draft and not on record: {}.",
            when.join(" or "),
            requires.join(" or ")
        )),
        indicator: bedside_cds::Indicator::Warning,
        source: bedside_cds::Source {
            label: u.name.clone(),
            url: None,
            icon: None,
            topic: Some(Coding::new("https://bedside.dev/use-case", &u.id, &u.name)),
        },
        suggestions: Vec::new(),
        selection_behavior: None,
        override_reasons: Vec::new(),
        links: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(drafts: Vec<Value>) -> HookRequest {
        let entry: Vec<Value> = drafts.into_iter().map(|r| json!({"resource": r})).collect();
        let body = json!({
            "hook": "order-sign", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1",
                        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": entry}}
        });
        parse_hook_request(body.to_string().as_bytes(), None).unwrap()
    }

    fn template(resource: Value, unless: Option<&str>) -> SuggestionTemplate {
        SuggestionTemplate {
            label: "x".into(),
            description: "x".into(),
            resource,
            recommended: false,
            unless_event: unless.map(str::to_string),
        }
    }

    #[test]
    fn a_drafted_class_member_or_the_same_code_covers_a_suggestion() {
        let map = ChannelMap::default_map();
        let drafted = Drafted::of(
            &request(vec![
                json!({"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
                       "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "74169", "display": "piperacillin"}]}}),
                json!({"resourceType": "ServiceRequest", "status": "draft", "intent": "order",
                       "code": {"coding": [{"system": "http://example.org/local", "code": "BC2"}]}}),
                json!({"resourceType": "ServiceRequest", "status": "entered-in-error", "intent": "order",
                       "code": {"coding": [{"system": "http://loinc.org", "code": "2524-7"}]}}),
            ]),
            &map,
        );
        assert_eq!(drafted.orders, 2);
        assert!(drafted.events.contains("antibiotic_ordered"), "{drafted:?}");
        // By class: an antibiotic suggestion coded ATC J01 is covered by
        // a drafted RxNorm antibiotic.
        let abx = json!({"resourceType": "MedicationRequest",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01"}]}});
        assert!(drafted.covers(&template(abx.clone(), Some("antibiotic_ordered"))));
        // By code system and code.
        let local = json!({"resourceType": "ServiceRequest",
            "code": {"coding": [{"system": "http://example.org/local", "code": "BC2"}]}});
        assert!(drafted.covers(&template(local, None)));
        // Not: another code, or an order entered in error.
        let lactate = json!({"resourceType": "ServiceRequest",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2524-7"}]}});
        assert!(!drafted.covers(&template(lactate, Some("lactate_ordered"))));
        let other = json!({"resourceType": "ServiceRequest",
            "code": {"coding": [{"system": "http://example.org/other", "code": "BC2"}]}});
        assert!(!drafted.covers(&template(other, None)));
        // No draft, nothing covered.
        let none = Drafted::of(&request(vec![]), &map);
        assert!(!none.covers(&template(abx, Some("antibiotic_ordered"))));
    }
}
