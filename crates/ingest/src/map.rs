//! The channel mapping: FHIR codes and UCUM units -> named channels.
//! Defined in TOML (`config/channels.toml` is the shipped default); the
//! file's header documents the format.

use bedside_fhir::{CodeableConcept, Coding};
use chrono::Duration;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The mapping file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("channel mapping is not valid TOML: {0}")]
    Toml(String),
    #[error("channel mapping {at}: {reason}")]
    Invalid { at: String, reason: String },
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    #[serde(default)]
    retention_hours: Option<f64>,
    #[serde(default)]
    systems: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    channel: Vec<ChannelDef>,
    #[serde(default)]
    event: Vec<EventDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelDef {
    name: String,
    /// What a clinician calls it ("Mean arterial pressure").
    #[serde(default)]
    label: Option<String>,
    codes: Vec<String>,
    unit: String,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    convert: Vec<ConvertDef>,
    #[serde(default)]
    answers: BTreeMap<String, f64>,
    #[serde(default)]
    answer_text: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvertDef {
    from: Vec<String>,
    #[serde(default)]
    sub: f64,
    #[serde(default = "one")]
    mul: f64,
    #[serde(default = "one")]
    div: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventDef {
    name: String,
    resources: Vec<String>,
    #[serde(default)]
    same_as: Option<String>,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    text: Vec<String>,
    #[serde(default)]
    exclude_text: Vec<String>,
    #[serde(default)]
    time: Option<String>,
}

/// A linear conversion into a channel's canonical unit:
/// `((v - sub) * mul) / div`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    pub sub: f64,
    pub mul: f64,
    pub div: f64,
}

impl Conversion {
    pub const IDENTITY: Conversion = Conversion {
        sub: 0.0,
        mul: 1.0,
        div: 1.0,
    };
    pub fn apply(&self, v: f64) -> f64 {
        ((v - self.sub) * self.mul) / self.div
    }
}

/// One numeric input channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    /// What a clinician calls it (`label`; else the name, `_` read as a
    /// space: "Heart rate" for `heart_rate`).
    pub label: String,
    /// Canonical UCUM unit of the stored values.
    pub unit: String,
    units: HashMap<String, Conversion>,
    units_lower: HashMap<String, Conversion>,
    answers: HashMap<String, HashMap<String, f64>>,
    answer_text: Vec<(String, f64)>,
}

impl Channel {
    /// The conversion for a unit (exact, else case-insensitive); `""`
    /// means "no unit given".
    pub fn conversion(&self, unit: &str) -> Option<Conversion> {
        let u = unit.trim();
        self.units
            .get(u)
            .or_else(|| self.units_lower.get(&u.to_lowercase()))
            .copied()
    }
    /// The accepted units, sorted (for error messages).
    pub fn accepted_units(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .units
            .keys()
            .map(|u| {
                if u.is_empty() {
                    "(none)".to_string()
                } else {
                    u.clone()
                }
            })
            .collect();
        v.sort();
        v
    }
    /// Does this channel take coded answers?
    pub fn is_ordinal(&self) -> bool {
        !self.answers.is_empty() || !self.answer_text.is_empty()
    }
    /// The number for a coded value: by code, else by text/display.
    pub fn answer(&self, c: &CodeableConcept) -> Option<f64> {
        for cd in &c.coding {
            if let (Some(s), Some(k)) = (&cd.system, &cd.code) {
                if let Some(v) = self.answers.get(s).and_then(|m| m.get(k)) {
                    return Some(*v);
                }
            }
        }
        let texts = c
            .coding
            .iter()
            .filter_map(|cd| cd.display.as_deref())
            .chain(c.text.as_deref());
        for t in texts {
            let t = normalize_text(t);
            if let Some((_, v)) = self
                .answer_text
                .iter()
                .find(|(k, _)| t.contains(k.as_str()))
            {
                return Some(*v);
            }
        }
        None
    }
}

/// When an event rule places its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// The resource's clinical time (onset, authored, effective, ...).
    Clinical,
    /// When it was recorded (Condition.recordedDate, else meta.lastUpdated,
    /// else the clinical time).
    Recorded,
}

