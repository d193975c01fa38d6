//! Rendering a scored risk into CDS Hooks cards. Pure: the same input
//! always gives the same cards (uuids included), so cards are golden-tested
//! and feedback can be matched back to them.

use crate::types::{
    Action, ActionType, Card, Coding, Indicator, Link, LinkType, SelectionBehavior, Source,
    Suggestion,
};
use bedside_core::Probability;
use serde_json::Value;
use uuid::Uuid;

/// The policy tier of the decision, mapped onto `card.indicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Information card (`info`).
    Passive,
    /// Interruptive card at a decision point (`warning`).
    Interruptive,
    /// Escalation under way (`critical`).
    Escalate,
}

impl Tier {
    pub fn indicator(self) -> Indicator {
        match self {
            Tier::Passive => Indicator::Info,
            Tier::Interruptive => Indicator::Warning,
            Tier::Escalate => Indicator::Critical,
        }
    }
    fn call_to_action(self) -> &'static str {
        match self {
            Tier::Passive => "",
            Tier::Interruptive => " — review now",
            Tier::Escalate => " — escalated, act now",
        }
    }
}

/// Which way a factor pushes the risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Raises,
    Lowers,
}

/// One of the top contributing factors of this prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// Human name, e.g. "Lactate (last)".
    pub name: String,
    /// The input value; `None` when the input was missing.
    pub value: Option<f64>,
    /// UCUM-style unit, e.g. "mmol/L"; empty when unitless.
    pub unit: String,
    pub direction: Direction,
    /// Contribution on the probability scale (0.062 = 6.2 percentage points).
    pub contribution: f64,
}

/// The identity of the model behind the card.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub id: String,
    pub version: String,
    /// Display label, e.g. "Bedside sepsis (demo)".
    pub label: String,
    /// What is predicted, e.g. "Sepsis"; starts the summary.
    pub outcome: String,
    /// The model facts page Bedside serves.
    pub facts_url: String,
}

/// A pathway action offered as a suggestion: a FHIR resource to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PathwaySuggestion {
    /// Button text, e.g. "Order serum lactate".
    pub label: String,
    /// Action description, e.g. "Create a ServiceRequest for lactate".
    pub description: String,
    /// The FHIR resource to create (ServiceRequest, Task, ...).
    pub resource: Value,
    pub recommended: bool,
}

/// A prediction interval for the probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: Probability,
    pub hi: Probability,
    /// Coverage, e.g. 0.9.
    pub level: f64,
}

/// A use case's own words for the summary: "{statement} {risk}: {action}",
/// the action following the card's tier ([`Wording::action_for`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wording {
    /// What is at risk, e.g. "Sepsis risk".
    pub statement: String,
    /// What to do at an interruptive card, e.g. "assess now, consider
    /// blood cultures and lactate".
    pub action: String,
    /// What to do at a passive card; [`DEFAULT_PASSIVE_ACTION`] when
    /// `None` (a passive card never asks to act now).
    pub passive_action: Option<String>,
    /// What to do at an escalation card; `action` when `None`.
    pub escalation_action: Option<String>,
}

/// The action of a passive card when the use case gives none.
pub const DEFAULT_PASSIVE_ACTION: &str = "for awareness, review at the next routine assessment";

impl Wording {
    /// The action the summary of a card of `tier` ends with.
    pub fn action_for(&self, tier: Tier) -> &str {
        fn given(a: &Option<String>) -> Option<&str> {
            a.as_deref().filter(|a| !a.trim().is_empty())
        }
        match tier {
            Tier::Passive => given(&self.passive_action).unwrap_or(DEFAULT_PASSIVE_ACTION),
            Tier::Interruptive => &self.action,
            Tier::Escalate => given(&self.escalation_action).unwrap_or(&self.action),
        }
    }
}

/// The patient's risk some hours before this prediction (the trend).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlierRisk {
    /// How long before this prediction, in hours (e.g. 6, 24).
    pub hours_before: f64,
    pub probability: Probability,
}

