//! What every `GET /fhir/{type}?..` shares: the parameters each search
//! honours (anything else is a 400 naming it), `_count` / `_offset` /
//! `_summary=count`, and the page of matches as a `searchset` Bundle with
//! `self`, `previous` and `next` links.
//!
//! Searches Bedside serves ([`SEARCHES`], also what `GET /fhir/metadata`
//! says): every type by `patient` / `subject`; Bedside's own Task by
//! `patient`, `owner`, `status`; Provenance by `target`, `patient`;
//! Observation by `category`, Condition by `clinical-status`,
//! MedicationRequest by `status` (tokens, `system|code` or `code`,
//! comma-separated alternatives) and these three `_sort=date|-date`: the
//! standard CDS Hooks prefetch, so one Bedside can be another's EHR.

use crate::ApiError;
use serde_json::Value;
use std::collections::BTreeMap;

/// Matches per page when `_count` is not given.
pub const SEARCH_PAGE: u32 = 100;
/// The largest `_count` honoured.
pub const SEARCH_PAGE_MAX: u32 = 1000;

/// The result parameters every search takes besides its own.
/// (`_format` is checked by the server: JSON only.)
pub const RESULT_PARAMS: &[&str] = &["_count", "_offset", "_summary", "_format"];

/// The search parameters of a type (besides [`RESULT_PARAMS`]).
pub fn search_params(rtype: &str) -> &'static [&'static str] {
    match rtype {
        "Task" => &["patient", "subject", "owner", "status"],
        "Provenance" => &["target", "patient"],
        // What the standard CDS Hooks prefetch asks (`bedside_cds::
        // standard_prefetch`), so that a Bedside can be another's EHR.
        "Observation" => &["patient", "subject", "category", "_sort"],
        "Condition" => &["patient", "subject", "clinical-status", "_sort"],
        "MedicationRequest" => &["patient", "subject", "status", "_sort"],
        _ => &["patient", "subject"],
    }
}

/// The element a token parameter of a stored resource's search reads:
/// a CodeableConcept (or a list of them), or a code.
fn token_element(param: &str) -> Option<&'static str> {
    match param {
        "category" => Some("category"),
        "clinical-status" => Some("clinicalStatus"),
        "status" => Some("status"),
        _ => None,
    }
}

/// Whether `resource` matches the token search `value` (comma-separated
/// alternatives, each `code` or `system|code`) on `element`.
fn token_matches(resource: &Value, element: &str, value: &str) -> bool {
    let el = &resource[element];
    let mut codings: Vec<(Option<&str>, &str)> = Vec::new();
    if let Some(code) = el.as_str() {
        codings.push((None, code));
    }
    let concepts: Vec<&Value> = match el {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![el],
        _ => Vec::new(),
    };
    for c in concepts {
        for cd in c["coding"].as_array().into_iter().flatten() {
            if let Some(code) = cd["code"].as_str() {
                codings.push((cd["system"].as_str(), code));
            }
        }
    }
    value.split(',').any(|alt| {
        let (system, code) = match alt.split_once('|') {
            Some((s, c)) => (Some(s), c),
            None => (None, alt),
        };
        codings.iter().any(|(s, c)| {
            *c == code && system.is_none_or(|want| want.is_empty() || *s == Some(want))
        })
    })
}

/// The clinical date of a resource for `_sort=date` (ISO text; absent
/// sorts last).
fn clinical_date(r: &Value) -> Option<&str> {
    [
        &r["effectiveDateTime"],
        &r["effectiveInstant"],
        &r["effectivePeriod"]["start"],
        &r["issued"],
        &r["onsetDateTime"],
        &r["recordedDate"],
        &r["authoredOn"],
        &r["meta"]["lastUpdated"],
    ]
    .into_iter()
    .find_map(Value::as_str)
}

/// A search as understood: its own parameters, and the page asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Search {
    pub rtype: String,
    /// The type's own parameters given (name, value), sorted by name.
    pub params: BTreeMap<String, String>,
    pub count: u32,
    pub offset: u32,
    /// `_summary=count`: the total only.
    pub summary_count: bool,
}

