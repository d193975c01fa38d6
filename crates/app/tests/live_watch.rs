//! The live watch: each promise-keeping alarm is driven by a real breach
//! through to the model owner's governance Task, and a stationary replay
//! raises none of them.
//!
//! The stream is the committed demo cohort (the resource types the sepsis
//! model and its outcome read) repeated `COPIES` times (the stationary and
//! OOD tests: `SHORT_COPIES`), each copy with its
//! own ids and shifted `PERIOD_DAYS` later, replayed in `BATCH_HOURS`
//! batches of data time through the real ingest path with the sepsis
//! screening use case live and the governance pathway loaded; governance
//! is evaluated after each batch (every 7 days of data) and once more at
//! the data clock. The breaches:
//! - per-alert PPV: the outcomes are never recorded (no sepsis Condition
//!   reaches Bedside), so no alert is followed by the outcome;
//! - alert budget: the case mix is the patients the model alerts on (found
//!   by a first, stationary replay), so alerts per patient-day rise far
//!   above what was certified;
//! - out of distribution: heart rates arrive in the wrong unit (x 9, above
//!   every training value), so the guard puts most predictions outside
//!   the validated population.

use bedside_app::governance::AlarmRecord;
use bedside_app::pathway_rt::TASK;
use bedside_app::{App, AppConfig, ImportSummary};
use bedside_monitor::alarms::AlarmKind;
use bedside_store::DocFilter;
use bedside_views::monitoring::MonitoringConfig;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

// 12: with one alert per stay (the built-in defaults) the septic case mix
// needs this many patient-days for its excess over the budget to be
// significant (3 copies: 6.7 per 100 patient-days, lower bound 3.9).
const COPIES: i64 = 12;
// The stationary replay and the OOD test (heart rates x 9 put most
// predictions outside) need no more than 3 copies; the whole cohort at 12
// copies costs minutes of test time.
const SHORT_COPIES: i64 = 3;
const PERIOD_DAYS: i64 = 125;
const BATCH_HOURS: i64 = 6;
const TYPES: [&str; 5] = [
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "PractitionerRole",
];
const HEART_RATE: &str = "8867-4";
const MODEL: &str = "sepsis-demo";
const WATCH: [AlarmKind; 3] = [
    AlarmKind::PpvBelowFloor,
    AlarmKind::AlertBudget,
    AlarmKind::OodRate,
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shift_time(s: &str, by: Duration) -> Option<String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(
            (t.with_timezone(&Utc) + by).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some((d + by).format("%Y-%m-%d").to_string())
}

/// New ids (suffix), references to them, and every date shifted.
fn rewrite(v: &mut Value, suffix: &str, by: Duration, top: bool) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), &*x) {
                    ("id", Value::String(s)) if top => *x = Value::String(format!("{s}{suffix}")),
                    ("reference", Value::String(s)) if s.contains('/') => {
                        *x = Value::String(format!("{s}{suffix}"))
                    }
                    (_, Value::String(s)) => {
                        if let Some(t) = shift_time(s, by) {
                            *x = Value::String(t);
                        }
                    }
                    _ => rewrite(x, suffix, by, false),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, suffix, by, false)),
        _ => {}
    }
}

fn read(path: &Path) -> Vec<Value> {
    let r = bedside_app::replay::open_lines(path).unwrap();
    r.lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect()
}

fn patient_of(r: &Value) -> Option<String> {
    if r["resourceType"] == "Patient" {
        return r["id"].as_str().map(str::to_string);
    }
    r["subject"]["reference"]
        .as_str()
        .and_then(|s| s.strip_prefix("Patient/"))
        .map(str::to_string)
}

fn has_code(r: &Value, code: &str) -> bool {
    r["code"]["coding"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["code"] == code))
}

/// What a breach changes: `Some(resource)` to keep (changed or not),
/// `None` to drop.
type Transform<'a> = &'a dyn Fn(Value) -> Option<Value>;

