//! Imaging-AI results start the radiology review pathway at ingest, in the
//! same commit as the resource (so a finding is never stored without its
//! review, and one seen again starts nothing).
//!
//! What counts (FHIR R4 as imaging-AI vendors send it):
//! - **on an imaging study**: a DiagnosticReport with `imagingStudy`, or an
//!   Observation whose `derivedFrom` / `partOf` references an ImagingStudy;
//! - **an AI finding** (message `imaging-ai-finding`): such a resource
//!   produced by software: `meta.security` or `meta.tag` carries the HL7
//!   v3 ObservationValue code `AIAST` (artificial-intelligence asserted),
//!   or a `performer` is a `Device`;
//! - **a quality-control failure** (message `imaging-qc-failure`): such a
//!   resource whose `code` or `valueCodeableConcept` carries
//!   [`QC_FAILURE_SYSTEM`]|`qc-failure` (from AI or not);
//! - never `entered-in-error`, `cancelled` or `preliminary`-less drafts
//!   (`registered`): only results a radiologist should review.
//!
//! The responsible radiologist (`responsible_radiologist`, the review
//! Task's owner) is the first of: the result's `resultsInterpreter`, the
//! study's `interpreter`, a participant of the study's encounter whose type
//! names a radiologist ([`RADIOLOGIST_ROLES`]), a member of the patient's
//! CareTeam (that encounter's first) whose role does; else none, and the
//! Task goes to the `radiologist` group.
//!
//! The instance id is `{message}|{patient}|{resource type}/{id}`: a newer
//! version of the same finding does not open a second review.
//! Start variables are those `pathways/radiology-review.bpmn` documents.

use crate::pathway_rt::PATHWAY_INSTANCE;
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_store::{Commit, ResourceKey};
use serde_json::{json, Map, Value};

pub const AI_FINDING: &str = "imaging-ai-finding";
pub const QC_FAILURE: &str = "imaging-qc-failure";
/// Code system of Bedside's imaging quality-control result code.
pub const QC_FAILURE_SYSTEM: &str = "https://bedside.dev/imaging-qc";
const AIAST: &str = "AIAST";
/// Role codes naming a radiologist on an Encounter participant or a
/// CareTeam member: SNOMED CT 66862007 |Radiologist| (occupation) and
/// 394914008 |Radiology| (specialty). A role whose text or display says
/// "radiolog..." counts too.
pub const RADIOLOGIST_ROLES: [&str; 2] = ["66862007", "394914008"];

/// Whether a participant type / CareTeam role list names a radiologist.
fn names_radiologist(roles: &Value) -> bool {
    roles.as_array().into_iter().flatten().any(|cc| {
        cc["text"]
            .as_str()
            .is_some_and(|t| t.to_lowercase().contains("radiolog"))
            || codings(cc).any(|c| {
                c["code"]
                    .as_str()
                    .is_some_and(|code| RADIOLOGIST_ROLES.contains(&code))
                    || c["display"]
                        .as_str()
                        .is_some_and(|t| t.to_lowercase().contains("radiolog"))
            })
    })
}

fn is_person(r: &str) -> bool {
    r.starts_with("Practitioner/") || r.starts_with("PractitionerRole/")
}

