//! Permissions: the Bedside roles, the endpoint groups a request falls
//! into ([`Group::of`]), and the one table of who may do what
//! ([`PERMISSIONS`]).

use axum::http::Method;
use std::fmt;

/// A Bedside role. Identity providers' own role names are mapped onto
/// these (`auth_role_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees and acts on patient tasks, answers the trust pulse.
    Clinician,
    /// Clinical informatics: runs the sandbox, models and pathways.
    Informatics,
    /// Governance: monitoring, reports, metrics.
    Governance,
    /// System administration.
    Admin,
    /// A machine feeding data in (FHIR ingest, `$import`).
    Service,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Clinician,
        Role::Informatics,
        Role::Governance,
        Role::Admin,
        Role::Service,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Informatics => "informatics",
            Role::Governance => "governance",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An endpoint group: the unit of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `GET /healthz`, `GET /openapi.json`, `GET /fhir/metadata` (the API
    /// description and the CapabilityStatement are public, as FHIR has it).
    Health,
    /// `/cds-services/**`: the EHR's JWT is verified by the hook service.
    CdsHooks,
    /// `POST /fhir`, `POST|PUT /fhir/{type}[/{id}]`, `POST /fhir/$import`.
    FhirWrite,
    /// `GET /fhir/**`.
    FhirRead,
    /// `GET /worklist`.
    WorklistRead,
    /// `POST /worklist/{task}/{action}`.
    WorklistAction,
    /// `/pulse/**` (trust pulse questions and answers).
    Pulse,
    /// `GET /metrics`.
    Metrics,
    /// `/ui/login`, `/ui/logout`, `/ui/assets/**`.
    UiOpen,
    /// `/ui` (monitoring dashboard).
    UiDashboard,
    /// `GET /ui/worklist`.
    UiWorklist,
    /// `POST /ui/worklist/{task}/{action}`.
    UiWorklistAction,
    /// `/ui/sandbox/**` (acts as the EHR, signs demo hook tokens).
    UiSandbox,
    /// `/ui/pathways/**`.
    UiPathways,
    /// `/ui/models/**` (model facts).
    UiModels,
    /// `GET /ui/patients/{id}` (one patient's page; also admitted with a
    /// SMART launch session for that patient).
    UiPatient,
    /// `/smart/launch`, `/smart/redirect`: the SMART EHR launch (the
    /// authorization server authenticates the user).
    SmartLaunch,
    /// Any other `/ui/...` path (answers 404 to a signed-in user).
    UiOther,
    /// Everything not listed: deny by default (admin only).
    Other,
}

use Role::{Admin, Clinician, Governance, Informatics, Service};

/// Who may do what: `None` is open (no credential needed), otherwise the
/// roles admitted (any one suffices). Least privilege: e.g. a service
/// account can feed data in but not read it back or act on tasks; an
/// administrator runs the system but does not act on patients.
pub const PERMISSIONS: &[(Group, Option<&[Role]>)] = &[
    (Group::Health, None),
    (Group::CdsHooks, None),
    (Group::FhirWrite, Some(&[Service, Admin])),
    (Group::FhirRead, Some(&[Clinician, Informatics, Admin])),
    (Group::WorklistRead, Some(&[Clinician, Informatics])),
    (Group::WorklistAction, Some(&[Clinician])),
    (Group::Pulse, Some(&[Clinician])),
    (Group::Metrics, Some(&[Governance, Informatics, Admin])),
    (Group::UiOpen, None),
    (Group::UiDashboard, Some(&[Governance, Informatics, Admin])),
    (Group::UiWorklist, Some(&[Clinician, Informatics])),
    (Group::UiWorklistAction, Some(&[Clinician])),
    (Group::UiSandbox, Some(&[Informatics, Admin])),
    (Group::UiPathways, Some(&[Informatics, Governance, Admin])),
    (
        Group::UiModels,
        Some(&[Clinician, Informatics, Governance, Admin]),
    ),
    (Group::UiPatient, Some(&[Clinician, Informatics])),
    (Group::SmartLaunch, None),
    (
        Group::UiOther,
        Some(&[Clinician, Informatics, Governance, Admin]),
    ),
    (Group::Other, Some(&[Admin])),
];

