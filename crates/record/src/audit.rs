//! The audit trail's contents: every entry of the store's hash-chained
//! audit log is a FHIR R4 `AuditEvent`, and every FHIR resource Bedside
//! writes itself (Task, RiskAssessment, Communication) gets a `Provenance`
//! in the same commit.
//!
//! What is recorded, and where:
//! - a CDS Hooks card recorded / returned (`hooks`: subtype
//!   `card-returned` or `card-silent`, entity the Patient, the card uuid,
//!   the model `id|version` and the prediction);
//! - feedback on a card (`card-accepted` / `card-overridden`, with the
//!   override reason code);
//! - a worklist Task transition (`task-claim`, `task-acknowledge`,
//!   `task-complete`, `task-reassign`: entity details `from`, `to`, `actor`);
//! - a pathway Task, RiskAssessment or Communication created or cancelled
//!   (restful `create` / `update`, agent Bedside);
//! - pathway timers fired, service calls, incidents and FHIR write-backs;
//! - the served models, pathways and alert policy at start and every
//!   policy change (`application-start`, `policy-change`);
//! - patient data read through the API (`GET /fhir/{type}/{id}`: restful
//!   `read`; search: `search-type`) and the UI (the sandbox's patient
//!   timeline: DICOM 110110 Patient Record); a read has no commit of its
//!   own, so it writes one holding just its entry before the data is
//!   returned (no entry, no data).
//!
//! Who: the authenticated principal (and role) when there is one, else
//! [`ANONYMOUS`]; Bedside itself (`Device/bedside`) for what it does on its
//! own (timers, pathway effects, start-up). Patients appear as
//! `Patient/{id}` references only: never names, never clinical values.
//!
//! Codes: `type` from DICOM (`http://dicom.nema.org/resources/ontology/DCM`)
//! or `rest` from `http://terminology.hl7.org/CodeSystem/audit-event-type`;
//! `subtype` from `http://hl7.org/fhir/restful-interaction` where one fits,
//! plus always one Bedside code from [`SUBTYPE_SYSTEM`] (what tests and
//! tools select on, see [`subtype_of`]). R4 `entity.detail` values are
//! strings (`valueString`), read back with [`detail`].
//!
//! Built as JSON here rather than with a typed model: bedside-fhir types
//! only the resources Bedside parses, and the FHIR model crates on
//! crates.io would bring a whole R4 model for two output resources.
//!
//! Provenance: stored as a document of kind `Provenance` (owner = the
//! target reference, e.g. `Task/abc`), readable as
//! `GET /fhir/Provenance/{id}` and searchable by `?target=Task/abc` or
//! `?patient=`.

mod provenance;

pub use provenance::{provenance, ProvenanceInput};

use bedside_core::Instant;
use serde_json::{json, Value};

/// The agent named when no one is authenticated (the demo has no login).
pub const ANONYMOUS: &str = "anonymous (demo mode)";
/// Bedside's own subtype codes.
pub const SUBTYPE_SYSTEM: &str = "https://bedside.dev/audit-event-subtype";
/// Document kind of the Provenance resources Bedside writes.
pub const PROVENANCE: &str = crate::kinds::PROVENANCE;
/// Bedside as a FHIR reference (the requester of its pathway Tasks).
pub const BEDSIDE_DEVICE: &str = "Device/bedside";

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
pub const MODEL_SYSTEM: &str = "urn:bedside:model";

/// Who acts: the authenticated principal and role, if any. The server's
/// authentication puts one into each request (`None` fields in demo mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub principal: Option<String>,
    pub role: Option<String>,
    /// The Practitioner the principal is (`Practitioner/..`, from the
    /// identity provider's `fhirUser` claim or the configured one; in demo
    /// mode the demo user picked). Who the worklist acts as.
    pub practitioner: Option<String>,
}

impl Actor {
    pub fn new(principal: Option<&str>, role: Option<&str>) -> Self {
        Self {
            principal: principal.map(str::to_string),
            role: role.map(str::to_string),
            practitioner: None,
        }
    }

    /// The same actor, known as the Practitioner `reference`.
    pub fn with_practitioner(mut self, reference: Option<&str>) -> Self {
        self.practitioner = reference.map(str::to_string);
        self
    }

    /// No one authenticated (demo mode).
    pub fn anonymous() -> Self {
        Self::default()
    }
}

/// `AuditEvent.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Execute,
}

impl Action {
    fn code(self) -> &'static str {
        match self {
            Action::Create => "C",
            Action::Read => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Execute => "E",
        }
    }
}

