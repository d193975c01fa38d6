//! Use cases as configuration.
//!
//! A use case is one validated model (or an external AI's results) deployed
//! into the workflow, declared by one directory holding `use-case.toml`:
//! the model package, the alert policy, the pathway it starts and the
//! message names it sends it, which event channels mean the pathway's
//! actions are under way, the card's content (title, risk statement, what
//! to do, suggestions as FHIR resource templates, links including SMART
//! app links) and its trigger (a scored risk decided by the policy, or an
//! ingested resource matching a rule). Paths are relative to the
//! directory. See `use-cases/README.md` for every key.
//!
//! [`UseCase::load`] reads and checks everything a use case refers to and
//! returns **every** problem, each with its location (`use-case.toml:
//! card.suggestions[1].unless_event`, `policy.toml:certification.ppv_floor`,
//! `sepsis-escalation.bpmn:…`, `model/model.toml:…`), so one run of
//! `bedside use-case validate DIR` says all that is wrong.
//!
//! **Invariant:** reads files, writes nothing, starts nothing; knows no
//! disease: every clinical name comes from the files.

mod file;

use bedside_ingest::ChannelMap;
use bedside_models::package::LoadOptions;
pub use bedside_models::Problem;
use bedside_pathways::{Definition, StartTrigger};
use bedside_policy::PolicyConfig;
use file::{SuggestionFile, TriggerFile, UseCaseFile};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The file a use case directory holds.
pub const FILE: &str = "use-case.toml";

/// The longest card summary a clinician reads in one glance; the risk
/// statement, the risk and the action must fit in it.
pub const SUMMARY_MAX: usize = 140;
/// Room the risk itself takes in a summary (` 64% (6× usual): `).
const RISK_ROOM: usize = 22;

/// A use case read and checked.
#[derive(Debug, Clone)]
pub struct UseCase {
    pub dir: PathBuf,
    /// Stable id (lowercase letters, digits and `-`), named on cards,
    /// stored records and discovery.
    pub id: String,
    /// Human name ("Sepsis screening").
    pub name: String,
    pub description: Option<String>,
    /// Model package directory (absent for a resource trigger whose
    /// results come from an external AI).
    pub model: Option<PathBuf>,
    pub policy_file: Option<PathBuf>,
    /// The use case's own alert policy.
    pub policy: PolicyConfig,
    pub trigger: Trigger,
    pub pathway: Option<PathwayLink>,
    /// Event channels that, all present since the pathway started, mean
    /// its actions are under way (then `pathway.actions_under_way` is sent
    /// and the alert is suppressed).
    pub actions_under_way: Vec<String>,
    pub card: CardContent,
    /// Clinicians must attest the training before they receive the use
    /// case's interruptive cards (`require_training`).
    pub require_training: bool,
    /// Who to tell when the model is wrong (`training_contact`).
    pub training_contact: Option<String>,
    /// CDS Hooks discovery description per hook (`patient-view` → "...").
    pub discovery: std::collections::BTreeMap<String, String>,
    /// Event channels whose active medication orders a risk pathway's
    /// Tasks list (`task.medications`; default: the medication channels
    /// of `actions_under_way`), and what they are called.
    pub task_medications: Vec<String>,
    pub task_medications_label: String,
}

/// The CDS Hooks a use case's services answer.
pub const HOOKS: [&str; 5] = [
    "patient-view",
    "order-select",
    "order-sign",
    "encounter-start",
    "encounter-discharge",
];
/// The longest discovery description.
pub const DESCRIPTION_MAX: usize = 100;

impl UseCase {
    /// The discovery description of this use case's service at `hook`:
    /// the configured one, else `"{name} at {hook}"` (cut to
    /// [`DESCRIPTION_MAX`] characters).
    pub fn hook_description(&self, hook: &str) -> String {
        match self.discovery.get(hook) {
            Some(d) => d.clone(),
            None => format!("{} at {hook}", self.name)
                .chars()
                .take(DESCRIPTION_MAX)
                .collect(),
        }
    }
}

/// What starts the use case's decisions.
#[derive(Debug, Clone, PartialEq)]
// Read once per use case at load: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Trigger {
    /// A scored risk of the model, decided by the policy.
    Risk,
    /// An ingested resource matching the rule.
    Resource(ResourceRule),
}

