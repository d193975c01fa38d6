#!/usr/bin/env python3
"""Train the demo deterioration model and write models/deterioration-demo/.

Run by scripts/train-deterioration.sh (pinned venv, `bedside features`):

    bash scripts/train-deterioration.sh [../shared/data/deterioration-cohort]

The CSV from `bedside features` has one row per scoring time: patient_id,
encounter_id, at, split, label, then one column per feature of
models/deterioration-demo/model.toml (empty = missing). The label is the
package's outcome rule (OutcomeSpec::label): death (Encounter discharge
disposition `exp`, at period.end) or ICU transfer (classHistory ACUTE, at
its period.start) within the next 24 h.

Steps (all seeded, no tuning on the held-out split):
- patient-level split from tools/split.py (train 60% / calibration 20% /
  test 20%, by SHA-256 of the patient id), the rule of Rust
  bedside_models::split;
- training rows: the train split's rows before the patient's first event
  (after an ICU transfer the patient is no longer a ward patient);
- missing inputs imputed with the train medians (written to model.toml
  `scorer.impute`, applied by Bedside before the graph), standardized,
  L2 logistic regression (C = 0.1); the standardization is folded into the
  coefficients, so the exported graph is one LinearClassifier on the raw
  inputs (skl2onnx, checked against sklearn with onnxruntime);
- Platt calibration of the margin on the calibration rows; Venn-Abers
  interval from (a seeded sample of at most 1500 of) the calibration rows;
- the built-in alert policy's certified threshold on the patient-level
  calibration set (None when it cannot be certified; then the policy
  alerts on nothing, which is what this cohort gives);
- on the held-out test rows: AUROC, AUPRC, ECE (10 equal-width bins) with
  95% percentile bootstrap intervals over patients (500 resamples);
- training profile for the out-of-distribution guard; card.md.
NEWS2 on the same rows is computed by `bedside evaluate` (Rust
bedside_models::news2), which the shell script runs after training.
"""
import argparse
import csv
import datetime as dt
import gzip
import json
import math
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import models_common as mc  # noqa: E402
from split import split as patient_split  # noqa: E402

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sklearn  # noqa: E402
import skl2onnx  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402

PKG = os.path.join(ROOT, "models", "deterioration-demo")
SEED = 23
C = 0.1
PPV_FLOOR = 0.2
ALERT_BUDGET = 5.0
BOOT = 500
DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def read_csv(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    fixed = ["patient_id", "encounter_id", "at", "split", "label"]
    if header[:5] != fixed:
        sys.exit(f"unexpected CSV header {header[:5]}, expected {fixed}")
    X = np.array([[float(v) if v != "" else np.nan for v in row[5:]] for row in rows], dtype=float)
    meta = {
        "patient": np.array([row[0] for row in rows]),
        "at": [instant(row[2]) for row in rows],
        "split": np.array([row[3] for row in rows]),
        "y": np.array([int(row[4]) for row in rows]),
    }
    return header[5:], X, meta


def instant(s):
    s = s.replace("Z", "+00:00")
    if len(s) == 10:
        s += "T00:00:00+00:00"
    return dt.datetime.fromisoformat(s)


def events_and_stays(cohort):
    """Per patient: the first death / ICU transfer time, read as Rust's
    outcome::encounter_events reads it, and the encounter periods."""
    first, stays = {}, {}
    with gzip.open(os.path.join(cohort, "Encounter.ndjson.gz"), "rt") as f:
        for line in f:
            e = json.loads(line)
            pid = e["subject"]["reference"].split("/")[-1]
            per = e.get("period", {})
            times = []
            disp = e.get("hospitalization", {}).get("dischargeDisposition", {}).get("coding", [])
            if "end" in per and any(c.get("system") == DISPOSITION and c.get("code", "").startswith("exp") for c in disp):
                times.append(instant(per["end"]))
            for h in e.get("classHistory", []):
                c = h.get("class", {})
                if c.get("system") == ACT and c.get("code", "").startswith("ACUTE") and "start" in h.get("period", {}):
                    times.append(instant(h["period"]["start"]))
            if times:
                first[pid] = min([first[pid]] + times) if pid in first else min(times)
            if "start" in per:
                stays.setdefault(pid, []).append((instant(per["start"]), instant(per["end"]) if "end" in per else None))
    return first, stays


def demographics(cohort):
    out = {}
    with gzip.open(os.path.join(cohort, "Patient.ndjson.gz"), "rt") as f:
        for line in f:
            p = json.loads(line)
            out[p["id"]] = p.get("gender", "unknown")
    return out


def ece(p, y, bins=10):
    b = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[b == k].sum() - y[b == k].sum()) for k in range(bins)) / len(p))


