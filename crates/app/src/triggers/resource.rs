//! Resource triggers: an ingested resource matching a use case's
//! `trigger.kind = "resource"` rule starts its pathway at ingest, in the
//! same commit as the resource (so a result is never stored without its
//! review, and one seen again starts nothing). Everything specific (which
//! tags and codes, which messages, the variable names, which allergies and
//! roles count) is the use case's configuration
//! ([`bedside_usecase::ResourceRule`]); the shipped example is
//! `use-cases/imaging-ai-review`.
//!
//! What counts:
//! - **on the `on` resource**: when the rule names one (`ImagingStudy`), a
//!   DiagnosticReport's `imagingStudy` or any resource's `derivedFrom` /
//!   `partOf` references a resource of that type;
//! - **a match**: one of the rule's `tags` in `meta.security` or
//!   `meta.tag`, one of its `codes` in `code` or `valueCodeableConcept`,
//!   or (`performer_device`) a `performer` that is a `Device`; the rule's
//!   `also` rules are checked first, each with its own start message;
//! - never `entered-in-error`, `cancelled` or `registered` results.
//!
//! The responsible clinician (the `context.responsible` variable, the
//! first Task's owner) is the first of: the result's `resultsInterpreter`,
//! the `on` resource's `interpreter`, a participant of its encounter whose
//! type carries one of `context.responsible_codes` (or a text or display
//! containing one of `context.responsible_texts`), a member of the
//! patient's CareTeam (that encounter's first) whose role does; else none,
//! and the Task goes to the pathway's candidate group.
//!
//! The instance id is `{message}|{patient}|{resource type}/{id}`: a newer
//! version of the same result does not start a second instance.

use crate::pathway_rt::PATHWAY_INSTANCE;
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_store::{Commit, ResourceKey};
use bedside_usecase::{ResourceContext, ResourceRule, Trigger};
use serde_json::{json, Map, Value};

/// Does a coding match one of `codes` (`system|code`)? A coding without a
/// system matches on its code.
fn coding_in(c: &Value, codes: &[(String, String)]) -> bool {
    codes.iter().any(|(sys, code)| {
        c["code"].as_str() == Some(code.as_str()) && c["system"].as_str().is_none_or(|s| s == sys)
    })
}

/// Whether a participant type / CareTeam role list names the responsible role.
fn names_role(roles: &Value, ctx: &ResourceContext) -> bool {
    let text_hit = |t: Option<&str>| {
        t.is_some_and(|t| {
            let t = t.to_lowercase();
            ctx.responsible_texts.iter().any(|k| t.contains(k.as_str()))
        })
    };
    roles.as_array().into_iter().flatten().any(|cc| {
        text_hit(cc["text"].as_str())
            || codings(cc)
                .any(|c| coding_in(c, &ctx.responsible_codes) || text_hit(c["display"].as_str()))
    })
}

fn is_person(r: &str) -> bool {
    r.starts_with("Practitioner/") || r.starts_with("PractitionerRole/")
}

/// The responsible clinician among an Encounter's participants, if named.
fn encounter_responsible(enc: &Value, ctx: &ResourceContext) -> Option<String> {
    enc["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| names_role(&p["type"], ctx))
        .filter_map(|p| p["individual"]["reference"].as_str())
        .find(|r| is_person(r))
        .map(str::to_string)
}

/// The responsible clinician on a CareTeam, if named.
fn care_team_responsible(team: &Value, ctx: &ResourceContext) -> Option<String> {
    team["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| names_role(&p["role"], ctx))
        .filter_map(|p| p["member"]["reference"].as_str())
        .find(|r| is_person(r))
        .map(str::to_string)
}

/// The start message a result calls for, its label and the referenced
/// `on` resources.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceMatch {
    pub message: String,
    pub label: String,
    pub on: Vec<String>,
}

fn refs<'a>(v: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    v[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str())
}

fn codings(v: &Value) -> impl Iterator<Item = &Value> {
    v["coding"].as_array().into_iter().flatten()
}