/// An ingested resource that starts the pathway.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceRule {
    /// Resource types that may match (`DiagnosticReport`, `Observation`).
    pub resources: Vec<String>,
    /// `(system, code)` of `meta.tag` / `meta.security` entries, any of
    /// which marks a match (e.g. HL7 v3 ObservationValue `AIAST`).
    pub tags: Vec<(String, String)>,
    /// `(system, code)` of `code` codings, any of which marks a match.
    pub codes: Vec<(String, String)>,
    /// A `performer` that is a Device marks a match too.
    pub performer_device: bool,
    /// The resource must reference one of this type (e.g. `ImagingStudy`
    /// through `imagingStudy`, `derivedFrom` or `partOf`).
    pub on: Option<String>,
    /// Names a match of this rule in the start variables (`label: what`).
    pub label: String,
    /// Further rules, checked before this one, each starting the pathway
    /// with a message of its own (same `resources` and `on`).
    pub also: Vec<AlsoRule>,
    /// What the start variables carry, under which names.
    pub context: ResourceContext,
}

/// A further match rule of a resource trigger, with its own start message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlsoRule {
    pub message: String,
    pub label: String,
    pub tags: Vec<(String, String)>,
    pub codes: Vec<(String, String)>,
    pub performer_device: bool,
}

/// The start variables of a resource trigger: the names the pathway reads
/// them under, and what picks allergies and the responsible clinician.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContext {
    /// The referenced (`on`) resource, summarised.
    pub on: String,
    /// The matching resource, summarised.
    pub result: String,
    /// The patient's earlier resources of the `on` type.
    pub prior: String,
    /// The patient's allergies whose code text or display contains one of
    /// `allergy_texts` (all of them when the list is empty).
    pub allergies: String,
    pub allergy_texts: Vec<String>,
    /// The responsible clinician: the result's `resultsInterpreter`, the
    /// `on` resource's `interpreter`, else an encounter participant or a
    /// CareTeam member whose role carries one of `responsible_codes` or a
    /// text containing one of `responsible_texts`.
    pub responsible: String,
    pub responsible_codes: Vec<(String, String)>,
    pub responsible_texts: Vec<String>,
}

impl Default for ResourceContext {
    fn default() -> Self {
        Self {
            on: "on".into(),
            result: "result".into(),
            prior: "prior".into(),
            allergies: "allergies".into(),
            allergy_texts: Vec::new(),
            responsible: "responsible".into(),
            responsible_codes: Vec::new(),
            responsible_texts: Vec::new(),
        }
    }
}

/// The pathway a use case starts, and the messages it sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct PathwayLink {
    pub file: PathBuf,
    /// The BPMN process id.
    pub process_id: String,
    /// Start message (sent when an alert escalates and is shown, or when
    /// the resource rule matches).
    pub start: String,
    /// Sent to a running instance when the actions are under way.
    pub actions_under_way: Option<String>,
    /// Sent to a running instance when a clinician overrides the alert.
    pub overridden: Option<String>,
}

/// What a card of this use case says.
#[derive(Debug, Clone, PartialEq)]
pub struct CardContent {
    pub title: String,
    /// First words of the summary, before the risk ("Sepsis risk").
    pub statement: String,
    /// What to do, after the risk ("assess now, consider lactate"), at
    /// an interruptive card.
    pub action: String,
    /// What to do at a passive card (`None`: the renderer's default, for
    /// awareness; a passive card never asks to act now).
    pub passive_action: Option<String>,
    /// What to do at an escalation card (`None`: `action`).
    pub escalation_action: Option<String>,
    pub suggestions: Vec<Suggestion>,
    pub links: Vec<Link>,
    /// At order-sign: what a draft must also hold (`[[card.draft_requires]]`).
    pub draft_requires: Vec<DraftRequirement>,
}

/// At `order-sign`: when the draft orders one of `when` (event channels of
/// the channel map, e.g. `antibiotic_ordered`), one of `requires` must be
/// drafted too or already in the patient's record (e.g.
/// `blood_culture_ordered`); otherwise a card says `message`.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftRequirement {
    pub when: Vec<String>,
    pub requires: Vec<String>,
    /// The card's summary ("Blood cultures before antibiotics").
    pub message: String,
}

