//! A validator for CDS Hooks 2.0 card responses and discovery documents,
//! written to the specification (cds-hooks.hl7.org, "CDS Service Response",
//! "Discovery", "Data Types") and its invariants `cds-resp-1..7`.
//!
//! It checks only what the specification makes mandatory (REQUIRED, MUST,
//! SHALL); SHOULD-level advice is not reported. Unknown fields are allowed
//! (the specification reserves `extension` and does not forbid others).

use crate::json::{blank, index, is_absolute_url, is_uuid, join, type_name};
use serde_json::{Map, Value};

/// One way a document breaks the specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON path, e.g. `cards[0].source.label`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `card.summary` must be shorter than this many characters ("One-sentence,
/// <140-character summary").
pub const SUMMARY_LIMIT: usize = 140;

#[derive(Default)]
pub(crate) struct V {
    pub(crate) out: Vec<Violation>,
}

impl V {
    pub(crate) fn push(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(Violation {
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn object<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(o) => Some(o),
            other => {
                self.push(path, format!("must be an object, got {}", type_name(other)));
                None
            }
        }
    }

    /// A present key with a `null` value breaks "JSON attributes SHALL NOT
    /// be null"; returns the value when present and not null.
    pub(crate) fn field<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Option<&'a Value> {
        match obj.get(key) {
            Some(Value::Null) => {
                self.push(&join(parent, key), "must be omitted rather than null");
                None
            }
            other => other,
        }
    }