/// One event channel rule.
#[derive(Debug, Clone)]
pub struct EventRule {
    pub name: String,
    pub resources: Vec<String>,
    pub time: EventTime,
    exact: HashMap<String, HashSet<String>>,
    prefixes: Vec<(String, String)>,
    text: Vec<String>,
    exclude_text: Vec<String>,
}

impl EventRule {
    /// Does this concept match the rule (by code, or by text without an
    /// excluded word)?
    pub fn matches(&self, c: &CodeableConcept) -> bool {
        let texts = || {
            c.coding
                .iter()
                .filter_map(|cd| cd.display.as_deref())
                .chain(c.text.as_deref())
                .map(normalize_text)
        };
        if !self.exclude_text.is_empty()
            && texts().any(|t| self.exclude_text.iter().any(|x| t.contains(x.as_str())))
        {
            return false;
        }
        if c.coding.iter().any(|cd| self.code_matches(cd)) {
            return true;
        }
        !self.text.is_empty() && texts().any(|t| self.text.iter().any(|x| t.contains(x.as_str())))
    }

    fn code_matches(&self, cd: &Coding) -> bool {
        let (Some(s), Some(k)) = (&cd.system, &cd.code) else {
            return false;
        };
        self.exact.get(s).is_some_and(|codes| codes.contains(k))
            || self
                .prefixes
                .iter()
                .any(|(ps, pk)| ps == s && k.starts_with(pk.as_str()))
    }
}

/// Lower-case; `_` and `-` read as spaces (`Blood_culture_x2` ->
/// `blood culture x2`).
pub fn normalize_text(t: &str) -> String {
    t.to_lowercase().replace(['_'], " ")
}

/// A channel name as words: `heart_rate` → "Heart rate".
pub fn humanize(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut cs = words.chars();
    match cs.next() {
        Some(f) => f.to_uppercase().chain(cs).collect(),
        None => String::new(),
    }
}

/// The compiled mapping.
#[derive(Debug, Clone)]
pub struct ChannelMap {
    retention: Duration,
    channels: Vec<Channel>,
    by_code: HashMap<String, HashMap<String, usize>>,
    events: Vec<EventRule>,
}

const DEFAULT_TOML: &str = include_str!("../../../config/channels.toml");

impl ChannelMap {
    /// The shipped default (`config/channels.toml`, embedded at build time).
    pub fn default_map() -> Self {
        // The embedded file is part of the build and is checked by a test;
        // failing here would be a build defect, not bad input.
        Self::from_toml_str(DEFAULT_TOML).expect("the shipped config/channels.toml is valid")
    }

    /// The text of the shipped default mapping.
    pub fn default_toml() -> &'static str {
        DEFAULT_TOML
    }

    /// Parse and check a mapping file.
    pub fn from_toml_str(s: &str) -> Result<Self, ConfigError> {
        let f: MapFile = toml::from_str(s).map_err(|e| ConfigError::Toml(e.to_string()))?;
        let retention = retention(f.retention_hours)?;
        let (channels, by_code) = compile_channels(f.channel, &f.systems)?;
        let events = compile_events(f.event, &f.systems)?;
        Ok(Self {
            retention,
            channels,
            by_code,
            events,
        })
    }

    /// How long channels keep points before their newest one.
    pub fn retention(&self) -> Duration {
        self.retention
    }
    /// The same mapping with another retention window.
    pub fn with_retention(mut self, r: Duration) -> Self {
        self.retention = r;
        self
    }
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    pub fn events(&self) -> &[EventRule] {
        &self.events
    }
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }
    /// The channel a coding is mapped to.
    pub fn channel_for(&self, system: &str, code: &str) -> Option<&Channel> {
        self.by_code
            .get(system)
            .and_then(|m| m.get(code))
            .map(|i| &self.channels[*i])
    }
    /// The channel of the first mapped coding of a concept.
    pub fn channel_for_concept(&self, c: &CodeableConcept) -> Option<&Channel> {
        c.coding.iter().find_map(|cd| match (&cd.system, &cd.code) {
            (Some(s), Some(k)) => self.channel_for(s, k),
            _ => None,
        })
    }
    /// Event rules that apply to a resource type.
    pub fn events_for<'a>(&'a self, rtype: &'a str) -> impl Iterator<Item = &'a EventRule> + 'a {
        self.events
            .iter()
            .filter(move |e| e.resources.iter().any(|r| r == rtype))
    }
}

