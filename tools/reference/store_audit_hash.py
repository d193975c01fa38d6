#!/usr/bin/env python3
"""Reference values for the store's audit hash chain (crates/store).

hash = sha256_hex(prev_hash + "|" + seq + "|" + recorded_at + "|" + canonical_body)
canonical_body = JSON with sorted keys, no whitespace, non-ASCII kept as is.

Computed here with Python's hashlib and json, independently of the Rust code.
Writes crates/store/tests/fixtures/audit_hash.json.
Run: python3 tools/reference/store_audit_hash.py
"""
import hashlib
import json
import pathlib

GENESIS = "0" * 64

BODIES = [
    {"event": "alert.raised", "patient": "Patient/123", "risk": 0.731, "tier": "interruptive"},
    {"z": [3, 2, {"b": None, "a": True}], "a": "h\u00e9 \"quoted\"\n\ttab", "m": -42},
    ["plain", 12.5, False, {"\u00fc": 1, "u": 2}],
    "just a string \u2603",
    {"nested": {"deeper": {"k2": 1, "k1": [1.25, -0.5]}}, "empty": {}, "list": []},
]
TIMES = [
    "2026-03-01T00:00:00.000000Z",
    "2026-03-01T00:00:00.123456Z",
    "2026-03-01T12:30:59.999999Z",
    "2027-01-01T00:00:00.000001Z",
    "1999-12-31T23:59:59.500000Z",
]


def canonical(body):
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main():
    prev = GENESIS
    cases = []
    for seq, (body, at) in enumerate(zip(BODIES, TIMES), start=1):
        text = canonical(body)
        pre = f"{prev}|{seq}|{at}|{text}"
        h = hashlib.sha256(pre.encode("utf-8")).hexdigest()
        cases.append({"seq": seq, "prev_hash": prev, "recorded_at": at, "body": body, "canonical": text, "hash": h})
        prev = h
    out = pathlib.Path(__file__).resolve().parents[2] / "crates/store/tests/fixtures/audit_hash.json"
    out.write_text(json.dumps({"generator": "tools/reference/store_audit_hash.py", "cases": cases}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