/// `AuditEvent.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The request failed (e.g. not found, refused).
    MinorFailure,
    /// An action failed (e.g. a pathway incident).
    SeriousFailure,
}

impl Outcome {
    fn code(self) -> &'static str {
        match self {
            Outcome::Success => "0",
            Outcome::MinorFailure => "4",
            Outcome::SeriousFailure => "8",
        }
    }
}

/// One `AuditEvent.entity`.
#[derive(Debug, Clone)]
pub struct Entity {
    what: Value,
    type_code: (&'static str, &'static str),
    role: Option<(&'static str, &'static str)>,
    details: Vec<(String, String)>,
}

impl Entity {
    /// A FHIR resource by reference (`Task/abc`).
    pub fn reference(r: &str) -> Self {
        Self {
            what: json!({"reference": r}),
            type_code: ("2", "System Object"),
            role: Some(("4", "Domain Resource")),
            details: Vec::new(),
        }
    }

    /// The patient the event is about (an id only).
    pub fn patient(id: &str) -> Self {
        let id = id.strip_prefix("Patient/").unwrap_or(id);
        Self {
            what: json!({"reference": format!("Patient/{id}")}),
            type_code: ("1", "Person"),
            role: Some(("1", "Patient")),
            details: Vec::new(),
        }
    }

    /// Something Bedside names by identifier (a card uuid, a pathway
    /// instance, a timer).
    pub fn identifier(system: &str, value: &str) -> Self {
        Self {
            what: json!({"identifier": {"system": system, "value": value}}),
            type_code: ("2", "System Object"),
            role: None,
            details: Vec::new(),
        }
    }

    /// A model by id and version.
    pub fn model(id: &str, version: &str) -> Self {
        Self::identifier(MODEL_SYSTEM, &format!("{id}|{version}"))
    }

    /// A query (its parameters go in a `query` detail).
    pub fn query(rtype: &str, params: &str) -> Self {
        Self {
            what: json!({"display": rtype}),
            type_code: ("2", "System Object"),
            role: Some(("24", "Query")),
            details: Vec::new(),
        }
        .detail("query", params)
    }

    /// A `detail` (`type` + `valueString`). An empty value is left out: a
    /// FHIR string is never empty (e.g. the query of a search without
    /// parameters).
    pub fn detail(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        let value = value.to_string();
        if !value.is_empty() {
            self.details.push((key.to_string(), value));
        }
        self
    }

    fn to_json(&self) -> Value {
        let mut e = json!({
            "what": self.what,
            "type": {"system": ENTITY_TYPE, "code": self.type_code.0, "display": self.type_code.1},
        });
        if let Some((code, display)) = self.role {
            e["role"] = json!({"system": OBJECT_ROLE, "code": code, "display": display});
        }
        if !self.details.is_empty() {
            e["detail"] = Value::Array(
                self.details
                    .iter()
                    .map(|(k, v)| json!({"type": k, "valueString": v}))
                    .collect(),
            );
        }
        e
    }
}

/// An AuditEvent being built. Every event has one Bedside subtype code.
#[derive(Debug, Clone)]
pub struct Event {
    type_coding: Value,
    subtypes: Vec<Value>,
    action: Action,
    outcome: Outcome,
    outcome_desc: Option<String>,
    recorded: Option<Instant>,
    agents: Vec<Value>,
    entities: Vec<Entity>,
}

impl Event {
    fn new(type_coding: Value, bedside_subtype: &str, action: Action) -> Self {
        Self {
            type_coding,
            subtypes: vec![json!({"system": SUBTYPE_SYSTEM, "code": bedside_subtype})],
            action,
            outcome: Outcome::Success,
            outcome_desc: None,
            recorded: None,
            agents: Vec::new(),
            entities: Vec::new(),
        }
    }

