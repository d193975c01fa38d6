#!/usr/bin/env python3
"""Train the demo sepsis model and write the package models/sepsis-demo/.

Features come from Bedside's own feature code (no train/serve skew):

    export CARGO_TARGET_DIR=...   # any
    cargo run -p bedside-cli --release -- features /work/shared/data/dev-cohort \
        --model models/sepsis-demo --out /tmp/sepsis-features.csv
    pip install lightgbm scikit-learn numpy
    python3 tools/train_demo_model.py /tmp/sepsis-features.csv \
        --cohort /work/shared/data/dev-cohort

The CSV has one row per scoring time: patient_id, encounter_id, at, split,
label, then one column per feature of models/sepsis-demo/model.toml (empty =
missing). The label is the package's outcome rule (OutcomeSpec::label).

Steps (all seeded, no tuning on the held-out split):
- patient-level split from tools/split.py (train 60% / calibration 20% /
  test 20%, by SHA-256 of the patient id), the same rule as Rust
  bedside_models::split;
- LightGBM on the train rows with fixed hyper-parameters;
- isotonic calibration (sklearn, out_of_bounds="clip") of the margin on the
  calibration rows; Venn-Abers interval from (a seeded sample of at most
  1500 of) the calibration rows;
- decision threshold: the built-in alert policy's certified threshold
  (Clopper-Pearson, as bedside_policy::certify) on the patient-level
  calibration set (the script stops if it cannot be certified);
- on the held-out test rows: AUROC, AUPRC, ECE (10 equal-width bins),
  sensitivity and PPV at the threshold, each with a 95% percentile bootstrap
  interval over patients (500 resamples); subgroup metrics by age band,
  sex, race and ethnicity;
- training profile (per-feature ranges/quantiles/missingness, Mahalanobis
  block, subgroup sizes) for the out-of-distribution guard;
- card.md with the 31 HTI-1 source attributes (45 CFR 170.315(b)(11)(iv)(B)).
"""
import argparse
import csv
import datetime as dt
import gzip
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import models_common as mc  # noqa: E402
from split import split as patient_split  # noqa: E402

import lightgbm as lgb  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402

PKG = os.path.join(ROOT, "models", "sepsis-demo")
# model.toml's outcome.detection_window_hours (screening at and after admission).
DETECTION_WINDOW_HOURS = 6.0
SEED = 17
PARAMS = dict(
    objective="binary", num_leaves=15, learning_rate=0.05, min_data_in_leaf=40,
    feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, lambda_l2=1.0,
    seed=SEED, deterministic=True, num_threads=1, verbose=-1,
)
ROUNDS = 150
# The built-in alert policy's certification (bedside_policy defaults).
PPV_FLOOR = 0.2
ALERT_BUDGET = 5.0
BOOT = 500


