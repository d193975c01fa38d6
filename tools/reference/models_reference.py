#!/usr/bin/env python3
"""Reference fixtures for crates/models (Bedside model runtime).

Run from the repository root:
    pip install lightgbm scikit-learn numpy onnx skl2onnx
    python3 tools/reference/models_reference.py

Writes crates/models/tests/fixtures/:
  pkg/            a complete model package (LightGBM, isotonic map, Venn-Abers,
                  training profile) over real Bedside channel names
  rows.json       >= 1000 feature rows with NaNs, LightGBM predict(raw_score=True)
                  and predict(pred_contrib=True) from the saved text model
  calibration.json  isotonic / Platt / Venn-Abers / conformal references from
                  scikit-learn at the test margins
  linear.json, linear.onnx   logistic regression (sklearn) and its ONNX export
  metrics.json    AUROC / AUPRC / ECE references
Everything is seeded; rerunning reproduces the files.
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models_common as mc  # noqa: E402

import lightgbm as lgb  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "crates", "models", "tests", "fixtures")
PKG = os.path.join(OUT, "pkg")

FEATURES = [
    # name, kind, channel, window_hours
    ("heart_rate_last", "last", "heart_rate", 24),
    ("heart_rate_slope_6h", "slope", "heart_rate", 6),
    ("resp_rate_max_6h", "max", "resp_rate", 6),
    ("temperature_last", "last", "temperature", 24),
    ("sbp_min_6h", "min", "sbp", 6),
    ("spo2_min_6h", "min", "spo2", 6),
    ("lactate_last", "last", "lactate", 48),
    ("wbc_last", "last", "wbc", 48),
    ("creatinine_last", "last", "creatinine", 48),
    ("lactate_missing", "missing", "lactate", 48),
    ("age", "age", None, None),
    ("sex_male", "sex", None, None),
]
CHANNELS = [
    ("heart_rate", "/min", "http://loinc.org|8867-4"),
    ("resp_rate", "/min", "http://loinc.org|9279-1"),
    ("temperature", "Cel", "http://loinc.org|8310-5"),
    ("sbp", "mm[Hg]", "http://loinc.org|8480-6"),
    ("spo2", "%", "http://loinc.org|2708-6"),
    ("lactate", "mmol/L", "http://loinc.org|2524-7"),
    ("wbc", "10*3/uL", "http://loinc.org|6690-2"),
    ("creatinine", "mg/dL", "http://loinc.org|2160-0"),
]
NAMES = [f[0] for f in FEATURES]


def synth(rng, n):
    hr = rng.normal(90, 18, n)
    slope = rng.normal(0, 2, n)
    rr = rng.normal(19, 5, n)
    temp = rng.normal(37.2, 0.9, n)
    sbp = rng.normal(115, 22, n)
    spo2 = np.clip(rng.normal(95, 3, n), 70, 100)
    lact = np.exp(rng.normal(0.4, 0.6, n))
    wbc = np.exp(rng.normal(2.2, 0.45, n))
    crea = np.exp(rng.normal(0.1, 0.5, n))
    age = np.round(rng.uniform(18, 95, n))
    sex = rng.integers(0, 2, n).astype(float)
    lin = (
        -3.0 + 0.03 * (hr - 90) + 0.08 * (rr - 19) + 0.5 * np.abs(temp - 37.2)
        - 0.02 * (sbp - 115) + 0.6 * (lact - 1.5) + 0.05 * (wbc - 9) + 0.2 * slope
        + 0.01 * (age - 60) + 0.1 * sex
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-lin))).astype(int)
    lact_m = rng.uniform(size=n) < 0.4
    lact = np.where(lact_m, np.nan, lact)
    wbc = np.where(rng.uniform(size=n) < 0.3, np.nan, wbc)
    crea = np.where(rng.uniform(size=n) < 0.3, np.nan, crea)
    slope = np.where(rng.uniform(size=n) < 0.1, np.nan, slope)
    X = np.column_stack([hr, slope, rr, temp, sbp, spo2, lact, wbc, crea, lact_m.astype(float), age, sex])
    return X, y


def model_toml():
    lines = [
        "# Test fixture written by tools/reference/models_reference.py. Not for clinical use.",
        "format_version = 1",
        'id = "fixture-lgbm"',
        'version = "0.0.1"',
        'name = "Fixture LightGBM model"',
        'intended_use = "Test fixture for crates/models; synthetic data; not for clinical use."',
        "",
        "[outcome]",
        'description = "Synthetic label"',
        'time_basis = "onset"',
        "lookback_hours = 6",
        "horizon_hours = 24",
        "",
        "[[outcome.codes]]",
        'system = "http://hl7.org/fhir/sid/icd-10-cm"',
        'prefixes = ["A40", "A41", "R65.2"]',
        "",
        "[prediction]",
        "horizon_hours = 24",
        "every_hours = 1",
        "",
    ]
    for name, unit, code in CHANNELS:
        lines += ["[[channels]]", f'name = "{name}"', f'unit = "{unit}"', f'codes = ["{code}"]', ""]
    for name, kind, ch, w in FEATURES:
        lines += ["[[features]]", f'name = "{name}"', f'kind = "{kind}"']
        if ch:
            lines.append(f'channel = "{ch}"')
        if w:
            lines.append(f"window_hours = {w}")
        lines.append("")
    lines += [
        "[scorer]",
        'kind = "lightgbm"',
        'file = "model.txt"',
        "",
        "[calibration]",
        'file = "calibration.json"',
        "",
        "[training_profile]",
        'file = "training_profile.json"',
        "",
        "[card]",
        'file = "card.md"',
        "",
        "[ood]",
        "max_missing_fraction = 0.5",
    ]
    return "\n".join(lines) + "\n"


def venn_abers_brute(cal_s, cal_y, s):
    out = []
    for label in (0, 1):
        iso = IsotonicRegression(out_of_bounds="clip")
        iso.fit(np.append(cal_s, s), np.append(cal_y, label))
        out.append(float(iso.predict([s])[0]))
    return out


def main():
    os.makedirs(PKG, exist_ok=True)
    rng = np.random.default_rng(20240611)
    Xtr, ytr = synth(rng, 3000)
    Xcal, ycal = synth(rng, 400)
    Xte, yte = synth(rng, 1200)
    # Rows with NaN where training never had one (missing type None -> 0.0),
    # and values outside the training range.
    Xte[:40, 0] = np.nan
    Xte[40:60, 10] = np.nan
    Xte[60:70, 6] = 25.0

    params = dict(
        objective="binary", num_leaves=15, learning_rate=0.1, min_data_in_leaf=20,
        seed=7, deterministic=True, num_threads=1, verbose=-1, feature_fraction=0.9,
        bagging_fraction=0.8, bagging_freq=1,
    )
    ds = lgb.Dataset(Xtr, ytr, feature_name=NAMES, free_raw_data=False)
    booster = lgb.train(params, ds, num_boost_round=80)
    model_path = os.path.join(PKG, "model.txt")
    booster.save_model(model_path)
    b = lgb.Booster(model_file=model_path)
    raw = b.predict(Xte, raw_score=True)
    contrib = b.predict(Xte, pred_contrib=True)

    def nan_to_none(a):
        return [None if (isinstance(v, float) and math.isnan(v)) else float(v) for v in a]

    mc.dump_json(os.path.join(OUT, "rows.json"), {
        "feature_names": NAMES,
        "rows": [nan_to_none(r) for r in Xte],
        "raw": raw.tolist(),
        "contrib": contrib.tolist(),
        "labels": yte.tolist(),
    })

    # Calibration on the calibration split's margins.
    m_cal = b.predict(Xcal, raw_score=True)
    iso = IsotonicRegression(out_of_bounds="clip").fit(m_cal, ycal)
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(m_cal.reshape(-1, 1), ycal)
    p_iso_cal = iso.predict(m_cal)
    conf = mc.conformal_json(p_iso_cal, ycal, 0.9)
    probe = np.concatenate([raw, [m_cal.min() - 1, m_cal.max() + 1]])
    va_points = np.concatenate([raw[:150], m_cal[:30]])  # includes exact ties
    mc.dump_json(os.path.join(OUT, "calibration.json"), {
        "isotonic": mc.isotonic_json(iso),
        "platt": mc.platt_json(lr),
        "venn_abers": mc.venn_abers_json(m_cal, ycal),
        "conformal": conf,
        "margins": probe.tolist(),
        "isotonic_p": iso.predict(probe).tolist(),
        "platt_p": lr.predict_proba(probe.reshape(-1, 1))[:, 1].tolist(),
        "va_margins": va_points.tolist(),
        "va_p0p1": [venn_abers_brute(m_cal, ycal, s) for s in va_points],
    })
    mc.dump_json(os.path.join(PKG, "calibration.json"), {
        "map": mc.isotonic_json(iso),
        "interval": mc.venn_abers_json(m_cal, ycal),
    })

    prof = mc.training_profile(Xtr, NAMES, subgroups={"sex": {"male": int(Xtr[:, 11].sum()), "female": int((1 - Xtr[:, 11]).sum())}})
    mc.dump_json(os.path.join(PKG, "training_profile.json"), prof)
    mc.dump_json(os.path.join(OUT, "ood.json"), {"mahalanobis": mc.mahalanobis(prof, Xte).tolist()})

    with open(os.path.join(PKG, "model.toml"), "w") as f:
        f.write(model_toml())
    with open(os.path.join(PKG, "card.md"), "w") as f:
        f.write("# Fixture LightGBM model\n\nSynthetic test fixture; not for clinical use.\n")

    # Logistic regression on imputed features, and its ONNX export.
    imp = np.array(prof["mahalanobis"]["impute"])
    fill = lambda X: np.where(np.isnan(X), imp[None, :], X)  # noqa: E731
    lin = LogisticRegression(C=1.0, max_iter=5000).fit(fill(Xtr), ytr)
    mc.dump_json(os.path.join(OUT, "linear.json"), {
        "model": {"feature_names": NAMES, "coefficients": lin.coef_[0].tolist(),
                  "intercept": float(lin.intercept_[0]), "impute": imp.tolist()},
        "rows_margin": lin.decision_function(fill(Xte)).tolist(),
        "rows_p": lin.predict_proba(fill(Xte))[:, 1].tolist(),
    })
    try:
        from skl2onnx import to_onnx
        onx = to_onnx(lin, fill(Xtr[:1]).astype(np.float32), options={id(lin): {"zipmap": False}}, target_opset=13)
        with open(os.path.join(OUT, "linear.onnx"), "wb") as f:
            f.write(onx.SerializeToString())
    except ImportError:
        print("skl2onnx missing: linear.onnx not written", file=sys.stderr)

    # Metrics references.
    p = 1 / (1 + np.exp(-raw))
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(abs(p[bins == k].mean() - yte[bins == k].mean()) * (bins == k).sum() for k in range(10) if (bins == k).any()) / len(p)
    mc.dump_json(os.path.join(OUT, "metrics.json"), {
        "p": p.tolist(), "y": yte.tolist(),
        "auroc": float(roc_auc_score(yte, p)), "auprc": float(average_precision_score(yte, p)), "ece": float(ece),
    })
    print("trees", b.num_trees(), "test rows", len(Xte), "positives", int(yte.sum()))


if __name__ == "__main__":
    main()
