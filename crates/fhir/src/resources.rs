//! Typed views of the resources Bedside reads: only the elements Bedside
//! needs; every other element is tolerated and ignored (it stays in the
//! stored JSON). Every element of a view may be absent (container-level
//! `#[serde(default)]`: `None`, or an empty list) unless its doc says it is
//! required.

use crate::datetime::{Date, DateTime, FhirInstant};
use crate::types::{CodeableConcept, Coding, Extension, Period, Quantity, Reference};
use serde::Deserialize;

/// A resource Bedside reads, typed; any other type is [`Resource::Other`].
// Variants differ in size; a Resource is built once per input and moved
// rarely (entries box it), so boxing each variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    Patient(Patient),
    Encounter(Encounter),
    Observation(Observation),
    Condition(Condition),
    MedicationRequest(MedicationRequest),
    MedicationAdministration(MedicationAdministration),
    Procedure(Procedure),
    ServiceRequest(ServiceRequest),
    Specimen(Specimen),
    AllergyIntolerance(AllergyIntolerance),
    ImagingStudy(ImagingStudy),
    DiagnosticReport(DiagnosticReport),
    Practitioner(Practitioner),
    PractitionerRole(PractitionerRole),
    CareTeam(CareTeam),
    Location(Location),
    Organization(Organization),
    /// A valid R4 type Bedside does not read: accepted, stored, ignored.
    Other {
        rtype: String,
    },
}

/// The resource types Bedside reads (typed views exist for these).
pub const READ_TYPES: &[&str] = &[
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "MedicationRequest",
    "MedicationAdministration",
    "Procedure",
    "ServiceRequest",
    "Specimen",
    "AllergyIntolerance",
    "ImagingStudy",
    "DiagnosticReport",
    "Practitioner",
    "PractitionerRole",
    "CareTeam",
    "Location",
    "Organization",
];

impl Resource {
    /// The resource type name.
    pub fn rtype(&self) -> &str {
        match self {
            Resource::Patient(_) => "Patient",
            Resource::Encounter(_) => "Encounter",
            Resource::Observation(_) => "Observation",
            Resource::Condition(_) => "Condition",
            Resource::MedicationRequest(_) => "MedicationRequest",
            Resource::MedicationAdministration(_) => "MedicationAdministration",
            Resource::Procedure(_) => "Procedure",
            Resource::ServiceRequest(_) => "ServiceRequest",
            Resource::Specimen(_) => "Specimen",
            Resource::AllergyIntolerance(_) => "AllergyIntolerance",
            Resource::ImagingStudy(_) => "ImagingStudy",
            Resource::DiagnosticReport(_) => "DiagnosticReport",
            Resource::Practitioner(_) => "Practitioner",
            Resource::PractitionerRole(_) => "PractitionerRole",
            Resource::CareTeam(_) => "CareTeam",
            Resource::Location(_) => "Location",
            Resource::Organization(_) => "Organization",
            Resource::Other { rtype } => rtype,
        }
    }

    /// The clinically relevant time of the resource, if it has one:
    /// Observation effective[x] (else issued), Encounter period.start,
    /// Condition onset (else recordedDate), MedicationRequest authoredOn,
    /// MedicationAdministration effective[x], Procedure performed[x],
    /// ServiceRequest authoredOn (else occurrence[x]), Specimen collected,
    /// AllergyIntolerance onset (else recordedDate), ImagingStudy started,
    /// DiagnosticReport effective[x] (else issued).
    pub fn clinical_time(&self) -> Option<bedside_core::Instant> {
        let dt = |d: &Option<DateTime>| d.as_ref().map(DateTime::instant);
        match self {
            Resource::Observation(r) => r.effective_time(),
            Resource::Encounter(r) => period_time(r.period.as_ref()),
            Resource::Condition(r) => r.onset_time().or_else(|| dt(&r.recorded_date)),
            Resource::MedicationRequest(r) => dt(&r.authored_on),
            Resource::MedicationAdministration(r) => r.effective_time(),
            Resource::Procedure(r) => r.performed_time(),
            Resource::ServiceRequest(r) => dt(&r.authored_on)
                .or_else(|| dt(&r.occurrence_date_time))
                .or_else(|| period_time(r.occurrence_period.as_ref())),
            Resource::Specimen(r) => r.collected_time(),
            Resource::AllergyIntolerance(r) => {
                dt(&r.onset_date_time).or_else(|| dt(&r.recorded_date))
            }
            Resource::ImagingStudy(r) => dt(&r.started),
            Resource::DiagnosticReport(r) => dt(&r.effective_date_time)
                .or_else(|| period_time(r.effective_period.as_ref()))
                .or_else(|| r.issued.as_ref().map(FhirInstant::instant)),
            _ => None,
        }
    }