/// The pathway Task already open for this patient.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTask {
    /// What the Task asks, e.g. "Bedside nurse review".
    pub name: String,
    /// FHIR Task status, e.g. "requested".
    pub status: String,
    /// Who holds it (a display or a role), if known.
    pub owner: Option<String>,
    /// When it is due, already formatted (e.g. "10:15 UTC").
    pub due: Option<String>,
}

/// Everything a risk card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CardInput {
    /// The use case's words for the summary (else the outcome and the
    /// tier's call to action).
    pub wording: Option<Wording>,
    /// The card's uuid (feedback refers to it); suggestion uuids derive
    /// from it deterministically.
    pub card_uuid: Uuid,
    pub model: ModelInfo,
    /// Calibrated probability of the outcome.
    pub probability: Probability,
    /// The previous calibrated probability for this patient, for the trend.
    pub previous: Option<Probability>,
    /// The patient's risk 6 h and 24 h before (when known), for the trend
    /// the detail leads with.
    pub history: Vec<EarlierRisk>,
    pub interval: Option<Interval>,
    /// Top factors, most important first.
    pub factors: Vec<Factor>,
    /// How the factor effects were computed, shown when approximate
    /// (e.g. Shapley values against a baseline for a non-linear ONNX model).
    pub explanation_note: Option<String>,
    /// The pathway Task already open for this patient, named on the card.
    pub open_task: Option<OpenTask>,
    /// Why a card at or above the alert threshold is only passive, in a
    /// few words ("alerted 3 h ago, no new alert this stay"); said in the
    /// summary instead of the passive action, which would read as if the
    /// risk were low.
    pub passive_reason: Option<String>,
    /// Minutes since the newest input used by the prediction.
    pub data_age_minutes: Option<f64>,
    /// Data older than this is flagged stale in the detail.
    pub stale_after_minutes: f64,
    /// Outcome prevalence in the training population.
    pub base_rate: Option<Probability>,
    /// Reasons the out-of-distribution guard fired; empty when it did not.
    pub ood_reasons: Vec<String>,
    /// Why the data behind this risk may be incomplete (e.g. the EHR did
    /// not answer a prefetch in time); shown as a warning.
    pub data_note: Option<String>,
    /// The certified-performance sentence, e.g. "When this card fires, at
    /// least 30% of patients develop sepsis within 12 h (95% lower bound)".
    pub promise: Option<String>,
    pub tier: Tier,
    pub suggestions: Vec<PathwaySuggestion>,
    pub override_reasons: Vec<Coding>,
    /// The topic coding of the card source, if configured.
    pub topic: Option<Coding>,
    pub worklist_url: Option<String>,
    pub survey_url: Option<String>,
}

/// A percentage for display: whole percent, with `<1%` and `>99%` at the
/// ends, so a probability never reads as "0%" or "100%".
pub fn percent(p: Probability) -> String {
    let v = (p.get() * 100.0).round();
    // A probability is never certain: 0 and 1 read as the ends too.
    if v < 1.0 {
        "<1%".into()
    } else if v >= 100.0 {
        ">99%".into()
    } else {
        format!("{v:.0}%")
    }
}

fn trend(now: Probability, previous: Option<Probability>) -> String {
    let Some(prev) = previous else {
        return String::new();
    };
    let (a, b) = (percent(now), percent(prev));
    let delta = now.get() - prev.get();
    if a == b || delta.abs() < 0.005 {
        format!(" (→ from {b})")
    } else if delta > 0.0 {
        format!(" (↑ from {b})")
    } else {
        format!(" (↓ from {b})")
    }
}

/// `s` on one line (control characters and whitespace runs become one
/// space), or `fallback` when nothing is left.
fn one_line(s: &str, fallback: &str) -> String {
    let out = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// `text` cut to at most `max` characters at a word boundary (with `…`
/// when cut), never inside a word; trailing punctuation of the cut is
/// dropped.
pub fn fit_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for w in text.split(' ') {
        let next = if out.is_empty() {
            w.to_string()
        } else {
            format!("{out} {w}")
        };
        if next.chars().count() + 1 > max {
            break;
        }
        out = next;
    }
    let out = out
        .trim_end_matches([',', ';', ':', ' ', '-', '—'])
        .to_string();
    format!("{out}…")
}

