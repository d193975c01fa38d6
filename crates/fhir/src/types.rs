//! FHIR R4 datatypes Bedside reads and writes, plus reference parsing and
//! the list of R4 resource types.

use crate::datetime::{DateTime, FhirInstant};
use serde::{Deserialize, Serialize};

/// Is `s` a valid FHIR R4 `id` (`[A-Za-z0-9\-\.]{1,64}`)?
pub fn is_valid_id(s: &str) -> bool {
    bedside_core::types::is_fhir_id(s)
}

/// Every resource type of FHIR R4 (4.0.1), plus the R4B/R5 types that the
/// topic-based subscription backport sends (`SubscriptionStatus`,
/// `SubscriptionTopic`).
pub const R4_RESOURCE_TYPES: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "SubscriptionStatus",
    "SubscriptionTopic",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// Is `t` an R4 resource type name?
pub fn is_resource_type(t: &str) -> bool {
    R4_RESOURCE_TYPES.binary_search(&t).is_ok()
}

/// What a `Reference.reference` string points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefTarget {
    /// `Type/id` or `Type/id/_history/v`.
    Relative {
        rtype: String,
        id: String,
        version: Option<String>,
    },
    /// `http(s)://base/Type/id[/_history/v]`.
    Absolute {
        base: String,
        rtype: String,
        id: String,
        version: Option<String>,
    },
    /// `urn:uuid:...` or `urn:oid:...` (resolved inside a Bundle).
    Urn(String),
    /// `#id` (a contained resource; `#` alone is the container).
    Contained(String),
    /// `Type?search` (a conditional reference in a transaction).
    Conditional { rtype: String, query: String },
}

impl RefTarget {
    /// `(type, id)` when the target names them.
    pub fn type_and_id(&self) -> Option<(&str, &str)> {
        match self {
            RefTarget::Relative { rtype, id, .. } | RefTarget::Absolute { rtype, id, .. } => {
                Some((rtype, id))
            }
            _ => None,
        }
    }
}

fn type_id_version(segs: &[&str]) -> Option<(String, String, Option<String>)> {
    match segs {
        [t, id] if is_resource_type(t) && is_valid_id(id) => {
            Some((t.to_string(), id.to_string(), None))
        }
        [t, id, "_history", v] if is_resource_type(t) && is_valid_id(id) && is_valid_id(v) => {
            Some((t.to_string(), id.to_string(), Some(v.to_string())))
        }
        _ => None,
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_oid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Parse a `Reference.reference` string; the error says why it cannot be
/// interpreted.
pub fn parse_reference(s: &str) -> Result<RefTarget, String> {
    let bad = |why: &str| Err(format!("cannot parse reference {s:?}: {why}"));
    if s.is_empty() {
        return bad("empty");
    }
    if let Some(id) = s.strip_prefix('#') {
        if id.is_empty() || is_valid_id(id) {
            return Ok(RefTarget::Contained(id.to_string()));
        }
        return bad("contained id is not a valid FHIR id");
    }
    if let Some(u) = s.strip_prefix("urn:uuid:") {
        if is_uuid(u) {
            return Ok(RefTarget::Urn(s.to_string()));
        }
        return bad("not a UUID");
    }
    if let Some(o) = s.strip_prefix("urn:oid:") {
        if is_oid(o) {
            return Ok(RefTarget::Urn(s.to_string()));
        }
        return bad("not an OID");
    }
    if s.starts_with("http://") || s.starts_with("https://") {
        let all: Vec<&str> = s.split('/').collect();
        for n in [4usize, 2] {
            if all.len() > n + 2 {
                let tail = &all[all.len() - n..];
                if let Some((rtype, id, version)) = type_id_version(tail) {
                    let base = all[..all.len() - n].join("/");
                    return Ok(RefTarget::Absolute {
                        base,
                        rtype,
                        id,
                        version,
                    });
                }
            }
        }
        return bad("an absolute reference must end in Type/id");
    }
    if let Some((t, q)) = s.split_once('?') {
        if is_resource_type(t) {
            return Ok(RefTarget::Conditional {
                rtype: t.to_string(),
                query: q.to_string(),
            });
        }
        return bad("unknown resource type");
    }
    let segs: Vec<&str> = s.split('/').collect();
    if let Some((rtype, id, version)) = type_id_version(&segs) {
        return Ok(RefTarget::Relative { rtype, id, version });
    }
    if let Some(t) = segs.first() {
        if !is_resource_type(t) {
            return bad("expected Type/id with an R4 resource type");
        }
    }
    bad("expected Type/id with a valid id")
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// FHIR Coding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_selected: bool,
}

impl Coding {
    pub fn new(system: &str, code: &str, display: Option<&str>) -> Self {
        Self {
            system: Some(system.to_string()),
            code: Some(code.to_string()),
            display: display.map(str::to_string),
            ..Default::default()
        }
    }
}

/// FHIR CodeableConcept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeableConcept {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl CodeableConcept {
    pub fn coded(system: &str, code: &str, display: Option<&str>) -> Self {
        Self {
            coding: vec![Coding::new(system, code, display)],
            text: display.map(str::to_string),
        }
    }
    pub fn text(text: &str) -> Self {
        Self {
            coding: vec![],
            text: Some(text.to_string()),
        }
    }
    /// Does any coding have this system and code?
    pub fn has(&self, system: &str, code: &str) -> bool {
        self.coding
            .iter()
            .any(|c| c.system.as_deref() == Some(system) && c.code.as_deref() == Some(code))
    }
    /// The first code of a coding with this system.
    pub fn code_in(&self, system: &str) -> Option<&str> {
        self.coding
            .iter()
            .find(|c| c.system.as_deref() == Some(system))
            .and_then(|c| c.code.as_deref())
    }
}

/// FHIR Identifier (the parts Bedside uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// FHIR Reference. `reference` strings are validated when a resource is
/// parsed; [`Reference::target`] interprets them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Reference {
    /// `Type/id`.
    pub fn to(rtype: &str, id: &str) -> Self {
        Self {
            reference: Some(format!("{rtype}/{id}")),
            ..Default::default()
        }
    }
    pub fn with_display(mut self, display: &str) -> Self {
        self.display = Some(display.to_string());
        self
    }
    /// The parsed target, if there is a parseable `reference`.
    pub fn target(&self) -> Option<RefTarget> {
        self.reference
            .as_deref()
            .and_then(|r| parse_reference(r).ok())
    }
    /// The id if this references a resource of type `rtype` (relative or
    /// absolute form).
    pub fn id_of(&self, rtype: &str) -> Option<String> {
        match self.target()? {
            RefTarget::Relative { rtype: t, id, .. } | RefTarget::Absolute { rtype: t, id, .. }
                if t == rtype =>
            {
                Some(id)
            }
            _ => None,
        }
    }
}