/// A FHIR `create` offered on the card.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub label: String,
    pub description: String,
    /// `{{patientId}}` in any string is replaced.
    pub resource: Value,
    pub recommended: bool,
    /// Not offered when the patient already has this event channel.
    pub unless_event: Option<String>,
}

/// In a card link's `url`, Bedside's public URL (`{public_url}/smart/launch`).
pub const PUBLIC_URL: &str = "{public_url}";

/// A link on the card.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub label: String,
    pub url: String,
    /// `absolute` or `smart` (a SMART app launch URL).
    pub kind: LinkKind,
    pub app_context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Absolute,
    Smart,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Absolute => "absolute",
            LinkKind::Smart => "smart",
        }
    }
}

fn loc(file: &str, key: &str) -> String {
    if key.is_empty() || key == "." {
        file.to_string()
    } else {
        format!("{file}:{key}")
    }
}

fn toml_error_location(file: &str, text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(s) => format!(
            "{file}:line {}",
            text[..s.start.min(text.len())].lines().count().max(1)
        ),
        None => file.to_string(),
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_resource_type(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_uppercase()) && b.all(|c| c.is_ascii_alphanumeric())
}

/// `system|code` as a pair.
fn coding(s: &str) -> Option<(String, String)> {
    let (sys, code) = s.split_once('|')?;
    (!sys.is_empty() && !code.is_empty()).then(|| (sys.to_string(), code.to_string()))
}

fn display_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

