#!/usr/bin/env python3
"""Reference fixtures for the live watch's confidence rules
(crates/monitor/src/watch.rs).

Run from the repository root (scipy >= 1.11):

    python3 tools/reference/watch_reference.py

Writes crates/monitor/tests/fixtures/watch.json; the Rust test
crates/monitor/tests/watch.rs compares against it. Every number comes from
scipy, or from a plain-numpy restatement of a definition documented in
watch.rs (the design effects).
"""
import json
import os

import numpy as np
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "crates", "monitor", "tests", "fixtures", "watch.json")


def binomial_deff(clusters):
    k = np.array([c[0] for c in clusters], float)
    n = np.array([c[1] for c in clusters], float)
    g = int((n > 0).sum())
    if g < 2 or n.sum() == 0:
        return 1.0
    p = k.sum() / n.sum()
    var_b = p * (1 - p) / n.sum()
    if var_b <= 0:
        return 1.0
    robust = g / (g - 1) * ((k - p * n) ** 2).sum() / n.sum() ** 2
    return max(1.0, robust / var_b)


def poisson_deff(clusters):
    c = [x for x in clusters if x[1] > 0]
    if len(c) < 2:
        return 1.0
    k = np.array([x[0] for x in c], float)
    d = np.array([x[1] for x in c], float)
    if k.sum() == 0:
        return 1.0
    r = k.sum() / d.sum()
    return max(1.0, (((k - r * d) ** 2) / (r * d)).sum() / (len(c) - 1))


def holm(p, alpha):
    """Holm's step-down procedure, restated (NaN never rejected, not counted)."""
    p = np.asarray(p, float)
    ok = ~np.isnan(p)
    idx = np.argsort(np.where(ok, p, np.inf), kind="stable")[: ok.sum()]
    m = len(idx)
    out = np.zeros(len(p), bool)
    for j, i in enumerate(idx):
        if p[i] > alpha / (m - j):
            break
        out[i] = True
    return out.tolist()


def ks_clustered(points, m, clusters):
    """Row-weighted CDF of clustered values at a profile's stored quantiles
    against the profile's (crates/monitor/src/drift.rs ks_against_clustered):
    D and the effective n (floor of Kish's n)."""
    pts = sorted(points)
    edges = np.array([v for _, v in pts])
    cum = np.array([q for q, _ in pts])
    rows = np.concatenate([np.asarray(c, float) for c in clusters])
    # bin = #{edges < x}: the CDF at edge e counts values <= e.
    fa = np.array([(rows <= e).mean() for e in edges])
    d = float(np.abs(fa - cum).max())
    sizes = np.array([len(c) for c in clusters], float)
    n_eff = float(np.floor(sizes.sum() ** 2 / (sizes ** 2).sum()))
    return d, n_eff, float(np.floor(m))


