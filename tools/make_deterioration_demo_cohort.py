"""Write demo/deterioration-cohort/: a small part of the deterioration
cohort's held-out ("test") patients, for the demo to replay.

The demo must run without ../shared, so the data it replays is committed.
All held-out patients who die or move to the ICU are kept, and stable
held-out patients (in patient-id order) until there are PATIENTS in all, so
the demo shows the model on patients it was not trained or calibrated on.
Reference data (Practitioner, PractitionerRole, Location, Organization) is
copied whole.

usage: python3 tools/make_deterioration_demo_cohort.py \
    [../shared/data/deterioration-cohort] [demo/deterioration-cohort]
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from split import split  # noqa: E402
from make_demo_cohort_lib import patient_of  # noqa: E402

PATIENTS = 36
src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/deterioration-cohort"
dst = sys.argv[2] if len(sys.argv) > 2 else "demo/deterioration-cohort"
os.makedirs(dst, exist_ok=True)

events, test = set(), set()
with gzip.open(os.path.join(src, "Encounter.ndjson.gz"), "rt") as f:
    for line in f:
        e = json.loads(line)
        pid = patient_of(e)
        if split(pid) != "test":
            continue
        test.add(pid)
        died = any(c.get("code") == "exp"
                   for c in e.get("hospitalization", {}).get("dischargeDisposition", {}).get("coding", []))
        icu = any(h.get("class", {}).get("code") == "ACUTE" for h in e.get("classHistory", []))
        if died or icu:
            events.add(pid)
stable = sorted(test - events)
keep = events | set(stable[: max(0, PATIENTS - len(events))])

kept = {}
for name in sorted(os.listdir(src)):
    if not name.endswith(".ndjson.gz"):
        continue
    out = []
    with gzip.open(os.path.join(src, name), "rt") as f:
        for line in f:
            pid = patient_of(json.loads(line))
            if pid is None or pid in keep:
                out.append(line if line.endswith("\n") else line + "\n")
    with gzip.GzipFile(os.path.join(dst, name), "wb", mtime=0) as g:
        g.write("".join(out).encode())
    kept[name] = len(out)
print(json.dumps({"patients": len(keep), "with_death_or_icu": len(events), "lines": kept}))