/// How many times the usual (base) rate `p` is, as a clinician reads it:
/// " (6× usual)"; nothing below 1.5× or without a base rate.
fn ratio_to_usual(p: Probability, base: Option<Probability>) -> String {
    let Some(b) = base.filter(|b| b.get() > 0.0) else {
        return String::new();
    };
    let r = p.get() / b.get();
    if r < 1.5 {
        String::new()
    } else {
        format!(" ({}× usual)", times(r))
    }
}

/// A ratio as read: one decimal below 3 (`2.4`), whole above (`6`).
fn times(r: f64) -> String {
    if r < 3.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}

/// The card summary, always fewer than 140 characters and never cut inside
/// a word. With the use case's wording: "Sepsis risk 64% (6× usual):
/// assess now, consider blood cultures and lactate", the action being the
/// one of the card's tier ([`Wording::action_for`]; cut at a word when it
/// does not fit); a passive card with the pathway's Task open says so
/// instead ("…: on the pathway, task open: Bedside nurse review");
/// without wording: "Sepsis risk 34% (↑ from 21%) — review now" from the
/// outcome.
pub fn summary(input: &CardInput) -> String {
    let limit = crate::validate::SUMMARY_LIMIT - 1;
    if let Some(w) = &input.wording {
        let head = format!(
            "{} {}{}",
            fit_words(&one_line(&w.statement, "Risk"), limit / 2),
            percent(input.probability),
            ratio_to_usual(input.probability, input.base_rate)
        );
        // A passive card for a patient whose pathway Task is open says so:
        // "for awareness" would read as if nothing were being done.
        let action = match (&input.open_task, &input.passive_reason, input.tier) {
            (Some(t), _, Tier::Passive) => {
                format!("on the pathway, task open: {}", one_line(&t.name, "review"))
            }
            (None, Some(r), Tier::Passive) => one_line(r, ""),
            _ => one_line(w.action_for(input.tier), ""),
        };
        if action.is_empty() {
            return fit_words(&head, limit);
        }
        return fit_words(&format!("{head}: {action}"), limit);
    }
    let tail = format!(
        " risk {}{}{}",
        percent(input.probability),
        trend(input.probability, input.previous),
        input.tier.call_to_action()
    );
    let budget = limit.saturating_sub(tail.chars().count());
    let outcome = one_line(&input.model.outcome, "Predicted");
    format!("{}{}", fit_words(&outcome, budget.max(2)), tail)
}

/// Escape text for a Markdown table cell or inline text.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A span of minutes in words: "under 1 min", "45 min", "3.5 h", "2.0 days".
pub fn age_words(minutes: f64) -> String {
    if minutes < 1.0 {
        "under 1 min".into()
    } else if minutes < 120.0 {
        format!("{:.0} min", minutes.floor())
    } else if minutes < 48.0 * 60.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{:.1} days", minutes / 1440.0)
    }
}

/// A factor's value as a clinician reads it (`38.4 °C`, `96 mmHg`,
/// `12 ×10⁹/L`), escaped for Markdown.
fn factor_value(f: &Factor) -> String {
    match f.value {
        Some(v) => md(&bedside_core::units::format_value(v, &f.unit)),
        None => "missing (not measured)".into(),
    }
}

/// A contribution in percentage points, as read: "6", "0.4", "<0.1".
fn points(contribution: f64) -> String {
    let v = contribution.abs() * 100.0;
    if v < 0.05 {
        "<0.1".into()
    } else if v < 9.95 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// "rising", "falling" or "steady" from `from` to `to`.
fn direction_word(from: Probability, to: Probability) -> &'static str {
    let d = to.get() - from.get();
    if d.abs() < 0.02 || percent(from) == percent(to) {
        "steady"
    } else if d > 0.0 {
        "rising"
    } else {
        "falling"
    }
}

