"""Validate FHIR R4 JSON files (or NDJSON, one resource a line) with
fhir.resources 6.4.0: `get_fhir_model_class(type).parse_obj(resource)`.
Prints each error; exits 1 if any.

  python scripts/fhir/validate.py FILE...
"""
import json
import sys

from fhir.resources import get_fhir_model_class


def resources(path):
    with open(path) as f:
        text = f.read()
    if path.endswith(".ndjson"):
        for i, line in enumerate(text.splitlines()):
            if line.strip():
                yield f"{path}:{i + 1}", json.loads(line)
    else:
        yield path, json.loads(text)


bad = checked = 0
kinds = {}
for p in sys.argv[1:]:
    for where, r in resources(p):
        checked += 1
        kinds[r.get("resourceType")] = kinds.get(r.get("resourceType"), 0) + 1
        try:
            get_fhir_model_class(r["resourceType"]).parse_obj(r)
        except Exception as e:  # every failure is reported, whatever its type
            bad += 1
            print(f"fhir.resources: {where}: {e}")
print(f"fhir.resources 6.4.0: {checked} resources ({kinds}), {bad} invalid")
sys.exit(1 if bad else 0)
