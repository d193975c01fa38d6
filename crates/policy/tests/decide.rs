//! One test per suppression, tier, routing and stage rule of `decide`.

use bedside_core::{Instant, Probability};
use bedside_policy::*;
use chrono::{Duration, TimeZone, Utc};

const THR: f64 = 0.3;

fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
}
fn h(x: i64) -> Instant {
    t0() + Duration::hours(x)
}

fn cert() -> Certification {
    Certification::Certified(Certified {
        threshold: THR,
        ppv: 0.4,
        ppv_lower: 0.25,
        confidence: 0.95,
        ppv_floor: 0.2,
        alert_rate_per_100_patient_days: 3.0,
        alert_budget_per_100_patient_days: 5.0,
        n_alerted: 100,
        n_true_alerts: 40,
        n_rows: 1000,
        patient_days: 3000.0,
        promise: String::new(),
        ..Default::default()
    })
}

fn cfg(extra: &str) -> PolicyConfig {
    PolicyConfig::from_toml_str(&format!("stage = \"live\"\n{extra}")).unwrap()
}

fn facts() -> PatientFacts {
    PatientFacts {
        unit: Some("Location/ward-3".into()),
        participants: vec![
            ("Practitioner/consult".into(), "CON".into()),
            ("Practitioner/admitter".into(), "ADM".into()),
            ("Practitioner/attending".into(), "ATND".into()),
        ],
        ..Default::default()
    }
}

fn input(p: f64, at: Instant) -> PolicyInput {
    PolicyInput {
        model_id: "sepsis@1".into(),
        role: ModelRole::Primary,
        probability: Probability::new(p).unwrap(),
        at,
        hook: None,
        facts: facts(),
    }
}

fn at_hook(mut i: PolicyInput, hook: &str, user: &str) -> PolicyInput {
    i.hook = Some(HookContext {
        hook: hook.into(),
        user: Some(user.into()),
    });
    i
}

fn reason() -> Coding {
    let c = PolicyConfig::default();
    c.override_reasons[0].clone()
}

#[test]
fn not_certified_alerts_on_nothing() {
    let nc = Certification::NotCertified { reason: "x".into() };
    let d = decide(
        &cfg(""),
        &nc,
        &AlertMemory::default(),
        &at_hook(input(0.99, h(0)), "order-sign", "Practitioner/attending"),
    );
    assert_eq!(d.tier, Tier::Silent);
    assert_eq!(d.suppressed, Some(Suppression::NotCertified));
    assert!(!d.new_alert && !d.shown && d.memory.open.is_none());
}

#[test]
fn first_alert_escalates_to_the_attending() {
    let d = decide(
        &cfg(""),
        &cert(),
        &AlertMemory::default(),
        &input(0.5, h(0)),
    );
    assert_eq!(d.tier, Tier::Escalate);
    assert!(d.new_alert && d.shown && d.suppressed.is_none());
    assert_eq!(
        d.route_to,
        vec![Recipient::Practitioner {
            reference: "Practitioner/attending".into(),
            source: RouteSource::EncounterParticipant("ATND".into())
        }]
    );
    let open = d.memory.open.unwrap();
    assert_eq!(
        (open.alert_count, open.card_pending, open.last_alert_risk),
        (1, true, 0.5)
    );
}

#[test]
fn below_threshold_is_silent_without_a_hook() {
    let d = decide(
        &cfg(""),
        &cert(),
        &AlertMemory::default(),
        &input(0.29, h(0)),
    );
    assert_eq!(
        (d.tier, d.new_alert, d.route_to.len()),
        (Tier::Silent, false, 0)
    );
}