/// The trend line: the risk now against 6 h and 24 h before (else the
/// risk at the last card); `None` with nothing to compare with.
fn trend_line(input: &CardInput) -> Option<String> {
    let now = input.probability;
    let mut earlier: Vec<EarlierRisk> = input.history.clone();
    earlier.sort_by(|a, b| a.hours_before.total_cmp(&b.hours_before));
    let mut parts = vec![format!("{} now", percent(now))];
    let oldest = if earlier.is_empty() {
        let prev = input.previous?;
        parts.push(format!("{} at the last card", percent(prev)));
        prev
    } else {
        for e in &earlier {
            parts.push(format!(
                "{} {} h ago",
                percent(e.probability),
                bedside_core::units::format_number(e.hours_before, "h")
            ));
        }
        earlier.last()?.probability
    };
    Some(format!(
        "**Trend:** {} ({})",
        parts.join(" · "),
        direction_word(oldest, now)
    ))
}

/// The certified promise in plain words, as given; the one place the card
/// renders it.
fn promise_line(promise: &str) -> String {
    md(&one_line(promise, ""))
}

/// The card detail in GitHub-flavoured Markdown, short enough to read at
/// a glance: the risk and how it compares with the usual, the trend, any
/// warning (incomplete data, outside the training population), the open
/// pathway Task, what moves the risk (on the probability scale, ranked),
/// the data's age, the promise and the model.
pub fn detail(input: &CardInput) -> String {
    let mut d = String::new();
    let p = percent(input.probability);
    d.push_str(&format!(
        "**{} {p}**",
        md(&match &input.wording {
            Some(w) => one_line(&w.statement, "Risk"),
            None => format!("{} risk", one_line(&input.model.outcome, "Predicted")),
        })
    ));
    if let Some(i) = input.interval {
        d.push_str(&format!(
            " ({:.0}% interval {}–{})",
            i.level * 100.0,
            percent(i.lo),
            percent(i.hi)
        ));
    }
    if let Some(b) = input.base_rate {
        d.push_str(&format!("; usual risk {}", percent(b)));
        if b.get() > 0.0 {
            let r = input.probability.get() / b.get();
            if r >= 1.5 {
                d.push_str(&format!(", this patient {}× usual", times(r)));
            }
        }
    }
    d.push_str(".\n\n");
    if let Some(t) = trend_line(input) {
        d.push_str(&t);
        d.push_str("\n\n");
    }

    if let Some(note) = &input.data_note {
        d.push_str(&format!("> ⚠ {}\n\n", md(&one_line(note, ""))));
    }

    if !input.ood_reasons.is_empty() {
        d.push_str("> ⚠ **Outside the training population**: this patient differs from the data the model learned from, so the estimate is less reliable:\n");
        for r in &input.ood_reasons {
            d.push_str(&format!("> - {}\n", md(&one_line(r, ""))));
        }
        d.push('\n');
    }

    if let Some(t) = &input.open_task {
        let mut line = format!(
            "**Already open:** {} ({}",
            md(&one_line(&t.name, "pathway task")),
            md(&t.status)
        );
        if let Some(o) = &t.owner {
            line.push_str(&format!(", {}", md(o)));
        }
        if let Some(due) = &t.due {
            line.push_str(&format!(", due {}", md(due)));
        }
        line.push(')');
        if let Some(url) = &input.worklist_url {
            line.push_str(&format!(" · [worklist]({url})"));
        }
        d.push_str(&line);
        d.push_str("\n\n");
    }

    if !input.factors.is_empty() {
        let mut factors: Vec<&Factor> = input.factors.iter().collect();
        factors.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        d.push_str("| What moves this risk | Value | Effect |\n|---|---|---|\n");
        for f in &factors {
            let effect = match f.direction {
                Direction::Raises => format!("pushes risk up {} points", points(f.contribution)),
                Direction::Lowers => format!("pushes risk down {} points", points(f.contribution)),
            };
            d.push_str(&format!(
                "| {} | {} | {} |\n",
                md(&f.name),
                factor_value(f),
                effect
            ));
        }
        let mut notes = vec![match input.base_rate {
            Some(b) => format!(
                "Effects are percentage points of risk, largest first, from the usual {}.",
                percent(b)
            ),
            None => "Effects are percentage points of risk, largest first.".to_string(),
        }];
        if factors.iter().any(|f| f.value.is_none()) {
            notes.push(
                "A missing value moves the risk because, in training, whether a test was done said something about how unwell patients were."
                    .into(),
            );
        }
        if let Some(n) = &input.explanation_note {
            notes.push(md(&one_line(n, "")));
        }
        d.push('\n');
        d.push_str(&notes.join(" "));
        d.push_str("\n\n");
    }

    if let Some(m) = input.data_age_minutes {
        let stale = if m > input.stale_after_minutes {
            " ⚠ stale: check for newer results"
        } else {
            ""
        };
        d.push_str(&format!("Newest data: {} old{stale}.\n\n", age_words(m)));
    }
    if let Some(promise) = &input.promise {
        d.push_str(&format!("{}\n\n", promise_line(promise)));
    }
    d.push_str(&format!(
        "_{} v{} · [model facts]({})_",
        md(&input.model.label),
        md(&input.model.version),
        input.model.facts_url
    ));
    d
}

