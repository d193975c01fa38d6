//! The app's durable job queue (pathway timers, write-backs) run to the
//! end in a test.

use bedside_app::App;
use std::time::Duration;

/// Run due jobs on a clock that starts now and moves 6 s per round (past
/// the 5 s claim lease, so a job whose attempt failed is claimed again)
/// until none is pending. Panics naming the jobs left after 40 rounds.
pub async fn drain(app: &App) {
    let mut clock = chrono::Utc::now();
    for _ in 0..40 {
        app.run_due_timers(clock).await.expect("run due jobs");
        tokio::time::sleep(Duration::from_millis(150)).await;
        if app.store.pending_jobs().await.expect("count pending jobs") == 0 {
            return;
        }
        clock += chrono::Duration::seconds(6);
    }
    let left = app
        .store
        .claim_jobs(clock + chrono::Duration::days(30), 100, 1)
        .await
        .expect("list the jobs left");
    panic!("jobs still pending: {left:?}");
}
