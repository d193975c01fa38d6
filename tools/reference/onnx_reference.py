#!/usr/bin/env python3
"""ONNX reference fixtures for crates/models (Bedside model runtime).

Run from the repository root, in a venv with the pinned packages:
    python3 -m venv /tmp/onnx-venv
    /tmp/onnx-venv/bin/pip install -r tools/reference/onnx_requirements.txt
    /tmp/onnx-venv/bin/python tools/reference/onnx_reference.py

Trains, on 3,000 seeded synthetic rows (the generator of models_reference.py,
12 features over Bedside channel names):
  (a) a scikit-learn LogisticRegression, exported by skl2onnx as an
      `ai.onnx.ml` LinearClassifier graph (logreg.onnx);
  (b) a scikit-learn GradientBoostingClassifier, exported by skl2onnx as an
      `ai.onnx.ml` TreeEnsembleClassifier graph (gbm.onnx);
and writes crates/models/tests/fixtures/:
  onnx_pkg/      a complete model package whose scorer is gbm.onnx (with
                 logreg.onnx next to it, and regressor.onnx, a
                 GradientBoostingRegressor exported as TreeEnsembleRegressor,
                 which tract does not run; the tests swap the scorer file)
  onnx.json      the 1,200 test rows of rows.json (with NaN as null), the
                 imputation values, scikit-learn's predict_proba for both
                 models on those rows (missing values imputed), the logistic
                 coef_/intercept_, and shap's exact Shapley values of the
                 log-odds against one baseline row (the training means) for
                 the first rows, for both models.
scikit-learn trees compare float32 inputs, so the training rows are rounded
to float32 first; ONNX graphs take float32 inputs. Everything is seeded;
rerunning reproduces the files (up to the libraries' versions, pinned in
onnx_requirements.txt).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models_common as mc  # noqa: E402
from models_reference import CHANNELS, FEATURES, NAMES, OUT, synth  # noqa: E402

import onnx  # noqa: E402
import shap  # noqa: E402
import sklearn  # noqa: E402
import skl2onnx  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

PKG = os.path.join(OUT, "onnx_pkg")
SHAP_ROWS = 8


def model_toml(impute):
    lines = [
        "# Test fixture written by tools/reference/onnx_reference.py. Not for clinical use.",
        "format_version = 1",
        'id = "fixture-onnx"',
        'version = "0.0.1"',
        'name = "Fixture ONNX model"',
        'intended_use = "Test fixture for crates/models; synthetic data; not for clinical use."',
        "",
        "[outcome]",
        'description = "Synthetic label"',
        'time_basis = "onset"',
        "horizon_hours = 24",
        "",
        "[[outcome.codes]]",
        'system = "http://hl7.org/fhir/sid/icd-10-cm"',
        'prefixes = ["A41"]',
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
        'kind = "onnx"',
        'file = "gbm.onnx"',
        'output = "probability"',
        "column = 1",
        "impute = [" + ", ".join(repr(float(v)) for v in impute) + "]",
        "",
        "[calibration]",
        'file = "calibration.json"',
        "",
        "[training_profile]",
        'file = "training_profile.json"',
        "",
        "[card]",
        'file = "card.md"',
    ]
    return "\n".join(lines) + "\n"


def export(model, X, path):
    onx = to_onnx(model, X[:1].astype(np.float32), options={id(model): {"zipmap": False}}, target_opset={"": 13, "ai.onnx.ml": 3})
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    return sorted({n.op_type for n in onx.graph.node})


def exact_shap(f, baseline, X):
    """shap's exact Shapley values of f at X against one baseline row."""
    masker = shap.maskers.Independent(baseline.reshape(1, -1), max_samples=1)
    ex = shap.explainers.Exact(f, masker)
    sv = ex(X)
    return sv.values, np.asarray(sv.base_values)


