//! Two replicas on one PostgreSQL database act on the same pathway
//! instances at once: replica A claims each nurse Task from the worklist
//! while replica B fires the instances' "not acknowledged in 15
//! min" timers. Both read-modify-write the instance; with the versioned
//! (compare-and-set) writes one of the two re-reads and applies its change
//! to what the other wrote, so every instance ends consistent with its
//! Tasks: nothing is lost.
//!
//! Needs `BEDSIDE_TEST_DATABASE_URL` (scripts/test.sh sets it); skipped with
//! a note otherwise.

use bedside_app::worklist::TaskAction;
use bedside_app::{App, AppConfig};
use bedside_pathways::Instance;
use bedside_store::{Commit, DocFilter};
use bedside_test_support::decisions::{certified, inpatient, policy, prediction};
use bedside_test_support::postgres::{fresh_schema, test_database_url};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map};
use std::path::Path;

/// The sepsis use case's model: its predictions start the use case's
/// pathway.
const MODEL: &str = "sepsis-demo";
const PATIENTS: usize = 24;

fn t0() -> DateTime<Utc> {
    "2024-03-01T10:00:00Z".parse().unwrap()
}

async fn open(url: &str) -> App {
    let dir = tempfile::tempdir().unwrap();
    let uc = bedside_test_support::use_cases::sepsis(dir.path(), "stage = \"live\"");
    let app = App::open(AppConfig::postgres(url).use_case(uc))
        .await
        .unwrap();
    app.set_certification(MODEL, certified(0.3, "test"));
    app
}