    /// The element that names the patient (`subject` or `patient`), with
    /// its path, for resource types that belong to a patient.
    pub fn patient_reference(&self) -> Option<(&'static str, &Reference)> {
        let (name, r) = match self {
            Resource::Encounter(r) => ("subject", r.subject.as_ref()),
            Resource::Observation(r) => ("subject", r.subject.as_ref()),
            Resource::Condition(r) => ("subject", r.subject.as_ref()),
            Resource::MedicationRequest(r) => ("subject", r.subject.as_ref()),
            Resource::MedicationAdministration(r) => ("subject", r.subject.as_ref()),
            Resource::Procedure(r) => ("subject", r.subject.as_ref()),
            Resource::ServiceRequest(r) => ("subject", r.subject.as_ref()),
            Resource::Specimen(r) => ("subject", r.subject.as_ref()),
            Resource::AllergyIntolerance(r) => ("patient", r.patient.as_ref()),
            Resource::ImagingStudy(r) => ("subject", r.subject.as_ref()),
            Resource::DiagnosticReport(r) => ("subject", r.subject.as_ref()),
            Resource::CareTeam(r) => ("subject", r.subject.as_ref()),
            _ => return None,
        };
        r.map(|r| (name, r))
    }
}

/// `Patient`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Patient {
    pub gender: Option<String>,
    pub birth_date: Option<Date>,
    pub extension: Vec<Extension>,
    pub deceased_boolean: Option<bool>,
    pub deceased_date_time: Option<DateTime>,
    pub active: Option<bool>,
}

/// `Encounter.participant`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EncounterParticipant {
    #[serde(rename = "type")]
    pub type_: Vec<CodeableConcept>,
    pub individual: Option<Reference>,
    pub period: Option<Period>,
}

/// `Encounter.location`: `location` is required (R4 1..1), the others may
/// be absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EncounterLocation {
    pub location: Reference,
    pub status: Option<String>,
    pub period: Option<Period>,
}

/// `Encounter`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Encounter {
    pub status: Option<String>,
    pub class: Option<Coding>,
    pub subject: Option<Reference>,
    pub period: Option<Period>,
    pub participant: Vec<EncounterParticipant>,
    pub location: Vec<EncounterLocation>,
    pub service_provider: Option<Reference>,
}

/// `Observation.component`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObservationComponent {
    pub code: Option<CodeableConcept>,
    pub value_quantity: Option<Quantity>,
    pub value_codeable_concept: Option<CodeableConcept>,
    pub value_string: Option<String>,
    pub value_integer: Option<i64>,
    pub value_boolean: Option<bool>,
    pub data_absent_reason: Option<CodeableConcept>,
}

/// `Observation`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Observation {
    pub status: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub effective_date_time: Option<DateTime>,
    pub effective_period: Option<Period>,
    pub effective_instant: Option<FhirInstant>,
    pub issued: Option<FhirInstant>,
    pub value_quantity: Option<Quantity>,
    pub value_codeable_concept: Option<CodeableConcept>,
    pub value_string: Option<String>,
    pub value_integer: Option<i64>,
    pub value_boolean: Option<bool>,
    pub data_absent_reason: Option<CodeableConcept>,
    pub component: Vec<ObservationComponent>,
    pub specimen: Option<Reference>,
}

impl Observation {
    /// The clinically relevant time: effectiveDateTime, else
    /// effectivePeriod.start (else .end), else effectiveInstant, else
    /// issued.
    pub fn effective_time(&self) -> Option<bedside_core::Instant> {
        self.effective_date_time
            .as_ref()
            .map(DateTime::instant)
            .or_else(|| period_time(self.effective_period.as_ref()))
            .or_else(|| self.effective_instant.as_ref().map(FhirInstant::instant))
            .or_else(|| self.issued.as_ref().map(FhirInstant::instant))
    }
}

/// `start`, else `end` of a period.
pub fn period_time(p: Option<&Period>) -> Option<bedside_core::Instant> {
    let p = p?;
    p.start.as_ref().or(p.end.as_ref()).map(DateTime::instant)
}

/// `Condition`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Condition {
    pub clinical_status: Option<CodeableConcept>,
    pub verification_status: Option<CodeableConcept>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub onset_date_time: Option<DateTime>,
    pub onset_period: Option<Period>,
    pub abatement_date_time: Option<DateTime>,
    pub recorded_date: Option<DateTime>,
}

impl Condition {
    /// onsetDateTime, else onsetPeriod.start.
    pub fn onset_time(&self) -> Option<bedside_core::Instant> {
        self.onset_date_time
            .as_ref()
            .map(DateTime::instant)
            .or_else(|| period_time(self.onset_period.as_ref()))
    }
}

/// A contained resource, read only for its type, id and `code` (to resolve
/// `medicationReference: {"reference": "#med"}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Contained {
    pub resource_type: Option<String>,
    pub id: Option<String>,
    pub code: Option<serde_json::Value>,
}

impl Contained {
    /// The `code` as a CodeableConcept, if it is one.
    pub fn code_concept(&self) -> Option<CodeableConcept> {
        self.code
            .as_ref()
            .and_then(|v| CodeableConcept::deserialize(v).ok())
    }
}