impl Search {
    /// Read `q` for a search on `rtype`: an unknown parameter, an empty
    /// value, a `_count` that is not a whole number from 0 to
    /// [`SEARCH_PAGE_MAX`], a bad `_offset` or a `_summary` other than
    /// `count` is a 400 naming it.
    pub fn parse(rtype: &str, q: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let own = search_params(rtype);
        let mut params = BTreeMap::new();
        for (k, v) in q {
            if RESULT_PARAMS.contains(&k.as_str()) {
                continue;
            }
            if !own.contains(&k.as_str()) {
                return Err(ApiError::new(
                    400,
                    "not-supported",
                    format!(
                        "{rtype} search parameter {k:?} is not supported (supported: {}, {})",
                        own.join(", "),
                        RESULT_PARAMS.join(", ")
                    ),
                    Some(k.as_str()),
                ));
            }
            if v.is_empty() {
                return Err(ApiError::new(
                    400,
                    "value",
                    format!("{rtype} search parameter {k:?} has an empty value"),
                    Some(k.as_str()),
                ));
            }
            params.insert(k.clone(), v.clone());
        }
        let num = |k: &str, max: u32| -> Result<Option<u32>, ApiError> {
            q.get(k)
                .map(|v| {
                    v.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| {
                        ApiError::new(
                            400,
                            "value",
                            format!("{k}={v:?} is not a whole number from 0 to {max}"),
                            Some(k),
                        )
                    })
                })
                .transpose()
        };
        let summary_count = match q.get("_summary").map(String::as_str) {
            None => false,
            Some("count") => true,
            Some(other) => {
                return Err(ApiError::new(
                    400,
                    "not-supported",
                    format!("_summary={other:?} is not supported (only _summary=count)"),
                    Some("_summary"),
                ))
            }
        };
        if let Some(v) = params.get("_sort") {
            if !matches!(v.as_str(), "date" | "-date") {
                return Err(ApiError::new(
                    400,
                    "not-supported",
                    format!("_sort={v:?} is not supported (date or -date)"),
                    Some("_sort"),
                ));
            }
        }
        Ok(Self {
            rtype: rtype.to_string(),
            params,
            count: num("_count", SEARCH_PAGE_MAX)?.unwrap_or(SEARCH_PAGE),
            offset: num("_offset", u32::MAX)?.unwrap_or(0),
            summary_count,
        })
    }

    /// A parameter's value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }

    /// The patient id of `patient` or `subject` (`Patient/` stripped).
    pub fn patient(&self) -> Option<&str> {
        self.get("patient")
            .or_else(|| self.get("subject"))
            .map(|p| p.strip_prefix("Patient/").unwrap_or(p))
    }

    /// The URL of this search at `offset`.
    fn url(&self, base: &str, offset: u32) -> String {
        let mut parts: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::pulse::enc(v)))
            .collect();
        if self.summary_count {
            parts.push("_summary=count".into());
        } else {
            parts.push(format!("_count={}", self.count));
            parts.push(format!("_offset={offset}"));
        }
        format!("{base}/fhir/{}?{}", self.rtype, parts.join("&"))
    }

    /// The searchset of this page: `total` matches in all, `matches` the
    /// whole list (fullUrl, resource) of which this page is cut out.
    pub fn page(
        &self,
        base: &str,
        total: u64,
        matches: impl IntoIterator<Item = (String, Value)>,
    ) -> Value {
        use bedside_fhir::{LinkRelation, SearchSet};
        let mut set =
            SearchSet::new(total).link(LinkRelation::SelfLink, self.url(base, self.offset));
        if self.summary_count {
            return set.to_json();
        }
        set = set.entries(
            matches
                .into_iter()
                .skip(self.offset as usize)
                .take(self.count as usize),
        );
        if self.offset > 0 {
            let prev = self.offset.saturating_sub(self.count.max(1));
            set = set.link(LinkRelation::Previous, self.url(base, prev));
        }
        let end = u64::from(self.offset) + u64::from(self.count);
        if self.count > 0 && end < total {
            set = set.link(LinkRelation::Next, self.url(base, end as u32));
        }
        set.to_json()
    }
}

