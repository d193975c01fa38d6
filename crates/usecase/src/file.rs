//! The `use-case.toml` file as written (serde types, every key checked:
//! an unknown key is refused with its path).

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UseCaseFile {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Model package directory, relative to the use case's directory.
    #[serde(default)]
    pub model: Option<String>,
    /// Alert policy file (bedside-policy TOML), relative; built-in
    /// defaults when left out.
    #[serde(default)]
    pub policy: Option<String>,
    pub trigger: TriggerFile,
    #[serde(default)]
    pub pathway: Option<PathwayFile>,
    #[serde(default)]
    pub actions_under_way: Option<ActionsFile>,
    pub card: CardFile,
    /// Clinicians must attest the use case's training before they receive
    /// its interruptive cards (until then: passive, with the training link).
    #[serde(default)]
    pub require_training: bool,
    /// Who to tell when the model is wrong (the training module names it).
    #[serde(default)]
    pub training_contact: Option<String>,
    /// CDS Hooks discovery: a short description per hook.
    #[serde(default)]
    pub discovery: std::collections::BTreeMap<String, String>,
    /// What the pathway's Tasks list besides the model's own inputs.
    #[serde(default)]
    pub task: Option<TaskFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskFile {
    /// Event channels whose active medication orders the Tasks list
    /// (e.g. `["antibiotic_ordered"]`: the patient's active antibiotics).
    #[serde(default)]
    pub medications: Option<Vec<String>>,
    /// What those medications are called ("antibiotics").
    #[serde(default)]
    pub medications_label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
// Read once per use case at load: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum TriggerFile {
    /// A scored risk, decided by the use case's policy.
    Risk,
    /// An ingested resource matching a rule.
    Resource {
        resources: Vec<String>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        codes: Vec<String>,
        #[serde(default)]
        performer_device: bool,
        #[serde(default)]
        on: Option<String>,
        /// Names the main rule's match in the start variables.
        #[serde(default)]
        label: Option<String>,
        /// Further rules with messages of their own, checked first.
        #[serde(default)]
        also: Vec<AlsoFile>,
        /// What the start variables carry and under which names.
        #[serde(default)]
        context: ContextFile,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlsoFile {
    pub message: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub performer_device: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextFile {
    #[serde(default)]
    pub on: Option<String>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub prior: Option<String>,
    #[serde(default)]
    pub allergies: Option<String>,
    #[serde(default)]
    pub allergy_texts: Vec<String>,
    #[serde(default)]
    pub responsible: Option<String>,
    #[serde(default)]
    pub responsible_codes: Vec<String>,
    #[serde(default)]
    pub responsible_texts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathwayFile {
    pub file: String,
    pub start: String,
    #[serde(default)]
    pub actions_under_way: Option<String>,
    #[serde(default)]
    pub overridden: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionsFile {
    pub all_of: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardFile {
    pub title: String,
    pub statement: String,
    pub action: String,
    /// The action of a passive card (default: for awareness).
    #[serde(default)]
    pub passive_action: Option<String>,
    /// The action of an escalation card (default: `action`).
    #[serde(default)]
    pub escalation_action: Option<String>,
    #[serde(default)]
    pub suggestions: Vec<SuggestionFile>,
    #[serde(default)]
    pub links: Vec<LinkFile>,
    #[serde(default)]
    pub draft_requires: Vec<DraftRequiresFile>,
}

/// `[[card.draft_requires]]`: at order-sign, a drafted order of one of
/// `when` needs one of `requires` drafted too or already in the record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftRequiresFile {
    pub when: Vec<String>,
    pub requires: Vec<String>,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuggestionFile {
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub resource: Option<Value>,
    #[serde(default)]
    pub resource_file: Option<String>,
    #[serde(default)]
    pub recommended: bool,
    #[serde(default)]
    pub unless_event: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkFile {
    pub label: String,
    pub url: String,
    #[serde(default = "absolute", rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub app_context: Option<String>,
}

fn absolute() -> String {
    "absolute".into()
}
