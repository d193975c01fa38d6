"""Write the demo's synthetic imaging-AI data into demo/cohort/.

The dev cohort has ImagingStudies and the radiologists' own reports, but no
imaging-AI output and no allergies. This script makes, for a seeded subset
of the demo cohort's patients (the held-out split, as tools/make_demo_cohort.py
keeps them), from the dev cohort's ImagingStudies:

- Device.ndjson.gz: the (fictional) imaging-AI software that produced them;
- DiagnosticReport-ai.ndjson.gz / Observation-ai.ndjson.gz: one AI finding
  per chosen study, tagged as AI output (meta.tag v3-ObservationValue AIAST,
  the Device as performer / device, `method` "AI algorithm"), referencing the
  study (`imagingStudy`, or `derivedFrom` for an Observation), issued a few
  minutes after the study started;
- AllergyIntolerance.ndjson.gz: contrast-media allergies for some of those
  patients, and a few other drug allergies (which a review must leave out);
- CareTeam-radiology.ndjson.gz: a radiology reading team for each chosen
  study's encounter, naming the radiologist who reported the study in the
  dev cohort (its DiagnosticReport's resultsInterpreter) with role SNOMED CT
  66862007 |Radiologist|: the dev cohort names no radiologist on encounters.

Everything is synthetic; no patient is real. Same seed, same bytes (gzip
mtime 0). Python standard library only, no network.

usage: python3 tools/make_imaging_ai_data.py [--seed 21] [--src ../shared/data/dev-cohort] [--dst demo/cohort]
"""
import argparse
import gzip
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(__file__))
from split import split  # noqa: E402

AIAST = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "AIAST",
    "display": "artificial intelligence asserted",
}
DEVICE_ID = "imaging-ai-demo"
RAD_CATEGORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD", "display": "Radiology"}]}
METHOD = {"text": "AI algorithm (synthetic demo output)"}

# Findings an imaging-AI triage tool reports, by the study's body region
# (text only: these are synthetic, not coded clinical statements).
FINDINGS = {
    "chest": ["Right lower lobe consolidation", "Left pleural effusion", "Right apical pneumothorax",
              "Pulmonary nodule, left upper lobe, 9 mm", "Cardiomegaly"],
    "head": ["Suspected acute intracranial haemorrhage", "Suspected large-vessel occlusion, left MCA",
             "Hypodensity suggesting acute infarct, right MCA territory"],
    "abdomen": ["Free intraperitoneal air", "Suspected small-bowel obstruction",
                "Peripancreatic fluid collection"],
    "other": ["Suspected acute fracture", "Soft-tissue gas"],
}
CONTRAST = [
    ("Iodinated contrast media", "high", "Anaphylaxis"),
    ("Iodinated contrast media", "low", "Urticaria"),
    ("Gadolinium-based contrast agent", "low", "Nausea and rash"),
]
OTHER_ALLERGY = [("Penicillin", "high", "Hives"), ("Latex", "low", "Contact dermatitis")]


def region(study):
    text = (study.get("description", "") + " " + json.dumps(study.get("series", []))).lower()
    if "chest" in text or "thora" in text or "lung" in text:
        return "chest"
    if "head" in text or "brain" in text:
        return "head"
    if "abdom" in text or "pelvi" in text:
        return "abdomen"
    return "other"


