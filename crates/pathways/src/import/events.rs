//! Events, gateways and the element dispatch.

use super::tasks::{ext, service_task, user_task};
use super::Ctx;
use crate::duration::IsoDuration;
use crate::model::*;
use crate::xml::{Element, NS_BEDSIDE, NS_BPMN};

/// Attributes of the `bedside:` namespace the importer understands.
const BEDSIDE_ATTRS: [&str; 6] = ["action", "role", "owner", "priority", "due", "until"];

/// Build the node kind, or report the element as unsupported (`None`).
pub(super) fn node_kind(cx: &mut Ctx<'_>, el: &Element, id: &str) -> Option<NodeKind> {
    for lc in [
        "multiInstanceLoopCharacteristics",
        "standardLoopCharacteristics",
    ] {
        if el.child(NS_BPMN, lc).is_some() {
            cx.err(id, format!("<{}> with {lc} is not supported", el.qname));
            return None;
        }
    }
    for a in el
        .attrs
        .iter()
        .filter(|a| a.ns.as_deref() == Some(NS_BEDSIDE))
    {
        if !BEDSIDE_ATTRS.contains(&a.local.as_str()) {
            cx.warn(
                id,
                format!(
                    "unknown attribute bedside:{} (known: {}); it is ignored",
                    a.local,
                    BEDSIDE_ATTRS.join(", ")
                ),
            );
        }
    }
    let defs: Vec<&Element> = el
        .children
        .iter()
        .filter(|c| c.ns.as_deref() == Some(NS_BPMN) && c.local.ends_with("EventDefinition"))
        .collect();
    let kind = match el.local.as_str() {
        "startEvent" => start_event(cx, el, id, &defs)?,
        "endEvent" => match defs.as_slice() {
            [] => NodeKind::EndEvent { terminate: false },
            [d] if d.local == "terminateEventDefinition" => NodeKind::EndEvent { terminate: true },
            _ => return unsupported_defs(cx, el, id, &defs),
        },
        "serviceTask" => service_task(cx, el, id)?,
        "userTask" => NodeKind::UserTask(user_task(cx, el, id)?),
        "exclusiveGateway" => NodeKind::ExclusiveGateway {
            default: el.attr("default").map(str::to_string),
        },
        "parallelGateway" => NodeKind::ParallelGateway,
        "eventBasedGateway" => {
            if el.attr("instantiate") == Some("true") {
                cx.err(id, "instantiating event-based gateways are not supported");
                return None;
            }
            NodeKind::EventBasedGateway
        }
        "boundaryEvent" => {
            let trigger = catch_trigger(cx, el, id, &defs)?;
            let Some(attached) = el.attr("attachedToRef") else {
                cx.err(id, "boundary event without attachedToRef");
                return None;
            };
            let scope = match ext(el, "until") {
                None | Some("acknowledged") => TimerScope::UntilAcknowledged,
                Some("completed") => TimerScope::UntilCompleted,
                Some(other) => {
                    cx.err(
                        id,
                        format!("bedside:until is {other:?}; expected \"acknowledged\" or \"completed\""),
                    );
                    return None;
                }
            };
            NodeKind::BoundaryEvent {
                attached_to: attached.to_string(),
                interrupting: el.attr("cancelActivity") != Some("false"),
                trigger,
                scope,
            }
        }
        "intermediateCatchEvent" => {
            NodeKind::IntermediateCatchEvent(catch_trigger(cx, el, id, &defs)?)
        }
        _ => {
            cx.err(
                id,
                format!(
                    "<{}> is not supported by the Bedside pathway engine",
                    el.qname
                ),
            );
            return None;
        }
    };
    Some(kind)
}

fn unsupported_defs<T>(cx: &mut Ctx<'_>, el: &Element, id: &str, defs: &[&Element]) -> Option<T> {
    let tags: Vec<&str> = defs.iter().map(|d| d.qname.as_str()).collect();
    cx.err(
        id,
        format!("<{}> with {} is not supported", el.qname, tags.join(" + ")),
    );
    None
}

fn start_event(cx: &mut Ctx<'_>, el: &Element, id: &str, defs: &[&Element]) -> Option<NodeKind> {
    let trigger = match defs {
        [] => StartTrigger::None,
        [d] if d.local == "messageEventDefinition" => {
            StartTrigger::Message(ref_name(cx, id, d, "messageRef")?)
        }
        [d] if d.local == "signalEventDefinition" => {
            StartTrigger::Signal(ref_name(cx, id, d, "signalRef")?)
        }
        _ => return unsupported_defs(cx, el, id, defs),
    };
    Some(NodeKind::StartEvent(trigger))
}

fn catch_trigger(
    cx: &mut Ctx<'_>,
    el: &Element,
    id: &str,
    defs: &[&Element],
) -> Option<CatchTrigger> {
    match defs {
        [d] if d.local == "messageEventDefinition" => {
            Some(CatchTrigger::Message(ref_name(cx, id, d, "messageRef")?))
        }
        [d] if d.local == "timerEventDefinition" => {
            for other in ["timeDate", "timeCycle"] {
                if d.child(NS_BPMN, other).is_some() {
                    cx.err(
                        id,
                        format!(
                            "timer with {other} is not supported; use timeDuration (e.g. PT15M)"
                        ),
                    );
                    return None;
                }
            }
            let Some(td) = d.child(NS_BPMN, "timeDuration") else {
                cx.err(id, "timer without timeDuration");
                return None;
            };
            match IsoDuration::parse(&td.text) {
                Ok(dur) => Some(CatchTrigger::Timer(dur)),
                Err(e) => {
                    cx.err(id, format!("bad timer duration: {e}"));
                    None
                }
            }
        }
        [] => {
            cx.err(
                id,
                format!(
                    "<{}> without an event definition is not supported",
                    el.qname
                ),
            );
            None
        }
        _ => unsupported_defs(cx, el, id, defs),
    }
}

/// Resolve `messageRef` / `signalRef` to the referenced element's name.
fn ref_name(cx: &mut Ctx<'_>, id: &str, d: &Element, attr: &str) -> Option<String> {
    let table = if attr == "messageRef" {
        &cx.messages
    } else {
        &cx.signals
    };
    let Some(r) = d.attr(attr) else {
        cx.err(id, format!("{} without {attr}", d.qname));
        return None;
    };
    match table.get(r) {
        Some(Some(name)) if !name.trim().is_empty() => Some(name.trim().to_string()),
        Some(_) => {
            cx.err(id, format!("{attr} {r:?} names an element without a name"));
            None
        }
        None => {
            cx.err(
                id,
                format!(
                    "{attr} {r:?} does not name a bpmn:{}",
                    &attr[..attr.len() - 3]
                ),
            );
            None
        }
    }
}
