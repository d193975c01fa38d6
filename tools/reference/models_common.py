"""Shared helpers for Bedside model packages (used by models_reference.py and
tools/train_demo_model.py).

The training profile written here is read by crates/models (src/ood.rs): the
per-feature summaries drive the out-of-range and rare-quantile checks, and the
`mahalanobis` block drives the multivariate distance check:

    x_imp[i] = x[i] if present else impute[i]
    z[i]     = (x_imp[i] - center[i]) / scale[i]
    d        = sqrt(z^T precision z)

`precision` is the inverse of the (ridge-regularised) covariance of z over the
training rows; `d_q99` / `d_q999` are the 99th / 99.9th percentiles of d over
the training rows.
"""
import json
import math

import numpy as np

QUANTILES = [0.5, 1, 5, 25, 50, 75, 95, 99, 99.5]
RIDGE = 1e-3


def qkey(q):
    return "p" + (str(q).replace(".", "_") if q != int(q) else str(int(q)))


def training_profile(X, names, subgroups=None, n_patients=None):
    """X: float array (rows x features) with NaN for missing."""
    X = np.asarray(X, dtype=float)
    feats = []
    impute = []
    for j, name in enumerate(names):
        col = X[:, j]
        ok = col[~np.isnan(col)]
        entry = {"name": name, "missing_rate": float(1.0 - len(ok) / len(col)), "n": int(len(ok))}
        if len(ok) > 0:
            entry.update(
                min=float(ok.min()),
                max=float(ok.max()),
                mean=float(ok.mean()),
                std=float(ok.std()),
                quantiles={qkey(q): float(np.percentile(ok, q)) for q in QUANTILES},
            )
            impute.append(float(np.percentile(ok, 50)))
        else:
            impute.append(0.0)
        feats.append(entry)
    imp = np.where(np.isnan(X), np.array(impute)[None, :], X)
    center = imp.mean(axis=0)
    scale = imp.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (imp - center) / scale
    cov = np.cov(Z, rowvar=False) + RIDGE * np.eye(len(names))
    prec = np.linalg.inv(cov)
    d = np.sqrt(np.einsum("ij,jk,ik->i", Z, prec, Z))
    return {
        "n_rows": int(X.shape[0]),
        "n_patients": int(n_patients) if n_patients is not None else None,
        "features": feats,
        "mahalanobis": {
            "impute": impute,
            "center": center.tolist(),
            "scale": scale.tolist(),
            "precision": prec.tolist(),
            "d_q99": float(np.percentile(d, 99)),
            "d_q999": float(np.percentile(d, 99.9)),
        },
        "subgroups": subgroups or {},
    }


def mahalanobis(profile, X):
    m = profile["mahalanobis"]
    X = np.asarray(X, dtype=float)
    imp = np.where(np.isnan(X), np.array(m["impute"])[None, :], X)
    Z = (imp - np.array(m["center"])) / np.array(m["scale"])
    P = np.array(m["precision"])
    return np.sqrt(np.einsum("ij,jk,ik->i", Z, P, Z))


def isotonic_json(iso):
    """The fitted sklearn IsotonicRegression(out_of_bounds="clip") map."""
    return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def platt_json(lr):
    """p = 1 / (1 + exp(-(a * margin + b))) from LogisticRegression on the margin."""
    return {"method": "platt", "a": float(lr.coef_[0][0]), "b": float(lr.intercept_[0])}


def venn_abers_json(scores, labels):
    """Inductive Venn-Abers: the calibration margins and labels; crates/models
    fits the isotonic regressions for every insertion position on load."""
    return {"method": "venn_abers", "scores": [float(s) for s in scores], "labels": [int(y) for y in labels]}


def conformal_json(p_cal, y_cal, level):
    """Split-conformal on the probability scale: the ceil((n+1) level)-th
    smallest absolute residual |y - p| (1.0 when that exceeds n)."""
    r = np.sort(np.abs(np.asarray(y_cal, float) - np.asarray(p_cal, float)))
    n = len(r)
    k = math.ceil((n + 1) * level)
    q = 1.0 if k > n else float(r[k - 1])
    return {"method": "conformal", "level": level, "n": n, "quantile": q}


def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")