fn matches(
    v: &Value,
    tags: &[(String, String)],
    codes: &[(String, String)],
    performer_device: bool,
) -> bool {
    let tagged = ["security", "tag"].iter().any(|f| {
        v["meta"][f]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| coding_in(c, tags))
    });
    let coded = codings(&v["code"])
        .chain(codings(&v["valueCodeableConcept"]))
        .any(|c| coding_in(c, codes));
    let by_device = performer_device && refs(v, "performer").any(|r| r.starts_with("Device/"));
    tagged || coded || by_device
}

/// Classify one resource against a use case's rule (see the module doc);
/// `start` is the use case's start message.
pub fn classify(rule: &ResourceRule, start: &str, rtype: &str, v: &Value) -> Option<ResourceMatch> {
    if !rule.resources.iter().any(|r| r == rtype) {
        return None;
    }
    let on: Vec<String> = match &rule.on {
        Some(t) => {
            let prefix = format!("{t}/");
            refs(v, "imagingStudy")
                .chain(refs(v, "derivedFrom"))
                .chain(refs(v, "partOf"))
                .filter(|r| r.starts_with(&prefix))
                .map(str::to_string)
                .collect()
        }
        None => Vec::new(),
    };
    if rule.on.is_some() && on.is_empty() {
        return None;
    }
    if matches!(
        v["status"].as_str(),
        Some("entered-in-error" | "cancelled" | "registered")
    ) {
        return None;
    }
    for a in &rule.also {
        if matches(v, &a.tags, &a.codes, a.performer_device) {
            return Some(ResourceMatch {
                message: a.message.clone(),
                label: a.label.clone(),
                on,
            });
        }
    }
    matches(v, &rule.tags, &rule.codes, rule.performer_device).then(|| ResourceMatch {
        message: start.to_string(),
        label: rule.label.clone(),
        on,
    })
}

/// An allergy whose code text or display contains one of `texts` (every
/// allergy when `texts` is empty).
fn allergy_counts(v: &Value, texts: &[String]) -> bool {
    if texts.is_empty() {
        return true;
    }
    let c = &v["code"];
    let mut all: Vec<String> = c["text"]
        .as_str()
        .map(str::to_lowercase)
        .into_iter()
        .collect();
    all.extend(codings(c).filter_map(|x| x["display"].as_str().map(str::to_lowercase)));
    all.iter()
        .any(|t| texts.iter().any(|k| t.contains(k.as_str())))
}