/// The retention window: `retention_hours` (default 48), more than 0 and
/// at most a year.
fn retention(hours: Option<f64>) -> Result<Duration, ConfigError> {
    let hours = hours.unwrap_or(48.0);
    if !(hours.is_finite() && hours > 0.0 && hours <= 24.0 * 365.0) {
        return Err(invalid("retention_hours", "must be > 0 and at most a year"));
    }
    Ok(Duration::seconds((hours * 3600.0) as i64))
}

/// `system|code` -> one `(system URI, code)` per URI of the system: a
/// name defined under `[systems]`, or a URI itself.
fn expand(
    systems: &BTreeMap<String, Vec<String>>,
    code: &str,
    at: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let (sys, c) = code
        .split_once('|')
        .ok_or_else(|| invalid(at, format!("code {code:?} must be \"system|code\"")))?;
    if c.is_empty() || c == "*" {
        return Err(invalid(at, format!("code {code:?} has no code")));
    }
    let uris = match systems.get(sys) {
        Some(u) => u.clone(),
        None if sys.contains(':') => vec![sys.to_string()],
        None => {
            return Err(invalid(
                at,
                format!("unknown system {sys:?} (define it under [systems] or use a URI)"),
            ))
        }
    };
    Ok(uris.into_iter().map(|u| (u, c.to_string())).collect())
}

/// System URI -> code -> channel index.
type ByCode = HashMap<String, HashMap<String, usize>>;

/// The `[[channel]]` tables, in order, and the index of their codes.
fn compile_channels(
    defs: Vec<ChannelDef>,
    systems: &BTreeMap<String, Vec<String>>,
) -> Result<(Vec<Channel>, ByCode), ConfigError> {
    let mut channels = Vec::new();
    let mut by_code: ByCode = HashMap::new();
    let mut names = HashSet::new();
    for (i, d) in defs.into_iter().enumerate() {
        let at = format!("channel[{i}] ({})", d.name);
        if d.name.is_empty() || !names.insert(d.name.clone()) {
            return Err(invalid(&at, "name must be non-empty and unique"));
        }
        if d.codes.is_empty() {
            return Err(invalid(&at, "needs at least one code"));
        }
        let units = channel_units(&d, &at)?;
        let units_lower = units.iter().map(|(k, v)| (k.to_lowercase(), *v)).collect();
        let mut answers: HashMap<String, HashMap<String, f64>> = HashMap::new();
        for (k, v) in &d.answers {
            for (sys, c) in expand(systems, k, &at)? {
                answers.entry(sys).or_default().insert(c, *v);
            }
        }
        let answer_text = d
            .answer_text
            .iter()
            .map(|(k, v)| (normalize_text(k), *v))
            .collect();
        index_codes(&d.codes, channels.len(), systems, &at, &mut by_code)?;
        let label = d
            .label
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| humanize(&d.name));
        channels.push(Channel {
            label,
            name: d.name,
            unit: d.unit,
            units,
            units_lower,
            answers,
            answer_text,
        });
    }
    Ok((channels, by_code))
}

/// A channel's accepted units (`unit`, `units`: as they are) and converted
/// ones (`convert`); a unit is either accepted or converted.
fn channel_units(d: &ChannelDef, at: &str) -> Result<HashMap<String, Conversion>, ConfigError> {
    let mut units = HashMap::new();
    units.insert(d.unit.clone(), Conversion::IDENTITY);
    for u in &d.units {
        units.insert(u.clone(), Conversion::IDENTITY);
    }
    for c in &d.convert {
        if !(c.sub.is_finite() && c.mul.is_finite() && c.div.is_finite())
            || c.div == 0.0
            || c.mul == 0.0
        {
            return Err(invalid(
                at,
                "convert needs finite sub/mul and non-zero mul/div",
            ));
        }
        for u in &c.from {
            if units.contains_key(u) {
                return Err(invalid(
                    at,
                    format!("unit {u:?} both accepted and converted"),
                ));
            }
            units.insert(
                u.clone(),
                Conversion {
                    sub: c.sub,
                    mul: c.mul,
                    div: c.div,
                },
            );
        }
    }
    Ok(units)
}

