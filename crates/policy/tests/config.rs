//! Policy configuration: defaults, generated docs, and errors that name the key.

use bedside_policy::config::*;

fn err_key(text: &str) -> String {
    match PolicyConfig::from_toml_str(text) {
        Err(ConfigError::Invalid { key, .. }) => key,
        Err(ConfigError::Unknown(key)) => format!("unknown:{key}"),
        other => panic!("expected an error for {text:?}, got {other:?}"),
    }
}

#[test]
fn defaults_are_valid_and_round_trip_through_default_toml() {
    let d = PolicyConfig::default();
    assert_eq!(d.stage, Stage::Silent);
    assert_eq!(d.certification.confidence, 0.95);
    assert_eq!(
        d.pathway_actions.lookback_hours.get("lactate_ordered"),
        Some(&6.0)
    );
    // Chosen by `bedside evaluate --sweep` (docs/benchmarks.md).
    assert_eq!(d.realert.rise_absolute, None);
    assert_eq!(d.realert.quiet_period_hours, 720.0);
    assert_eq!(d.pathway_actions.mode, ActionsMode::Off);
    assert_eq!(d.override_reasons.len(), 4);
    assert_eq!(
        PolicyConfig::from_toml_str(&PolicyConfig::default_toml()).unwrap(),
        d
    );
    let doc = PolicyConfig::documentation();
    for s in SETTINGS {
        assert!(doc.contains(s.key));
    }
}

#[test]
fn parses_pilot_and_overrides() {
    let c = PolicyConfig::from_toml_str(
        r#"stage = "pilot"
           [pilot]
           units = ["Location/icu"]
           [realert]
           rise_relative = 0.5
           [routing]
           fallback_roles = { "Location/icu" = "rrt-nurse" }
           default_fallback_role = ""
        "#,
    )
    .unwrap();
    assert_eq!(
        c.stage,
        Stage::Pilot {
            units: vec!["Location/icu".into()],
            users: vec![]
        }
    );
    assert_eq!(c.realert.rise_relative, Some(0.5));
    assert_eq!(c.realert.rise_absolute, None);
    assert_eq!(c.routing.fallback_roles["Location/icu"], "rrt-nurse");
    assert_eq!(c.routing.default_fallback_role, None);
}

#[test]
fn errors_name_the_key() {
    assert_eq!(err_key("stage = \"on\""), "stage");
    assert_eq!(err_key("stage = \"pilot\""), "pilot.units");
    assert_eq!(
        err_key("[certification]\nppv_floor = 1.5"),
        "certification.ppv_floor"
    );
    assert_eq!(
        err_key("[certification]\nconfidence = \"high\""),
        "certification.confidence"
    );
    assert_eq!(
        err_key("[realert]\nquiet_period_hours = -1"),
        "realert.quiet_period_hours"
    );
    assert_eq!(
        err_key("[realert]\nrise_combine = \"both\""),
        "realert.rise_combine"
    );
    assert_eq!(err_key("[snooze]\nmax_hours = 1.0"), "snooze.max_hours");
    assert_eq!(
        err_key("[pathway_actions]\nlookback_hours = { lactate_ordered = 0 }"),
        "pathway_actions.lookback_hours.lactate_ordered"
    );
    assert_eq!(
        err_key("[tiers]\nescalate = \"sometimes\""),
        "tiers.escalate"
    );
    assert_eq!(
        err_key("[tiers]\npassive_hooks = [1]"),
        "tiers.passive_hooks[0]"
    );
    assert_eq!(
        err_key("override_reasons = [{ system = \"s\", code = \"c\" }]"),
        "override_reasons[0]"
    );
    assert_eq!(
        err_key("[tiers]\nescalte = \"never\""),
        "unknown:tiers.escalte"
    );
    assert_eq!(err_key("budget = 3"), "unknown:budget");
    let msg = PolicyConfig::from_toml_str("[certification]\nppv_floor = 2")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("certification.ppv_floor") && msg.contains("(0, 1)"),
        "{msg}"
    );
    assert!(matches!(
        PolicyConfig::from_toml_str("stage = "),
        Err(ConfigError::Syntax(_))
    ));
}

