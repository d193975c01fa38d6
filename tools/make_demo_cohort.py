"""Write demo/cohort/: the held-out ("test") patients of the dev cohort.

The demo must run without ../shared, so the small cohort it replays is
committed. It is the held-out split, so the demo shows the model on patients
it was not trained or calibrated on. Reference data (Practitioner,
PractitionerRole, Location, Organization) is copied whole.

usage: python3 tools/make_demo_cohort.py [../shared/data/dev-cohort] [demo/cohort]
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from split import split  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/dev-cohort"
dst = sys.argv[2] if len(sys.argv) > 2 else "demo/cohort"
os.makedirs(dst, exist_ok=True)


def patient_of(r):
    if r["resourceType"] == "Patient":
        return r["id"]
    for k in ("subject", "patient", "for"):
        ref = (r.get(k) or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref[len("Patient/"):]
    return None


kept = {}
for name in sorted(os.listdir(src)):
    if not name.endswith(".ndjson.gz"):
        continue
    out = []
    with gzip.open(os.path.join(src, name), "rt") as f:
        for line in f:
            r = json.loads(line)
            pid = patient_of(r)
            if pid is None or split(pid) == "test":
                out.append(line if line.endswith("\n") else line + "\n")
    with gzip.GzipFile(os.path.join(dst, name), "wb", mtime=0) as g:
        g.write("".join(out).encode())
    kept[name] = len(out)
print(json.dumps(kept))