/// Write the repeated cohort (only `patients` when given) as NDJSON.
fn build_cohort(out: &Path, patients: Option<&BTreeSet<String>>, change: Transform, copies: i64) {
    let src = root().join("demo/cohort");
    for f in bedside_app::replay::ndjson_files(&src).unwrap() {
        let name = f.file_name().unwrap().to_string_lossy().replace(".gz", "");
        if !TYPES.iter().any(|t| name.starts_with(&format!("{t}."))) {
            continue;
        }
        let mut w = std::io::BufWriter::new(std::fs::File::create(out.join(name)).unwrap());
        for r in read(&f) {
            let pid = patient_of(&r);
            if let (Some(keep), Some(p)) = (patients, &pid) {
                if !keep.contains(p) {
                    continue;
                }
            }
            let Some(r) = change(r) else { continue };
            for k in 0..copies {
                let mut x = r.clone();
                rewrite(
                    &mut x,
                    &format!("-c{k}"),
                    Duration::days(k * PERIOD_DAYS),
                    true,
                );
                writeln!(w, "{x}").unwrap();
            }
        }
    }
}

async fn open(dir: &Path, uc_dir: &Path, copies: i64) -> App {
    let uc = bedside_test_support::use_cases::sepsis(uc_dir, "stage = \"live\"");
    let config = AppConfig::sqlite(dir)
        .use_case(uc)
        .pathway(root().join("pathways/model-governance.bpmn"));
    let app = App::open(config).await.unwrap();
    // The window holds every copy: enough alerts for a confident bound.
    let mut cfg = MonitoringConfig {
        window_hours: (copies * PERIOD_DAYS * 24) as f64,
        reference_hours: (copies * PERIOD_DAYS * 24) as f64,
        evaluate_every_hours: 24.0 * 7.0,
        ..Default::default()
    };
    // The watch alone: drift, overrides and fairness have tests of their own.
    cfg.alarms.drift.psi_limit = 1e9;
    cfg.alarms.drift.missingness_increase = 0.999;
    cfg.alarms.fairness.alarm_on_breach = false;
    app.views().set_monitoring_config(cfg);
    app
}

/// Replay in `BATCH_HOURS` batches of data time; governance after each,
/// and once more at the data clock.
async fn replay(app: &App, dir: &Path) {
    let lines = bedside_app::replay::read_dir_sorted(dir).unwrap();
    let mut summary = ImportSummary::default();
    let bucket = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp().div_euclid(BATCH_HOURS * 3600));
    let mut i = 0;
    while i < lines.len() {
        let b = bucket(lines[i].time);
        let mut j = i;
        while j < lines.len() && bucket(lines[j].time) == b {
            j += 1;
        }
        let raws = lines[i..j].iter().map(|l| l.bytes.clone()).collect();
        app.ingest_lines(raws, &mut summary).await.unwrap();
        app.after_replay_chunk(lines[i..j].iter().filter_map(|l| l.time).max())
            .await
            .unwrap();
        i = j;
    }
    assert_eq!(summary.rejected, 0, "{summary:?}");
    if let Some(clock) = app.views().monitoring_clock(MODEL).await.unwrap() {
        app.evaluate_governance(MODEL, clock).await.unwrap();
    }
}

async fn watch_alarms(app: &App) -> Vec<AlarmRecord> {
    app.alarm_history(MODEL)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| WATCH.contains(&a.alarm.kind))
        .collect()
}