    /// A RESTful interaction (`read`, `search-type`, `create`, `update`,
    /// `operation`, ...) of type `rest`.
    pub fn rest(interaction: &str, bedside_subtype: &str, action: Action) -> Self {
        let mut e = Self::new(
            json!({"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}),
            bedside_subtype,
            action,
        );
        e.subtypes
            .insert(0, json!({"system": RESTFUL, "code": interaction}));
        e
    }

    /// A DICOM event type (e.g. `110100` Application Activity).
    pub fn dicom(code: &str, display: &str, bedside_subtype: &str, action: Action) -> Self {
        Self::new(
            json!({"system": DCM, "code": code, "display": display}),
            bedside_subtype,
            action,
        )
    }

    /// Bedside's own activity (timers, pathway effects): DICOM 110100
    /// Application Activity, agent Bedside.
    pub fn activity(bedside_subtype: &str, action: Action) -> Self {
        Self::dicom("110100", "Application Activity", bedside_subtype, action).by_bedside()
    }

    /// An extra DICOM subtype (e.g. `110120` Application Start).
    pub fn dicom_subtype(mut self, code: &str, display: &str) -> Self {
        self.subtypes
            .insert(0, json!({"system": DCM, "code": code, "display": display}));
        self
    }

    /// The person (or service account) who asked: the principal, else
    /// [`ANONYMOUS`].
    pub fn by(mut self, who: &Actor) -> Self {
        let mut a = match &who.principal {
            Some(p) => json!({
                "who": {"identifier": {"system": "urn:bedside:principal", "value": p}, "display": p},
                "requestor": true,
            }),
            None => json!({"who": {"display": ANONYMOUS}, "requestor": true}),
        };
        if let Some(p) = &who.practitioner {
            a["who"]["reference"] = json!(p);
        }
        if let Some(r) = &who.role {
            a["role"] = json!([{"text": r}]);
        }
        self.agents.push(a);
        self
    }

    /// A user named by the request itself (e.g. the CDS Hooks
    /// `context.userId`), when Bedside has no principal of its own.
    pub fn by_user_reference(mut self, reference: Option<&str>) -> Self {
        match reference {
            Some(r) => self
                .agents
                .push(json!({"who": {"reference": r}, "requestor": true})),
            None => return self.by(&Actor::anonymous()),
        }
        self
    }

    /// Bedside itself (requestor when no other agent asked).
    pub fn by_bedside(mut self) -> Self {
        let requestor = self.agents.is_empty();
        self.agents.push(json!({
            "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
            "who": {"reference": BEDSIDE_DEVICE, "display": bedside_display()},
            "requestor": requestor,
        }));
        self
    }

    pub fn entity(mut self, e: Entity) -> Self {
        self.entities.push(e);
        self
    }

    /// The patient the event is about (`None`: none).
    pub fn patient(self, id: Option<&str>) -> Self {
        match id {
            Some(p) => self.entity(Entity::patient(p)),
            None => self,
        }
    }

    pub fn outcome(mut self, o: Outcome, desc: Option<&str>) -> Self {
        self.outcome = o;
        self.outcome_desc = desc.map(str::to_string);
        self
    }

    /// When it happened (default: now, on the wall clock).
    pub fn at(mut self, t: Instant) -> Self {
        self.recorded = Some(t);
        self
    }

    /// The AuditEvent; `site` names this Bedside instance (its public URL).
    pub fn build(self, site: &str) -> Value {
        let recorded = self.recorded.unwrap_or_else(chrono::Utc::now);
        let mut agents = self.agents;
        if agents.is_empty() {
            agents.push(json!({"who": {"display": ANONYMOUS}, "requestor": true}));
        }
        let mut ev = json!({
            "resourceType": "AuditEvent",
            "id": uuid::Uuid::new_v4().to_string(),
            "type": self.type_coding,
            "subtype": self.subtypes,
            "action": self.action.code(),
            "recorded": recorded.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "outcome": self.outcome.code(),
            "agent": agents,
            "source": {
                "site": site,
                "observer": {"reference": BEDSIDE_DEVICE, "display": bedside_display()},
                "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
            },
        });
        if let Some(d) = self.outcome_desc {
            ev["outcomeDesc"] = json!(d);
        }
        if !self.entities.is_empty() {
            ev["entity"] = Value::Array(self.entities.iter().map(Entity::to_json).collect());
        }
        ev
    }
}

pub fn bedside_display() -> String {
    format!("Bedside {}", env!("CARGO_PKG_VERSION"))
}

/// The Bedside subtype code of an audit body (`None` for a body that is
/// not one of these AuditEvents).
pub fn subtype_of(body: &Value) -> Option<&str> {
    body["subtype"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == SUBTYPE_SYSTEM)?["code"]
        .as_str()
}

/// The first entity `detail` named `key`, over all entities.
pub fn detail<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body["entity"]
        .as_array()?
        .iter()
        .flat_map(|e| e["detail"].as_array().into_iter().flatten())
        .find(|d| d["type"] == key)?["valueString"]
        .as_str()
}

/// A CDS Hooks card recorded: returned to the EHR (`card-returned`) or
/// kept silent by the stage (`card-silent`). Entities: the patient, the
/// card (uuid, service, tier), the model and the prediction shown. The
/// agent is the hook's `context.userId` (the EHR names its user).
pub fn card_event(
    service: &str,
    pid: &str,
    card_uuid: &str,
    p: &bedside_models::Prediction,
    tier: bedside_cds::Tier,
    shown: bool,
    user: Option<&str>,
) -> Event {
    Event::rest(
        "operation",
        if shown {
            "card-returned"
        } else {
            "card-silent"
        },
        Action::Execute,
    )
    .by_user_reference(user)
    .patient(Some(pid))
    .entity(
        Entity::identifier("urn:bedside:card", card_uuid)
            .detail("service", service)
            .detail("tier", format!("{tier:?}").to_lowercase())
            .detail("shown", shown),
    )
    .entity(Entity::model(&p.model_id, &p.model_version))
    .entity(Entity::identifier(
        "urn:bedside:prediction",
        &crate::prediction_id(p, pid),
    ))
}

/// Feedback on a card: `card-accepted` or `card-overridden` (with the
/// override reason's code). The agent is the user the card was shown to.
pub fn feedback_event(
    service: &str,
    item: &bedside_cds::FeedbackItem,
    card: Option<&crate::CardRecord>,
) -> Event {
    let overridden = matches!(item.outcome, bedside_cds::Outcome::Overridden);
    let mut what = Entity::identifier("urn:bedside:card", &item.card)
        .detail("service", service)
        .detail(
            "outcome",
            if overridden { "overridden" } else { "accepted" },
        )
        .detail("card_known", card.is_some());
    if let Some(r) = item
        .override_reason
        .as_ref()
        .and_then(|r| r.reason.as_ref())
    {
        what = what.detail("reason", format!("{}|{}", r.system, r.code));
    }
    let user = card.and_then(|c| c.user.as_deref());
    Event::rest(
        "operation",
        if overridden {
            "card-overridden"
        } else {
            "card-accepted"
        },
        Action::Execute,
    )
    .by_user_reference(user)
    .patient(card.map(|c| c.patient_id.as_str()))
    .entity(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_event_has_the_r4_required_parts() {
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        let ev = Event::rest("read", "fhir-read", Action::Read)
            .by(&Actor::new(Some("alice"), Some("clinician")))
            .patient(Some("Patient/p1"))
            .entity(Entity::reference("Observation/o1").detail("n", 3))
            .at(t)
            .build("http://bedside.test");
        assert_eq!(ev["resourceType"], "AuditEvent");
        assert_eq!(ev["type"]["code"], "rest");
        assert_eq!(ev["subtype"][0]["code"], "read");
        assert_eq!(subtype_of(&ev), Some("fhir-read"));
        assert_eq!(ev["action"], "R");
        assert_eq!(ev["outcome"], "0");
        assert_eq!(ev["recorded"], "2023-11-14T22:13:20.000005Z");
        assert_eq!(ev["agent"][0]["who"]["identifier"]["value"], "alice");
        assert_eq!(ev["agent"][0]["role"][0]["text"], "clinician");
        assert_eq!(ev["agent"][0]["requestor"], true);
        assert_eq!(ev["source"]["site"], "http://bedside.test");
        assert_eq!(ev["source"]["observer"]["reference"], "Device/bedside");
        assert_eq!(ev["entity"][0]["what"]["reference"], "Patient/p1");
        assert_eq!(ev["entity"][0]["role"]["code"], "1");
        assert_eq!(detail(&ev, "n"), Some("3"));
        assert_eq!(detail(&ev, "missing"), None);
    }

    #[test]
    fn empty_details_are_left_out_as_fhir_has_no_empty_strings() {
        let ev = Event::rest("search-type", "fhir-search", Action::Execute)
            .entity(Entity::query("Task", "").detail("total", 0))
            .build("s");
        let details = ev["entity"][0]["detail"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{details:?}");
        assert_eq!(detail(&ev, "total"), Some("0"));
        assert_eq!(detail(&ev, "query"), None);
        assert!(!ev.to_string().contains(r#""valueString":"""#));
    }

    #[test]
    fn no_principal_is_anonymous_and_bedside_alone_is_the_requestor() {
        let ev = Event::rest("search-type", "fhir-search", Action::Execute)
            .by(&Actor::anonymous())
            .build("s");
        assert_eq!(ev["agent"][0]["who"]["display"], ANONYMOUS);
        let ev = Event::activity("pathway-timer-fired", Action::Execute).build("s");
        assert_eq!(ev["agent"][0]["who"]["reference"], "Device/bedside");
        assert_eq!(ev["agent"][0]["requestor"], true);
        assert_eq!(ev["agent"].as_array().map(Vec::len), Some(1));
    }
}
