//! Golden tests for the risk card, and the rule that every rendered card
//! passes the specification validator.

use bedside_cds::{
    render_cards, validate_response, CardInput, CdsResponse, Coding, Direction, Factor, Indicator,
    Interval, ModelInfo, PathwaySuggestion, SelectionBehavior, Tier,
};
use bedside_core::Probability;
use serde_json::json;
use uuid::Uuid;

fn p(x: f64) -> Probability {
    Probability::new(x).unwrap()
}

const REASONS: &str = "https://bedside.example.org/fhir/CodeSystem/override-reason";

fn sepsis_input() -> CardInput {
    CardInput {
        wording: None,
        card_uuid: Uuid::parse_str("0b5e7c1a-2f43-4c0e-9a61-5d7c2b8e4f10").unwrap(),
        model: ModelInfo {
            id: "sepsis-demo".into(),
            version: "1.2.0".into(),
            label: "Bedside sepsis (demo)".into(),
            outcome: "Sepsis".into(),
            facts_url: "https://bedside.example.org/models/sepsis-demo/1.2.0".into(),
        },
        probability: p(0.342),
        previous: Some(p(0.21)),
        history: vec![],
        interval: Some(Interval {
            lo: p(0.27),
            hi: p(0.41),
            level: 0.9,
        }),
        factors: vec![
            Factor {
                name: "Lactate (last)".into(),
                value: Some(3.1),
                unit: "mmol/L".into(),
                direction: Direction::Raises,
                contribution: 0.062,
            },
            Factor {
                name: "Respiratory rate (max 6 h)".into(),
                value: Some(28.0),
                unit: "/min".into(),
                direction: Direction::Raises,
                contribution: 0.041,
            },
            Factor {
                name: "Systolic BP | min 6 h".into(),
                value: Some(92.5),
                unit: "mm[Hg]".into(),
                direction: Direction::Raises,
                contribution: 0.028,
            },
            Factor {
                name: "Age".into(),
                value: Some(47.0),
                unit: "years".into(),
                direction: Direction::Lowers,
                contribution: -0.012,
            },
        ],
        explanation_note: None,
        open_task: None,
        passive_reason: None,
        data_age_minutes: Some(18.0),
        stale_after_minutes: 360.0,
        base_rate: Some(p(0.08)),
        ood_reasons: vec![],
        data_note: None,
        promise: Some(
            "When this card fires, at least 30% of patients develop sepsis within 12 h (95% lower bound, validation 2025)."
                .into(),
        ),
        tier: Tier::Interruptive,
        suggestions: vec![
            PathwaySuggestion {
                label: "Order serum lactate".into(),
                description: "Create a ServiceRequest for a repeat lactate".into(),
                resource: json!({
                    "resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "2524-7",
                        "display": "Lactate [Moles/volume] in Serum or Plasma"}]},
                    "subject": {"reference": "Patient/1288992"}
                }),
                recommended: true,
            },
            PathwaySuggestion {
                label: "Order blood cultures".into(),
                description: "Create a ServiceRequest for blood cultures before antibiotics".into(),
                resource: json!({
                    "resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "600-7",
                        "display": "Bacteria identified in Blood by Culture"}]},
                    "subject": {"reference": "Patient/1288992"}
                }),
                recommended: true,
            },
            PathwaySuggestion {
                label: "Start the sepsis pathway".into(),
                description: "Create a Task that starts the sepsis escalation pathway".into(),
                resource: json!({
                    "resourceType": "Task", "status": "requested", "intent": "order",
                    "code": {"text": "Start sepsis escalation pathway"},
                    "for": {"reference": "Patient/1288992"}
                }),
                recommended: false,
            },
        ],
        override_reasons: vec![
            Coding::new(REASONS, "not-septic", "Clinically not septic"),
            Coding::new(REASONS, "already-treated", "Already on treatment"),
            Coding::new(REASONS, "comfort-care", "Comfort care only"),
        ],
        topic: Some(Coding::new("https://bedside.example.org/fhir/CodeSystem/topic", "sepsis-risk", "Sepsis risk")),
        worklist_url: Some("https://bedside.example.org/worklist?patient=1288992".into()),
        survey_url: Some("https://bedside.example.org/survey/trust-pulse".into()),
    }
}

fn assert_valid(input: &CardInput) {
    let resp = CdsResponse {
        cards: render_cards(input),
        system_actions: vec![],
    };
    let doc = serde_json::to_value(&resp).unwrap();
    assert_eq!(validate_response(&doc), vec![], "{doc:#}");
}