/// FHIR Quantity (also used for SimpleQuantity, Duration, Age...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// FHIR Period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Period {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime>,
}

/// FHIR Meta (the parts Bedside uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<FhirInstant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<String>,
}

/// FHIR Extension (only the value types Bedside reads; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    #[serde(default)]
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_code: Option<String>,
}

/// FHIR Annotation (text only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_type_list_is_sorted_for_binary_search() {
        let mut v = R4_RESOURCE_TYPES.to_vec();
        v.sort();
        assert_eq!(v, R4_RESOURCE_TYPES);
        assert!(is_resource_type("Observation"));
        assert!(!is_resource_type("Observaton"));
    }

    #[test]
    fn references_parse_in_every_r4_form() {
        assert_eq!(
            parse_reference("Patient/p-1").unwrap().type_and_id(),
            Some(("Patient", "p-1"))
        );
        assert!(matches!(
            parse_reference("Patient/p-1/_history/3").unwrap(),
            RefTarget::Relative { version: Some(v), .. } if v == "3"
        ));
        let a = parse_reference("https://ehr.example.org/fhir/R4/Patient/123").unwrap();
        assert!(
            matches!(&a, RefTarget::Absolute { base, .. } if base == "https://ehr.example.org/fhir/R4")
        );
        assert_eq!(a.type_and_id(), Some(("Patient", "123")));
        assert!(matches!(
            parse_reference("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a").unwrap(),
            RefTarget::Urn(_)
        ));
        assert!(matches!(
            parse_reference("urn:oid:1.2.3").unwrap(),
            RefTarget::Urn(_)
        ));
        assert!(matches!(
            parse_reference("#med1").unwrap(),
            RefTarget::Contained(_)
        ));
        assert!(matches!(
            parse_reference("Patient?identifier=x|1").unwrap(),
            RefTarget::Conditional { .. }
        ));
        for bad in [
            "",
            "Patient",
            "Patient/",
            "Patient/a b",
            "Pateint/1",
            "urn:uuid:nope",
            "http://x.org/fhir/Foo/1",
            "#a b",
            "Patient/1/2",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad:?}");
        }
    }
}
