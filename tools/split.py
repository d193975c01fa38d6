"""The patient-level split shared by training, evaluation and the demo.

split(patient_id) -> "train" | "calibration" | "test", from the SHA-256 of
the patient id: stable across runs, machines and languages (the Rust side
uses the same rule in `bedside evaluate --split test`).
"""
import hashlib


def split(patient_id: str) -> str:
    b = hashlib.sha256(patient_id.encode()).digest()[0] % 10
    if b < 6:
        return "train"
    if b < 8:
        return "calibration"
    return "test"