#[test]
fn interruptive_card_golden() {
    let input = sepsis_input();
    let cards = render_cards(&input);
    assert_eq!(cards.len(), 1);
    let c = &cards[0];
    assert_eq!(c.summary, "Sepsis risk 34% (↑ from 21%) — review now");
    assert_eq!(c.indicator, Indicator::Warning);
    assert_eq!(c.selection_behavior, Some(SelectionBehavior::Any));
    assert_valid(&input);
    insta::assert_snapshot!("interruptive_detail", c.detail.as_deref().unwrap());
    insta::assert_json_snapshot!("interruptive_card", c);
}

#[test]
fn passive_card_without_suggestions_golden() {
    let mut input = sepsis_input();
    input.tier = Tier::Passive;
    input.probability = p(0.004);
    input.previous = None;
    input.interval = None;
    input.suggestions.clear();
    input.survey_url = None;
    input.factors[0].value = None;
    input.data_age_minutes = Some(7.5 * 60.0);
    input.promise = None;
    let c = &render_cards(&input)[0];
    assert_eq!(c.summary, "Sepsis risk <1%");
    assert_eq!(c.indicator, Indicator::Info);
    assert_eq!(
        c.selection_behavior, None,
        "no suggestions, no selectionBehavior"
    );
    assert_valid(&input);
    insta::assert_snapshot!("passive_detail", c.detail.as_deref().unwrap());
}

#[test]
fn escalation_card_with_ood_warning_golden() {
    let mut input = sepsis_input();
    input.tier = Tier::Escalate;
    input.probability = p(0.61);
    input.previous = Some(p(0.74));
    input.interval = Some(Interval {
        lo: p(0.52),
        hi: p(0.7),
        level: 0.9,
    });
    input.ood_reasons = vec![
        "Lactate 14.2 mmol/L is above the training range (max 9.8)".into(),
        "Age 17 years is below the training range (18–99)".into(),
    ];
    let c = &render_cards(&input)[0];
    assert_eq!(
        c.summary,
        "Sepsis risk 61% (↓ from 74%) — escalated, act now"
    );
    assert_eq!(c.indicator, Indicator::Critical);
    assert!(c
        .detail
        .as_deref()
        .unwrap()
        .contains("Outside the training population"));
    assert_valid(&input);
    insta::assert_snapshot!("escalation_detail", c.detail.as_deref().unwrap());
}

#[test]
fn no_ood_warning_when_the_guard_is_quiet() {
    let c = &render_cards(&sepsis_input())[0];
    assert!(!c
        .detail
        .as_deref()
        .unwrap()
        .contains("training population —"));
    assert!(!c
        .detail
        .as_deref()
        .unwrap()
        .contains("Outside the training population"));
}

#[test]
fn trend_arrows_and_percent_edges() {
    let mut input = sepsis_input();
    input.previous = Some(p(0.344));
    assert_eq!(
        render_cards(&input)[0].summary,
        "Sepsis risk 34% (→ from 34%) — review now"
    );
    input.probability = p(0.9999);
    input.previous = Some(p(0.0));
    assert_eq!(
        render_cards(&input)[0].summary,
        "Sepsis risk >99% (↑ from <1%) — review now"
    );
    input.probability = p(1.0);
    assert_eq!(
        render_cards(&input)[0].summary,
        "Sepsis risk >99% (↑ from <1%) — review now"
    );
}

#[test]
fn a_probability_never_reads_as_certain() {
    use bedside_cds::render::percent;
    assert_eq!(percent(p(1.0)), ">99%");
    assert_eq!(percent(p(0.995)), ">99%");
    assert_eq!(percent(p(0.994)), "99%");
    assert_eq!(percent(p(0.0)), "<1%");
    assert_eq!(percent(p(0.004)), "<1%");
    assert_eq!(percent(p(0.005)), "1%");
    let mut input = wording_input();
    for x in [0.0, 1.0] {
        input.probability = p(x);
        input.history = vec![bedside_cds::EarlierRisk {
            hours_before: 6.0,
            probability: p(1.0 - x),
        }];
        let c = &render_cards(&input)[0];
        let all = format!("{} {}", c.summary, c.detail.as_deref().unwrap());
        assert!(!all.contains("100%"), "{all}");
        assert!(!all.contains(" 0%") && !all.contains("*0%"), "{all}");
    }
}

/// The card of a use case with its own words, as the app renders it.
fn wording_input() -> CardInput {
    let mut input = sepsis_input();
    input.wording = Some(bedside_cds::Wording {
        statement: "Sepsis risk".into(),
        action: "assess now, consider blood cultures and lactate".into(),
        passive_action: None,
        escalation_action: None,
    });
    input
}

