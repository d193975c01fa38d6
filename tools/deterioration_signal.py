#!/usr/bin/env python3
"""How much signal the deterioration cohort carries, beyond one small split.

    bedside features ../shared/data/deterioration-cohort \
        --model models/deterioration-demo --out bench/out/deterioration-features.csv
    python3 tools/deterioration_signal.py bench/out/deterioration-features.csv

(any Python with numpy and scikit-learn; /work/venv-onnx works). Reads the
rows `bedside features` exports (the code that scores online) and fits the
package's recipe (train-median imputation, standardization, L2 logistic
regression, C = 0.1, rows before the patient's first event) two ways:

- on the project's fixed patient split (tools/split.py): train on `train`,
  report AUROC on `calibration` and on `test`, with the number of patients
  with an event in each;
- patient-grouped 5-fold cross-validation over all patients, repeated with
  3 seeds (every patient is held out once per repeat).

A model whose cross-validated AUROC is well above its held-out-split AUROC
is not broken: the split is small (a handful of patients with an event)
and its case mix differs from the training patients'.
"""
import argparse
import csv
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

C = 0.1
FOLDS = 5
REPEATS = 3


def read(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    if header[:5] != ["patient_id", "encounter_id", "at", "split", "label"]:
        sys.exit(f"{path}: not a `bedside features` CSV (header {header[:5]})")
    X = np.array([[float(v) if v != "" else np.nan for v in row[5:]] for row in rows])
    pats = np.array([row[0] for row in rows])
    ats = np.array([row[2] for row in rows])
    spl = np.array([row[3] for row in rows])
    y = np.array([int(row[4]) for row in rows])
    return header[5:], X, pats, ats, spl, y


def at_risk(pats, ats, y):
    """Rows up to the last positive row of each patient with an event (the
    rows after it follow the death or ICU transfer), all rows of the others."""
    last_pos = {}
    for p, t, lab in zip(pats, ats, y):
        if lab:
            last_pos[p] = max(last_pos.get(p, t), t)
    return np.array([p not in last_pos or t <= last_pos[p] for p, t in zip(pats, ats)])


def fit_predict(X, y, tr, te):
    med = np.nanmedian(X[tr], axis=0)
    med = np.where(np.isnan(med), 0.0, med)
    Xi = np.where(np.isnan(X), med, X)
    mu, sd = Xi[tr].mean(axis=0), Xi[tr].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    m = LogisticRegression(C=C, max_iter=5000).fit((Xi[tr] - mu) / sd, y[tr])
    return m.predict_proba((Xi[te] - mu) / sd)[:, 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features_csv")
    a = ap.parse_args()
    names, X, pats, ats, spl, y = read(a.features_csv)
    keep = at_risk(pats, ats, y)
    X, pats, spl, y = X[keep], pats[keep], spl[keep], y[keep]
    print(f"{len(y)} rows at risk, {int(y.sum())} positive, {len(set(pats))} patients, "
          f"{len(set(pats[y == 1]))} with an event within 24 h of a scoring")
    tr = spl == "train"
    for s in ("calibration", "test"):
        te = spl == s
        p = fit_predict(X, y, tr, te)
        print(f"fixed split: train -> {s}: AUROC {roc_auc_score(y[te], p):.3f} "
              f"({len(set(pats[te]))} patients, {len(set(pats[te][y[te] == 1]))} with an event)")
    ids = np.unique(pats)
    for seed in range(REPEATS):
        fold_of = {pid: i % FOLDS for i, pid in enumerate(np.random.default_rng(seed).permutation(ids))}
        fold = np.array([fold_of[pid] for pid in pats])
        p = np.zeros(len(y))
        for k in range(FOLDS):
            p[fold == k] = fit_predict(X, y, fold != k, fold == k)
        print(f"grouped {FOLDS}-fold CV (seed {seed}): AUROC {roc_auc_score(y, p):.3f}")


if __name__ == "__main__":
    main()
