//! Serde types for the CDS Hooks 2.0 documents Bedside writes and reads:
//! discovery, card responses and feedback.
//!
//! Field names follow the specification exactly (camelCase on the wire);
//! optional fields are omitted rather than written as `null`, as the
//! specification requires ("OPTIONAL JSON attributes ... MUST be omitted").

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A CDS Hooks `Coding`: `code` and `system` are REQUIRED; `display` is
/// REQUIRED for `overrideReasons` a service returns, optional elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    pub system: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    pub fn new(system: &str, code: &str, display: &str) -> Self {
        Self {
            system: system.to_string(),
            code: code.to_string(),
            display: Some(display.to_string()),
        }
    }
}

/// `card.indicator`: urgency in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    Info,
    Warning,
    Critical,
}

/// `card.selectionBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionBehavior {
    AtMostOne,
    Any,
}

/// `action.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionType {
    Create,
    Update,
    Delete,
}

/// `link.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkType {
    Absolute,
    Smart,
}

/// `card.source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Coding>,
}

/// A suggested (or system) action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// REQUIRED inside suggestions, optional in `systemActions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// `card.suggestions[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recommended: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// `card.links[]`.
///
/// `autolaunchable` is the specification's field (CDS Hooks 2.0, all lower
/// case). Bedside writes it and, with the same value, `autoLaunchable`,
/// the casing HealthChain 0.16's response model requires: a client reads
/// the key it knows and ignores the other, so both the specification's
/// validators and that client accept the card. Reading takes either key
/// (the specification's first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "LinkWire", into = "LinkWire")]
pub struct Link {
    pub label: String,
    pub url: String,
    pub kind: LinkType,
    pub app_context: Option<String>,
    pub autolaunchable: Option<bool>,
}

/// [`Link`] as written on the wire.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkWire {
    label: String,
    url: String,
    #[serde(rename = "type")]
    kind: LinkType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_context: Option<String>,
    #[serde(
        default,
        rename = "autolaunchable",
        skip_serializing_if = "Option::is_none"
    )]
    autolaunchable: Option<bool>,
    #[serde(
        default,
        rename = "autoLaunchable",
        skip_serializing_if = "Option::is_none"
    )]
    auto_launchable: Option<bool>,
}

impl From<LinkWire> for Link {
    fn from(w: LinkWire) -> Self {
        Link {
            label: w.label,
            url: w.url,
            kind: w.kind,
            app_context: w.app_context,
            autolaunchable: w.autolaunchable.or(w.auto_launchable),
        }
    }
}

impl From<Link> for LinkWire {
    fn from(l: Link) -> Self {
        LinkWire {
            label: l.label,
            url: l.url,
            kind: l.kind,
            app_context: l.app_context,
            autolaunchable: l.autolaunchable,
            auto_launchable: l.autolaunchable,
        }
    }
}

/// A CDS Hooks card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// One sentence, fewer than 140 characters.
    pub summary: String,
    /// GitHub-flavoured Markdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub indicator: Indicator,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    /// REQUIRED when `suggestions` is non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_behavior: Option<SelectionBehavior>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_reasons: Vec<Coding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of a service's answer to a hook call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdsResponse {
    pub cards: Vec<Card>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_actions: Vec<Action>,
}

impl CdsResponse {
    /// The answer "no decision support for this call": `{"cards": []}`.
    pub fn empty() -> Self {
        Self::default()
    }
}

/// One entry of the discovery document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDescriptor {
    pub hook: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub description: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefetch: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_requirements: Option<String>,
}

/// The discovery document served at `{baseUrl}/cds-services`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Discovery {
    pub services: Vec<ServiceDescriptor>,
}

/// `feedback[].outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Accepted,
    Overridden,
}

/// `feedback[].acceptedSuggestions[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedSuggestion {
    pub id: String,
}

/// `feedback[].overrideReason`: a coded reason, a comment, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideReason {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Coding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_comment: Option<String>,
}

/// One feedback entry about one card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackItem {
    /// The `card.uuid` the feedback is about.
    pub card: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_suggestions: Vec<AcceptedSuggestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<OverrideReason>,
    pub outcome_timestamp: chrono::DateTime<chrono::Utc>,
}

/// The body POSTed to `{baseUrl}/cds-services/{id}/feedback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub feedback: Vec<FeedbackItem>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn link_writes_both_casings_and_reads_either() {
        let l = Link {
            label: "facts".into(),
            url: "https://x.example/f".into(),
            kind: LinkType::Absolute,
            app_context: None,
            autolaunchable: Some(false),
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["autolaunchable"], false);
        assert_eq!(v["autoLaunchable"], false);
        assert_eq!(serde_json::from_value::<Link>(v).unwrap(), l);
        let spec: Link = serde_json::from_value(
            json!({"label": "a", "url": "https://x", "type": "smart", "autolaunchable": true}),
        )
        .unwrap();
        assert_eq!(spec.autolaunchable, Some(true));
        let camel: Link = serde_json::from_value(
            json!({"label": "a", "url": "https://x", "type": "smart", "autoLaunchable": true}),
        )
        .unwrap();
        assert_eq!(camel.autolaunchable, Some(true));
        let none: Link =
            serde_json::from_value(json!({"label": "a", "url": "https://x", "type": "absolute"}))
                .unwrap();
        assert_eq!(none.autolaunchable, None);
        assert!(serde_json::to_value(&none)
            .unwrap()
            .get("autoLaunchable")
            .is_none());
    }
}
