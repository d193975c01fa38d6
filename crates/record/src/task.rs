//! A FHIR R4 Task written by a pathway (kind `Task`, status =
//! `Task.status`, owner = assignee or role), read and changed through
//! named accessors rather than JSON keys.

use crate::{kinds, RecordError};
use bedside_core::Instant;
use bedside_store::Document;
use serde_json::{json, Value};

/// A pathway Task document.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    doc: Document,
}

fn ts(t: Instant) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl TaskRecord {
    /// A stored Task document.
    pub fn from_document(doc: Document) -> Result<Self, RecordError> {
        if doc.kind != kinds::TASK {
            return Err(RecordError::WrongKind {
                kind: kinds::TASK,
                id: doc.id,
                found: doc.kind,
            });
        }
        if !doc.body.is_object() {
            return Err(RecordError::Unreadable {
                kind: kinds::TASK,
                id: doc.id,
                reason: "the body is not a JSON object".into(),
            });
        }
        Ok(Self { doc })
    }

    /// The document to store.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    pub fn into_document(self) -> Document {
        self.doc
    }

    /// The FHIR Task JSON.
    pub fn resource(&self) -> &Value {
        &self.doc.body
    }

    pub fn id(&self) -> &str {
        &self.doc.id
    }

    /// `Task.groupIdentifier.value`: the pathway instance the Task belongs to.
    pub fn instance_id(&self) -> Option<&str> {
        self.doc.body["groupIdentifier"]["value"].as_str()
    }

    /// `Task.focus.reference`.
    pub fn focus(&self) -> Option<&str> {
        self.doc.body["focus"]["reference"].as_str()
    }

    /// `Task.code.text`.
    pub fn code_text(&self) -> Option<&str> {
        self.doc.body["code"]["text"].as_str()
    }

    /// `Task.lastModified`.
    pub fn last_modified(&self) -> Option<&str> {
        self.doc.body["lastModified"].as_str()
    }

    /// Assign to `reference` (`Task.owner` and the document's owner).
    pub fn set_owner(&mut self, reference: &str) {
        self.doc.owner = Some(reference.to_string());
        self.doc.body["owner"] = json!({ "reference": reference });
    }

    /// Set `Task.status` (and the document's status).
    pub fn set_status(&mut self, status: &str) {
        self.doc.status = Some(status.to_string());
        self.doc.body["status"] = json!(status);
    }

    /// `Task.executionPeriod.start`.
    pub fn set_started(&mut self, at: Instant) {
        self.doc.body["executionPeriod"]["start"] = json!(ts(at));
    }

    /// `Task.executionPeriod.end`.
    pub fn set_ended(&mut self, at: Instant) {
        self.doc.body["executionPeriod"]["end"] = json!(ts(at));
    }

    /// Replace `Task.note` with one note by `author`.
    pub fn set_note(&mut self, author: &str, at: Instant, text: &str) {
        self.doc.body["note"] =
            json!([{"authorReference": {"reference": author}, "time": ts(at), "text": text}]);
    }

    /// `Task.output`: one entry per value of what the task was completed
    /// with (`{"nurse": {"decision": "escalate"}}` becomes type
    /// `urn:bedside:task-output#nurse.decision`, `valueString` "escalate");
    /// strings, booleans and numbers as such, anything else as its JSON
    /// text. Nothing (no element) when there are no values.
    pub fn set_output(&mut self, output: &serde_json::Map<String, Value>) {
        fn flatten(prefix: &str, v: &Value, out: &mut Vec<Value>) {
            match v {
                Value::Object(m) if !m.is_empty() => {
                    for (k, child) in m {
                        flatten(&format!("{prefix}.{k}"), child, out);
                    }
                }
                Value::Null => {}
                _ => {
                    let value = match v {
                        Value::String(s) if s.is_empty() => return,
                        Value::String(s) => ("valueString", json!(s)),
                        Value::Bool(b) => ("valueBoolean", json!(b)),
                        Value::Number(n) => ("valueDecimal", json!(n)),
                        other => ("valueString", json!(other.to_string())),
                    };
                    let mut e = json!({"type": {"coding": [{"system": "urn:bedside:task-output", "code": prefix}], "text": prefix}});
                    e[value.0] = value.1;
                    out.push(e);
                }
            }
        }
        let mut entries = Vec::new();
        for (k, v) in output {
            flatten(k, v, &mut entries);
        }
        if !entries.is_empty() {
            self.doc.body["output"] = Value::Array(entries);
        }
    }

    /// Add one `Task.output` entry with a coded value: type
    /// `urn:bedside:task-output#{kind}` (text `kind_text`),
    /// `valueCodeableConcept` `system|code` with `display`. Placed first,
    /// so the decision leads the output.
    pub fn add_coded_output(
        &mut self,
        kind: &str,
        kind_text: &str,
        system: &str,
        code: &str,
        display: &str,
    ) {
        let e = json!({
            "type": {"coding": [{"system": "urn:bedside:task-output", "code": kind}], "text": kind_text},
            "valueCodeableConcept": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        });
        match self.doc.body["output"].as_array_mut() {
            Some(list) => list.insert(0, e),
            None => self.doc.body["output"] = json!([e]),
        }
    }

    /// `Task.lastModified` (event time) and the document's write time.
    pub fn touch(&mut self, modified: Instant, written: Instant) {
        self.doc.body["lastModified"] = json!(ts(modified));
        self.doc.updated_at = written;
    }

    /// Cancel with a reason (`status`, `statusReason`, `lastModified`).
    pub fn cancel(&mut self, reason: &str, now: Instant, written: Instant) {
        self.set_status("cancelled");
        self.doc.body["statusReason"] = json!({ "text": reason });
        self.touch(now, written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, body: Value) -> Document {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Document {
            kind: kind.into(),
            id: "t1".into(),
            patient_id: Some("p1".into()),
            status: Some("requested".into()),
            owner: None,
            created_at: t,
            updated_at: t,
            body,
        }
    }

    #[test]
    fn output_is_one_typed_entry_per_value() {
        let mut task = TaskRecord::from_document(doc(
            "Task",
            json!({"resourceType": "Task", "status": "in-progress"}),
        ))
        .unwrap();
        let empty = serde_json::Map::new();
        task.set_output(&empty);
        assert!(task.resource().get("output").is_none());
        let out = json!({"nurse": {"decision": "escalate", "seen": true, "score": 3, "note": ""}});
        task.set_output(out.as_object().unwrap());
        let o = task.resource()["output"].as_array().unwrap().clone();
        let code = |e: &Value| e["type"]["coding"][0]["code"].as_str().unwrap().to_string();
        let codes: Vec<String> = o.iter().map(code).collect();
        assert_eq!(codes, ["nurse.decision", "nurse.score", "nurse.seen"]);
        assert_eq!(o[0]["valueString"], "escalate");
        assert_eq!(o[1]["valueDecimal"], 3);
        assert_eq!(o[2]["valueBoolean"], true);
    }

    #[test]
    fn accessors_and_changes_keep_document_and_resource_in_step() {
        let t = chrono::DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut task = TaskRecord::from_document(doc(
            "Task",
            json!({"resourceType": "Task", "status": "requested",
                   "groupIdentifier": {"value": "i1"}, "focus": {"reference": "RiskAssessment/r"},
                   "code": {"text": "Review"}}),
        ))
        .unwrap();
        assert_eq!(task.instance_id(), Some("i1"));
        assert_eq!(task.focus(), Some("RiskAssessment/r"));
        assert_eq!(task.code_text(), Some("Review"));
        task.set_owner("Practitioner/n1");
        task.cancel("superseded", t, t);
        let d = task.document();
        assert_eq!(d.owner.as_deref(), Some("Practitioner/n1"));
        assert_eq!(d.status.as_deref(), Some("cancelled"));
        assert_eq!(d.body["status"], "cancelled");
        assert_eq!(d.body["owner"]["reference"], "Practitioner/n1");
        assert_eq!(task.last_modified(), Some("2023-11-14T22:15:00Z"));
    }

    #[test]
    fn another_kind_or_a_non_object_body_is_refused() {
        assert!(TaskRecord::from_document(doc("card", json!({}))).is_err());
        assert!(TaskRecord::from_document(doc("Task", json!([1]))).is_err());
    }
}
