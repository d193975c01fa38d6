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
    assert_eq!(c.realert.rise_absolute, Some(0.15));
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
        "pathway_actions.lookback_hours"
    );
    assert_eq!(
        err_key("[tiers]\nescalate = \"sometimes\""),
        "tiers.escalate"
    );
    assert_eq!(
        err_key("[tiers]\npassive_hooks = [1]"),
        "tiers.passive_hooks"
    );
    assert_eq!(
        err_key("override_reasons = [{ system = \"s\", code = \"c\" }]"),
        "override_reasons"
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