impl Group {
    /// The roles this group admits (`None`: open).
    pub fn roles(self) -> Option<&'static [Role]> {
        PERMISSIONS
            .iter()
            .find(|(g, _)| *g == self)
            .map(|(_, r)| *r)
            .unwrap_or(Some(&[Admin]))
    }

    /// A `/ui` page (session cookie accepted, HTML refusals).
    pub fn is_ui(self) -> bool {
        matches!(
            self,
            Group::UiOpen
                | Group::UiDashboard
                | Group::UiWorklist
                | Group::UiWorklistAction
                | Group::UiSandbox
                | Group::UiPathways
                | Group::UiModels
                | Group::UiPatient
                | Group::UiOther
        )
    }

    /// The group of a request.
    pub fn of(method: &Method, path: &str) -> Group {
        let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let get = method == Method::GET || method == Method::HEAD;
        match seg.as_slice() {
            ["healthz"] | ["openapi.json"] => Group::Health,
            ["fhir", "metadata"] if get => Group::Health,
            ["cds-services", ..] => Group::CdsHooks,
            ["fhir", ..] if get => Group::FhirRead,
            ["fhir", ..] => Group::FhirWrite,
            ["worklist"] if get => Group::WorklistRead,
            ["worklist", _, _] if method == Method::POST => Group::WorklistAction,
            // The card's pulse link only redirects to `/ui/pulse`.
            ["pulse"] if get => Group::Health,
            ["pulse", ..] => Group::Pulse,
            ["metrics"] => Group::Metrics,
            ["ui", "login"] | ["ui", "logout"] | ["ui", "assets", ..] => Group::UiOpen,
            ["ui"] | ["ui", ""] => Group::UiDashboard,
            ["ui", "worklist"] => Group::UiWorklist,
            ["ui", "worklist", _, _] if method == Method::POST => Group::UiWorklistAction,
            ["ui", "sandbox", ..] => Group::UiSandbox,
            ["ui", "pathways", ..] => Group::UiPathways,
            ["ui", "models", ..] => Group::UiModels,
            ["ui", "patients", _] if get => Group::UiPatient,
            ["smart", "launch"] | ["smart", "redirect"] if get => Group::SmartLaunch,
            ["ui", ..] => Group::UiOther,
            _ => Group::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_is_in_the_table_once() {
        let all = [
            Group::Health,
            Group::CdsHooks,
            Group::FhirWrite,
            Group::FhirRead,
            Group::WorklistRead,
            Group::WorklistAction,
            Group::Pulse,
            Group::Metrics,
            Group::UiOpen,
            Group::UiDashboard,
            Group::UiWorklist,
            Group::UiWorklistAction,
            Group::UiSandbox,
            Group::UiPathways,
            Group::UiModels,
            Group::UiPatient,
            Group::SmartLaunch,
            Group::UiOther,
            Group::Other,
        ];
        for g in all {
            assert_eq!(
                PERMISSIONS.iter().filter(|(x, _)| *x == g).count(),
                1,
                "{g:?}"
            );
        }
        assert_eq!(PERMISSIONS.len(), all.len());
    }

    #[test]
    fn requests_fall_into_their_groups() {
        let g = |m: Method, p: &str| Group::of(&m, p);
        assert_eq!(g(Method::GET, "/healthz"), Group::Health);
        assert_eq!(g(Method::POST, "/fhir/$import"), Group::FhirWrite);
        assert_eq!(g(Method::PUT, "/fhir/Patient/1"), Group::FhirWrite);
        assert_eq!(g(Method::GET, "/fhir/Patient/1"), Group::FhirRead);
        assert_eq!(g(Method::GET, "/fhir/metadata"), Group::Health);
        assert_eq!(g(Method::POST, "/fhir/metadata"), Group::FhirWrite);
        assert_eq!(g(Method::POST, "/worklist/t1/claim"), Group::WorklistAction);
        assert_eq!(g(Method::GET, "/worklist"), Group::WorklistRead);
        assert_eq!(g(Method::POST, "/cds-services/x"), Group::CdsHooks);
        assert_eq!(g(Method::GET, "/ui/"), Group::UiDashboard);
        assert_eq!(g(Method::GET, "/ui/assets/bedside.css"), Group::UiOpen);
        assert_eq!(
            g(Method::POST, "/ui/worklist/t/claim"),
            Group::UiWorklistAction
        );
        assert_eq!(g(Method::GET, "/openapi.json"), Group::Health);
        assert_eq!(g(Method::GET, "/ui/patients/p1"), Group::UiPatient);
        assert_eq!(g(Method::GET, "/smart/launch"), Group::SmartLaunch);
        assert_eq!(g(Method::POST, "/smart/launch"), Group::Other);
        assert_eq!(g(Method::GET, "/not-yet-listed"), Group::Other);
        assert_eq!(Group::Other.roles(), Some(&[Role::Admin][..]));
    }
}
