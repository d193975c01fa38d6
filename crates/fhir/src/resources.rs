//! Typed views of the resources Bedside reads: only the elements Bedside
//! needs; every other element is tolerated and ignored (it stays in the
//! stored JSON).

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
#[serde(rename_all = "camelCase")]
pub struct Patient {
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub birth_date: Option<Date>,
    #[serde(default)]
    pub extension: Vec<Extension>,
    #[serde(default)]
    pub deceased_boolean: Option<bool>,
    #[serde(default)]
    pub deceased_date_time: Option<DateTime>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// `Encounter.participant`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EncounterParticipant {
    #[serde(rename = "type", default)]
    pub type_: Vec<CodeableConcept>,
    #[serde(default)]
    pub individual: Option<Reference>,
    #[serde(default)]
    pub period: Option<Period>,
}

/// `Encounter.location`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EncounterLocation {
    pub location: Reference,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub period: Option<Period>,
}

/// `Encounter`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encounter {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub class: Option<Coding>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub period: Option<Period>,
    #[serde(default)]
    pub participant: Vec<EncounterParticipant>,
    #[serde(default)]
    pub location: Vec<EncounterLocation>,
    #[serde(default)]
    pub service_provider: Option<Reference>,
}

/// `Observation.component`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservationComponent {
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub value_quantity: Option<Quantity>,
    #[serde(default)]
    pub value_codeable_concept: Option<CodeableConcept>,
    #[serde(default)]
    pub value_string: Option<String>,
    #[serde(default)]
    pub value_integer: Option<i64>,
    #[serde(default)]
    pub value_boolean: Option<bool>,
    #[serde(default)]
    pub data_absent_reason: Option<CodeableConcept>,
}

/// `Observation`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Vec<CodeableConcept>,
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub effective_date_time: Option<DateTime>,
    #[serde(default)]
    pub effective_period: Option<Period>,
    #[serde(default)]
    pub effective_instant: Option<FhirInstant>,
    #[serde(default)]
    pub issued: Option<FhirInstant>,
    #[serde(default)]
    pub value_quantity: Option<Quantity>,
    #[serde(default)]
    pub value_codeable_concept: Option<CodeableConcept>,
    #[serde(default)]
    pub value_string: Option<String>,
    #[serde(default)]
    pub value_integer: Option<i64>,
    #[serde(default)]
    pub value_boolean: Option<bool>,
    #[serde(default)]
    pub data_absent_reason: Option<CodeableConcept>,
    #[serde(default)]
    pub component: Vec<ObservationComponent>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default)]
    pub clinical_status: Option<CodeableConcept>,
    #[serde(default)]
    pub verification_status: Option<CodeableConcept>,
    #[serde(default)]
    pub category: Vec<CodeableConcept>,
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub onset_date_time: Option<DateTime>,
    #[serde(default)]
    pub onset_period: Option<Period>,
    #[serde(default)]
    pub abatement_date_time: Option<DateTime>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct Contained {
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct MedicationRequest {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub medication_codeable_concept: Option<CodeableConcept>,
    #[serde(default)]
    pub medication_reference: Option<Reference>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub authored_on: Option<DateTime>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct MedicationAdministration {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub medication_codeable_concept: Option<CodeableConcept>,
    #[serde(default)]
    pub medication_reference: Option<Reference>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub context: Option<Reference>,
    #[serde(default)]
    pub effective_date_time: Option<DateTime>,
    #[serde(default)]
    pub effective_period: Option<Period>,
    #[serde(default)]
    pub request: Option<Reference>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct Procedure {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub performed_date_time: Option<DateTime>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct ServiceRequest {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub category: Vec<CodeableConcept>,
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub authored_on: Option<DateTime>,
    #[serde(default)]
    pub occurrence_date_time: Option<DateTime>,
    #[serde(default)]
    pub occurrence_period: Option<Period>,
}

/// `Specimen.collection`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecimenCollection {
    #[serde(default)]
    pub collected_date_time: Option<DateTime>,
    #[serde(default)]
    pub collected_period: Option<Period>,
}

/// `Specimen`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Specimen {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(rename = "type", default)]
    pub type_: Option<CodeableConcept>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub received_time: Option<DateTime>,
    #[serde(default)]
    pub request: Vec<Reference>,
    #[serde(default)]
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
#[serde(rename_all = "camelCase")]
pub struct AllergyIntolerance {
    #[serde(default)]
    pub clinical_status: Option<CodeableConcept>,
    #[serde(default)]
    pub verification_status: Option<CodeableConcept>,
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub patient: Option<Reference>,
    #[serde(default)]
    pub criticality: Option<String>,
    #[serde(default)]
    pub recorded_date: Option<DateTime>,
    #[serde(default)]
    pub onset_date_time: Option<DateTime>,
}

/// `ImagingStudy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagingStudy {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub started: Option<DateTime>,
    #[serde(default)]
    pub modality: Vec<Coding>,
    #[serde(default)]
    pub procedure_code: Vec<CodeableConcept>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `DiagnosticReport`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticReport {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Vec<CodeableConcept>,
    #[serde(default)]
    pub code: Option<CodeableConcept>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub effective_date_time: Option<DateTime>,
    #[serde(default)]
    pub effective_period: Option<Period>,
    #[serde(default)]
    pub issued: Option<FhirInstant>,
    #[serde(default)]
    pub result: Vec<Reference>,
    #[serde(default)]
    pub conclusion: Option<String>,
}

/// `Practitioner`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Practitioner {
    #[serde(default)]
    pub active: Option<bool>,
}

/// `PractitionerRole`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PractitionerRole {
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub practitioner: Option<Reference>,
    #[serde(default)]
    pub organization: Option<Reference>,
    #[serde(default)]
    pub code: Vec<CodeableConcept>,
    #[serde(default)]
    pub location: Vec<Reference>,
}

/// `CareTeam.participant`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CareTeamParticipant {
    #[serde(default)]
    pub role: Vec<CodeableConcept>,
    #[serde(default)]
    pub member: Option<Reference>,
    #[serde(default)]
    pub period: Option<Period>,
}

/// `CareTeam`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CareTeam {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub subject: Option<Reference>,
    #[serde(default)]
    pub encounter: Option<Reference>,
    #[serde(default)]
    pub period: Option<Period>,
    #[serde(default)]
    pub participant: Vec<CareTeamParticipant>,
}

/// `Location`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub type_: Vec<CodeableConcept>,
    #[serde(default)]
    pub part_of: Option<Reference>,
    #[serde(default)]
    pub managing_organization: Option<Reference>,
}

/// `Organization`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub part_of: Option<Reference>,
}
