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


# ------------------------------------------------------------- clustered --
# Restated from crates/policy/src/clustered.rs: patient (cluster) bootstrap
# with SplitMix64 draws, numpy quantiles, and the exact Poisson upper bound
# from scipy's gamma.ppf.

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def cluster_bootstrap(clusters, conf, reps, seed):
    rng = SplitMix64(seed)
    n = len(clusters)
    k = np.array([c[0] for c in clusters], dtype=np.int64)
    m = np.array([c[1] for c in clusters], dtype=np.int64)
    d = np.array([c[2] for c in clusters], dtype=float)
    ppv, rate = [], []
    for _ in range(reps):
        idx = np.array([rng.next() % n for _ in range(n)], dtype=np.int64)
        ks, ms, ds = int(k[idx].sum()), int(m[idx].sum()), 0.0
        for i in idx:  # summed in draw order, as the Rust code does
            ds += d[i]
        if ms > 0:
            ppv.append(ks / ms)
        if ds > 0:
            rate.append(100.0 * ms / ds)
    lo = float(np.quantile(ppv, 1 - conf, method="lower")) if ppv else None
    hi = float(np.quantile(rate, conf, method="higher")) if rate else None
    return lo, hi


def clustered_fixtures():
    r = SplitMix64(0)
    first = [r.next(), r.next()]
    assert first == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4], [hex(x) for x in first]
    rng = np.random.default_rng(20261206)
    boot = []
    for case in range(8):
        n = int(rng.integers(5, 120))
        clusters = []
        for _ in range(n):
            m = int(rng.poisson(rng.choice([0.3, 1.0, 3.0])))
            p = float(rng.beta(1, 2))
            k = int(rng.binomial(m, p)) if m else 0
            clusters.append([k, m, float(np.round(rng.uniform(0.5, 9.0), 3))])
        conf = float(rng.choice([0.9, 0.95, 0.99]))
        reps = int(rng.choice([200, 500, 2000]))
        seed = int(rng.integers(0, 2**63))
        lo, hi = cluster_bootstrap(clusters, conf, reps, seed)
        boot.append({"clusters": clusters, "confidence": conf, "replicates": reps,
                     "seed": seed, "ppv_lower": lo, "rate_upper": hi})
    pois = []
    for count in [0, 1, 2, 3, 5, 10, 17, 50, 100, 1000]:
        for conf in [0.8, 0.9, 0.95, 0.99]:
            pois.append({"count": count, "confidence": conf,
                         "upper": float(stats.gamma.ppf(conf, count + 1))})
    dump(os.path.join(POLICY, "clustered.json"), {"bootstrap": boot, "poisson_upper": pois})


# --------------------------------------------------------------- monitor --
# Definitions restated from crates/monitor/src/{metrics,drift,cbpe,intervals}.rs.

def np_ece(p, y, n_bins):
    """ECE on sklearn calibration_curve's uniform bins."""
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(bins[1:-1], p)
    tot = np.bincount(ids, minlength=n_bins)
    sp = np.bincount(ids, weights=p, minlength=n_bins)
    sy = np.bincount(ids, weights=y, minlength=n_bins)
    nz = tot != 0
    return float(np.sum(tot[nz] / len(p) * np.abs(sy[nz] / tot[nz] - sp[nz] / tot[nz])))


def np_psi(ref, cur, bins, eps=1e-4):
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, ref), minlength=len(edges) + 1) / len(ref)
    a = np.bincount(np.searchsorted(edges, cur), minlength=len(edges) + 1) / len(cur)
    e = np.maximum(e, eps)
    a = np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def np_delong_var(s, y):
    """DeLong variance via midranks (Sun & Xu 2014), restated."""
    from scipy.stats import rankdata
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    tz = rankdata(np.concatenate([pos, neg]))
    tx, ty = rankdata(pos), rankdata(neg)
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:m] - tx) / n
    v10 = 1 - (tz[m:] - ty) / m
    return float(np.var(v01, ddof=1) / m + np.var(v10, ddof=1) / n), float(auc)


