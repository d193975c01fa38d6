//! The audit trail end to end, on SQLite and (when
//! `BEDSIDE_TEST_DATABASE_URL` is set) PostgreSQL: real audited commits
//! through the app (start-up, a FHIR read and search, a pathway start with
//! its Tasks and Provenance, a worklist claim, a policy change), then
//! `bedside audit verify` passes; `export` writes every entry with its
//! chain fields, from which the hashes check again; the engine refuses
//! UPDATE and DELETE on the log; and once its guard triggers are dropped
//! (as an attacker with database access would) a modified body, a deleted
//! entry and two swapped entries each make `verify` exit 1 naming the seq.

use bedside_app::audit::{detail, subtype_of, Actor};
use bedside_app::worklist::TaskAction;
use bedside_app::{App, AppConfig};
use bedside_store::{audit_hash, PgStore, SqliteStore};
use bedside_test_support::postgres::{fresh_schema, ENV};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

/// One store to write, tamper with and verify.
enum Engine {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Engine {
    fn sqlite() -> Self {
        Engine::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh schema in the test database, or `None` when none is set.
    async fn postgres(tag: &str) -> Option<Self> {
        let base = std::env::var(ENV).ok().filter(|u| !u.trim().is_empty())?;
        Some(Engine::Postgres(
            fresh_schema(&base, &format!("audit_{tag}")).await,
        ))
    }

    fn config(&self) -> AppConfig {
        match self {
            Engine::Sqlite(d) => AppConfig::sqlite(d.path()),
            Engine::Postgres(url) => AppConfig::postgres(url.clone()),
        }
    }

    fn cli_args(&self) -> Vec<String> {
        match self {
            Engine::Sqlite(d) => vec!["--data-dir".into(), d.path().display().to_string()],
            Engine::Postgres(url) => vec!["--database-url".into(), url.clone()],
        }
    }

    async fn raw(&self, sql: &str) -> Result<u64, String> {
        match self {
            Engine::Sqlite(d) => SqliteStore::open(d.path())
                .await
                .unwrap()
                .execute_raw_for_tests(sql)
                .await
                .map_err(|e| e.to_string()),
            Engine::Postgres(url) => PgStore::open(url)
                .await
                .unwrap()
                .execute_raw_for_tests(sql)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Drop the append-only triggers.
    async fn unguard(&self) {
        let sql: &[&str] = match self {
            Engine::Sqlite(_) => &[
                "DROP TRIGGER audit_no_update",
                "DROP TRIGGER audit_no_delete",
            ],
            Engine::Postgres(_) => &[
                "DROP TRIGGER audit_no_update_delete ON audit",
                "DROP TRIGGER audit_no_truncate ON audit",
            ],
        };
        for s in sql {
            self.raw(s).await.expect(s);
        }
    }

    /// `bedside audit <args..>` on this store: (exit code, stdout, stderr).
    fn audit(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("audit")
            .args(args)
            .args(self.cli_args())
            .env_remove("BEDSIDE_DATA_DIR")
            .env_remove("BEDSIDE_DATABASE_URL")
            .output()
            .expect("run bedside audit");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn pathway() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pathways/sepsis-escalation.bpmn")
}

fn vars() -> Map<String, Value> {
    json!({
        "patient": {"identifiers": [{"system": "urn:test", "value": "MRN-1"}],
                    "location": {"reference": "Location/ward-1"}},
        "risk": {"probability": 0.6, "model": "tamper-model 2.1", "tier": "escalation",
                 "top_factors": []},
        "observations": [],
        "allergies": "none recorded",
        "medications": "none recorded",
        "covering_physician": "Practitioner/dr-1"
    })
    .as_object()
    .cloned()
    .unwrap()
}

/// Real audited work through the app. Returns the number of entries.
async fn populate(e: &Engine) -> usize {
    let app = App::open(e.config().pathway(pathway()))
        .await
        .expect("open app");
    let patient =
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Secretname"}]});
    app.write_resource("Patient", Some("p1"), patient.to_string().as_bytes())
        .await
        .expect("store patient");
    let alice =
        Actor::new(Some("alice"), Some("clinician")).with_practitioner(Some("Practitioner/alice"));
    app.read_resource_as(&alice, "Patient", "p1").await.unwrap();
    assert!(app
        .read_resource_as(&alice, "Patient", "nobody")
        .await
        .is_err());
    let mut q = BTreeMap::new();
    q.insert("patient".to_string(), "p1".to_string());
    app.search_as(&Actor::anonymous(), "Observation", &q)
        .await
        .unwrap();
    app.start_pathway("sepsis-alert", "p1", "k1", vars(), chrono::Utc::now())
        .await
        .expect("start pathway");
    let tasks = app.worklist(None, None, None).await.unwrap();
    let task = tasks[0]["id"].as_str().unwrap().to_string();
    app.task_action_as(
        &alice,
        &task,
        TaskAction::Claim,
        Some("Practitioner/alice"),
        None,
        Map::new(),
        chrono::Utc::now(),
    )
    .await
    .expect("claim");
    app.set_policy(bedside_policy::PolicyConfig::default())
        .await
        .unwrap();

    // Provenance of the Task: its creation by Bedside (with the model) and
    // the claim by alice, searchable by target.
    let mut pq = BTreeMap::new();
    pq.insert("target".to_string(), format!("Task/{task}"));
    let prov = app.search_as(&alice, "Provenance", &pq).await.unwrap();
    let prov: Vec<&Value> = prov["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    assert_eq!(prov.len(), 2, "{prov:?}");
    let text = serde_json::to_string(&prov).unwrap();
    assert!(text.contains("tamper-model|2.1"), "{text}");
    assert!(text.contains("\"alice\""), "{text}");
    let id = prov[0]["id"].as_str().unwrap();
    let one = app
        .read_resource_as(&alice, "Provenance", id)
        .await
        .unwrap();
    assert_eq!(&one, prov[0]);

    let entries = app.store.audit_entries(1, 10_000).await.unwrap();
    let kinds: Vec<&str> = entries.iter().filter_map(|x| subtype_of(&x.body)).collect();
    for want in [
        "application-start",
        "fhir-read",
        "fhir-search",
        "pathway-write",
        "task-claim",
        "policy-change",
    ] {
        assert!(kinds.contains(&want), "no {want} entry in {kinds:?}");
    }
    let all = serde_json::to_string(&entries).unwrap();
    assert!(
        !all.contains("Secretname"),
        "a patient name reached the audit log"
    );
    let claim = entries
        .iter()
        .find(|x| subtype_of(&x.body) == Some("task-claim"))
        .unwrap();
    assert_eq!(detail(&claim.body, "from"), Some("requested"));
    assert_eq!(detail(&claim.body, "to"), Some("accepted"));
    assert_eq!(
        claim.body["agent"][0]["who"]["identifier"]["value"],
        "alice"
    );
    let failed = entries
        .iter()
        .find(|x| x.body["entity"][0]["what"]["reference"] == "Patient/nobody")
        .expect("the failed read is recorded");
    assert_eq!(failed.body["outcome"], "4");
    entries.len()
}

/// The seq of the first entry with this Bedside subtype.
async fn seq_of(e: &Engine, subtype: &str) -> i64 {
    let s = bedside_store::open(&e.config().store).await.unwrap();
    s.audit_entries(1, 10_000)
        .await
        .unwrap()
        .iter()
        .find(|x| subtype_of(&x.body) == Some(subtype))
        .map(|x| x.seq)
        .unwrap()
}

async fn untampered_verifies_exports_and_refuses_changes(e: Engine) {
    let n = populate(&e).await;
    let (code, out, err) = e.audit(&["verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("audit log ok: {n} entries checked")),
        "{out}"
    );

    // Export: one AuditEvent per line; the chain checks from the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.ndjson");
    let (code, _, err) = e.audit(&["export", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    let mut prev = bedside_store::GENESIS_HASH.to_string();
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["resourceType"], "AuditEvent");
        let mut body = line.clone();
        let ext = body["extension"].as_array().unwrap().clone();
        let get = |name: &str| {
            ext.iter()
                .find(|x| x["url"].as_str().unwrap().ends_with(name))
                .unwrap()
                .clone()
        };
        let seq = get("/audit-seq")["valueInteger"].as_i64().unwrap();
        let at: chrono::DateTime<chrono::Utc> = get("/audit-recorded-at")["valueInstant"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let hash = get("/audit-hash")["valueString"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(seq, i as i64 + 1);
        assert_eq!(get("/audit-prev-hash")["valueString"], json!(prev));
        body.as_object_mut().unwrap().remove("extension");
        assert_eq!(audit_hash(&prev, seq, at, &body), hash, "line {}", i + 1);
        prev = hash;
    }

    // The engine refuses to change or remove entries.
    for sql in [
        "UPDATE audit SET body = '{}' WHERE seq = 2",
        "DELETE FROM audit WHERE seq = 2",
    ] {
        let err = e.raw(sql).await.expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let (code, _, _) = e.audit(&["verify"]);
    assert_eq!(code, 0);
}

async fn tampering_is_named(modified: Engine, deleted: Engine, swapped: Engine) {
    // A body modified in place.
    populate(&modified).await;
    let k = seq_of(&modified, "fhir-read").await;
    modified.unguard().await;
    let n = modified
        .raw(&format!(
            "UPDATE audit SET body = replace(body, 'alice', 'mallory') WHERE seq = {k}"
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (code, out, err) = modified.audit(&["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains(&format!("audit entry {k}:")) && err.contains("(modified)"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // An entry deleted.
    populate(&deleted).await;
    deleted.unguard().await;
    assert_eq!(deleted.raw("DELETE FROM audit WHERE seq = 3").await, Ok(1));
    let (code, _, err) = deleted.audit(&["verify"]);
    assert_eq!(code, 1);
    assert!(err.contains("audit entry 3 is missing"), "{err}");

    // Two entries swapped.
    populate(&swapped).await;
    swapped.unguard().await;
    for sql in [
        "UPDATE audit SET seq = -1 WHERE seq = 2",
        "UPDATE audit SET seq = 2 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = -1",
    ] {
        swapped.raw(sql).await.expect(sql);
    }
    let (code, _, err) = swapped.audit(&["verify"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("audit entry 2: holds the entry written as seq 3 (reordered)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_audit_chain_verifies_and_exports() {
    untampered_verifies_exports_and_refuses_changes(Engine::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tampering_is_detected() {
    tampering_is_named(Engine::sqlite(), Engine::sqlite(), Engine::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_chain_verifies_and_exports() {
    let Some(e) = Engine::postgres("ok").await else {
        eprintln!("SKIPPED postgres_audit_chain_verifies_and_exports: {ENV} is not set");
        return;
    };
    untampered_verifies_exports_and_refuses_changes(e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tampering_is_detected() {
    let (Some(a), Some(b), Some(c)) = (
        Engine::postgres("mod").await,
        Engine::postgres("del").await,
        Engine::postgres("swap").await,
    ) else {
        eprintln!("SKIPPED postgres_tampering_is_detected: {ENV} is not set");
        return;
    };
    tampering_is_named(a, b, c).await;
}

#[test]
fn missing_data_dir_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path().join("nope"))
        .env_remove("BEDSIDE_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Bedside database"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        !dir.path().join("nope").exists(),
        "verify created a data dir"
    );
}