def read_csv(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    fixed = ["patient_id", "encounter_id", "at", "split", "label"]
    if header[:5] != fixed:
        sys.exit(f"unexpected CSV header {header[:5]}, expected {fixed}")
    names = header[5:]
    X = np.array([[float(v) if v != "" else np.nan for v in row[5:]] for row in rows], dtype=float)
    meta = {
        "patient": np.array([row[0] for row in rows]),
        "encounter": np.array([row[1] for row in rows]),
        "at": [row[2] for row in rows],
        "split": np.array([row[3] for row in rows]),
        "y": np.array([int(row[4]) for row in rows]),
    }
    return names, X, meta


def demographics(cohort):
    out = {}
    with gzip.open(os.path.join(cohort, "Patient.ndjson.gz"), "rt") as f:
        for line in f:
            p = json.loads(line)
            d = {"sex": p.get("gender", "unknown"), "race": "not recorded", "ethnicity": "not recorded",
                 "birth": p.get("birthDate")}
            for ext in p.get("extension", []):
                key = {"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race": "race",
                       "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity": "ethnicity"}.get(ext.get("url"))
                if key:
                    for e in ext.get("extension", []):
                        if e.get("url") == "ombCategory":
                            d[key] = e["valueCoding"].get("display", d[key])
            out[p["id"]] = d
    return out


def _instant(s):
    s = s.replace("Z", "+00:00")
    if len(s) == 10:
        s += "T00:00:00+00:00"
    return dt.datetime.fromisoformat(s)


def outcome_and_stays(cohort, prefixes=("A40", "A41", "R65.2"), window_hours=6.0):
    """Per patient: the earliest sepsis Condition time (onset, else recorded)
    and the encounter periods, read from the cohort the way Rust's
    OutcomeSpec and `bedside evaluate` read them."""
    systems = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
    onset = {}
    with gzip.open(os.path.join(cohort, "Condition.ndjson.gz"), "rt") as f:
        for line in f:
            c = json.loads(line)
            codes = [x for x in c.get("code", {}).get("coding", []) if x.get("system") in systems]
            if not any(str(x.get("code", "")).startswith(prefixes) for x in codes):
                continue
            t = c.get("onsetDateTime") or c.get("recordedDate")
            if not t:
                continue
            pid = c["subject"]["reference"].split("/")[-1]
            t = _instant(t)
            onset[pid] = min(onset.get(pid, t), t)
    encounters = {}
    with gzip.open(os.path.join(cohort, "Encounter.ndjson.gz"), "rt") as f:
        for line in f:
            e = json.loads(line)
            per = e.get("period", {})
            if "start" in per:
                pid = e["subject"]["reference"].split("/")[-1]
                end = _instant(per["end"]) if "end" in per else None
                encounters.setdefault(pid, []).append((_instant(per["start"]), end))
    return onset, encounters


def patient_calibration_rows(idx, p, pats, ats, onset, encounters, window_hours):
    """One alerting unit per calibration patient, the rule of Rust's
    bedside_policy::evaluate::patient_calibration_set: the peak calibrated
    probability over the scorings that could still detect the outcome
    (before it, or up to `window_hours` after it), positive if the patient
    has the outcome; exposure = the length of the encounters scored in."""
    window = dt.timedelta(hours=window_hours)
    by_patient = {}
    for i in idx:
        by_patient.setdefault(str(pats[i]), []).append((_instant(ats[i]), float(p[i])))
    out = []
    for pid, rs in sorted(by_patient.items()):
        o = onset.get(pid)
        usable = [q for t, q in rs if o is None or t < o or (window_hours > 0 and t <= o + window)]
        if not usable:
            continue
        spans = [(s, e) for s, e in encounters.get(pid, []) if any(s <= t and (e is None or t <= e) for t, _ in rs)]
        start = min([s for s, _ in spans] + [min(t for t, _ in rs)])
        end = max([e for _, e in spans if e is not None] + [max(t for t, _ in rs)])
        out.append({"p": max(usable), "label": int(o is not None), "patient_id": pid,
                    "exposure_days": (end - start).total_seconds() / 86400})
    return out


def age_band(age):
    if age is None or math.isnan(age):
        return "unknown"
    return "18-44" if age < 45 else "45-64" if age < 65 else "65-79" if age < 80 else "80+"


def ece(p, y, bins=10):
    b = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[b == k].sum() - y[b == k].sum()) for k in range(bins)) / len(p))


def point_metrics(p, y, thr):
    out = {"rows": int(len(y)), "positives": int(y.sum())}
    both = 0 < y.sum() < len(y)
    out["auroc"] = float(roc_auc_score(y, p)) if both else None
    out["auprc"] = float(average_precision_score(y, p)) if y.sum() > 0 else None
    out["ece"] = ece(p, y) if len(y) else None
    flag = p >= thr
    tp = int((flag & (y == 1)).sum())
    out["sensitivity"] = tp / int(y.sum()) if y.sum() > 0 else None
    out["ppv"] = tp / int(flag.sum()) if flag.sum() > 0 else None
    out["alerts"] = int(flag.sum())
    return out