async fn docs(app: &App, kind: &str) -> Vec<bedside_store::Document> {
    app.store
        .list_documents(&DocFilter {
            kind: kind.into(),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worklist_action_and_a_timer_on_two_replicas_lose_nothing() {
    let Some(base) =
        test_database_url("a_worklist_action_and_a_timer_on_two_replicas_lose_nothing")
    else {
        return;
    };
    let url = fresh_schema(&base, "replicas_cas").await;
    let a = open(&url).await;
    let b = open(&url).await;

    // One sepsis instance per patient, started on A.
    for i in 0..PATIENTS {
        let mut c = Commit::default();
        a.on_prediction(
            &inpatient(&format!("p{i}"), t0() - Duration::days(1)),
            &prediction(MODEL, "1", t0(), 0.8),
            &mut c,
        )
        .await
        .unwrap();
        a.store.commit(c).await.unwrap();
    }
    let who = bedside_app::audit::Actor::anonymous();
    let nurse_tasks: Vec<String> = docs(&a, "Task").await.into_iter().map(|d| d.id).collect();
    assert_eq!(nurse_tasks.len(), PATIENTS);

    // At once: A claims every nurse Task (16 minutes in, after the timer
    // was due; a claim acknowledges the alert and stops the timer), B fires
    // every due timer.
    let late = t0() + Duration::minutes(16);
    let b = std::sync::Arc::new(b);
    let timers = tokio::spawn({
        let b = b.clone();
        async move { b.fire_due_timers(late).await }
    });
    // Spread over the time B takes to fire them all, so that some
    // acknowledgements come before, some after and some during B's write
    // of the same instance.
    let acks = futures_util::future::join_all(nurse_tasks.iter().enumerate().map(|(i, id)| {
        let (a, who) = (&a, &who);
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(6 * i as u64)).await;
            a.task_action_as(
                who,
                id,
                TaskAction::Claim,
                Some("Practitioner/n1"),
                None,
                Map::new(),
                late,
            )
            .await
        }
    }))
    .await;
    let fired = timers.await.unwrap().unwrap();
    assert_eq!(fired, PATIENTS, "every nurse timer fires once");

    // Every instance agrees with its Tasks.
    let tasks = docs(&a, "Task").await;
    let instances = docs(&a, "pathway_instance").await;
    assert_eq!(instances.len(), PATIENTS);
    let (mut acknowledged, mut escalated) = (0, 0);
    for (id, ack) in nurse_tasks.iter().zip(&acks) {
        let nurse = tasks.iter().find(|t| &t.id == id).unwrap();
        let pid = nurse.patient_id.clone().unwrap();
        let inst_doc = instances
            .iter()
            .find(|d| d.patient_id.as_deref() == Some(pid.as_str()))
            .unwrap();
        let inst: Instance = serde_json::from_value(inst_doc.body.clone()).unwrap();
        let at = |el: &str| inst.tokens.iter().any(|t| t.element_id == el);
        let physician = tasks.iter().any(|t| {
            t.patient_id.as_deref() == Some(pid.as_str())
                && t.body["code"]["coding"][0]["code"] == "Task_PhysicianReview"
        });
        match ack {
            Ok(_) => {
                // Claimed first: the timer found nothing to do.
                acknowledged += 1;
                assert_eq!(nurse.status.as_deref(), Some("accepted"), "{pid}");
                assert!(
                    at("Task_NurseReassessment") && !at("Task_PhysicianReview"),
                    "{pid}: {:?}",
                    inst.tokens
                );
                assert!(
                    !physician,
                    "{pid}: a physician Task the instance does not know"
                );
            }
            Err(e) => {
                // Escalated first: the claim met a cancelled Task.
                escalated += 1;
                assert_eq!(e.status, 409, "{pid}: {e}");
                assert_eq!(nurse.status.as_deref(), Some("cancelled"), "{pid}");
                assert!(
                    at("Task_PhysicianReview") && !at("Task_NurseReassessment"),
                    "{pid}: {:?}",
                    inst.tokens
                );
                assert!(physician, "{pid}");
            }
        }
    }
    eprintln!("{acknowledged} claimed first, {escalated} escalated first");
}

/// Concurrent patient-view calls for one patient on two replicas: one
/// opens the alert; the others see it open (an alert-memory write is
/// checked against the version it was decided on), so the alert is opened
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hook_calls_on_two_replicas_open_the_alert_once() {
    let Some(base) = test_database_url("concurrent_hook_calls_on_two_replicas_open_the_alert_once")
    else {
        return;
    };
    let url = fresh_schema(&base, "replicas_cas_hooks").await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let open_hooks = || async {
        let hooks = bedside_app::hooks::HookConfig {
            insecure_skip_auth: true,
            policy: policy("live"),
            ..Default::default()
        };
        let app = App::open(
            AppConfig::postgres(url.clone())
                .model(root.join("models/sepsis-demo"))
                .hooks(hooks),
        )
        .await
        .unwrap();
        app.set_certification("sepsis-demo", certified(0.3, "test"));
        app
    };
    let a = std::sync::Arc::new(open_hooks().await);
    let b = std::sync::Arc::new(open_hooks().await);
    let p = prediction("sepsis-demo", "0.1.0", t0(), 0.8);
    let risk = bedside_record::LatestRisk {
        patient_id: "h1".into(),
        prediction: p,
        written_at: t0(),
    };
    a.store
        .commit(Commit {
            documents: vec![bedside_record::Record::to_document(&risk)],
            ..Commit::default()
        })
        .await
        .unwrap();
    let body = json!({
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "h1"}
    })
    .to_string();
    let calls = (0..8).map(|i| {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let body = body.clone();
        tokio::spawn(async move {
            app.cds_call(
                "sepsis-demo-patient-view",
                None,
                body.as_bytes(),
                t0() + Duration::minutes(5),
            )
            .await
            .unwrap()
        })
    });
    for r in futures_util::future::join_all(calls).await {
        r.unwrap();
    }
    let cards: Vec<bedside_record::CardRecord> = docs(&a, "card")
        .await
        .iter()
        .map(|d| <bedside_record::CardRecord as bedside_record::Record>::from_document(d).unwrap())
        .collect();
    assert_eq!(cards.len(), 8, "every call recorded its card");
    // patient-view is a passive hook: the call that opens the alert shows
    // it; every other finds it open (`already_open`).
    let opened = cards.iter().filter(|c| c.suppressed.is_none()).count();
    let tiers: Vec<_> = cards.iter().map(|c| (&c.tier, &c.suppressed)).collect();
    assert_eq!(opened, 1, "one alert opened: {tiers:?}");
}
