#!/usr/bin/env python3
"""Reference fixtures for bedside-policy and bedside-monitor statistics.

Run from the repository root:

    pip install scipy scikit-learn numpy
    python3 tools/reference/stats_reference.py

Writes JSON fixtures under crates/policy/tests/fixtures/ and
crates/monitor/tests/fixtures/. The Rust tests compare against them; CI does
not run Python, the fixtures are committed. Every number here comes from
scipy / scikit-learn / numpy, or from a plain-numpy restatement of a
definition documented in the Rust code (named in each section).
"""
import json
import os
import sys

import numpy as np
from scipy import stats
from scipy.stats import beta

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLICY = os.path.join(ROOT, "crates", "policy", "tests", "fixtures")
MONITOR = os.path.join(ROOT, "crates", "monitor", "tests", "fixtures")


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


# ---------------------------------------------------------------- policy --

def cp_lower(k, n, conf):
    """One-sided exact Clopper-Pearson lower bound."""
    if k == 0:
        return 0.0
    return float(beta.ppf(1.0 - conf, k, n - k + 1))


def cp_upper(k, n, conf):
    """One-sided exact Clopper-Pearson upper bound."""
    if k == n:
        return 1.0
    return float(beta.ppf(conf, k + 1, n - k))


def policy_fixtures():
    rng = np.random.default_rng(20261125)
    cases = []
    ns = [1, 2, 3, 5, 10, 17, 50, 100, 333, 1000, 5000, 20000]
    for n in ns:
        ks = sorted({0, 1, n // 3, n // 2, n - 1, n} | set(int(x) for x in rng.integers(0, n + 1, 4)))
        for k in ks:
            if k < 0 or k > n:
                continue
            for conf in [0.8, 0.9, 0.95, 0.975, 0.99, 0.999]:
                cases.append({
                    "k": k, "n": n, "confidence": conf,
                    "lower": cp_lower(k, n, conf),
                    "upper": cp_upper(k, n, conf),
                })
    ppf = []
    for _ in range(200):
        a = float(np.exp(rng.uniform(np.log(0.5), np.log(5000))))
        b = float(np.exp(rng.uniform(np.log(0.5), np.log(5000))))
        q = float(rng.choice([1e-6, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975, 0.999]))
        ppf.append({"q": q, "a": a, "b": b, "x": float(beta.ppf(q, a, b))})
    dump(os.path.join(POLICY, "clopper_pearson.json"), {"bounds": cases, "beta_ppf": ppf})

    # Certification: independent restatement of the rule in
    # crates/policy/src/certify.rs: lowest distinct score t such that among
    # rows with score >= t, CP lower(PPV) >= floor and
    # 100 * n_alerted / patient_days <= budget.
    cert = []
    for case in range(12):
        n = int(rng.integers(40, 1200))
        prev = float(rng.uniform(0.02, 0.3))
        y = rng.random(n) < prev
        sep = float(rng.uniform(0.5, 3.0))
        s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + sep * y - 2)))
        s = np.round(s, int(rng.integers(2, 6)))  # ties on purpose
        patient_days = float(n * rng.uniform(2, 8))
        floor = float(rng.choice([0.1, 0.2, 0.3, 0.5, 0.7]))
        conf = float(rng.choice([0.9, 0.95, 0.99]))
        budget = float(rng.choice([1.0, 3.0, 5.0, 10.0, 50.0]))
        best = None
        for t in sorted(set(s.tolist())):
            sel = s >= t
            na = int(sel.sum())
            k = int(y[sel].sum())
            rate = 100.0 * na / patient_days
            lo = cp_lower(k, na, conf)
            if lo >= floor and rate <= budget:
                best = {"threshold": t, "n_alerted": na, "true_alerts": k,
                        "ppv": k / na, "ppv_lower": lo, "alert_rate": rate}
                break
        cert.append({"scores": s.tolist(), "labels": y.astype(int).tolist(),
                     "patient_days": patient_days, "ppv_floor": floor,
                     "confidence": conf, "budget": budget, "expected": best})
    dump(os.path.join(POLICY, "certification.json"), {"cases": cert})


if __name__ == "__main__":
    which = sys.argv[1:] or ["policy", "monitor"]
    if "policy" in which:
        policy_fixtures()
    if "monitor" in which and "monitor_fixtures" in globals():
        monitor_fixtures()  # noqa: F821 (defined below once written)