impl App {
    /// After ingest: start the pathway of each served use case with a
    /// resource trigger for each resource written in `commit` that matches
    /// its rule (when a loaded pathway starts on the message). Returns how
    /// many instances were started.
    pub(crate) async fn resource_triggers(
        &self,
        commit: &mut Commit,
        now: Instant,
    ) -> Result<u64, ApiError> {
        let rules: Vec<(ResourceRule, String)> = self
            .use_cases
            .iter()
            .filter_map(|uc| match (&uc.trigger, &uc.pathway) {
                (Trigger::Resource(r), Some(pw)) => Some((r.clone(), pw.start.clone())),
                _ => None,
            })
            .collect();
        if rules.is_empty() {
            return Ok(0);
        }
        let mut found = Vec::new();
        for r in &commit.resources {
            let rtype = r.key.rtype.as_str();
            // Cheap filter before parsing: most resources are not of a
            // rule's types, or do not reference its `on` type.
            let candidate = rules.iter().any(|(rule, _)| {
                rule.resources.iter().any(|t| t == rtype)
                    && rule
                        .on
                        .as_ref()
                        .is_none_or(|o| r.body.contains(&format!("{o}/")))
            });
            if !candidate {
                continue;
            }
            let (Some(pid), Ok(v)) = (&r.patient_id, serde_json::from_str::<Value>(&r.body)) else {
                continue;
            };
            for (rule, start) in &rules {
                if let Some(t) = classify(rule, start, rtype, &v) {
                    found.push((
                        rule.context.clone(),
                        t,
                        pid.clone(),
                        format!("{rtype}/{}", r.key.id),
                        v.clone(),
                    ));
                }
            }
        }
        let mut started = 0;
        for (ctx, t, pid, reference, v) in found {
            if self.pathways.started_by(&t.message).is_none() {
                continue;
            }
            let key = reference.clone();
            let id = format!("{}|{pid}|{key}", t.message);
            let pending = commit
                .documents
                .iter()
                .any(|d| d.kind == PATHWAY_INSTANCE && d.id == id);
            if pending
                || self
                    .store
                    .get_document(PATHWAY_INSTANCE, &id)
                    .await?
                    .is_some()
            {
                continue;
            }
            let vars = self
                .resource_variables(commit, &pid, &reference, &t, &ctx, &v)
                .await?;
            let at = v["effectiveDateTime"]
                .as_str()
                .or_else(|| v["issued"].as_str())
                .and_then(crate::replay::parse_time)
                .unwrap_or(now);
            // A pathway that cannot start on these variables must not
            // reject the clinical data: the resource is stored, the
            // incident logged (pseudonymously) for the pathway's owner.
            match self
                .start_pathway_in(&t.message, &pid, &key, vars, at, commit)
                .await
            {
                Ok(_) => started += 1,
                Err(e) if e.status < 500 => tracing::warn!(
                    patient = %bedside_core::PatientRef::parse(&pid).map(|p| p.pseudonym()).unwrap_or_default(),
                    message = %t.message,
                    error = %e,
                    "pathway of a resource trigger not started"
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(started)
    }

    /// What the reviewer needs in hand: the `on` resource's metadata, the
    /// result, the allergies that count, earlier resources of the `on`
    /// type and the responsible clinician, under the use case's names.
    async fn resource_variables(
        &self,
        commit: &Commit,
        pid: &str,
        reference: &str,
        t: &ResourceMatch,
        ctx: &ResourceContext,
        v: &Value,
    ) -> Result<Map<String, Value>, ApiError> {
        let study_ref = t.on.first().cloned().unwrap_or_default();
        let (on_type, study_id) = study_ref
            .split_once('/')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap_or_default();
        let key = ResourceKey {
            rtype: on_type.clone(),
            id: study_id.clone(),
        };
        let pending = commit
            .resources
            .iter()
            .rev()
            .find(|r| r.key == key)
            .map(|r| r.body.clone());
        let stored = match pending {
            Some(b) => Some(b),
            None if !study_id.is_empty() => self.store.get_resource(&key).await?.map(|r| r.body),
            None => None,
        };
        let s: Value = stored
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or(Value::Null);
        let modality: Vec<Value> = codings(&json!({"coding": s["modality"]}))
            .filter_map(|m| m["code"].as_str().map(|c| json!(c)))
            .collect();
        let display = if s.is_null() {
            "not received yet".to_string()
        } else {
            let mut parts = vec![s["description"]
                .as_str()
                .unwrap_or(on_type.as_str())
                .to_string()];
            let mods: Vec<&str> = modality.iter().filter_map(Value::as_str).collect();
            if !mods.is_empty() {
                parts.push(mods.join("/"));
            }
            if let Some(t) = s["started"].as_str() {
                parts.push(format!("started {t}"));
            }
            if let Some(n) = s["numberOfSeries"].as_u64() {
                parts.push(format!("{n} series"));
            }
            parts.join(", ")
        };
        let study = json!({
            "reference": study_ref,
            "display": display,
            "known": !s.is_null(),
            "description": s["description"],
            "modality": modality,
            "started": s["started"],
            "series": s["numberOfSeries"],
            "instances": s["numberOfInstances"],
            "uid": s["identifier"].as_array().and_then(|ids| ids.iter().find(|i| i["system"] == "urn:dicom:uid")).map(|i| i["value"].clone()),
        });
        let code_text = v["code"]["text"]
            .as_str()
            .or_else(|| v["code"]["coding"][0]["display"].as_str())
            .or_else(|| v["code"]["coding"][0]["code"].as_str());
        let label = t.label.as_str();
        // What was found: a report's conclusion, an Observation's value.
        let found = v["conclusion"]
            .as_str()
            .or_else(|| v["valueCodeableConcept"]["text"].as_str())
            .or_else(|| v["valueCodeableConcept"]["coding"][0]["display"].as_str())
            .or_else(|| v["valueString"].as_str());
        let finding_display = [code_text, found]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        let finding = json!({
            "reference": reference,
            "display": format!("{label}: {finding_display}"),
            "kind": t.message,
            "code": code_text,
            "conclusion": v["conclusion"],
            "value": v.get("valueCodeableConcept").or_else(|| v.get("valueString")).or_else(|| v.get("valueQuantity")).cloned().unwrap_or(Value::Null),
            "performer": v["performer"],
            "issued": v["issued"],
        });
        let mut allergies = Vec::new();
        let mut prior = Vec::new();
        for (id, a) in self
            .patient_resources(commit, "AllergyIntolerance", pid)
            .await?
        {
            let withdrawn = codings(&a["verificationStatus"])
                .any(|c| matches!(c["code"].as_str(), Some("refuted" | "entered-in-error")));
            if allergy_counts(&a, &ctx.allergy_texts) && !withdrawn {
                allergies.push(json!({"reference": format!("AllergyIntolerance/{id}"), "display": a["code"]["text"].as_str().or_else(|| a["code"]["coding"][0]["display"].as_str()), "criticality": a["criticality"]}));
            }
        }
        let mut studies = if on_type.is_empty() {
            Vec::new()
        } else {
            self.patient_resources(commit, &on_type, pid).await?
        };
        // Newest first.
        studies.sort_by(|a, b| b.1["started"].as_str().cmp(&a.1["started"].as_str()));
        for (id, p) in studies {
            let before = match (p["started"].as_str(), s["started"].as_str()) {
                (Some(a), Some(b)) => a <= b,
                _ => true,
            };
            if id == study_id || !before {
                continue;
            }
            prior.push(json!({"reference": format!("{on_type}/{id}"), "display": format!("{} ({})", p["description"].as_str().unwrap_or(on_type.as_str()), p["started"].as_str().unwrap_or("date unknown"))}));
        }
        let responsible = self
            .responsible_clinician(commit, pid, v, &s, ctx)
            .await?
            .map(Value::String)
            .unwrap_or(Value::Null);
        let identifiers = self.patient_identifiers(pid).await?;
        let none = |v: Vec<Value>| {
            if v.is_empty() {
                json!("none recorded")
            } else {
                Value::Array(v)
            }
        };
        let mut vars = Map::new();
        vars.insert(
            "patient".into(),
            json!({"id": pid, "identifiers": identifiers}),
        );
        vars.insert(ctx.on.clone(), study);
        vars.insert(ctx.result.clone(), finding);
        vars.insert(ctx.allergies.clone(), none(allergies));
        vars.insert(ctx.prior.clone(), none(prior));
        vars.insert(ctx.responsible.clone(), responsible);
        Ok(vars)
    }
}

impl App {
    /// A patient's resources of a type as they will be after `commit`:
    /// what it writes, else what is stored (id, parsed body).
    async fn patient_resources(
        &self,
        commit: &Commit,
        rtype: &str,
        pid: &str,
    ) -> Result<Vec<(String, Value)>, ApiError> {
        let mut out: Vec<(String, Value)> = Vec::new();
        for r in commit.resources.iter().rev() {
            if r.key.rtype == rtype
                && r.patient_id.as_deref() == Some(pid)
                && !out.iter().any(|(id, _)| *id == r.key.id)
            {
                if let Ok(v) = serde_json::from_str(&r.body) {
                    out.push((r.key.id.clone(), v));
                }
            }
        }
        for r in self.store.resources_for_patient(rtype, pid).await? {
            if out.iter().any(|(id, _)| *id == r.key.id) {
                continue;
            }
            if let Ok(v) = serde_json::from_str(&r.body) {
                out.push((r.key.id, v));
            }
        }
        Ok(out)
    }

    /// One resource as it will be after `commit`.
    async fn resource_after(
        &self,
        commit: &Commit,
        reference: &str,
    ) -> Result<Option<Value>, ApiError> {
        let Some((rtype, id)) = reference.split_once('/') else {
            return Ok(None);
        };
        let key = ResourceKey {
            rtype: rtype.into(),
            id: id.into(),
        };
        let body = match commit.resources.iter().rev().find(|r| r.key == key) {
            Some(r) => Some(r.body.clone()),
            None => self.store.get_resource(&key).await?.map(|r| r.body),
        };
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// The responsible clinician (see the module doc), if one is named.
    async fn responsible_clinician(
        &self,
        commit: &Commit,
        pid: &str,
        finding: &Value,
        study: &Value,
        ctx: &ResourceContext,
    ) -> Result<Option<String>, ApiError> {
        if let Some(r) = refs(finding, "resultsInterpreter")
            .chain(refs(study, "interpreter"))
            .find(|r| is_person(r))
        {
            return Ok(Some(r.to_string()));
        }
        let encounter = study["encounter"]["reference"]
            .as_str()
            .or_else(|| finding["encounter"]["reference"].as_str());
        if let Some(e) = encounter {
            if let Some(r) = self
                .resource_after(commit, e)
                .await?
                .as_ref()
                .and_then(|e| encounter_responsible(e, ctx))
            {
                return Ok(Some(r));
            }
        }
        let mut teams = self.patient_resources(commit, "CareTeam", pid).await?;
        // The study encounter's team first, then active teams, then the rest.
        teams.sort_by_key(|(_, t)| {
            (
                encounter.is_none() || t["encounter"]["reference"].as_str() != encounter,
                t["status"].as_str() != Some("active"),
            )
        });
        Ok(teams
            .iter()
            .find_map(|(_, t)| care_team_responsible(t, ctx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_usecase::AlsoRule;

    const QC: &str = "https://example.org/qc";

    /// An imaging-AI rule, as `use-cases/imaging-ai-review` configures it.
    fn rule() -> ResourceRule {
        let sct = |c: &str| ("http://snomed.info/sct".to_string(), c.to_string());
        ResourceRule {
            resources: vec!["DiagnosticReport".into(), "Observation".into()],
            tags: vec![(
                "http://terminology.hl7.org/CodeSystem/v3-ObservationValue".into(),
                "AIAST".into(),
            )],
            codes: vec![],
            performer_device: true,
            on: Some("ImagingStudy".into()),
            label: "AI finding".into(),
            also: vec![AlsoRule {
                message: "qc".into(),
                label: "QC failure".into(),
                codes: vec![(QC.into(), "qc-failure".into())],
                ..AlsoRule::default()
            }],
            context: ResourceContext {
                responsible_codes: vec![sct("66862007"), sct("394914008")],
                responsible_texts: vec!["radiolog".into()],
                allergy_texts: vec!["contrast".into(), "gadolin".into()],
                ..ResourceContext::default()
            },
        }
    }

    fn report(extra: Value) -> Value {
        let mut v = json!({
            "resourceType": "DiagnosticReport", "id": "r1", "status": "final",
            "subject": {"reference": "Patient/p1"},
            "imagingStudy": [{"reference": "ImagingStudy/s1"}],
            "code": {"text": "Chest X-ray AI triage"}
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    fn message(rtype: &str, v: &Value) -> Option<String> {
        classify(&rule(), "start", rtype, v).map(|m| m.message)
    }

    #[test]
    fn tagged_or_device_produced_results_on_the_on_type_match() {
        let labelled = report(
            json!({"meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST"}]}}),
        );
        assert_eq!(
            message("DiagnosticReport", &labelled).as_deref(),
            Some("start")
        );
        let device = report(json!({"performer": [{"reference": "Device/cxr-ai"}]}));
        let t = classify(&rule(), "start", "DiagnosticReport", &device).unwrap();
        assert_eq!(
            (t.message.as_str(), t.label.as_str(), t.on),
            ("start", "AI finding", vec!["ImagingStudy/s1".to_string()])
        );
        let obs = json!({"resourceType": "Observation", "status": "final",
            "derivedFrom": [{"reference": "ImagingStudy/s2"}],
            "meta": {"tag": [{"code": "AIAST"}]}});
        assert_eq!(
            classify(&rule(), "start", "Observation", &obs).unwrap().on,
            vec!["ImagingStudy/s2"]
        );
        // A tag of the same code in another system is not the rule's tag.
        let other = report(json!({"meta": {"tag": [{"system": "urn:x", "code": "AIAST"}]}}));
        assert_eq!(message("DiagnosticReport", &other), None);
        // Without `performer_device`, a Device performer is no match.
        let mut r = rule();
        r.performer_device = false;
        assert!(classify(&r, "start", "DiagnosticReport", &device).is_none());
    }

    #[test]
    fn other_results_types_and_withdrawn_results_start_nothing() {
        let human = report(json!({"performer": [{"reference": "Practitioner/rad-1"}]}));
        assert_eq!(message("DiagnosticReport", &human), None);
        let mut lab = report(json!({"meta": {"tag": [{"code": "AIAST"}]}}));
        lab.as_object_mut().unwrap().remove("imagingStudy");
        assert_eq!(message("DiagnosticReport", &lab), None);
        let withdrawn =
            report(json!({"status": "entered-in-error", "performer": [{"reference": "Device/x"}]}));
        assert_eq!(message("DiagnosticReport", &withdrawn), None);
        let obs = json!({"resourceType": "Observation", "derivedFrom": [{"reference": "Observation/o1"}], "meta": {"tag": [{"code": "AIAST"}]}});
        assert_eq!(message("Observation", &obs), None);
        // A type the rule does not name.
        assert_eq!(
            message(
                "Condition",
                &report(json!({"performer": [{"reference": "Device/x"}]}))
            ),
            None
        );
    }

    #[test]
    fn an_also_rule_is_checked_first_with_its_own_message() {
        let qc = report(
            json!({"code": {"coding": [{"system": QC, "code": "qc-failure"}]},
            "performer": [{"reference": "Device/qc"}]}),
        );
        let m = classify(&rule(), "start", "DiagnosticReport", &qc).unwrap();
        assert_eq!((m.message.as_str(), m.label.as_str()), ("qc", "QC failure"));
        let other_system =
            report(json!({"code": {"coding": [{"system": "urn:x", "code": "qc-failure"}]}}));
        assert_eq!(message("DiagnosticReport", &other_system), None);
    }

    #[test]
    fn the_responsible_role_is_named_by_configured_code_or_text_only() {
        let ctx = rule().context;
        let enc = json!({"participant": [
            {"type": [{"coding": [{"code": "ATND"}]}], "individual": {"reference": "Practitioner/im-1"}},
            {"type": [{"text": "Interpreting radiologist"}], "individual": {"reference": "Practitioner/rad-2"}}]});
        assert_eq!(
            encounter_responsible(&enc, &ctx).as_deref(),
            Some("Practitioner/rad-2")
        );
        let team = json!({"participant": [
            {"role": [{"coding": [{"code": "309343006", "display": "Physician"}]}], "member": {"reference": "Practitioner/im-1"}},
            {"role": [{"coding": [{"code": "66862007"}]}], "member": {"reference": "Organization/x"}},
            {"role": [{"coding": [{"system": "http://snomed.info/sct", "code": "66862007"}]}], "member": {"reference": "PractitionerRole/rad-3"}}]});
        assert_eq!(
            care_team_responsible(&team, &ctx).as_deref(),
            Some("PractitionerRole/rad-3")
        );
        let wrong_system = json!({"participant": [{"role": [{"coding": [{"system": "urn:x", "code": "66862007"}]}], "member": {"reference": "Practitioner/x"}}]});
        assert_eq!(care_team_responsible(&wrong_system, &ctx), None);
        // With no roles configured, nobody is named.
        assert_eq!(
            care_team_responsible(&team, &ResourceContext::default()),
            None
        );
    }

    #[test]
    fn allergies_count_by_configured_text() {
        let texts = rule().context.allergy_texts;
        assert!(allergy_counts(
            &json!({"code": {"text": "Iodinated contrast media"}}),
            &texts
        ));
        assert!(allergy_counts(
            &json!({"code": {"coding": [{"display": "Gadolinium"}]}}),
            &texts
        ));
        assert!(!allergy_counts(
            &json!({"code": {"text": "Penicillin"}}),
            &texts
        ));
        assert!(allergy_counts(
            &json!({"code": {"text": "Penicillin"}}),
            &[]
        ));
    }
}