#[test]
fn one_open_alert_per_patient_until_rise_or_quiet_period() {
    let c = cfg("[realert]\nrise_absolute = 0.15\nquiet_period_hours = 24");
    let m1 = decide(&c, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
    let d = decide(&c, &cert(), &m1, &input(0.6, h(1)));
    assert_eq!((d.tier, d.new_alert), (Tier::Silent, false));
    assert_eq!(d.suppressed, Some(Suppression::AlreadyOpen));
    // Rise of 0.15 since the last alert (0.5 -> 0.65) re-alerts.
    let d = decide(&c, &cert(), &d.memory, &input(0.65, h(2)));
    assert!(d.new_alert);
    assert_eq!(
        d.tier,
        Tier::Silent,
        "escalate = first_alert: a re-alert waits for a hook"
    );
    assert_eq!(d.memory.open.as_ref().unwrap().alert_count, 2);
    // Next rise is measured from 0.65.
    let d = decide(&c, &cert(), &d.memory, &input(0.75, h(3)));
    assert!(!d.new_alert);
    // After the quiet period the same risk alerts again.
    let d = decide(&c, &cert(), &d.memory, &input(0.66, h(2 + 24)));
    assert!(d.new_alert);
}

#[test]
fn relative_rise_and_combination() {
    let any = cfg("[realert]\nrise_absolute = 0.5\nrise_relative = 0.2\nrise_combine = \"any\"");
    let all = cfg("[realert]\nrise_absolute = 0.5\nrise_relative = 0.2\nrise_combine = \"all\"");
    for (c, expect) in [(any, true), (all, false)] {
        let m = decide(&c, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
        // 0.5 -> 0.6 is +20% relative but only +0.1 absolute.
        assert_eq!(decide(&c, &cert(), &m, &input(0.6, h(1))).new_alert, expect);
    }
}

#[test]
fn open_alert_closes_below_threshold_after_quiet_period() {
    let c = cfg("[realert]\nquiet_period_hours = 12");
    let m = decide(&c, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
    let d = decide(&c, &cert(), &m, &input(0.1, h(6)));
    assert!(d.memory.open.is_some(), "still inside the quiet period");
    let d = decide(&c, &cert(), &m, &input(0.1, h(13)));
    assert!(d.memory.open.is_none());
    // A new episode escalates again (first alert of the episode).
    assert_eq!(
        decide(&c, &cert(), &d.memory, &input(0.4, h(14))).tier,
        Tier::Escalate
    );
}

#[test]
fn pending_card_is_shown_once_at_a_decision_hook_to_the_responsible_clinician() {
    let c = cfg("[tiers]\nescalate = \"never\"");
    let m = decide(&c, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
    assert!(m.open.as_ref().unwrap().card_pending);
    // A user who is not responsible sees only a passive card; card stays pending.
    let d = decide(
        &c,
        &cert(),
        &m,
        &at_hook(input(0.5, h(1)), "order-sign", "Practitioner/pharmacist"),
    );
    assert_eq!(d.tier, Tier::Passive);
    assert_eq!(d.suppressed, Some(Suppression::NotResponsibleUser));
    assert!(d.memory.open.as_ref().unwrap().card_pending);
    // patient-view is not a decision hook: passive.
    let d = decide(
        &c,
        &cert(),
        &d.memory,
        &at_hook(input(0.5, h(1)), "patient-view", "Practitioner/attending"),
    );
    assert_eq!(d.tier, Tier::Passive);
    // The attending at order-sign gets the interruptive card, once.
    let d = decide(
        &c,
        &cert(),
        &d.memory,
        &at_hook(input(0.5, h(2)), "order-sign", "Practitioner/attending"),
    );
    assert_eq!((d.tier, d.new_alert), (Tier::Interruptive, false));
    assert!(!d.memory.open.as_ref().unwrap().card_pending);
    let d = decide(
        &c,
        &cert(),
        &d.memory,
        &at_hook(input(0.5, h(3)), "order-sign", "Practitioner/attending"),
    );
    assert_eq!(d.tier, Tier::Passive);
    assert_eq!(d.suppressed, Some(Suppression::AlreadyOpen));
}

#[test]
fn any_user_may_see_the_card_when_responsibility_is_not_required_or_unknown() {
    let c = cfg("[tiers]\nescalate = \"never\"\ninterruptive_only_for_responsible = false");
    let m = decide(&c, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
    let d = decide(
        &c,
        &cert(),
        &m,
        &at_hook(input(0.5, h(1)), "order-sign", "Practitioner/pharmacist"),
    );
    assert_eq!(d.tier, Tier::Interruptive);
    let c = cfg("[tiers]\nescalate = \"never\"");
    let mut i = at_hook(input(0.5, h(1)), "order-sign", "Practitioner/anyone");
    i.facts.participants.clear();
    assert_eq!(decide(&c, &cert(), &m, &i).tier, Tier::Interruptive);
}

#[test]
fn escalation_modes() {
    let every = cfg("[tiers]\nescalate = \"every_alert\"\n[realert]\nquiet_period_hours = 1");
    let m = decide(&every, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
    assert_eq!(
        decide(&every, &cert(), &m, &input(0.5, h(2))).tier,
        Tier::Escalate
    );
    let never = cfg("[tiers]\nescalate = \"never\"");
    let d = decide(&never, &cert(), &AlertMemory::default(), &input(0.5, h(0)));
    assert_eq!((d.tier, d.new_alert), (Tier::Silent, true));
    // A first alert at a decision hook is an escalation and clears the pending card.
    let d = decide(
        &cfg(""),
        &cert(),
        &AlertMemory::default(),
        &at_hook(input(0.5, h(0)), "order-sign", "Practitioner/attending"),
    );
    assert_eq!(d.tier, Tier::Escalate);
    assert!(!d.memory.open.unwrap().card_pending);
}

#[test]
fn passive_threshold_gives_information_cards_below_the_certified_threshold() {
    let c = cfg("[tiers]\npassive_threshold = 0.1");
    let i = at_hook(input(0.15, h(0)), "patient-view", "Practitioner/x");
    let d = decide(&c, &cert(), &AlertMemory::default(), &i);
    assert_eq!((d.tier, d.new_alert, d.shown), (Tier::Passive, false, true));
    assert_eq!(
        decide(&c, &cert(), &AlertMemory::default(), &input(0.15, h(0))).tier,
        Tier::Silent
    );
    let i = at_hook(input(0.05, h(0)), "patient-view", "Practitioner/x");
    assert_eq!(
        decide(&c, &cert(), &AlertMemory::default(), &i).tier,
        Tier::Silent
    );
    // Without passive_threshold, below the certified threshold shows nothing.
    let i = at_hook(input(0.15, h(0)), "patient-view", "Practitioner/x");
    assert_eq!(
        decide(&cfg(""), &cert(), &AlertMemory::default(), &i).tier,
        Tier::Silent
    );
}

#[test]
fn comfort_care_suppresses_everything() {
    let mut i = at_hook(input(0.9, h(0)), "patient-view", "Practitioner/attending");
    i.facts.comfort_care = true;
    let d = decide(&cfg(""), &cert(), &AlertMemory::default(), &i);
    assert_eq!((d.tier, d.new_alert), (Tier::Silent, false));
    assert_eq!(d.suppressed, Some(Suppression::ComfortCare));
}

#[test]
fn on_pathway_suppresses_the_alert() {
    let mut i = input(0.9, h(0));
    i.facts.on_pathway = true;
    let d = decide(&cfg(""), &cert(), &AlertMemory::default(), &i);
    assert_eq!((d.tier, d.new_alert), (Tier::Silent, false));
    assert_eq!(d.suppressed, Some(Suppression::OnPathway));
    assert!(d.memory.open.is_none());
}

#[test]
fn pathway_actions_within_lookback_suppress() {
    let c = cfg("[pathway_actions]\nmode = \"any\"");
    let mut i = input(0.9, h(10));
    i.facts.events.insert("lactate_ordered".into(), vec![h(5)]);
    let d = decide(&c, &cert(), &AlertMemory::default(), &i);
    assert_eq!(
        d.suppressed,
        Some(Suppression::PathwayActionsPresent {
            actions: vec!["lactate_ordered".into()]
        })
    );
    assert!(!d.new_alert);
    // Lactate 7 h ago is outside its 6 h lookback: alert fires.
    i.facts.events.insert("lactate_ordered".into(), vec![h(3)]);
    assert!(decide(&c, &cert(), &AlertMemory::default(), &i).new_alert);
    // An order in the future of the decision does not count.
    i.facts
        .events
        .insert("antibiotic_ordered".into(), vec![h(11)]);
    assert!(decide(&c, &cert(), &AlertMemory::default(), &i).new_alert);
}

#[test]
fn pathway_actions_mode_off_never_suppresses() {
    let c = cfg("[pathway_actions]\nmode = \"off\"");
    let mut i = input(0.9, h(10));
    for kind in [
        "antibiotic_ordered",
        "blood_culture_ordered",
        "lactate_ordered",
    ] {
        i.facts.events.insert(kind.into(), vec![h(9)]);
    }
    let d = decide(&c, &cert(), &AlertMemory::default(), &i);
    assert!(d.new_alert);
    assert_eq!(d.suppressed, None);
}

#[test]
fn pathway_actions_mode_all_needs_every_action() {
    let c = cfg("[pathway_actions]\nmode = \"all\"\nlookback_hours = { antibiotic_ordered = 24, blood_culture_ordered = 24 }");
    let mut i = input(0.9, h(10));
    i.facts
        .events
        .insert("antibiotic_ordered".into(), vec![h(9)]);
    assert!(decide(&c, &cert(), &AlertMemory::default(), &i).new_alert);
    i.facts
        .events
        .insert("blood_culture_ordered".into(), vec![h(9)]);
    assert!(!decide(&c, &cert(), &AlertMemory::default(), &i).new_alert);
}

#[test]
fn snooze_suppresses_until_it_expires() {
    let c = cfg("[realert]\nrise_absolute = 0.15");
    let m = decide(&c, &cert(), &AlertMemory::default(), &input(0.5, h(0))).memory;
    let m = snooze(
        &c,
        &m,
        h(1),
        Some(4.0),
        reason(),
        Some("Practitioner/attending".into()),
    )
    .unwrap();
    assert!(
        !m.open.as_ref().unwrap().card_pending,
        "snoozing dismisses the pending card"
    );
    let d = decide(&c, &cert(), &m, &input(0.95, h(3)));
    assert_eq!(d.suppressed, Some(Suppression::Snoozed { until: h(5) }));
    assert!(!d.new_alert);
    let d = decide(&c, &cert(), &m, &input(0.95, h(5)));
    assert!(d.new_alert, "rise 0.5 -> 0.95 after the snooze expired");
    assert!(d.memory.snooze.is_none());
}

#[test]
fn snooze_validates_hours_and_reason() {
    let c = cfg("");
    let m = AlertMemory::default();
    assert!(matches!(
        snooze(&c, &m, h(0), Some(100.0), reason(), None),
        Err(SnoozeError::Hours { .. })
    ));
    assert!(matches!(
        snooze(&c, &m, h(0), Some(0.0), reason(), None),
        Err(SnoozeError::Hours { .. })
    ));
    let bad = Coding {
        system: "x".into(),
        code: "y".into(),
        display: "z".into(),
    };
    assert!(matches!(
        snooze(&c, &m, h(0), None, bad, None),
        Err(SnoozeError::Reason { .. })
    ));
    let ok = snooze(&c, &m, h(0), None, reason(), None).unwrap();
    assert_eq!(ok.snooze.unwrap().until, h(8), "default 8 hours");
}

#[test]
fn routing_order_care_team_then_practitioner_role_then_fallback_role() {
    let c = cfg("[routing]\nfallback_roles = { \"Location/icu\" = \"rrt-nurse\" }");
    let mut f = facts();
    // Participant priority: ATND first even if listed last.
    assert!(
        matches!(&route(&c, &f)[0], Recipient::Practitioner { reference, .. } if reference == "Practitioner/attending")
    );
    // Unlisted codes come after listed ones.
    f.participants = vec![
        ("Practitioner/odd".into(), "XYZ".into()),
        ("Practitioner/con".into(), "CON".into()),
    ];
    assert!(
        matches!(&route(&c, &f)[0], Recipient::Practitioner { reference, .. } if reference == "Practitioner/con")
    );
    f.participants.clear();
    f.care_team = vec![("Practitioner/ct".into(), "nurse".into())];
    assert_eq!(
        route(&c, &f),
        vec![Recipient::Practitioner {
            reference: "Practitioner/ct".into(),
            source: RouteSource::CareTeam("nurse".into())
        }]
    );
    f.care_team.clear();
    f.unit = Some("Location/icu".into());
    f.practitioner_roles = vec![
        PractitionerRoleFact {
            practitioner: "Practitioner/other-unit".into(),
            role: "rrt-nurse".into(),
            locations: vec!["Location/ward".into()],
        },
        PractitionerRoleFact {
            practitioner: "Practitioner/rrt".into(),
            role: "rrt-nurse".into(),
            locations: vec!["Location/icu".into()],
        },
    ];
    assert!(
        matches!(&route(&c, &f)[0], Recipient::Practitioner { reference, source: RouteSource::PractitionerRole(_) } if reference == "Practitioner/rrt")
    );
    f.practitioner_roles.clear();
    assert_eq!(
        route(&c, &f),
        vec![Recipient::Role {
            role: "rrt-nurse".into(),
            unit: Some("Location/icu".into())
        }]
    );
    f.unit = Some("Location/ward-9".into());
    assert_eq!(
        route(&c, &f),
        vec![Recipient::Role {
            role: "charge-nurse".into(),
            unit: Some("Location/ward-9".into())
        }]
    );
    let none = cfg("[routing]\ndefault_fallback_role = \"\"");
    assert!(
        route(&none, &f).is_empty(),
        "never broadcast: nobody rather than everybody"
    );
}

#[test]
fn stages_gate_what_is_shown_but_not_what_is_recorded() {
    let silent = PolicyConfig::from_toml_str("stage = \"silent\"").unwrap();
    let d = decide(&silent, &cert(), &AlertMemory::default(), &input(0.5, h(0)));
    assert_eq!(
        (d.tier, d.new_alert, d.shown),
        (Tier::Escalate, true, false)
    );
    assert!(d.memory.open.is_some());

    let pilot_unit =
        PolicyConfig::from_toml_str("stage = \"pilot\"\n[pilot]\nunits = [\"Location/ward-3\"]")
            .unwrap();
    assert!(
        decide(
            &pilot_unit,
            &cert(),
            &AlertMemory::default(),
            &input(0.5, h(0))
        )
        .shown
    );
    let mut other = input(0.5, h(0));
    other.facts.unit = Some("Location/ward-4".into());
    assert!(!decide(&pilot_unit, &cert(), &AlertMemory::default(), &other).shown);

    let pilot_user = PolicyConfig::from_toml_str(
        "stage = \"pilot\"\n[pilot]\nusers = [\"Practitioner/attending\"]",
    )
    .unwrap();
    assert!(
        decide(&pilot_user, &cert(), &AlertMemory::default(), &other).shown,
        "routed to a pilot user"
    );
    let mut i = at_hook(input(0.15, h(0)), "patient-view", "Practitioner/attending");
    i.facts.participants.clear();
    let c = PolicyConfig::from_toml_str("stage = \"pilot\"\n[pilot]\nusers = [\"Practitioner/attending\"]\n[tiers]\npassive_threshold = 0.1").unwrap();
    assert!(
        decide(&c, &cert(), &AlertMemory::default(), &i).shown,
        "hook user in pilot"
    );
}

#[test]
fn shadow_model_is_decided_and_recorded_but_never_shown() {
    let mut i = input(0.5, h(0));
    i.role = ModelRole::Shadow;
    i.model_id = "sepsis@2-challenger".into();
    let d = decide(&cfg(""), &cert(), &AlertMemory::default(), &i);
    assert_eq!(
        (d.tier, d.new_alert, d.shown),
        (Tier::Escalate, true, false)
    );
    assert_eq!(d.model_id, "sepsis@2-challenger");
    assert_eq!(d.role, ModelRole::Shadow);
}

#[test]
fn escalation_and_card_are_reported_separately() {
    // First alert at order-sign by a non-responsible user: the pathway starts
    // for the attending, the user gets only a passive card, the interruptive
    // card stays pending for a responsible clinician.
    let d = decide(
        &cfg(""),
        &cert(),
        &AlertMemory::default(),
        &at_hook(input(0.5, h(0)), "order-sign", "Practitioner/pharmacist"),
    );
    assert_eq!(
        (d.tier, d.escalate, d.card),
        (Tier::Escalate, true, Some(CardKind::Passive))
    );
    assert_eq!(d.suppressed, Some(Suppression::NotResponsibleUser));
    assert!(d.memory.open.as_ref().unwrap().card_pending);
    // Same at order-sign by the attending: escalation plus the interruptive card.
    let d = decide(
        &cfg(""),
        &cert(),
        &AlertMemory::default(),
        &at_hook(input(0.5, h(0)), "order-sign", "Practitioner/attending"),
    );
    assert_eq!(
        (d.tier, d.escalate, d.card),
        (Tier::Escalate, true, Some(CardKind::Interruptive))
    );
    // Without a hook there is never a card.
    let d = decide(
        &cfg(""),
        &cert(),
        &AlertMemory::default(),
        &input(0.5, h(0)),
    );
    assert_eq!((d.escalate, d.card), (true, None));
}