#[test]
fn the_action_follows_the_tier() {
    let mut input = wording_input();
    input.probability = p(0.11);
    input.tier = Tier::Passive;
    let c = &render_cards(&input)[0];
    assert_eq!(c.indicator, Indicator::Info);
    assert!(!c.summary.contains("assess now"), "{}", c.summary);
    assert!(
        c.summary
            .ends_with(&format!(": {}", bedside_cds::DEFAULT_PASSIVE_ACTION)),
        "{}",
        c.summary
    );

    input.tier = Tier::Interruptive;
    let c = &render_cards(&input)[0];
    assert_eq!(c.indicator, Indicator::Warning);
    assert!(c
        .summary
        .ends_with(": assess now, consider blood cultures and lactate"));

    // The use case's own words per tier win over the defaults.
    input.wording.as_mut().unwrap().passive_action =
        Some("for information, no action needed".into());
    input.wording.as_mut().unwrap().escalation_action =
        Some("escalated: sepsis pathway started, assess within 15 min".into());
    input.tier = Tier::Escalate;
    let c = &render_cards(&input)[0];
    assert_eq!(c.indicator, Indicator::Critical);
    assert_eq!(
        c.summary,
        "Sepsis risk 11%: escalated: sepsis pathway started, assess within 15 min"
    );
    input.tier = Tier::Passive;
    assert!(render_cards(&input)[0]
        .summary
        .ends_with(": for information, no action needed"));

    // On the pathway already: the passive card names the open Task, not
    // "for awareness"; an interruptive card keeps its action.
    input.open_task = Some(bedside_cds::OpenTask {
        name: "Bedside nurse review".into(),
        status: "requested".into(),
        owner: None,
        due: None,
    });
    assert_eq!(
        render_cards(&input)[0].summary,
        "Sepsis risk 11%: on the pathway, task open: Bedside nurse review"
    );
    input.tier = Tier::Interruptive;
    assert!(render_cards(&input)[0]
        .summary
        .ends_with(": assess now, consider blood cultures and lactate"));

    // Held back for a reason (the alert was already shown): the passive
    // card says why, not "for information"; the open Task still comes first.
    input.tier = Tier::Passive;
    input.passive_reason = Some("alert already shown 3.5 h ago".into());
    assert!(render_cards(&input)[0]
        .summary
        .ends_with(": on the pathway, task open: Bedside nurse review"));
    input.open_task = None;
    assert_eq!(
        render_cards(&input)[0].summary,
        "Sepsis risk 11%: alert already shown 3.5 h ago"
    );
    input.tier = Tier::Interruptive;
    assert!(render_cards(&input)[0]
        .summary
        .ends_with(": assess now, consider blood cultures and lactate"));
    assert_eq!(bedside_cds::age_words(210.0), "3.5 h");
}

#[test]
fn the_detail_leads_with_the_trend_and_reads_in_clinical_words() {
    let mut input = wording_input();
    input.probability = p(0.64);
    input.history = vec![
        bedside_cds::EarlierRisk {
            hours_before: 24.0,
            probability: p(0.12),
        },
        bedside_cds::EarlierRisk {
            hours_before: 6.0,
            probability: p(0.41),
        },
    ];
    input.factors = vec![
        Factor {
            name: "Temperature (highest, 24 h)".into(),
            value: Some(38.94),
            unit: "Cel".into(),
            direction: Direction::Raises,
            contribution: 0.081,
        },
        Factor {
            name: "Lactate (latest)".into(),
            value: Some(4.1),
            unit: "mmol/L".into(),
            direction: Direction::Raises,
            contribution: 0.19,
        },
        Factor {
            name: "Mean arterial pressure (lowest, 6 h)".into(),
            value: Some(61.666666666666664),
            unit: "mm[Hg]".into(),
            direction: Direction::Raises,
            contribution: 0.05,
        },
        Factor {
            name: "White cell count (latest)".into(),
            value: Some(14.26),
            unit: "10*3/uL".into(),
            direction: Direction::Raises,
            contribution: 0.04,
        },
        Factor {
            name: "Procalcitonin (latest)".into(),
            value: None,
            unit: "ng/mL".into(),
            direction: Direction::Lowers,
            contribution: -0.03,
        },
    ];
    input.explanation_note = Some(
        "Factor effects are approximate: Shapley values against the average training patient (the model is not linear)."
            .into(),
    );
    input.open_task = Some(bedside_cds::OpenTask {
        name: "Bedside nurse review".into(),
        status: "requested".into(),
        owner: Some("Registered nurse".into()),
        due: Some("10:15 UTC".into()),
    });
    input.ood_reasons =
        vec!["Lactate 14.2 mmol/L is above every training value (max 9.8 mmol/L)".into()];
    let d = bedside_cds::render::detail(&input);
    let first_lines: Vec<&str> = d.lines().filter(|l| !l.is_empty()).take(2).collect();
    assert!(first_lines[0].starts_with("**Sepsis risk 64%**"), "{d}");
    assert_eq!(
        first_lines[1],
        "**Trend:** 64% now · 41% 6 h ago · 12% 24 h ago (rising)"
    );
    for unit in [
        "38.9 °C",
        "62 mmHg",
        "14.3 ×10⁹/L",
        "missing (not measured)",
    ] {
        assert!(d.contains(unit), "{unit}: {d}");
    }
    for raw in ["Cel", "mm\\[Hg", "10\\*3", " pts", "61.66"] {
        assert!(!d.contains(raw), "{raw}: {d}");
    }
    // Ranked by effect, each saying which way it pushes.
    let lactate = d.find("Lactate (latest)").unwrap();
    let temp = d.find("Temperature").unwrap();
    assert!(lactate < temp, "{d}");
    assert!(d.contains("pushes risk up 19 points"), "{d}");
    assert!(d.contains("pushes risk down 3.0 points"), "{d}");
    assert!(d.contains("A missing value moves the risk"), "{d}");
    assert!(d.contains("Factor effects are approximate"), "{d}");
    assert!(
        d.contains(
            "**Already open:** Bedside nurse review (requested, Registered nurse, due 10:15 UTC)"
        ),
        "{d}"
    );
    assert!(d.contains("Outside the training population"), "{d}");
    assert_valid(&input);
    insta::assert_snapshot!("use_case_detail", d);
}

