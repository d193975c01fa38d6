//! `searchset` Bundles out: the answer to a FHIR search, built as one
//! typed value ([`SearchSet`]) and serialized in one pass.
//!
//! What the JSON holds (R4 Bundle): `resourceType`, `type: "searchset"`,
//! `total` (how many resources the search matched, whether or not they
//! are all included), `link` (each `relation` and `url`, only when there
//! are links) and `entry` (each `fullUrl`, `resource` and
//! `search.mode: "match"`, only when there are entries: FHIR JSON has no
//! empty arrays).

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// `Bundle.link.relation`: the IANA link relations a searchset uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkRelation {
    /// The search as it was understood (`self`).
    #[serde(rename = "self")]
    SelfLink,
    First,
    Previous,
    /// The next page.
    Next,
    Last,
}

/// `Bundle.link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleLink {
    pub relation: LinkRelation,
    pub url: String,
}

/// One match: a `Bundle.entry` with `search.mode = "match"`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchMatch {
    /// The absolute URL of the resource.
    pub full_url: String,
    pub resource: Value,
}

impl Serialize for SearchMatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Mode;
        impl Serialize for Mode {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_struct("BundleEntrySearch", 1)?;
                m.serialize_field("mode", "match")?;
                m.end()
            }
        }
        let mut m = s.serialize_struct("BundleEntry", 3)?;
        m.serialize_field("fullUrl", &self.full_url)?;
        m.serialize_field("resource", &self.resource)?;
        m.serialize_field("search", &Mode)?;
        m.end()
    }
}

/// A `searchset` Bundle.
///
/// ```
/// use bedside_fhir::{LinkRelation, SearchSet};
/// let page = SearchSet::new(12)
///     .entry("https://b.example/fhir/Task/t1", serde_json::json!({"resourceType": "Task", "id": "t1"}))
///     .link(LinkRelation::Next, "https://b.example/fhir/Task?_page=2");
/// let json = page.to_json();
/// assert_eq!(json["type"], "searchset");
/// assert_eq!(json["total"], 12);
/// assert_eq!(json["entry"][0]["search"]["mode"], "match");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchSet {
    total: u64,
    links: Vec<BundleLink>,
    matches: Vec<SearchMatch>,
}

impl SearchSet {
    /// A searchset for a search that matched `total` resources; the
    /// entries added may be fewer (one page), or none (`_summary=count`).
    pub fn new(total: u64) -> Self {
        Self {
            total,
            ..Self::default()
        }
    }

    /// Add a match.
    pub fn entry(mut self, full_url: impl Into<String>, resource: Value) -> Self {
        self.push(full_url, resource);
        self
    }

    /// Add matches in order.
    pub fn entries<U: Into<String>>(
        mut self,
        matches: impl IntoIterator<Item = (U, Value)>,
    ) -> Self {
        self.matches
            .extend(matches.into_iter().map(|(u, resource)| SearchMatch {
                full_url: u.into(),
                resource,
            }));
        self
    }

    /// Add a match (in a loop).
    pub fn push(&mut self, full_url: impl Into<String>, resource: Value) {
        self.matches.push(SearchMatch {
            full_url: full_url.into(),
            resource,
        });
    }

    /// Add a link (`self`, `next`, ...).
    pub fn link(mut self, relation: LinkRelation, url: impl Into<String>) -> Self {
        self.links.push(BundleLink {
            relation,
            url: url.into(),
        });
        self
    }

    /// How many resources the search matched.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The matches included, in order.
    pub fn matches(&self) -> &[SearchMatch] {
        &self.matches
    }

    pub fn links(&self) -> &[BundleLink] {
        &self.links
    }

    /// The Bundle as JSON.
    pub fn to_json(&self) -> Value {
        // Serializing into a JSON tree fails only for a map with non-string
        // keys or a failing Serialize impl; this type has neither.
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl Serialize for SearchSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("resourceType", "Bundle")?;
        m.serialize_entry("type", "searchset")?;
        m.serialize_entry("total", &self.total)?;
        if !self.links.is_empty() {
            m.serialize_entry("link", &self.links)?;
        }
        if !self.matches.is_empty() {
            m.serialize_entry("entry", &self.matches)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{bundle_from_value, BundleType};
    use serde_json::json;

    fn obs(id: &str) -> Value {
        json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "lactate"},
            "subject": {"reference": "Patient/p1"}
        })
    }

    #[test]
    fn a_page_has_total_links_and_matches_in_order() {
        let b = SearchSet::new(3)
            .entry("https://b.example/fhir/Observation/o1", obs("o1"))
            .entries([("https://b.example/fhir/Observation/o2", obs("o2"))])
            .link(
                LinkRelation::SelfLink,
                "https://b.example/fhir/Observation?patient=p1",
            )
            .link(
                LinkRelation::Next,
                "https://b.example/fhir/Observation?patient=p1&_page=2",
            );
        assert_eq!(
            b.to_json(),
            json!({
                "resourceType": "Bundle",
                "type": "searchset",
                "total": 3,
                "link": [
                    {"relation": "self", "url": "https://b.example/fhir/Observation?patient=p1"},
                    {"relation": "next", "url": "https://b.example/fhir/Observation?patient=p1&_page=2"}
                ],
                "entry": [
                    {"fullUrl": "https://b.example/fhir/Observation/o1", "resource": obs("o1"), "search": {"mode": "match"}},
                    {"fullUrl": "https://b.example/fhir/Observation/o2", "resource": obs("o2"), "search": {"mode": "match"}}
                ]
            })
        );
        assert_eq!((b.total(), b.matches().len(), b.links().len()), (3, 2, 2));
    }

    #[test]
    fn a_count_only_answer_has_no_empty_arrays() {
        let v = SearchSet::new(7).to_json();
        assert_eq!(
            v,
            json!({"resourceType": "Bundle", "type": "searchset", "total": 7})
        );
        let mut none = SearchSet::new(0);
        none.push("https://b.example/fhir/Observation/o1", obs("o1"));
        assert_eq!(none.to_json()["entry"].as_array().map(Vec::len), Some(1));
        assert!(SearchSet::new(0).to_json().get("entry").is_none());
    }

    #[test]
    fn the_text_begins_with_the_resource_type_and_reads_back_as_a_searchset() {
        let mut b = SearchSet::new(2);
        b.push("https://b.example/fhir/Observation/o1", obs("o1"));
        b.push("https://b.example/fhir/Observation/o2", obs("o2"));
        let text = serde_json::to_string(&b).unwrap();
        assert!(
            text.starts_with(
                r#"{"resourceType":"Bundle","type":"searchset","total":2,"entry":[{"fullUrl":"#
            ),
            "{text}"
        );
        let back = bundle_from_value(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back.btype, BundleType::Searchset);
        let ids: Vec<_> = back
            .entries
            .iter()
            .map(|e| e.resource().and_then(|r| r.id.clone()))
            .collect();
        assert_eq!(ids, [Some("o1".to_string()), Some("o2".to_string())]);
        assert_eq!(
            back.entries[0].full_url.as_deref(),
            Some("https://b.example/fhir/Observation/o1")
        );
    }
}