def point_metrics(p, y):
    both = 0 < y.sum() < len(y)
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if y.sum() > 0 else None,
        "ece": ece(p, y) if len(y) else None,
    }


def bootstrap(p, y, patients, rng):
    ids = np.unique(patients)
    idx_of = {pid: np.where(patients == pid)[0] for pid in ids}
    samples = {k: [] for k in ("auroc", "auprc", "ece")}
    for _ in range(BOOT):
        idx = np.concatenate([idx_of[i] for i in rng.choice(ids, size=len(ids), replace=True)])
        m = point_metrics(p[idx], y[idx])
        for k in samples:
            if m[k] is not None:
                samples[k].append(m[k])
    return {k: ([float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) >= BOOT // 2 else None)
            for k, v in samples.items()}


def calibration_rows(idx, p, pats, ats, first, stays):
    """bedside_policy::evaluate::patient_calibration_set with a detection
    window of 0: per calibration patient the peak probability over the
    scorings before the outcome, exposure = the encounters scored in."""
    by_patient = {}
    for i in idx:
        by_patient.setdefault(str(pats[i]), []).append((ats[i], float(p[i])))
    out = []
    for pid, rs in sorted(by_patient.items()):
        o = first.get(pid)
        usable = [q for t, q in rs if o is None or t < o]
        if not usable:
            continue
        spans = [(s, e) for s, e in stays.get(pid, []) if any(s <= t and (e is None or t <= e) for t, _ in rs)]
        start = min([s for s, _ in spans] + [min(t for t, _ in rs)])
        end = max([e for _, e in spans if e is not None] + [max(t for t, _ in rs)])
        out.append({"p": max(usable), "label": int(o is not None), "patient_id": pid,
                    "exposure_days": (end - start).total_seconds() / 86400})
    return out


def certified_threshold(rows, floor=PPV_FLOOR, confidence=0.95, budget=ALERT_BUDGET):
    """bedside_policy::certify's rule (see tools/train_demo_model.py)."""
    from scipy.stats import beta
    days = sum(r["exposure_days"] for r in rows)
    for t in sorted({r["p"] for r in rows}):
        alerted = [r for r in rows if r["p"] >= t]
        n, k = len(alerted), sum(r["label"] for r in alerted)
        lower = float(beta.ppf(1 - confidence, k, n - k + 1)) if k > 0 else 0.0
        if lower >= floor and days > 0 and 100 * n / days <= budget:
            return float(t)
    return None


def fmt(v, ci=None):
    if v is None:
        return "not available (too few events)"
    return f"{v:.3f}" + (f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features_csv")
    ap.add_argument("--cohort", default=os.path.join(ROOT, "..", "shared", "data", "deterioration-cohort"))
    args = ap.parse_args()
    names, X, meta = read_csv(args.features_csv)
    y, pats, spl, ats = meta["y"], meta["patient"], meta["split"], meta["at"]
    for pid, s in zip(pats, spl):
        if patient_split(pid) != s:
            sys.exit(f"split column disagrees with tools/split.py for a patient ({s})")
    first, stays = events_and_stays(args.cohort)
    before = np.array([pid not in first or t < first[pid] for pid, t in zip(pats, ats)])
    tr, ca, te = spl == "train", spl == "calibration", spl == "test"
    fit = tr & before
    print(f"rows {len(y)} (train {tr.sum()}, fitted {fit.sum()}, calibration {ca.sum()}, test {te.sum()}); "
          f"positive rows {y.sum()}")

    med = np.nanmedian(X[fit], axis=0)
    med = np.where(np.isnan(med), 0.0, med)
    Xi = np.where(np.isnan(X), med, X)
    mu, sd = Xi[fit].mean(axis=0), Xi[fit].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    lr = LogisticRegression(C=C, max_iter=5000, random_state=SEED).fit((Xi[fit] - mu) / sd, y[fit])
    # Fold the standardization into the coefficients: one linear model on raw inputs.
    raw = LogisticRegression()
    raw.classes_ = lr.classes_
    raw.coef_ = lr.coef_ / sd
    raw.intercept_ = lr.intercept_ - (lr.coef_ / sd) @ mu
    raw.n_features_in_ = X.shape[1]
    graph = to_onnx(raw, Xi[:1].astype(np.float32), options={id(raw): {"zipmap": False}},
                    target_opset={"": 13, "ai.onnx.ml": 1})
    graph.producer_name = "skl2onnx"
    onnx_path = os.path.join(PKG, "model.onnx")
    onnx.save_model(graph, onnx_path)
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    p_onnx = sess.run(None, {sess.get_inputs()[0].name: Xi.astype(np.float32)})[-1][:, 1]
    p_skl = raw.predict_proba(Xi)[:, 1]
    diff = float(np.max(np.abs(p_onnx - p_skl)))
    if diff > 1e-5:
        sys.exit(f"ONNX and sklearn disagree by {diff}")
    margin = raw.decision_function(Xi)

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(margin[ca].reshape(-1, 1), y[ca])
    p = platt.predict_proba(margin.reshape(-1, 1))[:, 1]
    rng = np.random.default_rng(SEED)
    ca_idx = np.where(ca)[0]
    va_idx = np.sort(rng.choice(ca_idx, size=min(1500, len(ca_idx)), replace=False))
    mc.dump_json(os.path.join(PKG, "calibration.json"), {
        "map": mc.platt_json(platt),
        "interval": mc.venn_abers_json(margin[va_idx], y[va_idx]),
    })
    cal_rows = calibration_rows(ca_idx, p, pats, ats, first, stays)
    mc.dump_json(os.path.join(PKG, "calibration_set.json"), {"rows": cal_rows})
    thr = certified_threshold(cal_rows)

    sex = demographics(args.cohort)
    sub_sizes = {"sex": {}}
    for pid in np.unique(pats[tr]):
        g = sex.get(pid, "unknown")
        sub_sizes["sex"][g] = sub_sizes["sex"].get(g, 0) + 1
    prof = mc.training_profile(X[tr], names, subgroups=sub_sizes, n_patients=len(np.unique(pats[tr])))
    mc.dump_json(os.path.join(PKG, "training_profile.json"), prof)

    test = point_metrics(p[te], y[te])
    test["patients"] = int(len(np.unique(pats[te])))
    test["positive_patients"] = int(len(np.unique(pats[te][y[te] == 1])))
    test["ci95"] = bootstrap(p[te], y[te], pats[te], np.random.default_rng(SEED + 1))
    metrics = {
        "split_rule": "tools/split.py: sha256(patient_id)[0] % 10: <6 train, <8 calibration, else test",
        "certified_threshold": thr,
        "threshold_rule": (f"the built-in alert policy: lowest patient-level peak probability whose 95% "
                           f"Clopper-Pearson lower bound on PPV is >= {PPV_FLOOR} with <= {ALERT_BUDGET:g} "
                           f"alerts per 100 patient-days on the calibration patients (null: none qualifies)"),
        "train": {"rows": int(tr.sum()), "rows_fitted": int(fit.sum()), "patients": int(len(np.unique(pats[tr]))),
                  "positives": int(y[fit].sum())},
        "calibration": {"rows": int(ca.sum()), "patients": int(len(np.unique(pats[ca]))),
                        "positives": int(y[ca].sum())},
        "test": test,
        "coefficients_per_sd": dict(zip(names, [float(c) for c in lr.coef_[0]])),
        "onnx_max_abs_diff_vs_sklearn": diff,
        "versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__},
        "model": f"LogisticRegression(C={C}), train-median imputation, standardization folded in",
    }
    mc.dump_json(os.path.join(PKG, "metrics.json"), metrics)
    mc.dump_json(os.path.join(PKG, "split.json"), {
        "rule": metrics["split_rule"],
        "train": sorted(set(pats[tr].tolist())),
        "calibration": sorted(set(pats[ca].tolist())),
        "test": sorted(set(pats[te].tolist())),
    })
    toml_path = os.path.join(PKG, "model.toml")
    text = open(toml_path).read()
    imp = ", ".join(repr(float(v)) for v in med)
    text = re.sub(r"\[scorer\]\n(?:[^\[\n][^\n]*\n)*",
                  '[scorer]\nkind = "onnx"\nfile = "model.onnx"\noutput = "probability"\n'
                  f"# Train medians (tools/train_deterioration_model.py), in feature order.\nimpute = [{imp}]\n",
                  text)
    open(toml_path, "w").write(text)
    with open(os.path.join(PKG, "card.md"), "w") as f:
        f.write(card(names, prof, metrics))
    print(json.dumps({k: test[k] for k in ("auroc", "auprc", "ece", "patients", "positive_patients")}))
    print(f"certified threshold: {thr}")


def card(names, prof, m):
    t, ci = m["test"], m["test"]["ci95"]
    NA = "Not available."
    train_groups = "; ".join(f"{g}: " + ", ".join(f"{k} {n}" for k, n in sorted(v.items()))
                             for g, v in prof["subgroups"].items())
    attrs = [
        ("Details and output", "Name and contact information for the intervention developer",
         "Bedside project (demo model, tools/train_deterioration_model.py); contact: the Bedside repository maintainers. No clinical organisation stands behind it."),
        ("Details and output", "Funding source of the intervention's development", NA + " (no external funding; open-source demonstration)"),
        ("Details and output", "Description of value that the intervention produces as an output",
         "A calibrated probability (0-100%) of death or transfer to intensive care within the next 24 hours, with a Venn-Abers interval and an out-of-distribution flag."),
        ("Details and output", "Output type (prediction, classification, recommendation, evaluation, analysis, other)", "Prediction."),
        ("Purpose", "Intended use", "Demonstration of deterioration screening on the ward, to prompt a nurse's and then a physician's review. Not for clinical use."),
        ("Purpose", "Intended patient population(s)", "Adults (18+) in an emergency or inpatient encounter with routinely charted vital signs."),
        ("Purpose", "Intended user(s)", "Ward nurses, physicians and rapid-response / ICU outreach teams, via CDS Hooks cards and worklist Tasks."),
        ("Purpose", "Intended decision-making role", "Informs: it prompts a review; it never replaces clinical judgement, NEWS2 escalation or orders anything."),
        ("Cautioned out-of-scope use", "Tasks, situations or populations where use is cautioned against",
         "Children; patients already in intensive care; comfort care; any real-patient use (trained on synthetic data)."),
        ("Cautioned out-of-scope use", "Known risks, inappropriate settings and uses, known limitations",
         "Trained on 360 synthetic patients; in this simulator deaths and ICU transfers follow the condition and its course more than the charted physiology, so the model learns little from vital signs; few events in the held-out split give wide intervals; no external validation."),
        ("Development details and input features", "Exclusion and inclusion criteria that influenced the training data set",
         "Patients of the synthetic deterioration cohort whose id falls in the train split; every scoring time during an active emergency or inpatient encounter (hourly at most, when an input changes) before the patient's first death or ICU transfer."),
        ("Development details and input features", "Use of race, ethnicity, language, sexual orientation, gender identity, sex, date of birth, SDOH, health status assessments as input features",
         "Sex (administrative, as 1 = male) and date of birth (as age in years) are inputs. Race, ethnicity, language, sexual orientation, gender identity, social determinants of health and health status assessments are not inputs."),
        ("Development details and input features", "Demographic representativeness of the training data", f"Training patients by subgroup: {train_groups}."),
        ("Development details and input features", "Relevance of training data to the intended deployed setting",
         "Low: synthetic patients (clinosim 0.6.5); real deployments must run in silent mode and be evaluated locally first."),
        ("Fairness", "Approach to ensure the output is fair", "Race and ethnicity are not inputs; monitoring reports every metric by subgroup."),
        ("Fairness", "Approaches to manage, reduce or eliminate bias", NA + " No reweighting or constraint was applied."),
        ("External validation", "Data source, clinical setting or environment of external validation", NA + " No external validation has been done."),
        ("External validation", "Party that conducted the external testing", NA),
        ("External validation", "Demographic representativeness of external data", NA),
        ("External validation", "Description of the external validation process", NA),
        ("Quantitative measures of performance", "Validity in test data from the same source as the training data",
         f"Held-out patients ({t['patients']}, {t['rows']} scoring rows): AUROC {fmt(t['auroc'], ci['auroc'])}, AUPRC {fmt(t['auprc'], ci['auprc'])}, ECE {fmt(t['ece'], ci['ece'])}."),
        ("Quantitative measures of performance", "Fairness in test data from the same source as the training data", NA + " Too few events per subgroup in the held-out split."),
        ("Quantitative measures of performance", "Validity in external data", NA),
        ("Quantitative measures of performance", "Fairness in external data", NA),
        ("Quantitative measures of performance", "References to evaluation of use on outcomes", NA + " No outcome study exists."),
        ("Ongoing maintenance", "Process and frequency by which validity is monitored over time",
         "Bedside monitoring links each prediction to the outcome after the horizon and reports rolling AUROC, AUPRC, calibration (ECE), live PPV and input drift against this training profile, continuously."),
        ("Ongoing maintenance", "Validity of the intervention in local data", NA + " Measure locally in silent mode before go-live."),
        ("Ongoing maintenance", "Process and frequency by which fairness is monitored over time",
         "The same monitoring metrics are computed per subgroup (age band, sex, race/ethnicity, unit); a breach opens a governance task for the model owner."),
        ("Ongoing maintenance", "Fairness of the intervention in local data", NA + " Measure locally in silent mode before go-live."),
        ("Update schedule", "Process and frequency by which the intervention is updated",
         "Retrain with scripts/train-deterioration.sh when monitoring shows drift or a metric breach; a new version is a new package version validated with `bedside model validate`."),
        ("Update schedule", "Frequency by which performance is corrected when validity or fairness risks are identified",
         NA + " No fixed schedule; corrections follow governance review of a monitoring alarm."),
    ]
    assert len(attrs) == 31, len(attrs)
    attr_rows = "\n".join(f"| {i + 1} | {g} | {a} | {v} |" for i, (g, a, v) in enumerate(attrs))
    coef = "\n".join(f"| {k} | {v:+.3f} |" for k, v in sorted(m["coefficients_per_sd"].items(), key=lambda kv: -abs(kv[1])))
    thr = m["certified_threshold"]
    thr_text = (f"{thr:.3f}" if thr is not None else
                "none: no threshold meets the built-in policy's PPV floor within its alert budget on the "
                "calibration patients, so under that policy this model alerts on nothing")
    return f"""# Clinical deterioration (demo) - model facts

**Demonstration model trained on synthetic patients. Not for clinical use.**

Version 0.1.0: L2 logistic regression (scikit-learn {m['versions']['scikit-learn']}, C = {C}), exported to
ONNX with skl2onnx {m['versions']['skl2onnx']} (one `LinearClassifier`; largest difference from
scikit-learn's own probabilities on every row: {m['onnx_max_abs_diff_vs_sklearn']:.1e}).

## What it predicts

The probability that the patient dies in hospital or is transferred to
intensive care within the next 24 hours. Outcome label for a scoring time:
the inpatient Encounter ends with discharge disposition `exp` (died) at a
time within 24 hours after it, or the Encounter gains a `classHistory`
entry of class `ACUTE` (ICU) starting within 24 hours after it. Events
before the scoring time do not count.

## Who it was trained on

The deterioration cohort: 360 synthetic patients (clinosim 0.6.5) with
stable and deteriorating stays of severe infection, stroke, trauma, burns, MI,
pneumonia, UTI, cellulitis, COPD and appendicitis. Patient-level split by the
project-wide rule ({m['split_rule']}): train {m['train']['patients']} patients
({m['train']['rows_fitted']} rows before any event were fitted), calibration
{m['calibration']['patients']} patients, held-out test {t['patients']} patients
({t['rows']} rows, {t['positive_patients']} patients with an event within 24 h of a scoring).
Features were exported by `bedside features`, the code that scores online.

## Inputs

{", ".join(names)}. A missing input is replaced by the training median
before scoring (`scorer.impute`); the out-of-distribution guard flags
inputs outside the training range, more than half the inputs missing, or an
unusual combination.

Coefficients (log-odds per training standard deviation):

| input | coefficient |
|---|---|
{coef}

## Performance on the held-out patients

95% intervals are percentile bootstrap over patients ({BOOT} resamples).

| metric | value |
|---|---|
| AUROC | {fmt(t['auroc'], ci['auroc'])} |
| AUPRC | {fmt(t['auprc'], ci['auprc'])} |
| ECE (10 bins) | {fmt(t['ece'], ci['ece'])} |
| certified threshold | {thr_text} |

`bedside evaluate` reports the same rows next to NEWS2 at the same alert rate
(README, "Deterioration model").

## Known limits

- Synthetic data from one simulator, in which deaths and ICU transfers are
  drawn from the condition and its course more than from the charted vital
  signs: discrimination is weak, and NEWS2 is no better here.
- Few events in the held-out split: wide intervals.
- No external validation; no outcome study.

## When to be skeptical

- The card says "outside the training population" (reasons listed).
- Many inputs are missing (no recent vital signs or labs).
- The patient is already in intensive care or on comfort care.

## How to override

Every card has "disagree" with a coded reason. Overrides are recorded and
monitored; they never change the patient's care automatically. Clinical
judgement and the ward's NEWS2 escalation always take precedence.

## HTI-1 source attributes (45 CFR 170.315(b)(11)(iv)(B))

| # | group | attribute | value |
|---|---|---|---|
{attr_rows}
"""


if __name__ == "__main__":
    main()