def monitor_fixtures():
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(7)
    cases = []
    for i in range(10):
        n = int(rng.integers(30, 800))
        prev = float(rng.uniform(0.05, 0.5))
        y = (rng.random(n) < prev).astype(int)
        if y.sum() < 2:
            y[:2] = 1
        if (1 - y).sum() < 2:
            y[-2:] = 0
        logit = rng.normal(0, 1, n) + float(rng.uniform(0, 2.5)) * y - 1.0
        p = 1 / (1 + np.exp(-logit))
        if i % 2 == 0:
            p = np.round(p, 2)  # ties, and values exactly on bin edges
        n_bins = int(rng.choice([5, 10, 15]))
        prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
        var, auc = np_delong_var(p, y)
        k = int(y.sum())
        bt = stats.binomtest(k, n)
        wil = bt.proportion_ci(confidence_level=0.95, method="wilson")
        cp = bt.proportion_ci(confidence_level=0.95, method="exact")
        thr = float(rng.uniform(0.2, 0.6))
        yy = np.concatenate([np.ones(n), np.zeros(n)])
        ww = np.concatenate([p, 1 - p])
        cases.append({
            "probs": p.tolist(), "labels": y.tolist(), "n_bins": n_bins,
            "auroc": float(roc_auc_score(y, p)),
            "average_precision": float(average_precision_score(y, p)),
            "prob_true": prob_true.tolist(), "prob_pred": prob_pred.tolist(),
            "ece": np_ece(p, y, n_bins),
            "delong_var": var, "delong_auc": auc,
            "wilson": [float(wil.low), float(wil.high)],
            "clopper_pearson": [float(cp.low), float(cp.high)],
            "cbpe_threshold": thr,
            "cbpe_auroc": float(roc_auc_score(yy, np.concatenate([p, p]), sample_weight=ww)),
            "cbpe_ppv": float(p[p >= thr].sum() / (p >= thr).sum()) if (p >= thr).any() else None,
            "quantiles": {str(q): float(np.quantile(p, q)) for q in [0.1, 0.25, 0.5, 0.9, 0.99]},
        })
    drift = []
    for i in range(10):
        n1 = int(rng.integers(20, 1500))
        n2 = int(rng.integers(20, 1500))
        a = rng.normal(0, 1, n1)
        b = rng.normal(float(rng.uniform(-0.5, 0.5)), float(rng.uniform(0.8, 1.3)), n2)
        if i % 3 == 0:
            a, b = np.round(a, 1), np.round(b, 1)  # ties
        if i == 9:
            b = rng.normal(0, 1, n1)  # equal sizes
            n2 = n1
        bins = int(rng.choice([5, 10, 20]))
        res = stats.ks_2samp(a, b)
        en = n1 * n2 / (n1 + n2)
        drift.append({
            "a": a.tolist(), "b": b.tolist(), "bins": bins,
            "psi": np_psi(a, b, bins),
            "ks_statistic": float(res.statistic), "ks_pvalue_auto": float(res.pvalue),
            "ks_pvalue_asymp_scipy": float(stats.ks_2samp(a, b, method="asymp").pvalue),
            "kstwobign_pvalue": float(stats.kstwobign.sf(np.sqrt(en) * res.statistic)),
        })
    miss = []
    for x1, n1, x2, n2 in [(10, 1000, 30, 900), (5, 50, 9, 60), (100, 400, 90, 410)]:
        chi2, pv, _, _ = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
        miss.append({"x1": x1, "n1": n1, "x2": x2, "n2": n2, "pvalue": float(pv)})
    dump(os.path.join(MONITOR, "metrics.json"), {"cases": cases, "drift": drift, "missingness": miss})


if __name__ == "__main__":
    which = sys.argv[1:] or ["policy", "clustered", "monitor"]
    if "policy" in which:
        policy_fixtures()
    if "clustered" in which:
        clustered_fixtures()
    if "monitor" in which:
        monitor_fixtures()