def main():
    os.makedirs(PKG, exist_ok=True)
    rng = np.random.default_rng(20261206)
    Xtr, ytr = synth(rng, 3000)
    Xtr = Xtr.astype(np.float32).astype(np.float64)
    prof = mc.training_profile(Xtr, NAMES)
    impute = np.array(prof["mahalanobis"]["impute"], dtype=np.float32).astype(np.float64)
    baseline = np.array([f["mean"] for f in prof["features"]], dtype=np.float64)

    def fill(X):
        return np.where(np.isnan(X), impute[None, :], X)

    with open(os.path.join(OUT, "rows.json")) as f:
        rows = json.load(f)["rows"]
    Xte = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
    Xte32 = fill(Xte).astype(np.float32).astype(np.float64)

    lr = LogisticRegression(C=1.0, max_iter=5000).fit(fill(Xtr), ytr)
    gbm = GradientBoostingClassifier(n_estimators=60, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=11).fit(fill(Xtr), ytr)
    ops_lr = export(lr, fill(Xtr), os.path.join(PKG, "logreg.onnx"))
    ops_gbm = export(gbm, fill(Xtr), os.path.join(PKG, "gbm.onnx"))
    # A regressor exports as TreeEnsembleRegressor, which tract does not run:
    # the tests check it is refused at load with the operator named.
    reg = GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=3).fit(fill(Xtr), ytr)
    onx = to_onnx(reg, fill(Xtr)[:1].astype(np.float32), target_opset={"": 13, "ai.onnx.ml": 3})
    with open(os.path.join(PKG, "regressor.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    ops_reg = sorted({n.op_type for n in onx.graph.node})

    mc.dump_json(os.path.join(PKG, "training_profile.json"), prof)
    mc.dump_json(os.path.join(PKG, "calibration.json"), {"map": {"method": "sigmoid"}})
    with open(os.path.join(PKG, "model.toml"), "w") as f:
        f.write(model_toml(impute))
    with open(os.path.join(PKG, "card.md"), "w") as f:
        f.write("# Fixture ONNX model\n\nSynthetic test fixture; not for clinical use.\n")

    k = SHAP_ROWS
    sv_lr, base_lr = exact_shap(lr.decision_function, baseline, Xte32[:k])
    sv_gbm, base_gbm = exact_shap(gbm.decision_function, baseline, Xte32[:k])

    def nan_to_none(a):
        return [None if np.isnan(v) else float(v) for v in a]

    mc.dump_json(os.path.join(OUT, "onnx.json"), {
        "versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                     "onnx": onnx.__version__, "shap": shap.__version__},
        "operators": {"logreg.onnx": ops_lr, "gbm.onnx": ops_gbm, "regressor.onnx": ops_reg},
        "feature_names": NAMES,
        "impute": impute.tolist(),
        "baseline": baseline.tolist(),
        "rows": [nan_to_none(r) for r in Xte],
        "logreg": {
            "coef": lr.coef_[0].tolist(),
            "intercept": float(lr.intercept_[0]),
            "p": lr.predict_proba(Xte32)[:, 1].tolist(),
            "shap": sv_lr.tolist(),
            "shap_base": base_lr.tolist(),
        },
        "gbm": {
            "p": gbm.predict_proba(Xte32)[:, 1].tolist(),
            "shap": sv_gbm.tolist(),
            "shap_base": base_gbm.tolist(),
        },
    })
    try:
        import onnxruntime as ort

        for name, model in (("logreg.onnx", lr), ("gbm.onnx", gbm)):
            s = ort.InferenceSession(os.path.join(PKG, name), providers=["CPUExecutionProvider"])
            out = s.run(None, {s.get_inputs()[0].name: Xte32.astype(np.float32)})
            d = np.abs(out[-1][:, 1] - model.predict_proba(Xte32)[:, 1]).max()
            print(f"{name}: onnxruntime vs scikit-learn max |dp| = {d:.2e}")
    except ImportError:
        print("onnxruntime not installed: skipped its cross-check", file=sys.stderr)
    print("operators", ops_lr, ops_gbm, "test rows", len(Xte))


if __name__ == "__main__":
    main()