/// The radiologist among an Encounter's participants, if one is named.
fn encounter_radiologist(enc: &Value) -> Option<String> {
    enc["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| names_radiologist(&p["type"]))
        .filter_map(|p| p["individual"]["reference"].as_str())
        .find(|r| is_person(r))
        .map(str::to_string)
}

/// The radiologist on a CareTeam, if one is named.
fn care_team_radiologist(team: &Value) -> Option<String> {
    team["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| names_radiologist(&p["role"]))
        .filter_map(|p| p["member"]["reference"].as_str())
        .find(|r| is_person(r))
        .map(str::to_string)
}

/// The start message an imaging result calls for, and its studies.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagingTrigger {
    pub message: &'static str,
    pub studies: Vec<String>,
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

/// Classify one DiagnosticReport or Observation (see the module doc).
pub fn classify(rtype: &str, v: &Value) -> Option<ImagingTrigger> {
    let studies: Vec<String> = match rtype {
        "DiagnosticReport" => refs(v, "imagingStudy").map(str::to_string).collect(),
        "Observation" => refs(v, "derivedFrom")
            .chain(refs(v, "partOf"))
            .filter(|r| r.starts_with("ImagingStudy/"))
            .map(str::to_string)
            .collect(),
        _ => return None,
    };
    if studies.is_empty() {
        return None;
    }
    if matches!(
        v["status"].as_str(),
        Some("entered-in-error" | "cancelled" | "registered")
    ) {
        return None;
    }
    let qc = codings(&v["code"])
        .chain(codings(&v["valueCodeableConcept"]))
        .any(|c| c["system"] == QC_FAILURE_SYSTEM && c["code"] == "qc-failure");
    if qc {
        return Some(ImagingTrigger {
            message: QC_FAILURE,
            studies,
        });
    }
    let labelled_ai = ["security", "tag"].iter().any(|f| {
        v["meta"][f]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["code"] == AIAST)
    });
    let by_device = refs(v, "performer").any(|r| r.starts_with("Device/"));
    (labelled_ai || by_device).then_some(ImagingTrigger {
        message: AI_FINDING,
        studies,
    })
}

/// Contrast-agent allergies: the allergy's code text or display names an
/// iodinated or gadolinium contrast agent.
fn is_contrast_allergy(v: &Value) -> bool {
    let c = &v["code"];
    let mut texts: Vec<String> = c["text"]
        .as_str()
        .map(str::to_lowercase)
        .into_iter()
        .collect();
    texts.extend(codings(c).filter_map(|x| x["display"].as_str().map(str::to_lowercase)));
    texts.iter().any(|t| {
        [
            "contrast",
            "iodin",
            "iohexol",
            "iopamidol",
            "iodixanol",
            "gadolin",
            "gado",
        ]
        .iter()
        .any(|k| t.contains(k))
    })
}

impl App {
    /// After ingest: start the radiology review for each imaging-AI
    /// finding or QC failure written in `commit` (when a loaded pathway
    /// starts on its message). Returns how many reviews were started.
    pub(crate) async fn imaging_triggers(
        &self,
        commit: &mut Commit,
        now: Instant,
    ) -> Result<u64, ApiError> {
        let ai = self.pathways.started_by(AI_FINDING);
        let qc = self.pathways.started_by(QC_FAILURE);
        if ai.is_none() && qc.is_none() {
            return Ok(0);
        }
        let mut found = Vec::new();
        for r in &commit.resources {
            let rtype = r.key.rtype.as_str();
            // Cheap filter before parsing: most Observations are vitals.
            if !matches!(rtype, "DiagnosticReport" | "Observation")
                || !r.body.contains("ImagingStudy/")
            {
                continue;
            }
            let (Some(pid), Ok(v)) = (&r.patient_id, serde_json::from_str::<Value>(&r.body)) else {
                continue;
            };
            if let Some(t) = classify(rtype, &v) {
                found.push((t, pid.clone(), format!("{rtype}/{}", r.key.id), v));
            }
        }
        let mut started = 0;
        for (t, pid, reference, v) in found {
            let def = if t.message == AI_FINDING { &ai } else { &qc };
            if def.is_none() {
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
                .imaging_variables(commit, &pid, &reference, &t, &v)
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
                .start_pathway_in(t.message, &pid, &key, vars, at, commit)
                .await
            {
                Ok(_) => started += 1,
                Err(e) if e.status < 500 => tracing::warn!(
                    patient = %bedside_core::PatientRef::parse(&pid).map(|p| p.pseudonym()).unwrap_or_default(),
                    message = t.message,
                    error = %e,
                    "radiology review not started"
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(started)
    }

    /// What the radiologist needs in hand: the study's metadata, the
    /// finding, contrast allergies, prior imaging and the interpreter.
    async fn imaging_variables(
        &self,
        commit: &Commit,
        pid: &str,
        reference: &str,
        t: &ImagingTrigger,
        v: &Value,
    ) -> Result<Map<String, Value>, ApiError> {
        let study_ref = t.studies[0].clone();
        let study_id = study_ref.trim_start_matches("ImagingStudy/").to_string();
        let key = ResourceKey {
            rtype: "ImagingStudy".into(),
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
            None => self.store.get_resource(&key).await?.map(|r| r.body),
        };
        let s: Value = stored
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or(Value::Null);
        let modality: Vec<Value> = codings(&json!({"coding": s["modality"]}))
            .filter_map(|m| m["code"].as_str().map(|c| json!(c)))
            .collect();
        let display = if s.is_null() {
            "study not received yet".to_string()
        } else {
            let mut parts = vec![s["description"]
                .as_str()
                .unwrap_or("imaging study")
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
        let label = if t.message == AI_FINDING {
            "AI finding"
        } else {
            "QC failure"
        };
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
            "kind": if t.message == AI_FINDING { "ai-finding" } else { "qc-failure" },
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
            if is_contrast_allergy(&a) && !withdrawn {
                allergies.push(json!({"reference": format!("AllergyIntolerance/{id}"), "display": a["code"]["text"].as_str().or_else(|| a["code"]["coding"][0]["display"].as_str()), "criticality": a["criticality"]}));
            }
        }
        let mut studies = self.patient_resources(commit, "ImagingStudy", pid).await?;
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
            prior.push(json!({"reference": format!("ImagingStudy/{id}"), "display": format!("{} ({})", p["description"].as_str().unwrap_or("imaging study"), p["started"].as_str().unwrap_or("date unknown"))}));
        }
        let radiologist = self
            .responsible_radiologist(commit, pid, v, &s)
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
        vars.insert("study".into(), study);
        vars.insert("finding".into(), finding);
        vars.insert("contrast_allergies".into(), none(allergies));
        vars.insert("prior_imaging".into(), none(prior));
        vars.insert("responsible_radiologist".into(), radiologist);
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

    /// The responsible radiologist (see the module doc), if one is named.
    async fn responsible_radiologist(
        &self,
        commit: &Commit,
        pid: &str,
        finding: &Value,
        study: &Value,
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
                .and_then(encounter_radiologist)
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
        Ok(teams.iter().find_map(|(_, t)| care_team_radiologist(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ai_labelled_or_device_produced_results_on_a_study_are_findings() {
        let labelled = report(
            json!({"meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST"}]}}),
        );
        assert_eq!(
            classify("DiagnosticReport", &labelled).unwrap().message,
            AI_FINDING
        );
        let device = report(json!({"performer": [{"reference": "Device/cxr-ai"}]}));
        let t = classify("DiagnosticReport", &device).unwrap();
        assert_eq!(
            (t.message, t.studies),
            (AI_FINDING, vec!["ImagingStudy/s1".to_string()])
        );
        let obs = json!({"resourceType": "Observation", "status": "final",
            "derivedFrom": [{"reference": "ImagingStudy/s2"}],
            "meta": {"tag": [{"code": "AIAST"}]}});
        assert_eq!(
            classify("Observation", &obs).unwrap().studies,
            vec!["ImagingStudy/s2"]
        );
    }

    #[test]
    fn human_reports_lab_results_and_withdrawn_results_start_nothing() {
        // A radiologist's own report on the study.
        let human = report(json!({"performer": [{"reference": "Practitioner/rad-1"}]}));
        assert!(classify("DiagnosticReport", &human).is_none());
        // AI-labelled but not on an imaging study.
        let mut lab = report(json!({"meta": {"tag": [{"code": "AIAST"}]}}));
        lab.as_object_mut().unwrap().remove("imagingStudy");
        assert!(classify("DiagnosticReport", &lab).is_none());
        let withdrawn =
            report(json!({"status": "entered-in-error", "performer": [{"reference": "Device/x"}]}));
        assert!(classify("DiagnosticReport", &withdrawn).is_none());
        // An Observation derived from something other than a study.
        let obs = json!({"resourceType": "Observation", "derivedFrom": [{"reference": "Observation/o1"}], "meta": {"tag": [{"code": "AIAST"}]}});
        assert!(classify("Observation", &obs).is_none());
        assert!(classify("Condition", &report(json!({}))).is_none());
    }

    #[test]
    fn qc_failure_code_is_a_qc_failure_whoever_sent_it() {
        let qc = report(
            json!({"code": {"coding": [{"system": QC_FAILURE_SYSTEM, "code": "qc-failure"}]},
            "performer": [{"reference": "Device/qc"}]}),
        );
        assert_eq!(
            classify("DiagnosticReport", &qc).unwrap().message,
            QC_FAILURE
        );
        let other_system =
            report(json!({"code": {"coding": [{"system": "urn:x", "code": "qc-failure"}]}}));
        assert!(classify("DiagnosticReport", &other_system).is_none());
    }

    #[test]
    fn a_radiologist_is_named_by_role_code_or_text_only() {
        let enc = json!({"participant": [
            {"type": [{"coding": [{"code": "ATND"}]}], "individual": {"reference": "Practitioner/im-1"}},
            {"type": [{"text": "Interpreting radiologist"}], "individual": {"reference": "Practitioner/rad-2"}}]});
        assert_eq!(
            encounter_radiologist(&enc).as_deref(),
            Some("Practitioner/rad-2")
        );
        let team = json!({"participant": [
            {"role": [{"coding": [{"code": "309343006", "display": "Physician"}]}], "member": {"reference": "Practitioner/im-1"}},
            {"role": [{"coding": [{"code": "66862007"}]}], "member": {"reference": "Organization/x"}},
            {"role": [{"coding": [{"code": "66862007"}]}], "member": {"reference": "PractitionerRole/rad-3"}}]});
        assert_eq!(
            care_team_radiologist(&team).as_deref(),
            Some("PractitionerRole/rad-3")
        );
        let none = json!({"participant": [{"role": [{"text": "Pharmacist"}], "member": {"reference": "Practitioner/ph"}}]});
        assert_eq!(care_team_radiologist(&none), None);
    }

    #[test]
    fn contrast_allergies_are_recognised_by_name() {
        assert!(is_contrast_allergy(
            &json!({"code": {"text": "Iodinated contrast media"}})
        ));
        assert!(is_contrast_allergy(
            &json!({"code": {"coding": [{"display": "Gadolinium"}]}})
        ));
        assert!(!is_contrast_allergy(
            &json!({"code": {"text": "Penicillin"}})
        ));
    }
}
