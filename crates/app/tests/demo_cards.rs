//! Every card the demo shows reads in one glance: the shipped use cases
//! served as `bedside demo` serves them, the demo cohorts replayed up to
//! now, and every patient's card at a passive and an interruptive hook
//! checked: the summary is at most 140 characters, ends on a whole word,
//! starts with the use case's risk statement, never shows a probability of
//! 0% or 100%, and a passive card does not ask to act now; the detail stays
//! short and names no raw UCUM unit.

use bedside_app::{App, AppConfig};
use bedside_store::DocFilter;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Use cases with a model (the imaging review has none: no cards).
const USE_CASES: [&str; 2] = ["sepsis-screening", "deterioration"];
const COHORTS: [&str; 2] = ["cohort", "deterioration-cohort"];
/// The longest detail a card may carry (a screen, not a report).
const DETAIL_MAX: usize = 2_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_card_reads_in_one_glance() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AppConfig::sqlite(dir.path())
        .public_url("http://test")
        .hooks(bedside_app::hooks::HookConfig {
            insecure_skip_auth: true,
            ..Default::default()
        });
    for uc in USE_CASES {
        config = config.use_case(repo().join("use-cases").join(uc));
    }
    let app = App::open(config).await.unwrap();
    let now = chrono::Utc::now();
    let wall_start = now - chrono::Duration::seconds(1);
    for cohort in COHORTS {
        bedside_app::replay::replay_dir_ending_at(
            &app,
            &repo().join("demo").join(cohort),
            now,
            None,
        )
        .await
        .unwrap();
    }

    // The risk statement and passive action of each served model.
    let mut statement: BTreeMap<String, (String, String)> = BTreeMap::new();
    for uc in app.use_cases.iter() {
        for sched in &app.models {
            if app.use_cases.for_model(sched.id()).map(|u| &u.id) == Some(&uc.id) {
                statement.insert(
                    sched.id().to_string(),
                    (uc.card.statement.clone(), uc.card.action.clone()),
                );
            }
        }
    }
    assert_eq!(statement.len(), USE_CASES.len(), "{statement:?}");

    let patients = app.store.state_patient_ids().await.unwrap();
    assert!(patients.len() > 50, "{} patients", patients.len());
    let mut checked = 0;
    let mut by_tier: BTreeMap<String, usize> = BTreeMap::new();
    for (model, (stmt, action)) in &statement {
        for hook in ["patient-view", "order-select"] {
            for pid in &patients {
                let body = json!({
                    "hook": hook,
                    "hookInstance": uuid::Uuid::new_v4().to_string(),
                    "context": {"userId": "Practitioner/demo-nurse", "patientId": pid},
                })
                .to_string();
                let r = app
                    .cds_call(&format!("{model}-{hook}"), None, body.as_bytes(), now)
                    .await
                    .unwrap();
                let v = serde_json::to_value(&r).unwrap();
                for card in v["cards"].as_array().into_iter().flatten() {
                    check_card(card, stmt, action);
                    *by_tier
                        .entry(card["indicator"].as_str().unwrap_or("?").to_string())
                        .or_default() += 1;
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 20, "{checked} cards");
    println!("checked {checked} demo cards: {by_tier:?}");

    // The Tasks the replay's escalations opened: a person can act on them.
    let tasks = app
        .store
        .list_documents(&DocFilter {
            kind: "Task".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!tasks.is_empty(), "the demo escalates someone");
    for t in &tasks {
        check_task(&t.body);
    }
    // A Communication was sent when it was written, not at a replayed time.
    let sent = app
        .store
        .list_documents(&DocFilter {
            kind: "Communication".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    for c in &sent {
        let at = chrono::DateTime::parse_from_rfc3339(c.body["sent"].as_str().unwrap()).unwrap();
        assert!(
            at >= wall_start,
            "sent {at} before the replay started: {}",
            c.body
        );
    }
}

/// A Task names its reason, a coded role with a display, and a short set
/// of named, rounded inputs.
fn check_task(t: &Value) {
    let inputs = t["input"].as_array().map(Vec::len).unwrap_or(0);
    // One per channel with data in 24 h (~47 in the demo), not ~70 raw points.
    assert!(inputs <= 60, "{inputs} inputs: {t}");
    for pt in t["performerType"].as_array().into_iter().flatten() {
        for c in pt["coding"].as_array().into_iter().flatten() {
            assert!(
                c["system"].is_string() && c["code"].is_string() && c["display"].is_string(),
                "{pt}"
            );
        }
        assert_ne!(pt["text"], "rrt", "{pt}");
    }
    let d = t["description"].as_str().unwrap_or("");
    assert!(!d.contains(", or called by"), "both reasons: {d}");
    for i in t["input"].as_array().into_iter().flatten() {
        assert!(i["type"]["coding"][0]["display"].is_string(), "{i}");
        let code = i["type"]["coding"][0]["code"].as_str().unwrap_or("");
        if !matches!(code, "risk" | "top_factors" | "observations") {
            continue;
        }
        let text = i["valueString"]
            .as_str()
            .or_else(|| i["valueReference"]["display"].as_str())
            .unwrap_or("");
        assert!(!long_decimals(text), "unrounded: {text}");
        assert!(
            !text.contains(" Cel") && !text.contains("mm[Hg]"),
            "raw unit: {text}"
        );
        assert!(i["type"]["coding"][0]["display"].is_string(), "{i}");
    }
}

/// Whether `text` holds a number with more than three decimals.
fn long_decimals(text: &str) -> bool {
    let c: Vec<char> = text.chars().collect();
    c.windows(6)
        .any(|w| w[0].is_ascii_digit() && w[1] == '.' && w[2..].iter().all(|d| d.is_ascii_digit()))
}

fn check_card(card: &Value, statement: &str, action: &str) {
    let s = card["summary"].as_str().unwrap();
    let n = s.chars().count();
    assert!(n <= 140, "{n} characters: {s}");
    assert!(s.starts_with(&format!("{statement} ")), "{s}");
    // A whole word: the last one is a word of the summary's source text or
    // ends with the cut mark, and nothing ends inside a word.
    let last = s.trim_end_matches('…').split(' ').next_back().unwrap();
    assert!(
        !last.is_empty()
            && last
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == ')' || c == '%'),
        "{s}"
    );
    if s.ends_with('…') {
        let words: Vec<&str> = action.split(' ').collect();
        assert!(
            words
                .iter()
                .any(|w| w.trim_end_matches(',') == last.trim_end_matches(',')),
            "cut inside a word: {s}"
        );
    }
    for certain in ["100%", " 0%"] {
        assert!(!s.contains(certain), "{s}");
    }
    if card["indicator"] == "info" {
        assert!(
            !s.contains(action),
            "a passive card does not ask to act now: {s}"
        );
    }
    let d = card["detail"].as_str().unwrap_or("");
    assert!(
        d.chars().count() <= DETAIL_MAX,
        "{} characters: {d}",
        d.chars().count()
    );
    for raw in [" Cel ", " Cel)", "mm\\[Hg", "10\\*3", " pts"] {
        assert!(!d.contains(raw), "{raw} in the detail: {d}");
    }
    assert!(!scientific(d), "a number in scientific notation: {d}");
    // A risk is never 100% (a measured SpO2 of 100% may be).
    assert!(!d.contains("risk 100%") && !d.contains("100% now"), "{d}");
}

/// Whether `text` holds a number like `8.333e-2`.
fn scientific(text: &str) -> bool {
    let c: Vec<char> = text.chars().collect();
    c.windows(4).any(|w| {
        w[0].is_ascii_digit()
            && w[1] == 'e'
            && (w[2] == '-' || w[2] == '+')
            && w[3].is_ascii_digit()
    })
}