impl UseCase {
    /// Read the use case in `dir` and everything it refers to, checked
    /// against `channels` (the ingest channel map the server runs with).
    /// Every problem found is returned, each with its location.
    pub fn load(dir: &Path, channels: &ChannelMap) -> Result<UseCase, Vec<Problem>> {
        let mut problems = Vec::new();
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                return Err(vec![Problem::new(
                    path.display().to_string(),
                    format!("cannot read: {e}"),
                )])
            }
        };
        let de = match toml::Deserializer::parse(&text) {
            Ok(de) => de,
            Err(e) => {
                return Err(vec![Problem::new(
                    toml_error_location(FILE, &text, &e),
                    format!("not valid TOML: {}", e.message()),
                )])
            }
        };
        let f: UseCaseFile = match serde_path_to_error::deserialize(de) {
            Ok(f) => f,
            Err(e) => {
                let key = e.path().to_string();
                let inner = e.into_inner();
                return Err(vec![Problem::new(loc(FILE, &key), inner.message())]);
            }
        };
        let mut p = |key: &str, msg: String| problems.push(Problem::new(loc(FILE, key), msg));

        if !is_id(&f.id) {
            p(
                "id",
                format!(
                    "`{}` is not a use-case id (lowercase letters, digits and `-`)",
                    f.id
                ),
            );
        }
        if f.name.trim().is_empty() {
            p("name", "must not be blank".into());
        }

        let events: Vec<String> = channels.events().iter().map(|e| e.name.clone()).collect();
        let event_known = |name: &str| events.iter().any(|e| e == name);
        let unknown_event = |e: &str| {
            format!(
                "unknown event channel `{e}` (the channel map has: {})",
                events.join(", ")
            )
        };
        let event_is_medication = |name: &str| {
            channels.events().iter().any(|e| {
                e.name == name
                    && e.resources
                        .iter()
                        .any(|r| r == "MedicationRequest" || r == "MedicationAdministration")
            })
        };

        // Trigger.
        let trigger = match &f.trigger {
            TriggerFile::Risk => {
                if f.model.is_none() {
                    p(
                        "model",
                        "a use case with `trigger.kind = \"risk\"` needs a model package".into(),
                    );
                }
                Trigger::Risk
            }
            TriggerFile::Resource {
                resources,
                tags,
                codes,
                performer_device,
                on,
                label,
                also,
                context,
            } => {
                let mut rule = ResourceRule {
                    performer_device: *performer_device,
                    on: on.clone(),
                    label: label.clone().unwrap_or_else(|| "match".into()),
                    ..ResourceRule::default()
                };
                for (i, a) in also.iter().enumerate() {
                    let key = format!("trigger.also[{i}]");
                    let mut r = AlsoRule {
                        message: a.message.clone(),
                        label: a.label.clone().unwrap_or_else(|| a.message.clone()),
                        performer_device: a.performer_device,
                        ..AlsoRule::default()
                    };
                    if a.message.trim().is_empty() {
                        p(&format!("{key}.message"), "must not be blank".into());
                    }
                    for (k, list, out) in [
                        ("tags", &a.tags, &mut r.tags),
                        ("codes", &a.codes, &mut r.codes),
                    ] {
                        for (j, c) in list.iter().enumerate() {
                            match coding(c) {
                                Some(pair) => out.push(pair),
                                None => p(
                                    &format!("{key}.{k}[{j}]"),
                                    format!("`{c}` is not `system|code`"),
                                ),
                            }
                        }
                    }
                    if a.tags.is_empty() && a.codes.is_empty() && !a.performer_device {
                        p(
                            &key,
                            "a rule needs `tags`, `codes` or `performer_device = true`".into(),
                        );
                    }
                    rule.also.push(r);
                }
                let d = ResourceContext::default();
                let mut ctx = ResourceContext {
                    allergy_texts: context
                        .allergy_texts
                        .iter()
                        .map(|t| t.to_lowercase())
                        .collect(),
                    responsible_texts: context
                        .responsible_texts
                        .iter()
                        .map(|t| t.to_lowercase())
                        .collect(),
                    ..d.clone()
                };
                for (key, given, out) in [
                    ("on", &context.on, &mut ctx.on),
                    ("result", &context.result, &mut ctx.result),
                    ("prior", &context.prior, &mut ctx.prior),
                    ("allergies", &context.allergies, &mut ctx.allergies),
                    ("responsible", &context.responsible, &mut ctx.responsible),
                ] {
                    if let Some(v) = given {
                        if v.is_empty()
                            || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        {
                            p(
                                &format!("trigger.context.{key}"),
                                format!("`{v}` is not a variable name (letters, digits, `_`)"),
                            );
                        }
                        *out = v.clone();
                    }
                }
                for (i, t) in context
                    .allergy_texts
                    .iter()
                    .chain(&context.responsible_texts)
                    .enumerate()
                {
                    if t.trim().is_empty() {
                        let (k, j) = if i < context.allergy_texts.len() {
                            ("allergy_texts", i)
                        } else {
                            ("responsible_texts", i - context.allergy_texts.len())
                        };
                        p(
                            &format!("trigger.context.{k}[{j}]"),
                            "must not be blank".into(),
                        );
                    }
                }
                for (i, c) in context.responsible_codes.iter().enumerate() {
                    match coding(c) {
                        Some(pair) => ctx.responsible_codes.push(pair),
                        None => p(
                            &format!("trigger.context.responsible_codes[{i}]"),
                            format!("`{c}` is not `system|code`"),
                        ),
                    }
                }
                rule.context = ctx;
                if resources.is_empty() {
                    p(
                        "trigger.resources",
                        "name at least one resource type".into(),
                    );
                }
                for (i, r) in resources.iter().enumerate() {
                    if is_resource_type(r) {
                        rule.resources.push(r.clone());
                    } else {
                        p(
                            &format!("trigger.resources[{i}]"),
                            format!("`{r}` is not a FHIR resource type"),
                        );
                    }
                }
                if let Some(o) = on {
                    if !is_resource_type(o) {
                        p("trigger.on", format!("`{o}` is not a FHIR resource type"));
                    }
                }
                for (key, list, out) in [
                    ("tags", tags, &mut rule.tags),
                    ("codes", codes, &mut rule.codes),
                ] {
                    for (i, c) in list.iter().enumerate() {
                        match coding(c) {
                            Some(pair) => out.push(pair),
                            None => p(
                                &format!("trigger.{key}[{i}]"),
                                format!("`{c}` is not `system|code`"),
                            ),
                        }
                    }
                }
                if tags.is_empty() && codes.is_empty() && !performer_device {
                    p(
                        "trigger",
                        "a resource trigger needs `tags`, `codes` or `performer_device = true` \
                         (otherwise every resource of the type would match)"
                            .into(),
                    );
                }
                if f.pathway.is_none() {
                    p(
                        "pathway",
                        "a resource trigger starts a pathway: name one".into(),
                    );
                }
                Trigger::Resource(rule)
            }
        };

        // Actions under way.
        let actions_under_way = f
            .actions_under_way
            .as_ref()
            .map(|a| a.all_of.clone())
            .unwrap_or_default();
        for (i, e) in actions_under_way.iter().enumerate() {
            if !event_known(e) {
                p(&format!("actions_under_way.all_of[{i}]"), unknown_event(e));
            }
        }

        // What the Tasks list: the active medications of these channels.
        let task_medications = match f.task.as_ref().and_then(|t| t.medications.clone()) {
            Some(list) => {
                for (i, e) in list.iter().enumerate() {
                    if !event_known(e) {
                        p(&format!("task.medications[{i}]"), unknown_event(e));
                    } else if !event_is_medication(e) {
                        p(
                            &format!("task.medications[{i}]"),
                            format!("event channel `{e}` is not read from MedicationRequest or MedicationAdministration"),
                        );
                    }
                }
                list
            }
            None => actions_under_way
                .iter()
                .filter(|e| event_is_medication(e))
                .cloned()
                .collect(),
        };
        let task_medications_label = f
            .task
            .as_ref()
            .and_then(|t| t.medications_label.clone())
            .unwrap_or_else(|| "medications of interest".into());

        // Card.
        let c = &f.card;
        for (key, v) in [
            ("card.title", &c.title),
            ("card.statement", &c.statement),
            ("card.action", &c.action),
        ] {
            if v.trim().is_empty() {
                p(key, "must not be blank".into());
            }
        }
        for (key, action) in [
            ("card.action", Some(&c.action)),
            ("card.passive_action", c.passive_action.as_ref()),
            ("card.escalation_action", c.escalation_action.as_ref()),
        ] {
            let Some(action) = action else { continue };
            if key != "card.action" && action.trim().is_empty() {
                p(
                    key,
                    "must not be blank (leave the key out for the default)".into(),
                );
            }
            let room = c.statement.chars().count() + action.chars().count() + RISK_ROOM;
            if room > SUMMARY_MAX {
                p(
                    key,
                    format!(
                        "`statement` and this action leave no room in a {SUMMARY_MAX}-character summary \
                         (they take {room} with the risk): shorten them"
                    ),
                );
            }
        }
        let mut suggestions = Vec::new();
        for (i, s) in c.suggestions.iter().enumerate() {
            let key = format!("card.suggestions[{i}]");
            if let Some(sug) = suggestion(dir, s, &key, &mut p) {
                if let Some(e) = &sug.unless_event {
                    if !event_known(e) {
                        p(
                            &format!("{key}.unless_event"),
                            format!("unknown event channel `{e}`"),
                        );
                    }
                }
                suggestions.push(sug);
            }
        }
        let mut links = Vec::new();
        for (i, l) in c.links.iter().enumerate() {
            let key = format!("card.links[{i}]");
            let kind = match l.kind.as_str() {
                "absolute" => Some(LinkKind::Absolute),
                "smart" => Some(LinkKind::Smart),
                other => {
                    p(
                        &format!("{key}.type"),
                        format!("`{other}` is not a link type (absolute, smart)"),
                    );
                    None
                }
            };
            if l.label.trim().is_empty() {
                p(&format!("{key}.label"), "must not be blank".into());
            }
            let url = l
                .url
                .strip_prefix(PUBLIC_URL)
                .map_or(l.url.as_str(), |rest| {
                    if rest.starts_with('/') {
                        "https://bedside/"
                    } else {
                        rest
                    }
                });
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                p(
                    &format!("{key}.url"),
                    format!(
                        "`{}` is not an absolute http(s) URL (or `{PUBLIC_URL}/...`)",
                        l.url
                    ),
                );
            }
            if let Some(kind) = kind {
                links.push(Link {
                    label: l.label.clone(),
                    url: l.url.clone(),
                    kind,
                    app_context: l.app_context.clone(),
                });
            }
        }

        // Discovery.
        for (hook, d) in &f.discovery {
            let key = format!("discovery.{hook}");
            if !HOOKS.contains(&hook.as_str()) {
                p(
                    &key,
                    format!(
                        "`{hook}` is not a CDS hook Bedside answers ({})",
                        HOOKS.join(", ")
                    ),
                );
            }
            let n = d.chars().count();
            if d.trim().is_empty() {
                p(&key, "must not be blank".into());
            } else if n > DESCRIPTION_MAX {
                p(
                    &key,
                    format!(
                        "{n} characters; a discovery description takes at most {DESCRIPTION_MAX}"
                    ),
                );
            }
        }

        let mut draft_requires = Vec::new();
        for (i, r) in c.draft_requires.iter().enumerate() {
            let key = format!("card.draft_requires[{i}]");
            for (field, list) in [("when", &r.when), ("requires", &r.requires)] {
                if list.is_empty() {
                    p(
                        &format!("{key}.{field}"),
                        "must name at least one event channel".into(),
                    );
                }
                for (j, e) in list.iter().enumerate() {
                    if !event_known(e) {
                        p(&format!("{key}.{field}[{j}]"), unknown_event(e));
                    }
                }
            }
            if let Some(e) = r.when.iter().find(|e| r.requires.iter().any(|x| x == *e)) {
                p(
                    &format!("{key}.requires"),
                    format!("`{e}` is in both `when` and `requires`: the check could never fire"),
                );
            }
            let n = r.message.trim().chars().count();
            if n == 0 {
                p(&format!("{key}.message"), "must not be blank".into());
            } else if n >= SUMMARY_MAX {
                p(
                    &format!("{key}.message"),
                    format!("{n} characters: a card summary has fewer than {SUMMARY_MAX}"),
                );
            }
            draft_requires.push(DraftRequirement {
                when: r.when.clone(),
                requires: r.requires.clone(),
                message: r.message.trim().to_string(),
            });
        }

        // Model package.
        let model = f.model.as_ref().map(|m| dir.join(m));
        if let Some(m) = &model {
            if !m.join("model.toml").is_file() {
                problems.push(Problem::new(
                    loc(FILE, "model"),
                    format!("no model package at {} (no model.toml)", m.display()),
                ));
            } else {
                let opts = LoadOptions {
                    known_channels: Some(
                        channels.channels().iter().map(|c| c.name.clone()).collect(),
                    ),
                };
                let name = display_name(m);
                for mp in bedside_models::package::validate_package_with(m, &opts) {
                    problems.push(Problem::new(format!("{name}/{}", mp.location), mp.message));
                }
            }
        }

        // Policy.
        let policy_file = f.policy.as_ref().map(|x| dir.join(x));
        let policy = match &policy_file {
            None => PolicyConfig::default(),
            Some(pf) => {
                let name = display_name(pf);
                match std::fs::read_to_string(pf) {
                    Err(e) => {
                        problems.push(Problem::new(
                            loc(FILE, "policy"),
                            format!("cannot read {}: {e}", pf.display()),
                        ));
                        PolicyConfig::default()
                    }
                    Ok(t) => match PolicyConfig::from_toml_str(&t) {
                        Ok(pc) => pc,
                        Err(e) => {
                            let where_ = match &e {
                                bedside_policy::ConfigError::Invalid { key, .. } => loc(&name, key),
                                bedside_policy::ConfigError::Unknown(key) => loc(&name, key),
                                bedside_policy::ConfigError::Syntax(_) => name.clone(),
                            };
                            problems.push(Problem::new(where_, e.to_string()));
                            PolicyConfig::default()
                        }
                    },
                }
            }
        };

        // Pathway.
        let extra_starts: Vec<(String, String)> = match &trigger {
            Trigger::Resource(r) => r
                .also
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("trigger.also[{i}].message"), a.message.clone()))
                .collect(),
            Trigger::Risk => Vec::new(),
        };
        let pathway = match &f.pathway {
            None => None,
            Some(pw) => pathway(dir, pw, &extra_starts, &mut problems),
        };

        if problems.is_empty() {
            Ok(UseCase {
                dir: dir.to_path_buf(),
                id: f.id,
                name: f.name,
                description: f.description,
                model,
                policy_file,
                policy,
                trigger,
                pathway,
                actions_under_way,
                card: CardContent {
                    title: c.title.clone(),
                    statement: c.statement.clone(),
                    action: c.action.clone(),
                    passive_action: c.passive_action.clone(),
                    escalation_action: c.escalation_action.clone(),
                    suggestions,
                    links,
                    draft_requires,
                },
                require_training: f.require_training,
                training_contact: f.training_contact,
                discovery: f.discovery.clone(),
                task_medications,
                task_medications_label,
            })
        } else {
            Err(problems)
        }
    }

    /// Every problem of the use case in `dir` (empty when it is valid).
    pub fn validate(dir: &Path, channels: &ChannelMap) -> Vec<Problem> {
        match Self::load(dir, channels) {
            Ok(_) => Vec::new(),
            Err(p) => p,
        }
    }
}