/// Map the `codes` of channel `idx` in `by_code`: exact codes only, each
/// mapped to one channel.
fn index_codes(
    codes: &[String],
    idx: usize,
    systems: &BTreeMap<String, Vec<String>>,
    at: &str,
    by_code: &mut ByCode,
) -> Result<(), ConfigError> {
    for code in codes {
        if code.ends_with('*') {
            return Err(invalid(at, "channel codes cannot be prefixes"));
        }
        for (sys, c) in expand(systems, code, at)? {
            if let Some(prev) = by_code
                .entry(sys.clone())
                .or_default()
                .insert(c.clone(), idx)
            {
                if prev != idx {
                    return Err(invalid(
                        at,
                        format!("code {sys}|{c} is already mapped to another channel"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The `[[event]]` tables, in order; `same_as` names an earlier one.
fn compile_events(
    defs: Vec<EventDef>,
    systems: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<EventRule>, ConfigError> {
    let mut events: Vec<EventRule> = Vec::new();
    let mut enames = HashSet::new();
    for (i, d) in defs.into_iter().enumerate() {
        let at = format!("event[{i}] ({})", d.name);
        if d.name.is_empty() || !enames.insert(d.name.clone()) {
            return Err(invalid(&at, "name must be non-empty and unique"));
        }
        let rule = compile_event(d, &at, &events, systems)?;
        events.push(rule);
    }
    Ok(events)
}

/// One event rule: resource types Bedside reads, a time, and codes (exact
/// or `prefix*`) or text, added to those of its `same_as` base in
/// `earlier`.
fn compile_event(
    d: EventDef,
    at: &str,
    earlier: &[EventRule],
    systems: &BTreeMap<String, Vec<String>>,
) -> Result<EventRule, ConfigError> {
    for r in &d.resources {
        if !bedside_fhir::resources::READ_TYPES.contains(&r.as_str()) {
            return Err(invalid(
                at,
                format!("{r:?} is not a resource type Bedside reads"),
            ));
        }
    }
    let time = event_time(d.time.as_deref(), at)?;
    let (mut exact, mut prefixes, mut text, mut exclude_text) = (
        HashMap::<String, HashSet<String>>::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    if let Some(base) = &d.same_as {
        let b = earlier
            .iter()
            .find(|e| &e.name == base)
            .ok_or_else(|| invalid(at, format!("same_as {base:?} must name an earlier event")))?;
        exact = b.exact.clone();
        prefixes = b.prefixes.clone();
        text = b.text.clone();
        exclude_text = b.exclude_text.clone();
    }
    for code in &d.codes {
        if let Some(p) = code.strip_suffix('*') {
            prefixes.extend(expand(systems, p, at)?);
        } else {
            for (sys, c) in expand(systems, code, at)? {
                exact.entry(sys).or_default().insert(c);
            }
        }
    }
    text.extend(d.text.iter().map(|t| normalize_text(t)));
    exclude_text.extend(d.exclude_text.iter().map(|t| normalize_text(t)));
    if exact.is_empty() && prefixes.is_empty() && text.is_empty() {
        return Err(invalid(at, "needs codes or text"));
    }
    Ok(EventRule {
        name: d.name,
        resources: d.resources,
        time,
        exact,
        prefixes,
        text,
        exclude_text,
    })
}

/// An event's `time`: `clinical` (the default) or `recorded`.
fn event_time(time: Option<&str>, at: &str) -> Result<EventTime, ConfigError> {
    match time {
        None | Some("clinical") => Ok(EventTime::Clinical),
        Some("recorded") => Ok(EventTime::Recorded),
        Some(o) => Err(invalid(
            at,
            format!("time {o:?} must be \"clinical\" or \"recorded\""),
        )),
    }
}
