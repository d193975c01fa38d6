//! FHIR R4 resources and Bundles as JSON, as an EHR would send them.
//!
//! ```
//! use bedside_test_support::fhir;
//! let bundle = fhir::transaction([
//!     fhir::patient("p1"),
//!     fhir::heart_rate("hr1", "p1", "2024-01-01T02:00:00Z", 118.0),
//! ]);
//! assert_eq!(bundle["entry"][1]["request"]["url"], "Observation/hr1");
//! ```

use serde_json::{json, Value};

/// The LOINC system URI.
pub const LOINC: &str = "http://loinc.org";
/// Heart rate.
pub const HEART_RATE: &str = "8867-4";
/// Respiratory rate.
pub const RESPIRATORY_RATE: &str = "9279-1";
/// Body temperature.
pub const BODY_TEMPERATURE: &str = "8310-5";
/// Systolic blood pressure.
pub const SYSTOLIC_BP: &str = "8480-6";

/// `Patient/{id}`: female, born 1950-02-03, no name.
pub fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "gender": "female", "birthDate": "1950-02-03"})
}

/// An in-progress inpatient (`IMP`) Encounter of `patient` since `start`.
pub fn encounter(id: &str, patient: &str, start: &str) -> Value {
    json!({
        "resourceType": "Encounter", "id": id, "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": format!("Patient/{patient}")},
        "period": {"start": start}
    })
}

/// A final Observation of `patient` with one LOINC code and a UCUM
/// quantity, effective at `at`.
pub fn observation(
    id: &str,
    patient: &str,
    loinc: &str,
    value: f64,
    unit: &str,
    at: &str,
) -> Value {
    json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    })
}

/// A heart rate (`/min`).
pub fn heart_rate(id: &str, patient: &str, at: &str, per_min: f64) -> Value {
    observation(id, patient, HEART_RATE, per_min, "/min", at)
}

/// A transaction or batch entry that PUTs `resource` at `{type}/{id}`.
pub fn entry(resource: Value) -> Value {
    let url = format!(
        "{}/{}",
        resource["resourceType"].as_str().expect("resourceType"),
        resource["id"].as_str().expect("id")
    );
    json!({"resource": resource, "request": {"method": "PUT", "url": url}})
}

/// A Bundle of `kind` (`transaction`, `batch`, ...) with a PUT entry per
/// resource.
pub fn bundle(kind: &str, resources: impl IntoIterator<Item = Value>) -> Value {
    let entries: Vec<Value> = resources.into_iter().map(entry).collect();
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

/// A transaction Bundle with a PUT entry per resource.
pub fn transaction(resources: impl IntoIterator<Item = Value>) -> Value {
    bundle("transaction", resources)
}

/// A man born 1950 admitted on 2024-01-01T00:00Z (Encounter `{pid}-e`)
/// whose vital signs at 02:00 look septic: heart rate 118, respiratory
/// rate 26, temperature 38.9 °C (Observations `{pid}-hr`, `{pid}-rr`,
/// `{pid}-t`). A served sepsis model scores him at ingest.
pub fn septic_patient(pid: &str) -> Vec<Value> {
    let at = "2024-01-01T02:00:00Z";
    let mut p = patient(pid);
    p["gender"] = json!("male");
    vec![
        p,
        encounter(&format!("{pid}-e"), pid, "2024-01-01T00:00:00Z"),
        heart_rate(&format!("{pid}-hr"), pid, at, 118.0),
        observation(
            &format!("{pid}-rr"),
            pid,
            RESPIRATORY_RATE,
            26.0,
            "/min",
            at,
        ),
        observation(&format!("{pid}-t"), pid, BODY_TEMPERATURE, 38.9, "Cel", at),
    ]
}