def bootstrap(p, y, patients, thr, rng):
    ids = np.unique(patients)
    idx_of = {pid: np.where(patients == pid)[0] for pid in ids}
    keys = ["auroc", "auprc", "ece", "sensitivity", "ppv"]
    samples = {k: [] for k in keys}
    for _ in range(BOOT):
        pick = rng.choice(ids, size=len(ids), replace=True)
        idx = np.concatenate([idx_of[i] for i in pick])
        m = point_metrics(p[idx], y[idx], thr)
        for k in keys:
            if m[k] is not None:
                samples[k].append(m[k])
    return {k: ([float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) >= BOOT // 2 else None)
            for k, v in samples.items()}


def certified_threshold(rows, floor=PPV_FLOOR, confidence=0.95, budget=ALERT_BUDGET):
    """The alert policy's certified threshold, by the rule of Rust's
    bedside_policy::certify (checked there against this same scipy
    quantile): the lowest patient-level peak score whose one-sided exact
    Clopper-Pearson lower bound on PPV reaches `floor` with at most `budget`
    alerts per 100 patient-days; None when no score qualifies."""
    from scipy.stats import beta
    days = sum(r["exposure_days"] for r in rows)
    for t in sorted({r["p"] for r in rows}):
        alerted = [r for r in rows if r["p"] >= t]
        n, k = len(alerted), sum(r["label"] for r in alerted)
        lower = float(beta.ppf(1 - confidence, k, n - k + 1)) if k > 0 else 0.0
        if lower >= floor and days > 0 and 100 * n / days <= budget:
            return float(t)
    return None


def fmt(v, ci=None, pct=False):
    if v is None:
        return "not available (too few events)"
    s = f"{v * 100:.1f}%" if pct else f"{v:.3f}"
    if ci:
        lo, hi = ci
        s += f" (95% CI {lo * 100:.1f}-{hi * 100:.1f}%)" if pct else f" (95% CI {lo:.3f}-{hi:.3f})"
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features_csv")
    ap.add_argument("--cohort", default="/work/shared/data/dev-cohort")
    args = ap.parse_args()
    names, X, meta = read_csv(args.features_csv)
    y, pats, spl = meta["y"], meta["patient"], meta["split"]
    # The CSV's split column must be the shared rule.
    for pid, s in zip(pats, spl):
        if patient_split(pid) != s:
            sys.exit(f"split column disagrees with tools/split.py for a patient ({s})")
    tr, ca, te = spl == "train", spl == "calibration", spl == "test"
    print(f"rows {len(y)} (train {tr.sum()}, calibration {ca.sum()}, test {te.sum()}); positives {y.sum()}")

    ds = lgb.Dataset(X[tr], y[tr], feature_name=names, free_raw_data=False)
    booster = lgb.train(PARAMS, ds, num_boost_round=ROUNDS)
    model_path = os.path.join(PKG, "model.txt")
    booster.save_model(model_path)
    b = lgb.Booster(model_file=model_path)
    margin = b.predict(X, raw_score=True)

    iso = IsotonicRegression(out_of_bounds="clip").fit(margin[ca], y[ca])
    p = iso.predict(margin)
    rng = np.random.default_rng(SEED)
    ca_idx = np.where(ca)[0]
    va_idx = np.sort(rng.choice(ca_idx, size=min(1500, len(ca_idx)), replace=False))
    mc.dump_json(os.path.join(PKG, "calibration.json"), {
        "map": mc.isotonic_json(iso),
        "interval": mc.venn_abers_json(margin[va_idx], y[va_idx]),
    })
    onset, encounters = outcome_and_stays(args.cohort)
    cal_rows = patient_calibration_rows(ca_idx, p, pats, meta["at"], onset, encounters, DETECTION_WINDOW_HOURS)
    mc.dump_json(os.path.join(PKG, "calibration_set.json"), {"rows": cal_rows})
    thr = certified_threshold(cal_rows)
    if thr is None:
        sys.exit("the built-in policy cannot certify a threshold on the calibration set")

    demo = demographics(args.cohort)
    age = X[:, names.index("age")] if "age" in names else np.full(len(y), np.nan)
    groups = {
        "age_band": np.array([age_band(a) for a in age]),
        "sex": np.array([demo.get(pid, {}).get("sex", "unknown") for pid in pats]),
        "race": np.array([demo.get(pid, {}).get("race", "not recorded") for pid in pats]),
        "ethnicity": np.array([demo.get(pid, {}).get("ethnicity", "not recorded") for pid in pats]),
    }
    sub_sizes = {g: {str(k): int(len(np.unique(pats[tr][v[tr] == k]))) for k in np.unique(v[tr])}
                 for g, v in groups.items()}
    prof = mc.training_profile(X[tr], names, subgroups=sub_sizes, n_patients=len(np.unique(pats[tr])))
    mc.dump_json(os.path.join(PKG, "training_profile.json"), prof)

    overall = point_metrics(p[te], y[te], thr)
    overall["patients"] = int(len(np.unique(pats[te])))
    overall["positive_patients"] = int(len(np.unique(pats[te][y[te] == 1])))
    overall["ci95"] = bootstrap(p[te], y[te], pats[te], thr, np.random.default_rng(SEED + 1))
    subgroups = {}
    for g, v in groups.items():
        subgroups[g] = {}
        for k in np.unique(v[te]):
            m = v[te] == k
            sm = point_metrics(p[te][m], y[te][m], thr)
            sm["patients"] = int(len(np.unique(pats[te][m])))
            subgroups[g][str(k)] = sm
    metrics = {
        "split_rule": "tools/split.py: sha256(patient_id)[0] % 10: <6 train, <8 calibration, else test",
        "threshold": thr,
        "threshold_rule": (f"the built-in alert policy's certified threshold: lowest patient-level peak "
                           f"probability whose 95% Clopper-Pearson lower bound on PPV is >= {PPV_FLOOR} "
                           f"with <= {ALERT_BUDGET:g} alerts per 100 patient-days on the calibration patients"),
        "train": {"rows": int(tr.sum()), "patients": int(len(np.unique(pats[tr]))), "positives": int(y[tr].sum())},
        "calibration": {"rows": int(ca.sum()), "patients": int(len(np.unique(pats[ca]))), "positives": int(y[ca].sum())},
        "test": overall,
        "test_subgroups": subgroups,
        "lightgbm": lgb.__version__,
        "params": PARAMS,
        "rounds": ROUNDS,
    }
    mc.dump_json(os.path.join(PKG, "metrics.json"), metrics)
    mc.dump_json(os.path.join(PKG, "split.json"), {
        "rule": metrics["split_rule"],
        "train": sorted(set(pats[tr].tolist())),
        "calibration": sorted(set(pats[ca].tolist())),
        "test": sorted(set(pats[te].tolist())),
    })
    # Benchmark rows (held-out features) for crates/models benches.
    mc.dump_json(os.path.join(PKG, "bench_rows.json"), {
        "rows": [[None if math.isnan(v) else float(v) for v in r] for r in X[te][:200]]})
    with open(os.path.join(PKG, "card.md"), "w") as f:
        f.write(card(names, prof, metrics, b))
    print(json.dumps({k: metrics["test"][k] for k in ("auroc", "auprc", "ece", "sensitivity", "ppv", "patients")}))


def card(names, prof, m, booster):
    t = m["test"]
    ci = t["ci95"]
    today = dt.date.today().isoformat()
    feats = ", ".join(names)
    sub_lines = []
    for g, groups in m["test_subgroups"].items():
        for k, s in groups.items():
            sub_lines.append(
                f"| {g} | {k} | {s['patients']} | {s['rows']} | {s['positives']} | "
                f"{fmt(s['auroc'])} | {fmt(s['sensitivity'], pct=True)} | {fmt(s['ppv'], pct=True)} |")
    train_groups = "; ".join(
        f"{g}: " + ", ".join(f"{k} {n}" for k, n in sorted(v.items())) for g, v in prof["subgroups"].items())
    NA = "Not available."
    attrs = [
        ("Details and output", "Name and contact information for the intervention developer",
         "Bedside project (demo model, tools/train_demo_model.py); contact: the Bedside repository maintainers. No clinical organisation stands behind it."),
        ("Details and output", "Funding source of the intervention's development", NA + " (no external funding; open-source demonstration)"),
        ("Details and output", "Description of value that the intervention produces as an output",
         "A calibrated probability (0-100%) that the patient has or will be diagnosed with sepsis within 24 hours, with a Venn-Abers interval, the top contributing inputs (exact TreeSHAP) and an out-of-distribution flag."),
        ("Details and output", "Output type (prediction, classification, recommendation, evaluation, analysis, other)", "Prediction."),
        ("Purpose", "Intended use", "Demonstration of sepsis screening at and after emergency/inpatient admission, to prompt a clinician's sepsis assessment. Not for clinical use."),
        ("Purpose", "Intended patient population(s)", "Adults (18+) in an emergency or inpatient encounter with routinely charted vital signs."),
        ("Purpose", "Intended user(s)", "Clinicians responsible for the patient (physicians, nurses, rapid-response teams), via CDS Hooks cards."),
        ("Purpose", "Intended decision-making role", "Informs: it prompts an assessment; it never replaces clinical judgement or orders anything."),
        ("Cautioned out-of-scope use", "Tasks, situations or populations where use is cautioned against",
         "Children; outpatients; ICU-only monitoring streams; any real-patient use (trained on synthetic data); predicting sepsis many hours ahead (the label is dominated by sepsis present at admission)."),
        ("Cautioned out-of-scope use", "Known risks, inappropriate settings and uses, known limitations",
         "Trained on 300 synthetic patients from one simulator; values are cleaner than real charting; small held-out set gives wide intervals; sepsis is recorded at admission in this data, so early warning ability is unproven; no external validation."),
        ("Development details and input features", "Exclusion and inclusion criteria that influenced the training data set",
         "All patients of the synthetic dev cohort whose id falls in the train split; every scoring time during an active emergency or inpatient encounter (hourly at most, when an input changes). No exclusions."),
        ("Development details and input features", "Use of race, ethnicity, language, sexual orientation, gender identity, sex, date of birth, SDOH, health status assessments as input features",
         "Sex (administrative, as 1 = male) and date of birth (as age in years) are inputs. Race, ethnicity, language, sexual orientation, gender identity, social determinants of health and health status assessments are not inputs."),
        ("Development details and input features", "Demographic representativeness of the training data",
         f"Training patients by subgroup: {train_groups}."),
        ("Development details and input features", "Relevance of training data to the intended deployed setting",
         "Low: synthetic patients (clinosim 0.6.5) with emergency then inpatient encounters; real deployments must run in silent mode and be evaluated locally first."),
        ("Fairness", "Approach to ensure the output is fair",
         "Subgroup performance (age band, sex, race, ethnicity) is measured on the held-out split and reported below; race and ethnicity are not inputs; monitoring reports every metric by subgroup."),
        ("Fairness", "Approaches to manage, reduce or eliminate bias", NA + " No reweighting or constraint was applied; subgroups are too small in this cohort to adjust reliably."),
        ("External validation", "Data source, clinical setting or environment of external validation", NA + " No external validation has been done."),
        ("External validation", "Party that conducted the external testing", NA),
        ("External validation", "Demographic representativeness of external data", NA),
        ("External validation", "Description of the external validation process", NA),
        ("Quantitative measures of performance", "Validity in test data from the same source as the training data",
         f"Held-out patients ({t['patients']}, {t['rows']} scoring rows): AUROC {fmt(t['auroc'], ci['auroc'])}, AUPRC {fmt(t['auprc'], ci['auprc'])}, ECE {fmt(t['ece'], ci['ece'])}."),
        ("Quantitative measures of performance", "Fairness in test data from the same source as the training data", "See the subgroup table below."),
        ("Quantitative measures of performance", "Validity in external data", NA),
        ("Quantitative measures of performance", "Fairness in external data", NA),
        ("Quantitative measures of performance", "References to evaluation of use on outcomes", NA + " No outcome study exists."),
        ("Ongoing maintenance", "Process and frequency by which validity is monitored over time",
         "Bedside monitoring links each prediction to the outcome after the horizon and reports rolling AUROC, AUPRC, calibration (ECE), live PPV against the certified floor and input drift against this training profile, continuously."),
        ("Ongoing maintenance", "Validity of the intervention in local data", NA + " Measure locally in silent mode before go-live."),
        ("Ongoing maintenance", "Process and frequency by which fairness is monitored over time",
         "The same monitoring metrics are computed per subgroup (age band, sex, race/ethnicity, unit); a breach opens a governance task for the model owner."),
        ("Ongoing maintenance", "Fairness of the intervention in local data", NA + " Measure locally in silent mode before go-live."),
        ("Update schedule", "Process and frequency by which the intervention is updated",
         "Retrain with tools/train_demo_model.py when monitoring shows drift or a metric breach; a new version is a new package version validated with `bedside model validate`."),
        ("Update schedule", "Frequency by which performance is corrected when validity or fairness risks are identified",
         NA + " No fixed schedule; corrections follow governance review of a monitoring alarm."),
    ]
    assert len(attrs) == 31, len(attrs)
    attr_rows = "\n".join(f"| {i + 1} | {g} | {a} | {v} |" for i, (g, a, v) in enumerate(attrs))
    return f"""# Sepsis screening (demo) - model facts

**Demonstration model trained on synthetic patients. Not for clinical use.**

Version 0.1.0, trained {today} with LightGBM {m['lightgbm']} ({m['rounds']} trees of at most
{PARAMS['num_leaves']} leaves, fixed hyper-parameters, seed {SEED}).

## What it predicts

The probability that the patient has sepsis now or is diagnosed with it within
the next 24 hours. Outcome label for a scoring time: the patient has a
Condition coded ICD-10-CM A40*, A41* or R65.2* whose onset is at or before 24
hours after the scoring time and that is not abated before it. In this cohort
sepsis is recorded at admission, so the model mostly recognises sepsis that is
already present; it is a screening aid at and after admission, not an early
warning hours ahead.

## Who it was trained on

The dev cohort: 300 synthetic patients (clinosim 0.6.5), each with an
emergency and an inpatient encounter; 40 have sepsis. Patient-level split by
the project-wide rule ({m['split_rule']}): train {m['train']['patients']}
patients ({m['train']['rows']} scoring rows, {m['train']['positives']} positive),
calibration {m['calibration']['patients']} patients ({m['calibration']['rows']} rows),
held-out test {t['patients']} patients ({t['rows']} rows, {t['positive_patients']} with sepsis).
Features were exported by `bedside features`, the same code that scores online.

## Inputs

{feats}. Missing values are allowed (the trees route them); the card's
out-of-distribution guard flags inputs outside the training range, more than
half the inputs missing, or an unusual combination (Mahalanobis distance above
the training 99th percentile).

## Performance on the held-out patients

95% intervals are percentile bootstrap over patients ({BOOT} resamples).

| metric | value |
|---|---|
| AUROC | {fmt(t['auroc'], ci['auroc'])} |
| AUPRC | {fmt(t['auprc'], ci['auprc'])} |
| ECE (10 bins) | {fmt(t['ece'], ci['ece'])} |
| threshold | {m['threshold']:.3f} ({m['threshold_rule']}) |
| sensitivity at threshold | {fmt(t['sensitivity'], ci['sensitivity'], pct=True)} |
| PPV at threshold | {fmt(t['ppv'], ci['ppv'], pct=True)} |

Rows are scoring times (several per patient), so the intervals account for
within-patient correlation by resampling patients. The policy certifies its
own alerting threshold from `calibration_set.json`.

### By subgroup (held-out patients)

| attribute | group | patients | rows | positive rows | AUROC | sensitivity | PPV |
|---|---|---|---|---|---|---|---|
{chr(10).join(sub_lines)}

Groups with few patients give unstable numbers; "not available" means the
group had no positive (or no negative) rows.

## Known limits

- Synthetic, simulator-generated data from one source; no real patients.
- Small held-out set ({t['patients']} patients): wide intervals.
- Sepsis is recorded at admission in this data: early-warning ability untested.
- No external validation; no outcome (mortality, length-of-stay) evaluation.

## When to be skeptical

- The card says "outside the training population" (out-of-distribution reasons listed).
- Many inputs are missing (no recent labs) or the values are implausible.
- Children, pregnancy, ICU-only streams, or conditions absent from the dev cohort.
- The probability interval is wide: the calibration data pins it down poorly.

## How to override

Every card has "disagree" with a reason (not sepsis / already treated / other).
Overrides are recorded and monitored; they never change the patient's care
automatically. Clinical judgement always takes precedence.

## HTI-1 source attributes (45 CFR 170.315(b)(11)(iv)(B))

| # | group | attribute | value |
|---|---|---|---|
{attr_rows}
"""


if __name__ == "__main__":
    main()