#[test]
fn summary_stays_under_140_characters_for_any_outcome_name() {
    let mut input = sepsis_input();
    for n in [0usize, 1, 50, 100, 120, 139, 140, 500] {
        input.model.outcome = "Ä".repeat(n);
        for tier in [Tier::Passive, Tier::Interruptive, Tier::Escalate] {
            input.tier = tier;
            let s = render_cards(&input)[0].summary.clone();
            assert!(
                s.chars().count() < 140,
                "{n} {tier:?}: {} chars",
                s.chars().count()
            );
            assert!(s.contains("34%"), "the probability is never cut: {s}");
            assert_valid(&input);
        }
    }
}

#[test]
fn suggestion_uuids_are_stable_and_distinct() {
    let a = render_cards(&sepsis_input());
    let b = render_cards(&sepsis_input());
    assert_eq!(a, b, "rendering is deterministic");
    let ids: std::collections::HashSet<_> = a[0]
        .suggestions
        .iter()
        .map(|s| s.uuid.clone().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    let mut other = sepsis_input();
    other.card_uuid = Uuid::parse_str("11111111-2222-4333-8444-555555555555").unwrap();
    let c = render_cards(&other);
    assert!(c[0]
        .suggestions
        .iter()
        .all(|s| !ids.contains(s.uuid.as_ref().unwrap())));
}

#[test]
fn a_use_case_summary_reads_what_how_likely_and_what_to_do() {
    let mut input = sepsis_input();
    input.wording = wording_input().wording;
    let card = &render_cards(&input)[0];
    let s = &card.summary;
    assert!(s.starts_with("Sepsis risk "), "{s}");
    assert!(
        s.ends_with(": assess now, consider blood cultures and lactate"),
        "{s}"
    );
    assert!(s.contains("× usual"), "the base rate gives the ratio: {s}");
    assert!(s.chars().count() < 140);

    // An action too long for one glance is cut at a word, never inside one.
    let long = "assess now, ".repeat(20);
    input.wording = Some(bedside_cds::Wording {
        statement: "Sepsis risk".into(),
        action: long.clone(),
        ..Default::default()
    });
    let s = render_cards(&input)[0].summary.clone();
    assert!(s.chars().count() < 140, "{s}");
    assert!(s.ends_with('…'), "{s}");
    let last = s.trim_end_matches('…').split(' ').next_back().unwrap();
    assert!(
        long.split(' ')
            .any(|w| w.trim_end_matches(',') == last.trim_end_matches(',')),
        "{s}"
    );
}

#[test]
fn fit_words_never_cuts_inside_a_word() {
    use bedside_cds::render::fit_words;
    assert_eq!(fit_words("short enough", 20), "short enough");
    let cut = fit_words("A sepsis Condition (ICD-10-CM A40*, A41*) with onset", 24);
    assert_eq!(cut, "A sepsis Condition…");
    assert!(cut.chars().count() <= 24);
}

#[test]
fn a_data_note_is_a_warning_in_the_detail() {
    let mut input = sepsis_input();
    assert!(!bedside_cds::render::detail(&input).contains("may be incomplete"));
    input.data_note = Some("Data may be incomplete: vitals (timed out)".into());
    let d = bedside_cds::render::detail(&input);
    assert!(
        d.contains("> ⚠ Data may be incomplete: vitals (timed out)"),
        "{d}"
    );
    assert_valid(&input);
}
