//! `bedside demo` replays its demo cohort through the sepsis pathway, so
//! Tasks exist when it comes up: checked through `GET /fhir/Task`.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_bedside");

fn get(addr: &str, path: &str) -> Value {
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    c.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The server may answer chunked: take the JSON between the first { and last }.
    let (a, b) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    serde_json::from_str(&body[a..=b]).expect("json body")
}

#[test]
fn demo_comes_up_with_sepsis_pathway_tasks() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(&repo)
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("BEDSIDE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bedside demo");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.find("addr=") {
            addr = line[i + 5..].split_whitespace().next().map(str::to_string);
        }
        if line.contains("demo cohort replayed") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let addr = addr.expect("demo logged its address");

    let count = get(&addr, "/fhir/Task?_summary=count");
    let total = count["total"].as_u64().unwrap();
    let open = get(&addr, "/fhir/Task?status=requested&_summary=count")["total"]
        .as_u64()
        .unwrap();
    let all = get(&addr, "/fhir/Task");
    // Every Task's focus is the RiskAssessment of the alert, readable too.
    let first = all["entry"]
        .as_array()
        .and_then(|v| v.iter().find(|e| e["resource"]["for"].is_object()))
        .map(|e| e["resource"].clone())
        .unwrap_or_default();
    let focus = first["focus"]["reference"]
        .as_str()
        .expect("Task.focus")
        .to_string();
    let ra = get(&addr, &format!("/fhir/{focus}"));
    child.kill().ok();
    child.wait().ok();

    assert!(total > 0, "the demo came up without Tasks");
    assert_eq!(ra["resourceType"], "RiskAssessment");
    assert_eq!(ra["subject"], first["for"]);
    assert!(
        ra["prediction"][0]["probabilityDecimal"].is_number(),
        "{ra}"
    );
    assert!(
        open > 0,
        "no open Task for a responder: {total} Tasks, none requested"
    );
    let entries = all["entry"].as_array().unwrap();
    assert_eq!(entries.len() as u64, total);
    // Governance review Tasks (about the model, not a patient) may exist
    // too; the patient Tasks are the sepsis pathway's.
    let sepsis: Vec<&Value> = entries
        .iter()
        .filter(|e| e["resource"]["instantiatesUri"] != "urn:bedside:pathway:model-governance")
        .collect();
    assert!(!sepsis.is_empty(), "no sepsis pathway Task");
    for e in sepsis {
        let t = &e["resource"];
        assert_eq!(t["resourceType"], "Task");
        assert!(t["for"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Patient/"));
        assert!(t["groupIdentifier"]["value"].is_string(), "{t}");
        assert!(t["focus"]["reference"]
            .as_str()
            .is_some_and(|f| f.starts_with("RiskAssessment/")));
        assert!(
            t["restriction"]["period"]["end"].is_string()
                || t["code"]["coding"][0]["code"] == "Task_RapidResponse"
        );
        let step = t["code"]["coding"][0]["code"].as_str().unwrap();
        assert!(
            [
                "Task_NurseReassessment",
                "Task_PhysicianReview",
                "Task_RapidResponse"
            ]
            .contains(&step),
            "{step}"
        );
    }
}
