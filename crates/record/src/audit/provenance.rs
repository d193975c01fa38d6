//! Provenance of what Bedside writes (Task, RiskAssessment,
//! Communication): who (Bedside, the model, the person who asked), when,
//! and from what, as a document of kind [`PROVENANCE`] in the same commit.

use super::{bedside_display, Actor, ANONYMOUS, BEDSIDE_DEVICE, MODEL_SYSTEM, PROVENANCE};
use bedside_core::Instant;
use bedside_store::Document;
use serde_json::{json, Value};

/// What a Provenance says about one write.
#[derive(Debug, Clone)]
pub struct ProvenanceInput<'a> {
    /// `Task/abc`.
    pub target: &'a str,
    pub patient_id: Option<&'a str>,
    /// `CREATE` or `UPDATE` (v3-DataOperation).
    pub activity: &'a str,
    /// When the change took effect (the data's time in a replay).
    pub occurred: Instant,
    /// Who asked (a person), if anyone did; Bedside is always an agent.
    pub actor: Option<&'a Actor>,
    /// The model behind it, `(id, version)`.
    pub model: Option<(&'a str, &'a str)>,
    /// References of what it was derived from (the RiskAssessment, card,
    /// pathway instance).
    pub sources: Vec<Value>,
    /// Distinguishes two writes of one target at the same instant (e.g.
    /// the new status).
    pub discriminator: &'a str,
}

/// The id of a Provenance: derived from what it records, so writing the
/// same change again (a replay) writes the same Provenance.
fn provenance_id(p: &ProvenanceInput) -> String {
    use sha2::{Digest, Sha256};
    let key = format!(
        "{}|{}|{}|{}",
        p.target,
        p.activity,
        p.occurred.timestamp_micros(),
        p.discriminator
    );
    format!("pv-{}", &hex::encode(Sha256::digest(key.as_bytes()))[..30])
}

/// The Provenance of one write, as a document to put into the same commit.
pub fn provenance(p: &ProvenanceInput) -> Document {
    let wall = chrono::Utc::now();
    let participant = |code: &str| json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": code}]});
    let mut agents = Vec::new();
    if let Some(a) = p.actor {
        let who = match &a.principal {
            Some(pr) => {
                json!({"identifier": {"system": "urn:bedside:principal", "value": pr}, "display": pr})
            }
            None => json!({"display": ANONYMOUS}),
        };
        agents.push(json!({"type": participant("author"), "who": who}));
    }
    agents.push(json!({
        "type": participant(if p.actor.is_some() { "custodian" } else { "author" }),
        "who": {"reference": BEDSIDE_DEVICE, "display": bedside_display()},
    }));
    if let Some((id, version)) = p.model {
        agents.push(json!({
            "type": participant("performer"),
            "who": {"identifier": {"system": MODEL_SYSTEM, "value": format!("{id}|{version}")}, "display": format!("model {id} {version}")},
            "onBehalfOf": {"reference": BEDSIDE_DEVICE},
        }));
    }
    let id = provenance_id(p);
    let mut body = json!({
        "resourceType": "Provenance",
        "id": id,
        "target": [{"reference": p.target}],
        "occurredDateTime": p.occurred.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "recorded": wall.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": p.activity}]},
        "agent": agents,
    });
    if !p.sources.is_empty() {
        body["entity"] = Value::Array(
            p.sources
                .iter()
                .map(|what| json!({"role": "source", "what": what}))
                .collect(),
        );
    }
    Document {
        kind: PROVENANCE.into(),
        id,
        patient_id: p.patient_id.map(str::to_string),
        status: None,
        owner: Some(p.target.to_string()),
        created_at: p.occurred,
        updated_at: wall,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_id_is_stable_and_names_its_inputs() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let input = ProvenanceInput {
            target: "Task/t1",
            patient_id: Some("p1"),
            activity: "CREATE",
            occurred: t,
            actor: None,
            model: Some(("sepsis", "1.0")),
            sources: vec![json!({"reference": "RiskAssessment/ra-1"})],
            discriminator: "requested",
        };
        let a = provenance(&input);
        let b = provenance(&input);
        assert_eq!(a.id, b.id);
        assert_eq!(a.owner.as_deref(), Some("Task/t1"));
        assert_eq!(a.body["target"][0]["reference"], "Task/t1");
        assert_eq!(a.body["agent"][0]["type"]["coding"][0]["code"], "author");
        assert_eq!(
            a.body["agent"][1]["who"]["identifier"]["value"],
            "sepsis|1.0"
        );
        assert_eq!(
            a.body["entity"][0]["what"]["reference"],
            "RiskAssessment/ra-1"
        );
        let other = provenance(&ProvenanceInput {
            discriminator: "cancelled",
            ..input
        });
        assert_ne!(a.id, other.id);
    }
}
