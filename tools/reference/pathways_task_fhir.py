#!/usr/bin/env python3
"""Validate the golden FHIR Tasks of bedside-pathways with a third-party model.

Each crates/pathways/tests/fixtures/task-*.json is parsed with the R4B Task
model of the `fhir.resources` library (pydantic; R4B's Task has the same
elements as R4's). On success the SHA-256 of each validated file is written
to task-fhir-validated.json; the Rust test refuses a golden file whose hash
is not recorded there.

    pip install 'fhir.resources==8.*'
    python3 tools/reference/pathways_task_fhir.py
"""
import hashlib
import json
import pathlib
import sys

from fhir.resources.R4B.task import Task

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "crates/pathways/tests/fixtures"


def main() -> int:
    record = {}
    for path in sorted(FIXTURES.glob("task-*.json")):
        if path.name == "task-fhir-validated.json":
            continue
        raw = path.read_bytes()
        task = Task.model_validate_json(raw)  # raises on any schema violation
        assert task.status == "requested" and task.intent == "order", path.name
        assert task.restriction.period.end is not None, path.name
        assert all(i.type.text for i in task.input), path.name
        record[path.name] = hashlib.sha256(raw).hexdigest()
        print(f"ok {path.name}: {len(task.input)} inputs")
    (FIXTURES / "task-fhir-validated.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
