//! The decision function: tier, suppression, routing, stage gating.
//!
//! Order of rules for one input (risk `p`, certified threshold `t`):
//! 1. not certified -> Silent (`NotCertified`); comfort care -> Silent.
//!    Out of distribution (`facts.out_of_distribution`) -> never a new
//!    alert, an interruptive card nor an escalation, and the alert memory
//!    is kept: a passive card at any hook when `p` reaches the passive
//!    floor, and `OutOfDistribution { review }` where the prediction would
//!    have escalated and `out_of_distribution.review` is set.
//! 2. an expired snooze is dropped; an open alert whose last alert is older
//!    than the quiet period closes when `p < t`.
//! 3. `p < t`: a passive card at a passive hook if
//!    `p >= tiers.passive_threshold`, else nothing.
//! 4. `p >= t` but on the pathway, pathway actions present (per
//!    `pathway_actions.mode`; never when `off`), or snoozed: suppressed
//!    (a passive card at a passive hook, else nothing).
//! 5. `p >= t`: a *new alert* fires when no alert is open, or on the
//!    configured rise since the last alert, or once the quiet period passed.
//!    A new alert marks an interruptive card pending and escalates per
//!    `tiers.escalate`. At an interruptive hook a pending card is shown
//!    (to a responsible clinician when required; others get a passive
//!    card). Otherwise `AlreadyOpen`.
//! 6. `tier` summarizes: Escalate if the pathway starts, else the card kind,
//!    else Silent. `card` is what to render at this hook; `escalate` whether
//!    to start the escalation pathway (task to `route_to`).
//! 7. shown: never in silent stage or for shadow models; in pilot only for
//!    pilot units / users.

use crate::certify::Certification;
use crate::config::{ActionsMode, Coding, Combine, EscalateOn, PolicyConfig, Stage};
use crate::facts::*;
use bedside_core::Instant;
use chrono::Duration;

fn hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0).round() as i64)
}