fn suggestion(
    dir: &Path,
    s: &SuggestionFile,
    key: &str,
    p: &mut impl FnMut(&str, String),
) -> Option<Suggestion> {
    if s.label.trim().is_empty() {
        p(&format!("{key}.label"), "must not be blank".into());
    }
    let resource = match (&s.resource, &s.resource_file) {
        (Some(r), None) => r.clone(),
        (None, Some(rf)) => {
            let path = dir.join(rf);
            let read = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|t| {
                    serde_json::from_str::<Value>(&t).map_err(|e| format!("{rf} is not JSON: {e}"))
                });
            match read {
                Ok(v) => v,
                Err(m) => {
                    p(&format!("{key}.resource_file"), m);
                    return None;
                }
            }
        }
        _ => {
            p(
                key,
                "give exactly one of `resource` (inline) or `resource_file`".into(),
            );
            return None;
        }
    };
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(t) if is_resource_type(t) => {}
        _ => {
            p(
                &format!("{key}.resource"),
                "is not a FHIR resource (no `resourceType`)".into(),
            );
            return None;
        }
    }
    Some(Suggestion {
        label: s.label.clone(),
        description: s.description.clone().unwrap_or_else(|| s.label.clone()),
        resource,
        recommended: s.recommended,
        unless_event: s.unless_event.clone(),
    })
}