impl crate::App {
    /// `GET /fhir/{type}?..` as a searchset Bundle (see the module doc).
    /// Bedside's own RiskAssessments and Communications (documents) come
    /// first, then stored resources of the type.
    pub async fn search(
        &self,
        rtype: &str,
        q: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        if rtype == crate::detected_issue::DETECTED_ISSUE {
            return self.search_detected_issues(q).await;
        }
        let s = Search::parse(rtype, q)?;
        if rtype == "Task" {
            return self.search_tasks(&s).await;
        }
        if rtype == crate::audit::PROVENANCE {
            return self.search_provenance(&s).await;
        }
        let pid = s.patient().ok_or_else(|| {
            ApiError::new(
                400,
                "not-supported",
                format!("search on {rtype} needs `patient` or `subject`"),
                None,
            )
        })?;
        let base = &self.config.public_url;
        let mut matches: Vec<(String, Value)> = Vec::new();
        if matches!(rtype, "RiskAssessment" | "Communication") {
            let docs = self
                .store
                .list_documents(&bedside_store::DocFilter {
                    kind: rtype.into(),
                    patient_id: Some(pid.to_string()),
                    status: None,
                    owner: None,
                    since: None,
                    limit: None,
                })
                .await?;
            matches.extend(
                docs.into_iter()
                    .map(|d| (format!("{base}/fhir/{rtype}/{}", d.id), d.body)),
            );
        }
        let rows = self.store.resources_for_patient(rtype, pid).await?;
        for r in &rows {
            // A stored body was valid JSON when it was accepted.
            let Ok(res) = serde_json::from_str::<Value>(&r.body) else {
                tracing::error!(rtype = %r.key.rtype, "stored resource is unreadable; left out of the search");
                continue;
            };
            matches.push((format!("{base}/fhir/{}/{}", r.key.rtype, r.key.id), res));
        }
        for (k, v) in &s.params {
            if let Some(el) = token_element(k) {
                matches.retain(|(_, r)| token_matches(r, el, v));
            }
        }
        match s.get("_sort") {
            Some("date") => matches.sort_by(|a, b| clinical_date(&a.1).cmp(&clinical_date(&b.1))),
            Some("-date") => matches.sort_by(|a, b| clinical_date(&b.1).cmp(&clinical_date(&a.1))),
            _ => {}
        }
        let total = matches.len() as u64;
        Ok(s.page(base, total, matches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bad_parameters_are_refused_naming_them() {
        for (pairs, named) in [
            (vec![("patient", "p"), ("_count", "abc")], "_count"),
            (vec![("patient", "p"), ("_count", "1001")], "_count"),
            (vec![("patient", "p"), ("_offset", "-1")], "_offset"),
            (vec![("patient", "p"), ("code", "x")], "code"),
            (vec![("patient", "")], "patient"),
            (vec![("patient", "p"), ("_summary", "true")], "_summary"),
        ] {
            let e = Search::parse("Observation", &q(&pairs)).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.outcome["issue"][0]["expression"][0], named, "{pairs:?}");
        }
        assert!(Search::parse("Task", &q(&[("owner", "x")])).is_ok());
        assert!(Search::parse("Observation", &q(&[("owner", "x")])).is_err());
    }

    #[test]
    fn token_searches_read_codings_and_codes() {
        let obs = json!({"resourceType": "Observation", "category": [{"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}]});
        assert!(token_matches(&obs, "category", "vital-signs"));
        assert!(token_matches(
            &obs,
            "category",
            "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
        ));
        assert!(token_matches(&obs, "category", "laboratory,vital-signs"));
        assert!(!token_matches(&obs, "category", "laboratory"));
        assert!(!token_matches(&obs, "category", "http://other|vital-signs"));
        let mr = json!({"resourceType": "MedicationRequest", "status": "active"});
        assert!(token_matches(&mr, "status", "active"));
        assert!(!token_matches(&mr, "status", "stopped"));
        let e =
            Search::parse("Observation", &q(&[("patient", "p"), ("_sort", "code")])).unwrap_err();
        assert_eq!(e.outcome["issue"][0]["expression"][0], "_sort");
        assert!(Search::parse("Observation", &q(&[("patient", "p"), ("_sort", "-date")])).is_ok());
        assert!(Search::parse("Patient", &q(&[("patient", "p"), ("category", "x")])).is_err());
    }

    #[test]
    fn pages_link_to_their_neighbours() {
        let s = Search::parse(
            "Observation",
            &q(&[
                ("patient", "Patient/p 1"),
                ("_count", "2"),
                ("_offset", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(s.patient(), Some("p 1"));
        let all = (0..5).map(|i| {
            (
                format!("u{i}"),
                json!({"resourceType": "Observation", "id": i.to_string()}),
            )
        });
        let b = s.page("https://b", 5, all);
        let ids: Vec<&str> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["u2", "u3"]);
        assert_eq!(b["total"], 5);
        let link = |rel: &str| {
            b["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == rel)
                .map(|l| l["url"].as_str().unwrap().to_string())
        };
        assert_eq!(
            link("next").as_deref(),
            Some("https://b/fhir/Observation?patient=Patient%2Fp%201&_count=2&_offset=4")
        );
        assert!(link("previous").unwrap().ends_with("_offset=0"));
        // The last page has no next.
        let last = Search::parse(
            "Observation",
            &q(&[("patient", "p"), ("_count", "2"), ("_offset", "4")]),
        )
        .unwrap();
        let b = last.page("https://b", 5, (0..5).map(|i| (format!("u{i}"), json!({}))));
        assert_eq!(b["entry"].as_array().unwrap().len(), 1);
        assert!(!b["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
    }
}
