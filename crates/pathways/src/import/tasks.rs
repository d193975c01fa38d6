//! User and service tasks: bindings, roles, inputs (camunda:, zeebe:, bedside:).

use super::Ctx;
use crate::duration::IsoDuration;
use crate::feel::Expr;
use crate::model::*;
use crate::xml::{Element, NS_BEDSIDE, NS_BPMN, NS_CAMUNDA, NS_ZEEBE};

/// An extension attribute: `bedside:` first, then `camunda:`.
pub(super) fn ext<'a>(el: &'a Element, local: &str) -> Option<&'a str> {
    el.attr_ns(NS_BEDSIDE, local)
        .or_else(|| el.attr_ns(NS_CAMUNDA, local))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A zeebe extension element's attribute (`<zeebe:taskDefinition type=..>`).
fn zeebe<'a>(el: &'a Element, child: &str, attr: &str) -> Option<&'a str> {
    el.child(NS_BPMN, "extensionElements")
        .and_then(|x| x.child(NS_ZEEBE, child))
        .and_then(|c| c.attr(attr))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub(super) fn service_task(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<NodeKind> {
    let implementation = el.attr("implementation").filter(|s| !s.starts_with("##"));
    let binding = el
        .attr_ns(NS_BEDSIDE, "action")
        .or(implementation)
        .or_else(|| el.attr_ns(NS_CAMUNDA, "topic"))
        .or_else(|| zeebe(el, "taskDefinition", "type"));
    let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    let Some(binding) = binding else {
        cx.err(
            id,
            format!(
                "service task is not bound to a Bedside action (set bedside:action, implementation, camunda:topic or zeebe:taskDefinition type to one of {})",
                known.join(", ")
            ),
        );
        return None;
    };
    let Some(action) = Action::parse(binding) else {
        cx.err(
            id,
            format!(
                "unknown action {binding:?}; expected one of {}",
                known.join(", ")
            ),
        );
        return None;
    };
    let inputs = inputs(cx, el, id)?;
    Some(NodeKind::ServiceTask { action, inputs })
}

fn input_value(cx: &mut Ctx<'_>, id: &str, name: &str, text: &str) -> Option<InputValue> {
    let t = text.trim();
    if t.starts_with('=') {
        match Expr::parse(t) {
            Ok(e) => Some(InputValue::Expr(e)),
            Err(e) => {
                cx.err(id, format!("input {name:?}: {e}"));
                None
            }
        }
    } else if t.contains("${") || t.contains("#{") {
        cx.err(
            id,
            format!("input {name:?}: JUEL expressions are not supported; write =FEEL"),
        );
        None
    } else {
        Some(InputValue::Literal(t.to_string()))
    }
}

/// `camunda:inputOutput/inputParameter` and `zeebe:ioMapping/input`.
fn inputs(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<Vec<Input>> {
    let mut out = Vec::new();
    let mut ok = true;
    let Some(x) = el.child(NS_BPMN, "extensionElements") else {
        return Some(out);
    };
    let mut raw: Vec<(String, String)> = Vec::new();
    for io in x.children_named(NS_CAMUNDA, "inputOutput") {
        for p in io.children_named(NS_CAMUNDA, "inputParameter") {
            let Some(name) = p.attr("name") else {
                cx.err(id, "camunda:inputParameter without name");
                ok = false;
                continue;
            };
            if let Some(c) = p.children.first() {
                cx.err(
                    id,
                    format!(
                        "input {name:?}: <{}> values are not supported; use =FEEL",
                        c.qname
                    ),
                );
                ok = false;
                continue;
            }
            raw.push((name.to_string(), p.text.clone()));
        }
    }
    for io in x.children_named(NS_ZEEBE, "ioMapping") {
        for p in io.children_named(NS_ZEEBE, "input") {
            match (p.attr("target"), p.attr("source")) {
                (Some(t), Some(s)) => raw.push((t.to_string(), s.to_string())),
                _ => {
                    cx.err(id, "zeebe:input needs source and target");
                    ok = false;
                }
            }
        }
    }
    for (name, text) in raw {
        match input_value(cx, id, &name, &text) {
            Some(value) => out.push(Input { name, value }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn priority(cx: &mut Ctx<'_>, id: &str, raw: &str) -> Option<String> {
    if PRIORITIES.contains(&raw) {
        return Some(raw.to_string());
    }
    // Camunda writes numeric priorities (0-100): map to FHIR by quartile.
    match raw.parse::<u32>() {
        Ok(n) if n <= 100 => Some(PRIORITIES[(n as usize / 25).min(3)].to_string()),
        _ => {
            cx.err(
                id,
                format!("priority {raw:?} is not one of routine, urgent, asap, stat (or 0-100)"),
            );
            None
        }
    }
}

pub(super) fn user_task(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<UserTaskSpec> {
    let groups = ext(el, "role")
        .or_else(|| ext(el, "candidateGroups"))
        .or_else(|| zeebe(el, "assignmentDefinition", "candidateGroups"));
    let roles: Vec<String> = groups
        .map(|g| {
            g.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let assignee_raw = el
        .attr_ns(NS_BEDSIDE, "owner")
        .or_else(|| ext(el, "assignee"))
        .or_else(|| zeebe(el, "assignmentDefinition", "assignee"));
    let assignee = match assignee_raw {
        Some(a) => Some(input_value(cx, id, "assignee", a)?),
        None => None,
    };
    if roles.is_empty() && assignee.is_none() {
        cx.warn(
            id,
            "user task has no candidate group (role) or assignee: its Task will have no owner",
        );
    }
    let prio_raw = ext(el, "priority").or_else(|| zeebe(el, "priorityDefinition", "priority"));
    let priority = match prio_raw {
        Some(p) => priority(cx, id, p)?,
        None => "routine".to_string(),
    };
    let due_raw = ext(el, "due")
        .or_else(|| ext(el, "dueDate"))
        .or_else(|| zeebe(el, "taskSchedule", "dueDate"));
    let due = match due_raw {
        Some(d) => match IsoDuration::parse(d) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.err(id, format!("bad due duration: {e}"));
                return None;
            }
        },
        None => None,
    };
    let description = el
        .child(NS_BPMN, "documentation")
        .map(|d| d.text.trim().to_string())
        .filter(|s| !s.is_empty());
    Some(UserTaskSpec {
        roles,
        assignee,
        priority,
        due,
        description,
        inputs: inputs(cx, el, id)?,
        decision: decision(cx, el, id)?,
    })
}

/// `<bedside:decision variable><bedside:option code display value>
/// <bedside:reason code display/></bedside:option></bedside:decision>` in
/// the task's `extensionElements` (see [`DecisionSpec`]). `Some(None)`:
/// none; `None`: a problem was reported.
fn nonblank<'a>(e: &'a Element, a: &str) -> Option<&'a str> {
    e.attr(a).map(str::trim).filter(|s| !s.is_empty())
}

fn decision(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<Option<DecisionSpec>> {
    let Some(d) = el
        .child(NS_BPMN, "extensionElements")
        .and_then(|x| x.child(NS_BEDSIDE, "decision"))
    else {
        return Some(None);
    };
    let Some(variable) = nonblank(d, "variable") else {
        cx.err(
            id,
            "bedside:decision needs a variable (e.g. nurse.decision)",
        );
        return None;
    };
    if variable.split('.').any(|p| p.is_empty()) {
        cx.err(
            id,
            format!("bedside:decision variable {variable:?} is not a dotted name"),
        );
        return None;
    }
    let mut options: Vec<DecisionOption> = Vec::new();
    let mut ok = true;
    for o in d.children_named(NS_BEDSIDE, "option") {
        let (Some(code), Some(display)) = (nonblank(o, "code"), nonblank(o, "display")) else {
            cx.err(id, "bedside:option needs a code and a display");
            ok = false;
            continue;
        };
        if options.iter().any(|x| x.code == code) {
            cx.err(id, format!("bedside:option code {code:?} is given twice"));
            ok = false;
            continue;
        }
        let raw = nonblank(o, "value").unwrap_or(code);
        let value = match raw {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            n => match n.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                Some(num) if nonblank(o, "value").is_some() => serde_json::Value::Number(num),
                _ => serde_json::Value::String(n.to_string()),
            },
        };
        let mut reasons = Vec::new();
        for r in o.children_named(NS_BEDSIDE, "reason") {
            match (nonblank(r, "code"), nonblank(r, "display")) {
                (Some(c), Some(t)) => reasons.push(DecisionReason {
                    code: c.to_string(),
                    display: t.to_string(),
                }),
                _ => {
                    cx.err(
                        id,
                        format!("bedside:reason of option {code:?} needs a code and a display"),
                    );
                    ok = false;
                }
            }
        }
        options.push(DecisionOption {
            code: code.to_string(),
            display: display.to_string(),
            value,
            reasons,
        });
    }
    if options.len() < 2 && ok {
        cx.err(id, "bedside:decision needs at least two bedside:option");
        return None;
    }
    ok.then_some(Some(DecisionSpec {
        variable: variable.to_string(),
        options,
    }))
}