fn links(input: &CardInput) -> Vec<Link> {
    let mut out = vec![Link {
        label: "Model facts: how this risk is computed and when to doubt it".into(),
        url: input.model.facts_url.clone(),
        kind: LinkType::Absolute,
        app_context: None,
        autolaunchable: Some(false),
    }];
    if let Some(url) = &input.worklist_url {
        out.push(Link {
            label: "Open the worklist".into(),
            url: url.clone(),
            kind: LinkType::Absolute,
            app_context: None,
            autolaunchable: Some(false),
        });
    }
    if let Some(url) = &input.survey_url {
        out.push(Link {
            label: "Was this card useful? (30-second survey)".into(),
            url: url.clone(),
            kind: LinkType::Absolute,
            app_context: None,
            autolaunchable: Some(false),
        });
    }
    out
}

/// The uuid of suggestion `i` of the card: a UUID v5 of its label under
/// the card's uuid, stable across renders of the same card.
pub fn suggestion_uuid(card_uuid: &Uuid, index: usize, label: &str) -> Uuid {
    Uuid::new_v5(card_uuid, format!("{index}:{label}").as_bytes())
}

/// The cards for one scored risk (currently one card).
pub fn render_cards(input: &CardInput) -> Vec<Card> {
    let suggestions: Vec<Suggestion> = input
        .suggestions
        .iter()
        .enumerate()
        .map(|(i, s)| Suggestion {
            // A label is REQUIRED and non-empty; fall back to the description.
            label: one_line(&s.label, &one_line(&s.description, "Suggested action")),
            uuid: Some(suggestion_uuid(&input.card_uuid, i, &s.label).to_string()),
            // Written explicitly, `false` too: the specification makes it
            // optional, some clients (HealthChain 0.16) require it.
            is_recommended: Some(s.recommended),
            actions: vec![Action {
                kind: ActionType::Create,
                description: Some(one_line(&s.description, "Suggested action")),
                resource: Some(s.resource.clone()),
                resource_id: None,
            }],
        })
        .collect();
    let selection_behavior = (!suggestions.is_empty()).then_some(SelectionBehavior::Any);
    vec![Card {
        uuid: Some(input.card_uuid.to_string()),
        summary: summary(input),
        detail: Some(detail(input)),
        indicator: input.tier.indicator(),
        source: Source {
            label: format!("{} v{}", input.model.label, input.model.version),
            url: Some(input.model.facts_url.clone()),
            icon: None,
            topic: input.topic.clone(),
        },
        suggestions,
        selection_behavior,
        override_reasons: input.override_reasons.clone(),
        links: links(input),
    }]
}