fn err_msg(text: &str) -> String {
    match PolicyConfig::from_toml_str(text) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
    }
}

#[test]
fn a_mistyped_key_is_refused_by_its_path() {
    // A typo at the top level, in a section, in a section's name and in an
    // override reason: each is refused, never silently defaulted.
    assert_eq!(err_key("condtion = \"sepsis\""), "unknown:condtion");
    assert_eq!(
        err_key("[realert]\nquiet_period_hour = 12"),
        "unknown:realert.quiet_period_hour"
    );
    assert_eq!(err_key("[snoze]\nmax_hours = 12"), "unknown:snoze");
    assert_eq!(
        err_key(
            "[[override_reasons]]\nsystem = \"s\"\ncode = \"c\"\ndisplay = \"d\"\ndispaly = \"d\""
        ),
        "unknown:override_reasons[0].dispaly"
    );
    assert_eq!(
        err_msg("[tiers]\nescalte = \"never\""),
        "policy setting `tiers.escalte` is unknown (see PolicyConfig::documentation)"
    );
}

#[test]
fn values_are_checked_with_the_path_and_the_reason() {
    assert_eq!(
        err_msg("[realert]\nquiet_period_hours = 0"),
        "policy setting `realert.quiet_period_hours`: must be > 0, got 0"
    );
    assert_eq!(
        err_msg("[realert]\nrise_absolute = nan"),
        "policy setting `realert.rise_absolute`: must be in (0, 1), got NaN"
    );
    assert_eq!(
        err_msg("[snooze]\ndefault_hours = 10\nmax_hours = 9"),
        "policy setting `snooze.max_hours`: must be >= snooze.default_hours (10), got 9"
    );
    assert_eq!(
        err_msg("condition = \"  \""),
        "policy setting `condition`: must not be blank"
    );
    assert_eq!(
        err_msg("[routing]\nfallback_roles = { \"Location/icu\" = \"\" }"),
        "policy setting `routing.fallback_roles.Location/icu`: must not be blank"
    );
    assert_eq!(
        err_msg("shadow_models = [\"m1\", \"\"]"),
        "policy setting `shadow_models[1]`: must not be blank"
    );
    let msg = err_msg("[tiers]\ninterruptive_only_for_responsible = \"yes\"");
    assert!(
        msg.starts_with("policy setting `tiers.interruptive_only_for_responsible`: invalid type"),
        "{msg}"
    );
    let msg = err_msg("tiers = 3");
    assert!(
        msg.contains("`tiers`") && msg.contains("a [tiers] table"),
        "{msg}"
    );
    let msg = err_msg("stage = \"on\"");
    assert!(msg.contains("`stage`") && msg.contains("`pilot`"), "{msg}");
}

#[test]
fn integers_read_as_numbers_and_maps_replace_the_default_whole() {
    let c = PolicyConfig::from_toml_str(
        "[snooze]\ndefault_hours = 4\nmax_hours = 4\n\
         [pathway_actions]\nlookback_hours = { antibiotic_ordered = 12 }",
    )
    .unwrap();
    assert_eq!((c.snooze.default_hours, c.snooze.max_hours), (4.0, 4.0));
    assert_eq!(
        c.pathway_actions.lookback_hours,
        [("antibiotic_ordered".to_string(), 12.0)].into()
    );
    // A section given in part keeps the defaults of its other keys.
    assert_eq!(c.realert, PolicyConfig::default().realert);
    assert_eq!(
        c.pathway_actions.mode,
        PolicyConfig::default().pathway_actions.mode
    );
}

#[test]
fn the_demo_policy_file_parses_to_live_with_every_other_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo-policy.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let c = PolicyConfig::from_toml_str(&text).unwrap();
    let expected = PolicyConfig {
        stage: Stage::Live,
        ..PolicyConfig::default()
    };
    assert_eq!(c, expected);
    // The stage outside the pilot ignores the pilot lists.
    let silent =
        PolicyConfig::from_toml_str("stage = \"silent\"\n[pilot]\nunits = [\"Location/icu\"]")
            .unwrap();
    assert_eq!(silent.stage, Stage::Silent);
}