def parse(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def fmt(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(path):
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def write(path, resources):
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in resources)
    with gzip.GzipFile(path, "wb", mtime=0) as g:
        g.write(data.encode())
    return len(resources)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--src", default="../shared/data/dev-cohort")
    ap.add_argument("--dst", default="demo/cohort")
    ap.add_argument("--patients", type=int, default=24, help="patients given an AI finding")
    a = ap.parse_args()
    rng = random.Random(a.seed)

    studies = read(os.path.join(a.src, "ImagingStudy.ndjson.gz"))
    reports = read(os.path.join(a.src, "DiagnosticReport.ndjson.gz"))
    encounters = {e["id"]: e for e in read(os.path.join(a.src, "Encounter.ndjson.gz"))}
    names = {p["id"]: " ".join(p["name"][0].get("given", []) + [p["name"][0].get("family", "")])
             for p in read(os.path.join(a.src, "Practitioner.ndjson.gz")) if p.get("name")}
    demo_studies = {s["id"] for s in read(os.path.join(a.dst, "ImagingStudy.ndjson.gz"))}
    reader = {}
    for r in reports:
        for s in r.get("imagingStudy", []):
            for i in r.get("resultsInterpreter", []):
                reader.setdefault(s["reference"].split("/", 1)[1], i["reference"])

    by_patient = {}
    for s in sorted(studies, key=lambda s: (s["started"], s["id"])):
        pid = s["subject"]["reference"].split("/", 1)[1]
        if split(pid) == "test" and s.get("status") == "available":
            by_patient.setdefault(pid, []).append(s)
    missing = [s["id"] for ss in by_patient.values() for s in ss if s["id"] not in demo_studies]
    if missing:
        sys.exit(f"error: {len(missing)} held-out ImagingStudies are not in {a.dst} "
                 f"(e.g. {missing[0]}); run tools/make_demo_cohort.py first")
    chosen = rng.sample(sorted(by_patient), min(a.patients, len(by_patient)))

    device = {
        "resourceType": "Device", "id": DEVICE_ID, "status": "active",
        "manufacturer": "Bedside demo (synthetic)",
        "deviceName": [{"name": "Imaging AI triage (synthetic demo)", "type": "model-name"}],
        "type": {"text": "Imaging AI triage software"},
        "version": [{"value": "0.1-demo"}],
    }
    findings_dr, findings_obs, allergies, teams = [], [], [], []
    for n, pid in enumerate(sorted(chosen)):
        # The newest study gets the AI finding, so earlier ones are prior imaging.
        study = by_patient[pid][-1]
        started = parse(study["started"])
        issued = started + timedelta(minutes=rng.randint(3, 12))
        finding = rng.choice(FINDINGS[region(study)])
        enc_ref = study.get("encounter", {}).get("reference")
        common = {
            "meta": {"tag": [AIAST]},
            "status": "final",
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": fmt(issued),
            "issued": fmt(issued),
        }
        if enc_ref:
            common["encounter"] = {"reference": enc_ref}
        proc = (study.get("procedureCode") or [{}])[0]
        if n % 4 == 3:
            findings_obs.append({
                "resourceType": "Observation", "id": f"ai-obs-{study['id']}", **common,
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "imaging", "display": "Imaging"}]}],
                "code": {"text": f"AI triage: {study.get('description', 'imaging study')}"},
                "valueCodeableConcept": {"text": finding},
                "method": METHOD,
                "device": {"reference": f"Device/{DEVICE_ID}"},
                "derivedFrom": [{"reference": f"ImagingStudy/{study['id']}"}],
            })
        else:
            findings_dr.append({
                "resourceType": "DiagnosticReport", "id": f"ai-dr-{study['id']}", **common,
                "category": [RAD_CATEGORY],
                "code": {**({"coding": proc["coding"]} if proc.get("coding") else {}),
                         "text": f"AI triage: {study.get('description', 'imaging study')}"},
                "performer": [{"reference": f"Device/{DEVICE_ID}", "display": "Imaging AI triage (synthetic demo)"}],
                "imagingStudy": [{"reference": f"ImagingStudy/{study['id']}"}],
                "conclusion": finding,
            })
        enc = encounters.get(enc_ref.split("/", 1)[1]) if enc_ref else None
        admitted = parse(enc["period"]["start"]) if enc and enc.get("period", {}).get("start") else started
        recorded = min(admitted, started) - timedelta(minutes=5)
        if rng.random() < 0.5:
            text, crit, reaction = rng.choice(CONTRAST)
            allergies.append(allergy(f"ai-allergy-{n}-contrast", pid, text, crit, reaction, recorded))
        if rng.random() < 0.3:
            text, crit, reaction = rng.choice(OTHER_ALLERGY)
            allergies.append(allergy(f"ai-allergy-{n}-other", pid, text, crit, reaction, recorded))
        rad = reader.get(study["id"])
        if rad and enc_ref:
            teams.append({
                "resourceType": "CareTeam", "id": f"rad-team-{study['id']}", "status": "active",
                "name": "Radiology reading team (synthetic)",
                "subject": {"reference": f"Patient/{pid}"},
                "encounter": {"reference": enc_ref},
                "period": {"start": fmt(started - timedelta(minutes=1))},
                "participant": [{
                    "role": [{"coding": [{"system": "http://snomed.info/sct", "code": "66862007",
                                          "display": "Radiologist"}], "text": "Radiologist"}],
                    "member": {"reference": rad, "display": names.get(rad.split("/", 1)[1], "")},
                }],
            })
    counts = {
        "Device.ndjson.gz": write(os.path.join(a.dst, "Device.ndjson.gz"), [device]),
        "DiagnosticReport-ai.ndjson.gz": write(os.path.join(a.dst, "DiagnosticReport-ai.ndjson.gz"), findings_dr),
        "Observation-ai.ndjson.gz": write(os.path.join(a.dst, "Observation-ai.ndjson.gz"), findings_obs),
        "AllergyIntolerance.ndjson.gz": write(os.path.join(a.dst, "AllergyIntolerance.ndjson.gz"), allergies),
        "CareTeam-radiology.ndjson.gz": write(os.path.join(a.dst, "CareTeam-radiology.ndjson.gz"), teams),
    }
    print(json.dumps({"seed": a.seed, "patients": len(chosen), "files": counts}))


def allergy(rid, pid, text, criticality, reaction, recorded):
    return {
        "resourceType": "AllergyIntolerance", "id": rid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                                           "code": "confirmed"}]},
        "type": "allergy", "category": ["medication"], "criticality": criticality,
        "code": {"text": text},
        "patient": {"reference": f"Patient/{pid}"},
        "recordedDate": fmt(recorded),
        "reaction": [{"manifestation": [{"text": reaction}]}],
    }


if __name__ == "__main__":
    main()
