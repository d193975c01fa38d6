//! A replica that claims a due timer and dies before completing it does
//! not lose the timer: once the claim's lease runs out another replica
//! fires it, once. (The two-process PostgreSQL drill is
//! crates/cli/tests/replicas.rs; this pins the lease path on SQLite.)

mod common;

use bedside_app::audit::{detail, subtype_of};
use bedside_app::pathway_rt::TIMER_LEASE_SECS;
use chrono::{Duration, Utc};
use common::pathway_app;
use serde_json::json;

#[tokio::test]
async fn a_claim_of_a_dead_replica_runs_out_and_the_timer_fires_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = pathway_app(dir.path(), &["sepsis-escalation.bpmn"]).await;
    let vars = json!({
        "patient": {"identifiers": [{"value": "MRN-1"}], "location": null},
        "risk": {"probability": 0.7, "model": "m 1", "tier": "escalation", "top_factors": []},
        "observations": [], "allergies": "none recorded", "medications": "none recorded",
        "covering_physician": "Practitioner/dr-1"
    });
    let t0 = Utc::now() - Duration::hours(1);
    app.start_pathway(
        "sepsis-alert",
        "p1",
        "k",
        vars.as_object().unwrap().clone(),
        t0,
    )
    .await
    .unwrap();
    let fire_at = t0 + Duration::minutes(16);

    // "Replica A" claims the nurse timer and dies without completing it.
    let claimed = app
        .store
        .claim_jobs(fire_at, 16, TIMER_LEASE_SECS)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    // Replica B: nothing to fire while A's claim holds ...
    assert_eq!(app.run_due_timers(fire_at).await.unwrap(), 0);
    assert_eq!(
        app.worklist(None, Some("physician"), None)
            .await
            .unwrap()
            .len(),
        0
    );
    // ... and the timer fires once the claim ran out, exactly once.
    let later = fire_at + Duration::seconds(TIMER_LEASE_SECS + 1);
    assert_eq!(app.run_due_timers(later).await.unwrap(), 1);
    assert_eq!(app.run_due_timers(later).await.unwrap(), 0);
    let physician = app.worklist(None, Some("physician"), None).await.unwrap();
    assert_eq!(physician.len(), 1);
    assert_eq!(physician[0]["owner"]["reference"], "Practitioner/dr-1");

    // A's late completion attempt is refused: nothing is written twice.
    let late = app
        .store
        .complete_job(claimed[0].id, bedside_store::Commit::default())
        .await;
    assert!(
        matches!(late, Err(bedside_store::StoreError::Conflict(_))),
        "{late:?}"
    );
    let audit = app.store.audit_entries(1, 1000).await.unwrap();
    let fired: Vec<_> = audit
        .iter()
        .filter(|e| subtype_of(&e.body) == Some("pathway-timer-fired"))
        .collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        detail(&fired[0].body, "attempts"),
        Some("2"),
        "fired on the second claim"
    );
    assert_eq!(detail(&fired[0].body, "noop"), Some("false"));
}
