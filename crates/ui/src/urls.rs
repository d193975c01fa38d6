//! The UI's URLs, defined once: pages link with these and the server routes
//! the same paths (everything lives under `/ui`).

use crate::util::encode_component as enc;

/// Root of the UI.
pub const ROOT: &str = "/ui";

/// `/ui/assets/{name}`.
pub fn asset(name: &str) -> String {
    format!("/ui/assets/{}", enc(name))
}

/// Monitoring dashboard (the UI's home page), optionally for one model
/// (`?model=`).
pub fn dashboard(model: Option<&str>) -> String {
    match model {
        Some(m) => format!("/ui?model={}", enc(m)),
        None => "/ui".to_string(),
    }
}

/// Worklist.
pub fn worklist() -> String {
    "/ui/worklist".to_string()
}

/// POST target of a task action: `/ui/worklist/{task_id}/{action}`.
/// Demo mode's "act as" form target.
pub fn act_as() -> String {
    "/ui/act-as".to_string()
}

/// The trust pulse page of `model`.
pub fn pulse(model: &str) -> String {
    format!("/ui/pulse?model={}", enc(model))
}

pub fn task_action(task_id: &str, action: &str) -> String {
    format!("/ui/worklist/{}/{}", enc(task_id), enc(action))
}

/// EHR sandbox, optionally with a patient selected and/or a search query.
pub fn sandbox(patient: Option<&str>, query: Option<&str>) -> String {
    let mut q = Vec::new();
    if let Some(p) = patient {
        q.push(format!("patient={}", enc(p)));
    }
    if let Some(s) = query.filter(|s| !s.is_empty()) {
        q.push(format!("q={}", enc(s)));
    }
    if q.is_empty() {
        "/ui/sandbox".to_string()
    } else {
        format!("/ui/sandbox?{}", q.join("&"))
    }
}

/// Token endpoint the sandbox script calls (`?aud=` is appended by the script).
pub const SANDBOX_TOKEN: &str = "/ui/sandbox/token";

/// POST target of the sandbox's demo control that starts the escalation
/// pathway for a patient (form field `patient`).
pub const SANDBOX_START_PATHWAY: &str = "/ui/sandbox/start-pathway";

/// One patient's page (risk history, factors, open Tasks), where a SMART
/// launch lands.
pub fn patient(id: &str) -> String {
    format!("/ui/patients/{}", enc(id))
}

/// Pathways index.
pub fn pathways() -> String {
    "/ui/pathways".to_string()
}

/// One pathway's page.
pub fn pathway(id: &str) -> String {
    format!("/ui/pathways/{}", enc(id))
}

/// The diagram fragment of one pathway, polled by htmx every 5 s.
pub fn pathway_diagram(id: &str) -> String {
    format!("/ui/pathways/{}/diagram", enc(id))
}

/// Models index.
pub fn models() -> String {
    "/ui/models".to_string()
}

/// Model facts page of one model version.
pub fn model_facts(id: &str, version: &str) -> String {
    format!("/ui/models/{}/{}", enc(id), enc(version))
}

/// Sign-in page (access control on), optionally returning to `next`.
pub fn login(next: Option<&str>) -> String {
    match next {
        Some(n) => format!("/ui/login?next={}", enc(n)),
        None => "/ui/login".to_string(),
    }
}

/// POST target that ends the session.
pub const LOGOUT: &str = "/ui/logout";