fn pathway(
    dir: &Path,
    pw: &file::PathwayFile,
    extra_starts: &[(String, String)],
    problems: &mut Vec<Problem>,
) -> Option<PathwayLink> {
    let path = dir.join(&pw.file);
    let name = display_name(&path);
    let xml = match std::fs::read_to_string(&path) {
        Ok(x) => x,
        Err(e) => {
            problems.push(Problem::new(
                loc(FILE, "pathway.file"),
                format!("cannot read {}: {e}", path.display()),
            ));
            return None;
        }
    };
    let def = match Definition::parse(&xml) {
        Ok(d) => d,
        Err(ps) => {
            for bp in ps
                .into_iter()
                .filter(|bp| bp.severity == bedside_pathways::Severity::Error)
            {
                let at = match &bp.element_id {
                    Some(id) => format!("{name}:{id}"),
                    None => name.clone(),
                };
                problems.push(Problem::new(at, bp.message));
            }
            return None;
        }
    };
    let starts: Vec<String> = def
        .start_triggers()
        .into_iter()
        .filter_map(|t| match t {
            StartTrigger::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    let mut ok = true;
    if !starts.contains(&pw.start) {
        ok = false;
        problems.push(Problem::new(
            loc(FILE, "pathway.start"),
            format!(
                "message `{}` does not start {name} (its start messages: {})",
                pw.start,
                list(&starts)
            ),
        ));
    }
    for (key, m) in extra_starts {
        if !starts.contains(m) {
            ok = false;
            problems.push(Problem::new(
                loc(FILE, key),
                format!(
                    "message `{m}` does not start {name} (its start messages: {})",
                    list(&starts)
                ),
            ));
        }
    }
    let catches = def.catch_messages();
    for (key, m) in [
        ("pathway.actions_under_way", &pw.actions_under_way),
        ("pathway.overridden", &pw.overridden),
    ] {
        if let Some(m) = m {
            if !catches.contains(m) {
                ok = false;
                problems.push(Problem::new(
                    loc(FILE, key),
                    format!(
                        "message `{m}` is not one {name} waits for (it waits for: {})",
                        list(&catches)
                    ),
                ));
            }
        }
    }
    ok.then(|| PathwayLink {
        file: path,
        process_id: def.id.clone(),
        start: pw.start.clone(),
        actions_under_way: pw.actions_under_way.clone(),
        overridden: pw.overridden.clone(),
    })
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