/// The owner's review Task of the first alarm of `kind`, which lists it.
async fn review_task(app: &App, kind: AlarmKind) -> (AlarmRecord, Value) {
    let history = watch_alarms(app).await;
    let first = history
        .iter()
        .find(|a| a.alarm.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} alarm in {history:#?}"))
        .clone();
    let instance = first.instance_id.clone().expect("a review instance");
    let task = app
        .store
        .list_documents(&DocFilter {
            kind: TASK.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.body)
        .find(|t| {
            t["groupIdentifier"]["value"] == instance.as_str()
                && t["performerType"][0]["coding"][0]["code"] == "model-owner"
        })
        .expect("the model owner's review Task");
    assert_eq!(task["focus"]["identifier"]["value"], MODEL);
    let listed = task["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"]["coding"][0]["code"] == "alarm")
        .any(|i| i["valueString"] == first.alarm.message.as_str());
    assert!(listed, "the review lists the alarm: {task:#}");
    // On the worklist the review names its model where a patient would be.
    let worklist = app
        .views()
        .ui_worklist(std::slice::from_ref(&task), chrono::Utc::now(), None)
        .await
        .unwrap();
    assert_eq!(worklist.tasks[0].patient, format!("model {MODEL}"));
    (first, task)
}

/// Patients of the demo cohort with a sepsis Condition (the model's
/// outcome codes A40, A41, R65.2).
fn septic_patients() -> BTreeSet<String> {
    read(&root().join("demo/cohort/Condition.ndjson.gz"))
        .into_iter()
        .filter(|c| {
            c["code"]["coding"].as_array().is_some_and(|cs| {
                cs.iter().any(|x| {
                    x["code"]
                        .as_str()
                        .is_some_and(|k| ["A40", "A41", "R65.2"].iter().any(|p| k.starts_with(p)))
                })
            })
        })
        .filter_map(|c| patient_of(&c))
        .collect()
}

async fn snapshot(app: &App) -> bedside_views::monitoring::MonitoringSnapshot {
    let now = app.views().monitoring_clock(MODEL).await.unwrap().unwrap();
    app.views()
        .monitoring(&bedside_views::monitoring::MonitoringQuery {
            model_id: MODEL.into(),
            now,
        })
        .await
        .unwrap()
}

async fn replayed(
    change: Transform<'_>,
    patients: Option<&BTreeSet<String>>,
    copies: i64,
) -> (App, Vec<tempfile::TempDir>) {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    build_cohort(dirs[1].path(), patients, change, copies);
    let app = open(dirs[0].path(), dirs[2].path(), copies).await;
    replay(&app, dirs[1].path()).await;
    (app, dirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stationary_replay_raises_no_watch_alarm() {
    let (app, _dirs) = replayed(&Some, None, SHORT_COPIES).await;
    let snap = snapshot(&app).await;
    if std::env::var("PRINT_WATCH").is_ok() {
        eprintln!(
            "stationary: live_ppv {:?}\nburden {:?}\nood {:?}",
            snap.live_ppv, snap.burden, snap.ood
        );
    }
    assert!(snap.live_ppv.alerts > 0, "the stationary replay alerts");
    let raised = watch_alarms(&app).await;
    assert!(raised.is_empty(), "stationary replay raised {raised:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_never_followed_by_the_outcome_raise_the_ppv_alarm_and_owner_review() {
    // The outcomes are never recorded: no alert is followed by sepsis.
    let (app, _dirs) = replayed(
        &|r| (r["resourceType"] != "Condition").then_some(r),
        None,
        COPIES,
    )
    .await;
    let (ppv, _) = review_task(&app, AlarmKind::PpvBelowFloor).await;
    assert!(ppv.alarm.value < ppv.alarm.threshold, "{:?}", ppv.alarm);
    assert_eq!(ppv.status, "opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_mix_of_septic_patients_breaks_the_alert_budget_and_opens_the_owner_review() {
    let septic = septic_patients();
    assert!(!septic.is_empty());
    let (app, _dirs) = replayed(&Some, Some(&septic), COPIES).await;
    let snap = snapshot(&app).await;
    if std::env::var("PRINT_WATCH").is_ok() {
        eprintln!("septic case mix: burden {:?}", snap.burden);
    }
    let (budget, _) = review_task(&app, AlarmKind::AlertBudget).await;
    assert!(
        budget.alarm.value > budget.alarm.threshold,
        "{:?}",
        budget.alarm
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heart_rates_in_the_wrong_unit_raise_the_ood_alarm_and_never_interrupt() {
    let (app, _dirs) = replayed(
        &|mut r| {
            if r["resourceType"] == "Observation" && has_code(&r, HEART_RATE) {
                let v = r["valueQuantity"]["value"].as_f64().unwrap_or(0.0);
                r["valueQuantity"]["value"] = serde_json::json!(v * 9.0);
            }
            Some(r)
        },
        None,
        SHORT_COPIES,
    )
    .await;
    let (ood, _) = review_task(&app, AlarmKind::OodRate).await;
    assert!(ood.alarm.value > ood.alarm.threshold, "{:?}", ood.alarm);
    let snap = snapshot(&app).await;
    assert!(
        snap.ood.out_of_distribution > snap.ood.predictions / 2,
        "{:?}",
        snap.ood
    );
    // No alert was fired for a prediction out of distribution.
    for d in app
        .store
        .list_documents(&DocFilter {
            kind: "decision".into(),
            owner: Some(MODEL.into()),
            ..Default::default()
        })
        .await
        .unwrap()
    {
        let at = d.created_at;
        let pid = d.patient_id.clone().unwrap_or_default();
        let p = app
            .store
            .list_documents(&DocFilter {
                kind: "prediction".into(),
                patient_id: Some(pid),
                owner: Some(MODEL.into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.created_at == at)
            .expect("the alert's prediction");
        assert_eq!(p.body["in_distribution"], true, "an OOD prediction alerted");
    }
}