/// The medication of a MedicationRequest/Administration: the inline
/// concept, or a contained Medication's code, or the reference's display.
pub fn medication_concept(
    concept: Option<&CodeableConcept>,
    reference: Option<&Reference>,
    contained: &[Contained],
) -> Option<CodeableConcept> {
    if let Some(c) = concept {
        return Some(c.clone());
    }
    let r = reference?;
    if let Some(crate::types::RefTarget::Contained(id)) = r.target() {
        if let Some(c) = contained
            .iter()
            .find(|c| c.id.as_deref() == Some(id.as_str()))
            .and_then(Contained::code_concept)
        {
            return Some(c);
        }
    }
    r.display.as_deref().map(CodeableConcept::text)
}

/// `MedicationRequest`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MedicationRequest {
    pub status: Option<String>,
    pub intent: Option<String>,
    pub medication_codeable_concept: Option<CodeableConcept>,
    pub medication_reference: Option<Reference>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub authored_on: Option<DateTime>,
    pub contained: Vec<Contained>,
}

impl MedicationRequest {
    pub fn medication(&self) -> Option<CodeableConcept> {
        medication_concept(
            self.medication_codeable_concept.as_ref(),
            self.medication_reference.as_ref(),
            &self.contained,
        )
    }
}

/// `MedicationAdministration`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MedicationAdministration {
    pub status: Option<String>,
    pub medication_codeable_concept: Option<CodeableConcept>,
    pub medication_reference: Option<Reference>,
    pub subject: Option<Reference>,
    pub context: Option<Reference>,
    pub effective_date_time: Option<DateTime>,
    pub effective_period: Option<Period>,
    pub request: Option<Reference>,
    pub contained: Vec<Contained>,
}

impl MedicationAdministration {
    pub fn medication(&self) -> Option<CodeableConcept> {
        medication_concept(
            self.medication_codeable_concept.as_ref(),
            self.medication_reference.as_ref(),
            &self.contained,
        )
    }
    pub fn effective_time(&self) -> Option<bedside_core::Instant> {
        self.effective_date_time
            .as_ref()
            .map(DateTime::instant)
            .or_else(|| period_time(self.effective_period.as_ref()))
    }
}

/// `Procedure`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Procedure {
    pub status: Option<String>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub performed_date_time: Option<DateTime>,
    pub performed_period: Option<Period>,
}

impl Procedure {
    pub fn performed_time(&self) -> Option<bedside_core::Instant> {
        self.performed_date_time
            .as_ref()
            .map(DateTime::instant)
            .or_else(|| period_time(self.performed_period.as_ref()))
    }
}

/// `ServiceRequest`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceRequest {
    pub status: Option<String>,
    pub intent: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub authored_on: Option<DateTime>,
    pub occurrence_date_time: Option<DateTime>,
    pub occurrence_period: Option<Period>,
}

/// `Specimen.collection`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SpecimenCollection {
    pub collected_date_time: Option<DateTime>,
    pub collected_period: Option<Period>,
}

/// `Specimen`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Specimen {
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub received_time: Option<DateTime>,
    pub request: Vec<Reference>,
    pub collection: Option<SpecimenCollection>,
}

impl Specimen {
    pub fn collected_time(&self) -> Option<bedside_core::Instant> {
        let c = self.collection.as_ref();
        c.and_then(|c| c.collected_date_time.as_ref().map(DateTime::instant))
            .or_else(|| period_time(c.and_then(|c| c.collected_period.as_ref())))
            .or_else(|| self.received_time.as_ref().map(DateTime::instant))
    }
}

/// `AllergyIntolerance`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AllergyIntolerance {
    pub clinical_status: Option<CodeableConcept>,
    pub verification_status: Option<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub patient: Option<Reference>,
    pub criticality: Option<String>,
    pub recorded_date: Option<DateTime>,
    pub onset_date_time: Option<DateTime>,
}

/// `ImagingStudy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ImagingStudy {
    pub status: Option<String>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub started: Option<DateTime>,
    pub modality: Vec<Coding>,
    pub procedure_code: Vec<CodeableConcept>,
    pub description: Option<String>,
}

/// `DiagnosticReport`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DiagnosticReport {
    pub status: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub effective_date_time: Option<DateTime>,
    pub effective_period: Option<Period>,
    pub issued: Option<FhirInstant>,
    pub result: Vec<Reference>,
    pub conclusion: Option<String>,
}

/// `Practitioner`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Practitioner {
    pub active: Option<bool>,
}

/// `PractitionerRole`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PractitionerRole {
    pub active: Option<bool>,
    pub practitioner: Option<Reference>,
    pub organization: Option<Reference>,
    pub code: Vec<CodeableConcept>,
    pub location: Vec<Reference>,
}

/// `CareTeam.participant`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CareTeamParticipant {
    pub role: Vec<CodeableConcept>,
    pub member: Option<Reference>,
    pub period: Option<Period>,
}

/// `CareTeam`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CareTeam {
    pub status: Option<String>,
    pub subject: Option<Reference>,
    pub encounter: Option<Reference>,
    pub period: Option<Period>,
    pub participant: Vec<CareTeamParticipant>,
}

/// `Location`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Location {
    pub status: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub type_: Vec<CodeableConcept>,
    pub part_of: Option<Reference>,
    pub managing_organization: Option<Reference>,
}

/// `Organization`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Organization {
    pub active: Option<bool>,
    pub name: Option<String>,
    pub part_of: Option<Reference>,
}
