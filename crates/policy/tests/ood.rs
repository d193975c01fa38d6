//! Out-of-distribution predictions never interrupt: whatever the risk,
//! the hook, the memory or the stage, an OOD prediction gives at most a
//! passive card, never a new alert nor an escalation, and leaves the alert
//! memory as it was; with `out_of_distribution.review` it asks for a
//! review where it would have escalated.

use bedside_core::{Instant, Probability};
use bedside_policy::*;
use chrono::{Duration, TimeZone, Utc};

fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
}

/// Certified at 0.5 (10 positives at 0.9, 10 negatives at 0.5, 80 at 0.1).
fn cert() -> Certification {
    let mut rows = vec![(0.9, true, 1.0); 10];
    rows.extend(vec![(0.5, false, 1.0); 10]);
    rows.extend(vec![(0.1, false, 1.0); 80]);
    let c = certify(
        &CalibrationSet::with_row_exposure(rows),
        &CertificationConfig {
            ppv_floor: 0.2,
            confidence: 0.95,
            alert_budget_per_100_patient_days: 100.0,
        },
    );
    assert_eq!(c.certified().map(|c| c.threshold), Some(0.5));
    c
}

fn cfg(extra: &str) -> PolicyConfig {
    PolicyConfig::from_toml_str(&format!(
        "stage = \"live\"\ntiers.passive_threshold = 0.2\n{extra}"
    ))
    .unwrap()
}

fn input(p: f64, at: Instant, hook: Option<&str>, ood: bool) -> PolicyInput {
    PolicyInput {
        model_id: "m".into(),
        role: ModelRole::Primary,
        probability: Probability::new(p).unwrap(),
        at,
        hook: hook.map(|h| HookContext {
            hook: h.into(),
            user: Some("Practitioner/attending".into()),
        }),
        facts: PatientFacts {
            unit: Some("Location/ward".into()),
            participants: vec![("Practitioner/attending".into(), "ATND".into())],
            out_of_distribution: ood,
            ..Default::default()
        },
    }
}

fn open_alert(at: Instant, risk: f64) -> AlertMemory {
    AlertMemory {
        open: Some(OpenAlert {
            opened_at: at,
            last_alert_at: at,
            last_alert_risk: risk,
            alert_count: 1,
            card_pending: true,
        }),
        snooze: None,
    }
}

#[test]
fn ood_predictions_never_produce_an_interruptive_card() {
    let cert = cert();
    let hooks = [
        None,
        Some("patient-view"),
        Some("order-sign"),
        Some("order-select"),
    ];
    let memories = [
        AlertMemory::default(),
        open_alert(t0() - Duration::hours(30), 0.6),
        open_alert(t0() - Duration::hours(1), 0.55),
    ];
    let mut interruptive_if_trusted = 0;
    for review in [false, true] {
        let cfg = cfg(&format!("[out_of_distribution]\nreview = {review}"));
        for p in [0.05, 0.25, 0.5, 0.7, 0.99] {
            for hook in hooks {
                for mem in &memories {
                    let trusted = decide(&cfg, &cert, mem, &input(p, t0(), hook, false));
                    if trusted.card == Some(CardKind::Interruptive) {
                        interruptive_if_trusted += 1;
                    }
                    let d = decide(&cfg, &cert, mem, &input(p, t0(), hook, true));
                    let case = format!("p {p}, hook {hook:?}, memory {mem:?}, review {review}");
                    assert_ne!(d.card, Some(CardKind::Interruptive), "{case}");
                    assert!(!d.escalate && !d.new_alert, "{case}");
                    assert!(d.tier <= Tier::Passive, "{case}: {:?}", d.tier);
                    // Kept: nothing opened or re-fired (an expired alert
                    // may close, as it would anyway).
                    assert_eq!(d.memory.snooze, mem.snooze, "{case}");
                    assert!(
                        d.memory.open.is_none() || d.memory.open == mem.open,
                        "{case}: the memory is kept, got {:?}",
                        d.memory
                    );
                    let Some(Suppression::OutOfDistribution { review: r }) = d.suppressed else {
                        panic!("{case}: {:?}", d.suppressed);
                    };
                    assert_eq!(r, review && trusted.escalate, "{case}");
                    // A passive card wherever a card may show and the risk
                    // reaches the passive floor.
                    assert_eq!(
                        d.card == Some(CardKind::Passive),
                        hook.is_some() && p >= 0.2,
                        "{case}"
                    );
                    if r {
                        assert!(!d.route_to.is_empty(), "{case}: the review is routed");
                    }
                }
            }
        }
    }
    assert!(
        interruptive_if_trusted > 0,
        "the same inputs in distribution do interrupt"
    );
}

#[test]
fn ood_review_is_never_asked_in_silent_stage() {
    let cfg =
        PolicyConfig::from_toml_str("stage = \"silent\"\n[out_of_distribution]\nreview = true")
            .unwrap();
    let d = decide(
        &cfg,
        &cert(),
        &AlertMemory::default(),
        &input(0.9, t0(), None, true),
    );
    assert_eq!(
        d.suppressed,
        Some(Suppression::OutOfDistribution { review: false })
    );
    assert!(!d.shown);
}