def main():
    rng = np.random.default_rng(20261206)
    proportions = []
    for k, n, deff, conf in [(0, 10, 1.0, 0.95), (3, 10, 1.0, 0.95), (10, 10, 1.0, 0.95),
                             (12, 40, 2.5, 0.95), (45, 100, 1.7, 0.9), (7, 300, 3.2, 0.99)]:
        ke, ne = k / deff, n / deff
        lower = 0.0 if k == 0 else float(stats.beta.ppf(1 - conf, ke, ne - ke + 1))
        upper = 1.0 if k == n else float(stats.beta.ppf(conf, ke + 1, ne - ke))
        proportions.append({"k": k, "n": n, "deff": deff, "confidence": conf,
                            "lower": lower, "upper": upper})
    rates = []
    for k, d, deff, conf in [(0, 50.0, 1.0, 0.95), (1, 10.0, 1.0, 0.95), (29, 100.0, 1.0, 0.95),
                             (29, 100.0, 2.2, 0.95), (150, 3000.0, 4.0, 0.9)]:
        ke, de = k / deff, d / deff
        lower = 0.0 if k == 0 else float(stats.gamma.ppf(1 - conf, ke) / de)
        upper = float(stats.gamma.ppf(conf, ke + 1) / de)
        rates.append({"k": k, "exposure": d, "deff": deff, "confidence": conf,
                      "lower": lower, "upper": upper})
    # Integer check of the Gamma form against the chi-square (Garwood) form.
    for r in rates:
        if r["deff"] == 1.0 and r["k"] > 0:
            alt = stats.chi2.ppf(1 - r["confidence"], 2 * r["k"]) / (2 * r["exposure"])
            assert abs(alt - r["lower"]) < 1e-9 * max(1, alt)
    chi2 = [{"x": x, "df": df, "sf": float(stats.chi2.sf(x, df))}
            for x, df in [(0.5, 1), (3.84, 1), (16.9, 9), (40.0, 9), (2.0, 3), (120.0, 9)]]
    psi = []
    for value, bins, n, m in [(0.1, 10, 50, 173), (0.5, 10, 50, 173), (2.1, 10, 40, 85),
                              (0.3, 10, 500, 5000), (0.05, 4, 1000, None)]:
        scale = 1 / n + (0 if m is None else 1 / m)
        psi.append({"psi": value, "bins": bins, "n": n, "m": m,
                    "pvalue": float(stats.chi2.sf(value / scale, bins - 1))})
    bh = []
    for _ in range(5):
        p = rng.uniform(0, 1, 12) ** 4
        q = 0.05
        adj = stats.false_discovery_control(p)
        bh.append({"pvalues": p.tolist(), "q": q, "discoveries": (adj <= q).tolist()})
    deffs = []
    for _ in range(4):
        g = int(rng.integers(5, 40))
        n = rng.integers(1, 30, g)
        p = rng.uniform(0, 0.6)
        u = rng.beta(1 + 4 * p, 1 + 4 * (1 - p), g)
        k = rng.binomial(n, u)
        d = rng.uniform(0.5, 9.0, g)
        a = rng.poisson(rng.gamma(0.6, 1.2, g) * d * 0.3)
        deffs.append({
            "binomial": [[int(x), int(y)] for x, y in zip(k, n)],
            "binomial_deff": binomial_deff(list(zip(k, n))),
            "poisson": [[int(x), float(y)] for x, y in zip(a, d)],
            "poisson_deff": poisson_deff(list(zip(a, d))),
        })
    holms = []
    for _ in range(5):
        p = rng.uniform(0, 1, 14) ** 5
        p[rng.integers(0, 14)] = np.nan
        holms.append({"pvalues": [None if np.isnan(x) else float(x) for x in p],
                      "alpha": 0.05, "rejected": holm(p, 0.05)})
    # Exact two-sample KS at the sizes of monitoring windows (patients)
    # against training profiles (their patients) and other windows.
    ks_exact = []
    for n, m in [(10, 173), (17, 85), (24, 221), (12, 30), (30, 30), (17, 30)]:
        a = rng.normal(0, 1, m)
        b = rng.normal(rng.choice([0.0, 0.4, 1.0]), 1, n)
        res = stats.ks_2samp(a, b, method="exact")
        ks_exact.append({"reference": a.tolist(), "current": b.tolist(),
                         "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    ks_profile = []
    for g, shift in [(12, 0.0), (20, 0.0), (17, 1.5), (30, 0.3)]:
        mu = rng.normal(shift, 1, g)
        clusters = [list(mu[i] + 0.5 * rng.normal(0, 1, int(rng.integers(1, 40))))
                    for i in range(g)]
        probs = [0.005, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.995]
        points = [(q, float(stats.norm.ppf(q, 0, np.sqrt(1.25)))) for q in probs]
        d, n_eff, m = ks_clustered(points, 173.0, clusters)
        ks_profile.append({"points": points, "m": 173.0, "clusters": clusters,
                           "statistic": d, "n": n_eff, "m_units": m})
    # The exact null of KS at a few known CDF points (drift.rs
    # binned_ks_pvalue): one point is a two-sided binomial tail; a fine
    # grid of points approaches the continuous one-sample null (kstwo).
    binned = []
    for n, p0, k in [(12, 0.25, 7), (17, 0.5, 13), (30, 0.05, 6), (10, 0.995, 8)]:
        d = abs(k / n - p0)
        s_ = np.arange(n + 1)
        pmf = stats.binom.pmf(s_, n, p0)
        binned.append({"cdf": [p0], "n": n, "d": d,
                       "pvalue": float(pmf[np.abs(s_ / n - p0) >= d - 1e-9].sum())})
    grid = []
    for n, d in [(10, 0.3), (12, 0.45), (17, 0.35), (30, 0.2)]:
        grid.append({"n": n, "d": d, "points": 400, "kstwo_sf": float(stats.kstwo.sf(d, n))})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"proportions": proportions, "rates": rates, "chi2": chi2, "psi": psi,
                   "bh": bh, "design_effects": deffs, "holm": holms, "ks_exact": ks_exact,
                   "ks_profile": ks_profile, "binned_ks": binned, "binned_ks_grid": grid},
                  f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.relpath(OUT, ROOT))


if __name__ == "__main__":
    main()