/// Pathway actions present within their lookback at `at`, in config order.
pub fn actions_present(cfg: &PolicyConfig, facts: &PatientFacts, at: Instant) -> Vec<String> {
    cfg.pathway_actions
        .lookback_hours
        .iter()
        .filter(|(kind, h)| {
            let from = at - hours(**h);
            facts
                .events
                .get(*kind)
                .is_some_and(|ts| ts.iter().any(|t| *t >= from && *t <= at))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn rise_met(cfg: &PolicyConfig, last: f64, p: f64) -> bool {
    let abs = cfg.realert.rise_absolute.map(|d| p - last >= d - 1e-12);
    let rel = cfg
        .realert
        .rise_relative
        .map(|r| p >= last * (1.0 + r) - 1e-12);
    match (abs, rel, cfg.realert.rise_combine) {
        (None, None, _) => false,
        (Some(a), None, _) | (None, Some(a), _) => a,
        (Some(a), Some(b), Combine::All) => a && b,
        (Some(a), Some(b), Combine::Any) => a || b,
    }
}

/// Responsible clinicians in order: Encounter participants by
/// `routing.participant_priority` (unlisted codes after, in input order),
/// then CareTeam members, then PractitionerRoles serving the unit whose role
/// is the unit's fallback role.
pub fn responsible(cfg: &PolicyConfig, facts: &PatientFacts) -> Vec<(String, RouteSource)> {
    let prio = |code: &str| {
        cfg.routing
            .participant_priority
            .iter()
            .position(|c| c == code)
            .unwrap_or(usize::MAX)
    };
    let mut parts: Vec<_> = facts.participants.iter().enumerate().collect();
    parts.sort_by_key(|(i, (_, code))| (prio(code), *i));
    let mut out: Vec<(String, RouteSource)> = parts
        .into_iter()
        .map(|(_, (r, code))| (r.clone(), RouteSource::EncounterParticipant(code.clone())))
        .collect();
    out.extend(
        facts
            .care_team
            .iter()
            .map(|(r, role)| (r.clone(), RouteSource::CareTeam(role.clone()))),
    );
    if let Some(role) = fallback_role(cfg, facts) {
        out.extend(
            facts
                .practitioner_roles
                .iter()
                .filter(|pr| {
                    pr.role == role
                        && facts
                            .unit
                            .as_ref()
                            .is_some_and(|u| pr.locations.contains(u))
                })
                .map(|pr| {
                    (
                        pr.practitioner.clone(),
                        RouteSource::PractitionerRole(pr.role.clone()),
                    )
                }),
        );
    }
    out
}

fn fallback_role(cfg: &PolicyConfig, facts: &PatientFacts) -> Option<String> {
    facts
        .unit
        .as_ref()
        .and_then(|u| cfg.routing.fallback_roles.get(u))
        .or(cfg.routing.default_fallback_role.as_ref())
        .cloned()
}

/// The one recipient of a routed decision: the most responsible clinician,
/// else the unit's fallback role, else nobody. Never more than one.
pub fn route(cfg: &PolicyConfig, facts: &PatientFacts) -> Vec<Recipient> {
    if let Some((reference, source)) = responsible(cfg, facts).into_iter().next() {
        return vec![Recipient::Practitioner { reference, source }];
    }
    fallback_role(cfg, facts)
        .map(|role| Recipient::Role {
            role,
            unit: facts.unit.clone(),
        })
        .into_iter()
        .collect()
}

fn is_shown(cfg: &PolicyConfig, input: &PolicyInput, tier: Tier, route_to: &[Recipient]) -> bool {
    if tier == Tier::Silent || input.role == ModelRole::Shadow {
        return false;
    }
    match &cfg.stage {
        Stage::Silent => false,
        Stage::Live => true,
        Stage::Pilot { units, users } => {
            let unit_ok = input.facts.unit.as_ref().is_some_and(|u| units.contains(u));
            let user_ok = input.hook.as_ref().and_then(|h| h.user.as_ref()).is_some_and(|u| users.contains(u))
                || route_to.iter().any(|r| matches!(r, Recipient::Practitioner { reference, .. } if users.contains(reference)));
            unit_ok || user_ok
        }
    }
}

/// Decide what to do with one scored risk. Pure: the same inputs give the
/// same decision; the caller stores `Decision::memory`.
pub fn decide(
    cfg: &PolicyConfig,
    cert: &Certification,
    memory: &AlertMemory,
    input: &PolicyInput,
) -> Decision {
    let p = input.probability.get();
    let at = input.at;
    let mut mem = memory.clone();
    let threshold = cert.certified().map(|c| c.threshold);
    let hook = input.hook.as_ref().map(|h| h.hook.as_str());
    let at_passive_hook = hook.is_some_and(|h| cfg.tiers.passive_hooks.iter().any(|x| x == h));
    let at_interruptive_hook =
        hook.is_some_and(|h| cfg.tiers.interruptive_hooks.iter().any(|x| x == h));
    let quiet = hours(cfg.realert.quiet_period_hours);

    let mut out = Decision {
        model_id: input.model_id.clone(),
        role: input.role,
        at,
        probability: p,
        threshold,
        tier: Tier::Silent,
        card: None,
        escalate: false,
        new_alert: false,
        suppressed: None,
        route_to: Vec::new(),
        shown: false,
        memory: AlertMemory::default(),
    };
    let Some(t) = threshold else {
        out.suppressed = Some(Suppression::NotCertified);
        out.memory = mem;
        return out;
    };
    if mem.snooze.as_ref().is_some_and(|s| at >= s.until) {
        mem.snooze = None;
    }
    if mem
        .open
        .as_ref()
        .is_some_and(|o| at - o.last_alert_at >= quiet && p < t)
    {
        mem.open = None;
    }
    if input.facts.comfort_care {
        out.suppressed = Some(Suppression::ComfortCare);
        out.memory = mem;
        return out;
    }
    // A passive card is possible at a passive hook when risk reaches the
    // passive threshold (or the certified one when none is set).
    let passive_floor = cfg.tiers.passive_threshold.map_or(t, |pt| pt.min(t));
    let passive_ok = at_passive_hook && p >= passive_floor;
    if input.facts.out_of_distribution {
        return out_of_distribution(cfg, cert, memory, input, mem, out, passive_floor);
    }
    let (mut escalate, mut interruptive) = (false, false);
    if p >= t {
        let actions = actions_present(cfg, &input.facts, at);
        let actions_block = match cfg.pathway_actions.mode {
            ActionsMode::Off => false,
            ActionsMode::Any => !actions.is_empty(),
            ActionsMode::All => {
                !actions.is_empty() && actions.len() == cfg.pathway_actions.lookback_hours.len()
            }
        };
        out.suppressed = if input.facts.on_pathway {
            Some(Suppression::OnPathway)
        } else if actions_block {
            Some(Suppression::PathwayActionsPresent { actions })
        } else {
            mem.snooze
                .as_ref()
                .map(|s| Suppression::Snoozed { until: s.until })
        };
        if out.suppressed.is_none() {
            (escalate, interruptive) =
                decide_alert(cfg, input, &mut mem, &mut out, at_interruptive_hook, quiet);
        }
    }
    out.card = if interruptive {
        Some(CardKind::Interruptive)
    } else if passive_ok {
        Some(CardKind::Passive)
    } else {
        None
    };
    out.escalate = escalate;
    out.tier = match (escalate, out.card) {
        (true, _) => Tier::Escalate,
        (false, Some(CardKind::Interruptive)) => Tier::Interruptive,
        (false, Some(CardKind::Passive)) => Tier::Passive,
        (false, None) => Tier::Silent,
    };
    if out.escalate || out.card == Some(CardKind::Interruptive) || out.new_alert {
        out.route_to = route(cfg, &input.facts);
    }
    out.shown = is_shown(cfg, input, out.tier, &out.route_to);
    out.memory = mem;
    out
}

/// Rule 1's out-of-distribution case: what the decision would have been,
/// demoted. The memory is the one before the prediction (expiries
/// applied): the model's word on a patient outside its population opens
/// and re-fires nothing.
fn out_of_distribution(
    cfg: &PolicyConfig,
    cert: &Certification,
    memory: &AlertMemory,
    input: &PolicyInput,
    mem: AlertMemory,
    mut out: Decision,
    passive_floor: f64,
) -> Decision {
    let mut trusted = input.clone();
    trusted.facts.out_of_distribution = false;
    let would = decide(cfg, cert, memory, &trusted);
    let at_hook = input.hook.as_ref().is_some_and(|h| {
        cfg.tiers.passive_hooks.contains(&h.hook) || cfg.tiers.interruptive_hooks.contains(&h.hook)
    });
    // A review replaces an escalation that would have been shown (never
    // in silent stage, outside the pilot or for a shadow model).
    let review = cfg.out_of_distribution.review && would.escalate && would.shown;
    out.suppressed = Some(Suppression::OutOfDistribution { review });
    if at_hook && input.probability.get() >= passive_floor {
        out.card = Some(CardKind::Passive);
        out.tier = Tier::Passive;
    }
    out.shown = is_shown(cfg, input, out.tier, &out.route_to);
    if review {
        out.route_to = would.route_to;
    }
    out.memory = mem;
    out
}

/// Step 5 of the rules: the risk is at alert level and nothing suppresses
/// it. Returns (escalate, show the interruptive card now).
fn decide_alert(
    cfg: &PolicyConfig,
    input: &PolicyInput,
    mem: &mut AlertMemory,
    out: &mut Decision,
    at_interruptive_hook: bool,
    quiet: Duration,
) -> (bool, bool) {
    let (p, at) = (input.probability.get(), input.at);
    let first = mem.open.is_none();
    let fire = match &mem.open {
        None => true,
        Some(o) => rise_met(cfg, o.last_alert_risk, p) || at - o.last_alert_at >= quiet,
    };
    if fire {
        let open = mem.open.get_or_insert(OpenAlert {
            opened_at: at,
            last_alert_at: at,
            last_alert_risk: p,
            alert_count: 0,
            card_pending: false,
        });
        open.last_alert_at = at;
        open.last_alert_risk = p;
        open.alert_count += 1;
        open.card_pending = true;
        out.new_alert = true;
    }
    let escalate = fire
        && match cfg.tiers.escalate {
            EscalateOn::FirstAlert => first,
            EscalateOn::EveryAlert => true,
            EscalateOn::Never => false,
        };
    let pending = mem.open.as_ref().is_some_and(|o| o.card_pending);
    let mut card = false;
    if at_interruptive_hook && pending {
        let user = input.hook.as_ref().and_then(|h| h.user.as_ref());
        let resp = responsible(cfg, &input.facts);
        let user_ok = !cfg.tiers.interruptive_only_for_responsible
            || resp.is_empty()
            || user.is_some_and(|u| resp.iter().any(|(r, _)| r == u));
        if user_ok {
            card = true;
            if let Some(o) = mem.open.as_mut() {
                o.card_pending = false;
            }
        } else {
            out.suppressed = Some(Suppression::NotResponsibleUser);
        }
    }
    if !fire && !card {
        out.suppressed.get_or_insert(Suppression::AlreadyOpen);
    }
    (escalate, card)
}

/// Why a snooze was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnoozeError {
    #[error("snooze hours must be > 0 and <= snooze.max_hours ({max}), got {got}")]
    Hours { got: f64, max: f64 },
    #[error("snooze reason {system}|{code} is not one of the configured override_reasons")]
    Reason { system: String, code: String },
}

/// Snooze alerts for this patient and condition (from card feedback or the
/// worklist). `hours: None` uses `snooze.default_hours`. The reason must be
/// one of `override_reasons` when any are configured.
pub fn snooze(
    cfg: &PolicyConfig,
    memory: &AlertMemory,
    at: Instant,
    hours_opt: Option<f64>,
    reason: Coding,
    by: Option<String>,
) -> Result<AlertMemory, SnoozeError> {
    let h = hours_opt.unwrap_or(cfg.snooze.default_hours);
    if !(h.is_finite() && h > 0.0 && h <= cfg.snooze.max_hours) {
        return Err(SnoozeError::Hours {
            got: h,
            max: cfg.snooze.max_hours,
        });
    }
    if !cfg.override_reasons.is_empty()
        && !cfg
            .override_reasons
            .iter()
            .any(|c| c.system == reason.system && c.code == reason.code)
    {
        return Err(SnoozeError::Reason {
            system: reason.system,
            code: reason.code,
        });
    }
    let mut mem = memory.clone();
    if let Some(o) = mem.open.as_mut() {
        o.card_pending = false;
    }
    mem.snooze = Some(Snooze {
        until: at + hours(h),
        reason,
        by,
    });
    Ok(mem)
}
