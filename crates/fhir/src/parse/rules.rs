//! The R4 rules checked on the top level of every resource type Bedside
//! reads, from one table per type ([`super::rules_table`], generated from
//! the R4 JSON schema and fhir.resources 6.4.0): the elements R4 defines
//! (anything else is an unknown element), the elements of cardinality
//! 1..1 and the choice groups `x[x]` of cardinality 1..1 (missing: an
//! error), and the codes of the elements with a *required* binding (a code
//! outside them: an error). Types without a table (those Bedside stores and
//! otherwise ignores) are not checked here.

use crate::outcome::{ErrorKind, FhirError};

/// The rules of one resource type.
pub(crate) struct Rules {
    pub rtype: &'static str,
    /// Every top-level element R4 defines, `_x` forms included, sorted.
    pub elements: &'static [&'static str],
    /// Elements of cardinality 1..1.
    pub required: &'static [&'static str],
    /// Choice groups of cardinality 1..1: name (without `[x]`), the
    /// element of each type.
    pub choices: &'static [(&'static str, &'static [&'static str])],
    /// Top-level code elements with a required binding, and its codes.
    pub codes: &'static [(&'static str, &'static [&'static str])],
}

/// The names of every coded element in the table: the scan keeps the
/// string values of top-level elements of these names only.
pub(crate) const CODED: &[&str] = &[
    "category",
    "criticality",
    "gender",
    "intent",
    "mode",
    "priority",
    "status",
    "type",
];

/// What the scan saw on the top level of a resource.
#[derive(Debug, Default)]
pub(crate) struct TopLevel {
    /// Every property name, and whether its value is `null`.
    pub keys: Vec<(String, bool)>,
    /// String values of properties named in [`CODED`] (and the strings of
    /// arrays so named), as (name, value).
    pub codes: Vec<(&'static str, String)>,
}

impl TopLevel {
    /// The top level of a JSON object tree.
    pub fn of_tree(m: &serde_json::Map<String, serde_json::Value>) -> Self {
        use serde_json::Value;
        let mut t = TopLevel::default();
        for (k, v) in m {
            t.keys.push((k.clone(), v.is_null()));
            if let Some(name) = coded(k) {
                match v {
                    Value::String(s) => t.codes.push((name, s.clone())),
                    Value::Array(a) => t.codes.extend(
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .map(|s| (name, s.to_string())),
                    ),
                    _ => {}
                }
            }
        }
        t
    }
}

/// `k` as the static name in [`CODED`], when it is one.
pub(crate) fn coded(k: &str) -> Option<&'static str> {
    CODED.iter().copied().find(|c| *c == k)
}

fn rules_of(rtype: &str) -> Option<&'static Rules> {
    let all = super::rules_table::RULES;
    all.binary_search_by(|r| r.rtype.cmp(rtype))
        .ok()
        .map(|i| &all[i])
}

/// Check the top level of a resource of type `rtype`: a missing 1..1
/// element or choice group, or a code outside a required binding, is an
/// error naming the element; the unknown elements found are returned as
/// paths (`Observation.foo`).
pub(crate) fn check(rtype: &str, top: &TopLevel) -> Result<Vec<String>, FhirError> {
    let Some(rules) = rules_of(rtype) else {
        return Ok(Vec::new());
    };
    // A 1..1 primitive may be sent as its extension only (`_status`).
    let present = |name: &str| {
        top.keys
            .iter()
            .any(|(k, null)| !null && (k == name || (k.starts_with('_') && &k[1..] == name)))
    };
    for name in rules.required {
        if !present(name) {
            return Err(FhirError::new(
                ErrorKind::Structure,
                format!("{rtype}.{name}"),
                format!("{rtype}.{name} is required (R4 cardinality 1..1) and missing"),
            ));
        }
    }
    for (group, options) in rules.choices {
        if !options.iter().any(|o| present(o)) {
            return Err(FhirError::new(
                ErrorKind::Structure,
                format!("{rtype}.{group}[x]"),
                format!(
                    "{rtype}.{group}[x] is required (R4 cardinality 1..1) and missing: one of {}",
                    options.join(", ")
                ),
            ));
        }
    }
    for (name, value) in &top.codes {
        let Some((_, allowed)) = rules.codes.iter().find(|(n, _)| n == name) else {
            continue;
        };
        if !allowed.contains(&value.as_str()) {
            return Err(FhirError::new(
                ErrorKind::Value,
                format!("{rtype}.{name}"),
                format!(
                    "{value:?} is not a code of the required value set of {rtype}.{name} ({})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(top
        .keys
        .iter()
        .filter(|(k, _)| rules.elements.binary_search(&k.as_str()).is_err())
        .map(|(k, _)| format!("{rtype}.{k}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_its_coded_names_are_kept_by_the_scan() {
        let all = super::super::rules_table::RULES;
        assert!(all.windows(2).all(|w| w[0].rtype < w[1].rtype));
        for r in all {
            assert!(
                r.elements.windows(2).all(|w| w[0] < w[1]),
                "{} elements unsorted",
                r.rtype
            );
            for (name, _) in r.codes {
                assert!(coded(name).is_some(), "{}.{name} not in CODED", r.rtype);
            }
            for name in r.required {
                assert!(r.elements.contains(name), "{}.{name}", r.rtype);
            }
        }
    }
}