    fn required<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Option<&'a Value> {
        let present = obj.contains_key(key);
        let v = self.field(obj, parent, key);
        if !present {
            self.push(&join(parent, key), "is required");
        }
        v
    }

    pub(crate) fn string<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
        required: bool,
    ) -> Option<&'a str> {
        match v {
            Value::String(s) => {
                if required && blank(s) {
                    self.push(path, "is required and must not be empty");
                }
                Some(s)
            }
            other => {
                self.push(path, format!("must be a string, got {}", type_name(other)));
                None
            }
        }
    }

    pub(crate) fn req_string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Option<&'a str> {
        let v = self.required(obj, parent, key)?;
        self.string(v, &join(parent, key), true)
    }

    pub(crate) fn opt_string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Option<&'a str> {
        let v = self.field(obj, parent, key)?;
        self.string(v, &join(parent, key), false)
    }

    fn opt_bool(&mut self, obj: &Map<String, Value>, parent: &str, key: &str) -> Option<bool> {
        match self.field(obj, parent, key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.push(
                    &join(parent, key),
                    format!("must be a boolean, got {}", type_name(other)),
                );
                None
            }
        }
    }

    pub(crate) fn array<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        parent: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a Vec<Value>> {
        let v = if required {
            self.required(obj, parent, key)?
        } else {
            self.field(obj, parent, key)?
        };
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.push(
                    &join(parent, key),
                    format!("must be an array, got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn one_of(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
        allowed: &[&str],
        required: bool,
    ) -> Option<String> {
        let s = if required {
            self.req_string(obj, parent, key)?
        } else {
            self.opt_string(obj, parent, key)?
        };
        if !allowed.contains(&s) {
            self.push(
                &join(parent, key),
                format!("must be one of {}, got {s:?}", allowed.join(", ")),
            );
            return None;
        }
        Some(s.to_string())
    }

    fn opt_url(&mut self, obj: &Map<String, Value>, parent: &str, key: &str) {
        if let Some(u) = self.opt_string(obj, parent, key) {
            if !is_absolute_url(u) {
                self.push(
                    &join(parent, key),
                    format!("must be an absolute URL, got {u:?}"),
                );
            }
        }
    }

    fn opt_uuid(&mut self, obj: &Map<String, Value>, parent: &str, key: &str) {
        if let Some(u) = self.opt_string(obj, parent, key) {
            if !is_uuid(u) {
                self.push(&join(parent, key), format!("must be a UUID, got {u:?}"));
            }
        }
    }

    /// A Coding: `code` and `system` REQUIRED, `display` when asked.
    fn coding(&mut self, v: &Value, path: &str, display_required: bool) {
        let Some(o) = self.object(v, path) else {
            return;
        };
        self.req_string(o, path, "code");
        self.req_string(o, path, "system");
        if display_required {
            self.req_string(o, path, "display");
        } else {
            self.opt_string(o, path, "display");
        }
    }

    fn action(&mut self, v: &Value, path: &str, in_suggestion: bool) {
        let Some(o) = self.object(v, path) else {
            return;
        };
        let kind = self.one_of(o, path, "type", &["create", "update", "delete"], true);
        if in_suggestion {
            // cds-resp-5: all suggestion actions must have a description.
            self.req_string(o, path, "description");
        } else {
            // "description is optional for systemAction".
            self.opt_string(o, path, "description");
        }
        let resource = self.field(o, path, "resource");
        self.opt_string(o, path, "resourceId");
        if matches!(kind.as_deref(), Some("create" | "update")) {
            match resource {
                None => self.push(
                    &join(path, "resource"),
                    format!("is required when type is {}", kind.as_deref().unwrap_or("")),
                ),
                Some(r) => {
                    let rp = join(path, "resource");
                    if let Some(ro) = self.object(r, &rp) {
                        self.req_string(ro, &rp, "resourceType");
                    }
                }
            }
        }
    }

    fn suggestion(&mut self, v: &Value, path: &str) -> Option<bool> {
        let o = self.object(v, path)?;
        self.req_string(o, path, "label");
        self.opt_uuid(o, path, "uuid");
        let recommended = self.opt_bool(o, path, "isRecommended");
        if let Some(actions) = self.array(o, path, "actions", false) {
            let ap = join(path, "actions");
            for (i, a) in actions.iter().enumerate() {
                self.action(a, &index(&ap, i), true);
            }
        }
        // cds-resp-7.
        self.one_of(
            o,
            path,
            "actionSelectionBehavior",
            &["all", "any", "at-most-one"],
            false,
        );
        recommended
    }

    fn link(&mut self, v: &Value, path: &str) {
        let Some(o) = self.object(v, path) else {
            return;
        };
        self.req_string(o, path, "label");
        let url = self.req_string(o, path, "url");
        let kind = self.one_of(o, path, "type", &["absolute", "smart"], true);
        if kind.as_deref() == Some("absolute") {
            if let Some(u) = url {
                if !is_absolute_url(u) {
                    self.push(
                        &join(path, "url"),
                        format!("must be an absolute URL for type absolute, got {u:?}"),
                    );
                }
            }
        }
        let app_context = self.opt_string(o, path, "appContext");
        // cds-resp-3: appContext only for smart links.
        if app_context.is_some() && kind.as_deref() == Some("absolute") {
            self.push(
                &join(path, "appContext"),
                "is only valid for links of type smart",
            );
        }
        self.opt_bool(o, path, "autolaunchable");
    }

    fn card(&mut self, v: &Value, path: &str) {
        let Some(o) = self.object(v, path) else {
            return;
        };
        self.opt_uuid(o, path, "uuid");
        if let Some(s) = self.req_string(o, path, "summary") {
            let n = s.chars().count();
            if n >= SUMMARY_LIMIT {
                self.push(
                    &join(path, "summary"),
                    format!("must be fewer than {SUMMARY_LIMIT} characters, has {n}"),
                );
            }
        }
        self.opt_string(o, path, "detail");
        self.one_of(o, path, "indicator", &["info", "warning", "critical"], true);
        if let Some(src) = self.required(o, path, "source") {
            let sp = join(path, "source");
            if let Some(so) = self.object(src, &sp) {
                self.req_string(so, &sp, "label");
                self.opt_url(so, &sp, "url");
                self.opt_url(so, &sp, "icon");
                if let Some(t) = self.field(so, &sp, "topic") {
                    self.coding(t, &join(&sp, "topic"), false);
                }
            }
        }
        let behavior = self.one_of(o, path, "selectionBehavior", &["at-most-one", "any"], false);
        if let Some(sugg) = self.array(o, path, "suggestions", false) {
            let sp = join(path, "suggestions");
            let mut recommended = 0;
            for (i, s) in sugg.iter().enumerate() {
                if self.suggestion(s, &index(&sp, i)) == Some(true) {
                    recommended += 1;
                }
            }
            // cds-resp-6.
            if !sugg.is_empty() && !o.contains_key("selectionBehavior") {
                self.push(
                    &join(path, "selectionBehavior"),
                    "is required when suggestions are present",
                );
            }
            // cds-resp-1.
            if behavior.as_deref() == Some("at-most-one") && recommended > 1 {
                self.push(
                    &sp,
                    format!("at most one suggestion may be recommended when selectionBehavior is at-most-one, {recommended} are"),
                );
            }
        }
        if let Some(reasons) = self.array(o, path, "overrideReasons", false) {
            let rp = join(path, "overrideReasons");
            for (i, r) in reasons.iter().enumerate() {
                // cds-resp-4: the service MUST populate display.
                self.coding(r, &index(&rp, i), true);
            }
        }
        if let Some(links) = self.array(o, path, "links", false) {
            let lp = join(path, "links");
            for (i, l) in links.iter().enumerate() {
                self.link(l, &index(&lp, i));
            }
        }
    }
}

/// Check a card response (`{"cards": [...], "systemActions": [...]}`).
/// An empty result means the document is valid.
pub fn validate_response(doc: &Value) -> Vec<Violation> {
    let mut v = V::default();
    if let Some(o) = v.object(doc, "(response)") {
        if let Some(cards) = v.array(o, "", "cards", true) {
            for (i, c) in cards.iter().enumerate() {
                v.card(c, &index("cards", i));
            }
        }
        if let Some(actions) = v.array(o, "", "systemActions", false) {
            for (i, a) in actions.iter().enumerate() {
                v.action(a, &index("systemActions", i), false);
            }
        }
    }
    v.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good_card() -> Value {
        json!({
            "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
            "summary": "Example",
            "indicator": "info",
            "source": {"label": "Bedside"},
            "suggestions": [{"label": "Order lactate", "actions": [{
                "type": "create", "description": "Order a lactate",
                "resource": {"resourceType": "ServiceRequest"}}]}],
            "selectionBehavior": "any",
            "overrideReasons": [{"system": "s", "code": "c", "display": "d"}],
            "links": [{"label": "Facts", "url": "https://x.org/f", "type": "absolute"}]
        })
    }

    fn paths(doc: &Value) -> Vec<String> {
        validate_response(doc).into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn good_card_is_valid() {
        assert_eq!(validate_response(&json!({"cards": [good_card()]})), vec![]);
    }

    #[test]
    fn summary_length_boundary() {
        let mut c = good_card();
        c["summary"] = "x".repeat(139).into();
        assert!(paths(&json!({"cards": [c.clone()]})).is_empty());
        c["summary"] = "é".repeat(140).into();
        assert_eq!(paths(&json!({"cards": [c]})), vec!["cards[0].summary"]);
    }

    #[test]
    fn each_rule_reports_its_path() {
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "cards[0].indicator",
                Box::new(|c| c["indicator"] = "urgent".into()),
            ),
            (
                "cards[0].source.label",
                Box::new(|c| c["source"] = json!({"url": "https://x.org"})),
            ),
            (
                "cards[0].source.url",
                Box::new(|c| c["source"]["url"] = "relative/path".into()),
            ),
            (
                "cards[0].selectionBehavior",
                Box::new(|c| {
                    c.as_object_mut().unwrap().remove("selectionBehavior");
                }),
            ),
            (
                "cards[0].selectionBehavior",
                Box::new(|c| c["selectionBehavior"] = "all".into()),
            ),
            (
                "cards[0].suggestions[0].actions[0].type",
                Box::new(|c| c["suggestions"][0]["actions"][0]["type"] = "insert".into()),
            ),
            (
                "cards[0].suggestions[0].actions[0].description",
                Box::new(|c| {
                    c["suggestions"][0]["actions"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("description");
                }),
            ),
            (
                "cards[0].suggestions[0].actions[0].resource",
                Box::new(|c| {
                    c["suggestions"][0]["actions"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("resource");
                }),
            ),
            (
                "cards[0].suggestions[0].uuid",
                Box::new(|c| c["suggestions"][0]["uuid"] = "123".into()),
            ),
            ("cards[0].uuid", Box::new(|c| c["uuid"] = "card-1".into())),
            (
                "cards[0].links[0].type",
                Box::new(|c| c["links"][0]["type"] = "relative".into()),
            ),
            (
                "cards[0].links[0].appContext",
                Box::new(|c| c["links"][0]["appContext"] = "x".into()),
            ),
            (
                "cards[0].overrideReasons[0].display",
                Box::new(|c| {
                    c["overrideReasons"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("display");
                }),
            ),
            (
                "cards[0].overrideReasons[0].system",
                Box::new(|c| {
                    c["overrideReasons"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("system");
                }),
            ),
            ("cards[0].detail", Box::new(|c| c["detail"] = Value::Null)),
            ("cards[0].summary", Box::new(|c| c["summary"] = "  ".into())),
        ];
        for (want, mutate) in cases {
            let mut c = good_card();
            mutate(&mut c);
            assert_eq!(
                paths(&json!({"cards": [c]})),
                vec![want.to_string()],
                "case {want}"
            );
        }
    }

    #[test]
    fn at_most_one_allows_one_recommendation() {
        let mut c = good_card();
        c["selectionBehavior"] = "at-most-one".into();
        let s = c["suggestions"][0].clone();
        c["suggestions"] = json!([s.clone(), s]);
        c["suggestions"][0]["isRecommended"] = true.into();
        assert!(paths(&json!({"cards": [c.clone()]})).is_empty());
        c["suggestions"][1]["isRecommended"] = true.into();
        assert_eq!(paths(&json!({"cards": [c]})), vec!["cards[0].suggestions"]);
    }

    #[test]
    fn cards_are_required_and_system_action_description_optional() {
        assert_eq!(paths(&json!({})), vec!["cards"]);
        let doc = json!({"cards": [], "systemActions": [{"type": "update", "resource": {"resourceType": "Task"}}]});
        assert!(paths(&doc).is_empty());
    }
}
