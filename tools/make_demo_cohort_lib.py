"""Shared by the demo cohort scripts: the patient a bulk FHIR resource belongs to."""


def patient_of(r):
    """The Patient id of a resource (itself, or its subject/patient/for), or None."""
    if r["resourceType"] == "Patient":
        return r["id"]
    for k in ("subject", "patient", "for"):
        ref = (r.get(k) or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref[len("Patient/"):]
    return None
