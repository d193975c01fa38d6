//! Engine runs over the shipped pathways and small inline processes.

use bedside_core::Instant;
use bedside_pathways::*;
use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{json, Map, Value};

fn load(path: &str) -> Definition {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let xml = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    Definition::parse(&xml).unwrap_or_else(|p| panic!("{}", format_problems(&p)))
}
fn sepsis() -> Definition {
    load("../../pathways/sepsis-escalation.bpmn")
}
fn radiology() -> Definition {
    load("../../pathways/radiology-review.bpmn")
}
fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap()
}
fn at(min: i64) -> Instant {
    t0() + TimeDelta::minutes(min)
}
fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}
fn none() -> Map<String, Value> {
    Map::new()
}

fn sepsis_vars() -> Map<String, Value> {
    obj(json!({
        "patient": {
            "reference": "Patient/p1",
            "identifiers": [{"system": "urn:mrn", "value": "MRN-1"}],
            "location": {"reference": "Location/4W-12", "display": "4 West bed 12"}
        },
        "risk": {"probability": 0.42, "low": 0.3, "high": 0.55, "model": "sepsis-v1",
                 "tier": "escalation", "reference": "RiskAssessment/r1",
                 "top_factors": [{"name": "lactate", "value": "4.1 mmol/L", "contribution": 0.12}]},
        "observations": [{"name": "Lactate", "value": 4.1, "unit": "mmol/L", "time": "2026-01-05T07:30:00Z"}],
        "allergies": [{"display": "Penicillin", "reference": "AllergyIntolerance/a1"}],
        "medications": [],
        "covering_physician": "Practitioner/dr-who"
    }))
}

fn creates(effects: &[Effect]) -> Vec<&CreateTask> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CreateTask(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn start_sepsis(id: &str) -> (Instance, Vec<Effect>) {
    Engine::start(
        &sepsis(),
        id,
        &StartTrigger::Message("sepsis-alert".into()),
        sepsis_vars(),
        t0(),
    )
    .unwrap()
}

fn task_of(inst: &Instance, element: &str) -> String {
    inst.tokens
        .iter()
        .find_map(|t| match &t.wait {
            Wait::UserTask { task_id, .. } if t.element_id == element => Some(task_id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no open task at {element}: {:?}", inst.tokens))
}

fn timer_of(inst: &Instance, event: &str) -> String {
    inst.tokens
        .iter()
        .find_map(|t| match &t.wait {
            Wait::UserTask { timers, .. } | Wait::EventGateway { timers, .. } => timers
                .iter()
                .find(|w| w.event_id == event)
                .map(|w| w.timer_id.clone()),
            Wait::Timer(w) if w.event_id == event => Some(w.timer_id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no timer {event}: {:?}", inst.tokens))
}

#[test]
fn sepsis_nurse_times_out_physician_acknowledges_bundle_ends_it() {
    let def = sepsis();
    let (mut inst, fx) = start_sepsis("alert-1");
    let nurse_task = task_of(&inst, "Task_NurseReassessment");
    let nurse_timer = timer_of(&inst, "Event_NurseTimeout");
    let token = inst.tokens[0].id;
    assert_eq!(
        nurse_task,
        task_id_for("alert-1", "Task_NurseReassessment", token)
    );
    assert_eq!(
        nurse_timer,
        timer_id_for("alert-1", "Event_NurseTimeout", token)
    );
    assert_eq!(fx.len(), 2, "{fx:#?}");
    let c = creates(&fx)[0];
    assert_eq!(c.element_id, "Task_NurseReassessment");
    assert_eq!(c.name, "Bedside nurse reassessment");
    assert_eq!(
        (c.roles.clone(), c.priority.as_str()),
        (vec!["nurse".to_string()], "urgent")
    );
    assert_eq!(c.due, Some(at(15)));
    assert_eq!(c.inputs["risk"]["probability"], json!(0.42));
    assert_eq!(c.inputs["location"]["display"], json!("4 West bed 12"));
    assert_eq!(
        fx[1],
        Effect::ScheduleTimer {
            timer_id: nurse_timer.clone(),
            element_id: "Event_NurseTimeout".into(),
            due_at: at(15)
        }
    );

    // 15 min, nobody acknowledged: escalate to the covering physician
    let fx = Engine::on_timer(&def, &mut inst, &nurse_timer, at(15)).unwrap();
    assert!(
        matches!(&fx[0], Effect::CancelTask { task_id, .. } if *task_id == nurse_task),
        "{fx:#?}"
    );
    let phys = creates(&fx);
    assert_eq!(phys.len(), 1);
    assert_eq!(phys[0].element_id, "Task_PhysicianReview");
    assert_eq!(phys[0].owner.as_deref(), Some("Practitioner/dr-who"));
    assert_eq!(phys[0].due, Some(at(30)), "30 minutes from the alert");
    let phys_timer = timer_of(&inst, "Event_PhysicianTimeout");
    assert!(fx.contains(&Effect::ScheduleTimer {
        timer_id: phys_timer.clone(),
        element_id: "Event_PhysicianTimeout".into(),
        due_at: at(30)
    }));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::CancelTimer { .. })),
        "fired timer is not cancelled"
    );
    assert_eq!(fx.len(), 3);
    assert_eq!(inst.open_tasks(), vec![phys[0].task_id.as_str()]);

    // the physician accepts: the RRT escalation timer is cancelled
    let phys_task = phys[0].task_id.clone();
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &phys_task,
        TaskStatus::Accepted,
        none(),
        at(20),
    )
    .unwrap();
    assert_eq!(
        fx,
        vec![Effect::CancelTimer {
            timer_id: phys_timer.clone()
        }]
    );
    assert!(inst.pending_timers().is_empty());

    // ... so when the (already queued) job fires anyway nothing happens
    let before = inst.clone();
    let fx = Engine::on_timer(&def, &mut inst, &phys_timer, at(30)).unwrap();
    assert!(fx.is_empty(), "{fx:#?}");
    assert_eq!(inst, before);

    // the bundle is ordered: the open task is cancelled and the pathway ends
    let fx = Engine::on_message(
        &def,
        &mut inst,
        "bundle-ordered",
        None,
        obj(json!({"bundle": "ordered"})),
        at(40),
    )
    .unwrap();
    assert_eq!(
        fx,
        vec![
            Effect::CancelTask {
                task_id: phys_task,
                element_id: "Task_PhysicianReview".into(),
                reason: "message Bundle ordered fired".into()
            },
            Effect::Completed {
                end_event: "EndEvent_PhysicianBundle".into(),
                terminated: false
            }
        ]
    );
    assert_eq!(inst.status, InstanceStatus::Completed);
    assert_eq!(inst.ended_at, Some(at(40)));
    assert_eq!(inst.variables["bundle"], json!("ordered"));
    assert!(inst.open_tasks().is_empty() && inst.pending_timers().is_empty());
    // nothing moves a finished instance
    assert!(
        Engine::on_message(&def, &mut inst, "alert-overridden", None, none(), at(41))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sepsis_unacknowledged_escalates_to_rrt_at_30_minutes_then_override_ends_it() {
    let def = sepsis();
    let (mut inst, _) = start_sepsis("alert-2");
    let t = timer_of(&inst, "Event_NurseTimeout");
    Engine::on_timer(&def, &mut inst, &t, at(15)).unwrap();
    let t = timer_of(&inst, "Event_PhysicianTimeout");
    let fx = Engine::on_timer(&def, &mut inst, &t, at(30)).unwrap();
    let rrt = creates(&fx);
    assert_eq!(rrt.len(), 1);
    assert_eq!(
        (rrt[0].element_id.as_str(), rrt[0].priority.as_str()),
        ("Task_RapidResponse", "stat")
    );
    assert_eq!(rrt[0].roles, vec!["rrt"]);
    assert_eq!(rrt[0].due, None);
    assert!(inst.pending_timers().is_empty());
    let steps: Vec<&str> = inst
        .history
        .iter()
        .filter(|s| s.event == "entered")
        .map(|s| s.element_id.as_str())
        .collect();
    assert_eq!(
        steps,
        vec![
            "StartEvent_SepsisAlert",
            "Task_NurseReassessment",
            "Event_NurseTimeout",
            "Task_PhysicianReview",
            "Event_PhysicianTimeout",
            "Task_RapidResponse"
        ]
    );
    let task = rrt[0].task_id.clone();
    // a message for another task does not reach this one
    assert!(Engine::on_message(
        &def,
        &mut inst,
        "alert-overridden",
        Some("pw-other"),
        none(),
        at(31)
    )
    .unwrap()
    .is_empty());
    let fx = Engine::on_message(
        &def,
        &mut inst,
        "alert-overridden",
        Some(&task),
        obj(json!({"override_reason": "comfort care"})),
        at(32),
    )
    .unwrap();
    assert_eq!(fx.len(), 2);
    assert_eq!(
        fx[1],
        Effect::Completed {
            end_event: "EndEvent_RrtOverride".into(),
            terminated: false
        }
    );
    assert_eq!(inst.variables["override_reason"], json!("comfort care"));
}

#[test]
fn sepsis_nurse_completes_with_escalation_or_resolves() {
    let def = sepsis();
    // escalate: the nurse acknowledges, then completes asking for the physician
    let (mut inst, _) = start_sepsis("alert-3");
    let nurse = task_of(&inst, "Task_NurseReassessment");
    let timer = timer_of(&inst, "Event_NurseTimeout");
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &nurse,
        TaskStatus::InProgress,
        none(),
        at(5),
    )
    .unwrap();
    assert_eq!(fx, vec![Effect::CancelTimer { timer_id: timer }]);
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &nurse,
        TaskStatus::Completed,
        obj(json!({"nurse": {"decision": "escalate"}})),
        at(10),
    )
    .unwrap();
    let c = creates(&fx);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].element_id, "Task_PhysicianReview");
    assert_eq!(c[0].due, Some(at(25)));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::CancelTask { .. })),
        "completed task is not cancelled"
    );

    // resolve: completing without escalation takes the default flow
    let (mut inst, _) = start_sepsis("alert-4");
    let nurse = task_of(&inst, "Task_NurseReassessment");
    let timer = timer_of(&inst, "Event_NurseTimeout");
    Engine::on_task_update(&def, &mut inst, &nurse, TaskStatus::Accepted, none(), at(3)).unwrap();
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &nurse,
        TaskStatus::Completed,
        obj(json!({"nurse": {"decision": "observe"}})),
        at(9),
    )
    .unwrap();
    assert_eq!(
        fx,
        vec![Effect::Completed {
            end_event: "EndEvent_ResolvedBedside".into(),
            terminated: false
        }]
    );
    assert!(Engine::on_timer(&def, &mut inst, &timer, at(15))
        .unwrap()
        .is_empty());
}

#[test]
fn forbidden_task_transitions_are_refused_and_change_nothing() {
    let def = sepsis();
    let (mut inst, _) = start_sepsis("alert-5");
    let nurse = task_of(&inst, "Task_NurseReassessment");
    let before = inst.clone();
    let err = Engine::on_task_update(&def, &mut inst, &nurse, TaskStatus::OnHold, none(), at(1))
        .unwrap_err();
    assert!(
        err.to_string().contains("from requested to on-hold"),
        "{err}"
    );
    assert_eq!(inst, before);
    // repeating the current status, or an unknown task, is a no-op
    assert!(Engine::on_task_update(
        &def,
        &mut inst,
        &nurse,
        TaskStatus::Requested,
        none(),
        at(1)
    )
    .unwrap()
    .is_empty());
    assert!(Engine::on_task_update(
        &def,
        &mut inst,
        "pw-nope",
        TaskStatus::Accepted,
        none(),
        at(1)
    )
    .unwrap()
    .is_empty());
    assert_eq!(inst, before);
    // a different drawing is refused
    let err = Engine::on_timer(&radiology(), &mut inst, "x", at(1)).unwrap_err();
    assert!(matches!(err, EngineError::DefinitionMismatch { .. }));
    // a start trigger the pathway does not have
    let err = Engine::start(&def, "x", &StartTrigger::None, none(), t0()).unwrap_err();
    assert!(matches!(err, EngineError::NoStartEvent { .. }));
}

#[test]
fn a_timer_firing_twice_is_a_no_op_the_second_time() {
    let def = sepsis();
    let (mut inst, _) = start_sepsis("alert-6");
    let t = timer_of(&inst, "Event_NurseTimeout");
    let first = Engine::on_timer(&def, &mut inst, &t, at(15)).unwrap();
    assert!(!first.is_empty());
    let snapshot = inst.clone();
    assert!(Engine::on_timer(&def, &mut inst, &t, at(15))
        .unwrap()
        .is_empty());
    assert!(
        Engine::on_timer(&def, &mut inst, "alert-6/unknown/1", at(15))
            .unwrap()
            .is_empty()
    );
    assert_eq!(inst, snapshot);
}

/// Crash safety at the engine level: storing the instance as JSON between
/// any two steps and resuming from the stored copy gives the same effects
/// and the same final state as never stopping; replaying gives the same ids.
#[test]
fn serde_round_trip_mid_run_resumes_identically() {
    let def = sepsis();
    type Stepper = Box<dyn Fn(&Definition, &mut Instance) -> Vec<Effect>>;
    let steps: Vec<Stepper> = vec![
        Box::new(|d, i| {
            let t = timer_of(i, "Event_NurseTimeout");
            Engine::on_timer(d, i, &t, at(15)).unwrap()
        }),
        Box::new(|d, i| {
            let t = task_of(i, "Task_PhysicianReview");
            Engine::on_task_update(d, i, &t, TaskStatus::Accepted, none(), at(18)).unwrap()
        }),
        Box::new(|d, i| {
            let t = task_of(i, "Task_PhysicianReview");
            Engine::on_task_update(
                d,
                i,
                &t,
                TaskStatus::Completed,
                obj(json!({"physician": {"decision": "rrt"}})),
                at(25),
            )
            .unwrap()
        }),
        Box::new(|d, i| Engine::on_message(d, i, "bundle-ordered", None, none(), at(35)).unwrap()),
    ];
    let (mut straight, fx0) = start_sepsis("alert-7");
    let mut straight_fx = vec![fx0];
    for s in &steps {
        straight_fx.push(s(&def, &mut straight));
    }
    assert_eq!(straight.status, InstanceStatus::Completed);
    assert_eq!(straight.end_event.as_deref(), Some("EndEvent_RrtBundle"));

    let (inst, fx0) = start_sepsis("alert-7");
    let mut stored = serde_json::to_string(&inst).unwrap();
    let mut resumed_fx = vec![fx0];
    for s in &steps {
        // "crash": only the stored JSON survives
        let mut inst: Instance = serde_json::from_str(&stored).unwrap();
        resumed_fx.push(s(&def, &mut inst));
        stored = serde_json::to_string(&inst).unwrap();
    }
    let resumed: Instance = serde_json::from_str(&stored).unwrap();
    assert_eq!(resumed, straight);
    assert_eq!(resumed_fx, straight_fx);
}

#[test]
fn radiology_discordance_opens_qa_and_the_overdue_reminder_keeps_the_review() {
    let def = radiology();
    let vars = obj(json!({
        "patient": {"identifiers": [{"value": "MRN-9"}]},
        "study": {"reference": "ImagingStudy/s1", "display": "CT head 2026-01-05"},
        "finding": {"reference": "Observation/ai1", "display": "Intracranial haemorrhage (AI)"},
        "contrast_allergies": [{"display": "Iodinated contrast", "reference": "AllergyIntolerance/c1"}],
        "prior_imaging": [{"reference": "ImagingStudy/s0", "display": "CT head 2025-11-02"}],
        "responsible_radiologist": "Practitioner/rad-7"
    }));
    let (mut inst, fx) = Engine::start(
        &def,
        "rad-1",
        &StartTrigger::Message("imaging-ai-finding".into()),
        vars,
        t0(),
    )
    .unwrap();
    let review = creates(&fx)[0].clone();
    assert_eq!(review.owner.as_deref(), Some("Practitioner/rad-7"));
    assert_eq!(
        review.inputs["allergies"][0]["display"],
        json!("Iodinated contrast")
    );
    let overdue = timer_of(&inst, "Event_ReviewOverdue");
    assert!(fx.contains(&Effect::ScheduleTimer {
        timer_id: overdue.clone(),
        element_id: "Event_ReviewOverdue".into(),
        due_at: at(240)
    }));

    // accepting does not stop a timer scoped "until completed"
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &review.task_id,
        TaskStatus::Accepted,
        none(),
        at(60),
    )
    .unwrap();
    assert!(fx.is_empty(), "{fx:#?}");

    // non-interrupting: the reminder is sent and the review task stays open
    let fx = Engine::on_timer(&def, &mut inst, &overdue, at(240)).unwrap();
    assert_eq!(fx.len(), 1, "{fx:#?}");
    match &fx[0] {
        Effect::ServiceCall {
            action,
            params,
            element_id,
            ..
        } => {
            assert_eq!(*action, Action::SendCommunication);
            assert_eq!(element_id, "Task_RemindLead");
            assert_eq!(params["recipient_role"], json!("radiology-lead"));
            assert_eq!(params["study"]["reference"], json!("ImagingStudy/s1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(inst.open_tasks(), vec![review.task_id.as_str()]);
    assert!(inst.is_running());
    assert!(Engine::on_timer(&def, &mut inst, &overdue, at(241))
        .unwrap()
        .is_empty());

    // the final report disagrees with the AI: DetectedIssue + QA task
    let out = obj(
        json!({"review": {"agrees_with_ai": false, "report": {"reference": "DiagnosticReport/d1"}}}),
    );
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &review.task_id,
        TaskStatus::Completed,
        out,
        at(300),
    )
    .unwrap();
    assert!(
        matches!(&fx[0], Effect::ServiceCall { action: Action::WriteDetectedIssue, params, .. }
        if params["report"]["reference"] == json!("DiagnosticReport/d1") && params["code"] == json!("ai-discordance")),
        "{fx:#?}"
    );
    let qa = creates(&fx);
    assert_eq!(qa.len(), 1);
    assert_eq!(
        (qa[0].element_id.as_str(), qa[0].roles[0].as_str()),
        ("Task_DiscordanceQa", "qa")
    );
    assert_eq!(qa[0].due, Some(at(300) + TimeDelta::days(2)));
    let qa_id = qa[0].task_id.clone();
    Engine::on_task_update(
        &def,
        &mut inst,
        &qa_id,
        TaskStatus::Accepted,
        none(),
        at(400),
    )
    .unwrap();
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &qa_id,
        TaskStatus::Completed,
        none(),
        at(500),
    )
    .unwrap();
    // the reminder branch ended earlier; the instance ends at the QA end event
    assert_eq!(
        fx,
        vec![Effect::Completed {
            end_event: "EndEvent_QaDone".into(),
            terminated: false
        }]
    );
}

#[test]
fn radiology_concordant_or_missing_verdict_takes_the_default_flow() {
    let def = radiology();
    for out in [json!({"review": {"agrees_with_ai": true}}), json!({})] {
        let (mut inst, _) = Engine::start(
            &def,
            "rad-2",
            &StartTrigger::Message("imaging-qc-failure".into()),
            none(),
            t0(),
        )
        .unwrap();
        let task = task_of(&inst, "Task_RadiologistReview");
        let timer = timer_of(&inst, "Event_ReviewOverdue");
        Engine::on_task_update(
            &def,
            &mut inst,
            &task,
            TaskStatus::InProgress,
            none(),
            at(5),
        )
        .unwrap();
        let fx = Engine::on_task_update(
            &def,
            &mut inst,
            &task,
            TaskStatus::Completed,
            obj(out),
            at(30),
        )
        .unwrap();
        assert_eq!(
            fx,
            vec![
                Effect::CancelTimer { timer_id: timer },
                Effect::Completed {
                    end_event: "EndEvent_Concordant".into(),
                    terminated: false
                }
            ]
        );
    }
}

fn zeebe() -> Definition {
    load("tests/fixtures/zeebe-parallel.bpmn")
}

fn start_zeebe(p: f64) -> (Instance, Vec<Effect>) {
    let vars = obj(json!({"risk": {"probability": p}, "owner": "Practitioner/n1", "notes": "n"}));
    Engine::start(&zeebe(), "z", &StartTrigger::None, vars, t0()).unwrap()
}

fn finish_check(def: &Definition, inst: &mut Instance) -> Vec<Effect> {
    let t = task_of(inst, "Activity_Check");
    Engine::on_task_update(def, inst, &t, TaskStatus::Accepted, none(), at(2)).unwrap();
    Engine::on_task_update(def, inst, &t, TaskStatus::Completed, none(), at(3)).unwrap()
}

#[test]
fn parallel_fork_join_waits_for_both_branches() {
    let def = zeebe();
    let (mut inst, fx) = start_zeebe(0.7);
    // fork: the user task waits, the service branch runs to the join
    assert_eq!(creates(&fx)[0].element_id, "Activity_Check");
    assert_eq!(creates(&fx)[0].owner.as_deref(), Some("Practitioner/n1"));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::ServiceCall {
            action: Action::WriteRiskAssessment,
            ..
        }
    )));
    assert_eq!(inst.joins["Gateway_Join"]["Flow_2b"], 1);
    assert!(inst.is_running());

    // non-interrupting reminder: runs its branch to an end, task stays
    let reminder = timer_of(&inst, "Event_Reminder");
    let fx = Engine::on_timer(&def, &mut inst, &reminder, at(10)).unwrap();
    assert!(
        matches!(&fx[..], [Effect::ServiceCall { action: Action::SendCommunication, params, .. }]
        if params["p"] == json!(0.7) && params["to"] == json!("charge-nurse")),
        "{fx:#?}"
    );
    assert!(inst.is_running(), "the open task keeps the instance alive");
    assert_eq!(inst.open_tasks().len(), 1);

    // completing the task completes the join; high risk waits for ack or 5 min
    let fx = finish_check(&def, &mut inst);
    let timeout = timer_of(&inst, "Event_Timeout");
    assert_eq!(
        fx,
        vec![Effect::ScheduleTimer {
            timer_id: timeout.clone(),
            element_id: "Event_Timeout".into(),
            due_at: at(8)
        }]
    );
    assert!(inst.joins.is_empty());
    let fx = Engine::on_message(&def, &mut inst, "ack", None, none(), at(4)).unwrap();
    assert_eq!(
        fx,
        vec![
            Effect::CancelTimer {
                timer_id: timeout.clone()
            },
            Effect::Completed {
                end_event: "Event_Acked".into(),
                terminated: false
            }
        ]
    );
    assert!(Engine::on_timer(&def, &mut inst, &timeout, at(8))
        .unwrap()
        .is_empty());
}

#[test]
fn exclusive_default_flow_and_event_gateway_timeout() {
    let def = zeebe();
    let (mut inst, _) = start_zeebe(0.2);
    let fx = finish_check(&def, &mut inst);
    let reminder = inst.pending_timers().is_empty();
    assert!(reminder, "task completion cancels the reminder");
    assert!(
        fx.contains(&Effect::Completed {
            end_event: "Event_Low".into(),
            terminated: false
        }),
        "{fx:#?}"
    );

    let (mut inst, _) = start_zeebe(0.9);
    finish_check(&def, &mut inst);
    let timeout = timer_of(&inst, "Event_Timeout");
    let fx = Engine::on_timer(&def, &mut inst, &timeout, at(8)).unwrap();
    assert_eq!(
        fx,
        vec![Effect::Completed {
            end_event: "Event_TimedOut".into(),
            terminated: true
        }]
    );
    assert_eq!(inst.status, InstanceStatus::Terminated);
    // the message that lost the race is a no-op
    assert!(
        Engine::on_message(&def, &mut inst, "ack", None, none(), at(9))
            .unwrap()
            .is_empty()
    );
}

const HEAD: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><bpmn:process id="P">"#;

fn inline(body: &str) -> Definition {
    let xml = format!("{HEAD}{body}</bpmn:process></bpmn:definitions>");
    Definition::parse(&xml).unwrap_or_else(|p| panic!("{}", format_problems(&p)))
}

#[test]
fn terminate_end_cancels_every_open_task_and_timer() {
    let def = inline(
        r#"<bpmn:startEvent id="S"/><bpmn:parallelGateway id="F"/>
        <bpmn:userTask id="A" camunda:candidateGroups="nurse"/>
        <bpmn:boundaryEvent id="BT" attachedToRef="A"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:endEvent id="EA"/><bpmn:endEvent id="EB"/>
        <bpmn:intermediateCatchEvent id="W"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="Stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="F"/>
        <bpmn:sequenceFlow id="f2" sourceRef="F" targetRef="A"/>
        <bpmn:sequenceFlow id="f3" sourceRef="F" targetRef="W"/>
        <bpmn:sequenceFlow id="f4" sourceRef="W" targetRef="Stop"/>
        <bpmn:sequenceFlow id="f5" sourceRef="A" targetRef="EA"/>
        <bpmn:sequenceFlow id="f6" sourceRef="BT" targetRef="EB"/>"#,
    );
    let (mut inst, fx) = Engine::start(&def, "i", &StartTrigger::None, none(), t0()).unwrap();
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(e, Effect::ScheduleTimer { .. }))
            .count(),
        2
    );
    let task = task_of(&inst, "A");
    let bt = timer_of(&inst, "BT");
    let w = timer_of(&inst, "W");
    let fx = Engine::on_timer(&def, &mut inst, &w, at(1)).unwrap();
    assert_eq!(
        fx,
        vec![
            Effect::CancelTimer { timer_id: bt },
            Effect::CancelTask {
                task_id: task,
                element_id: "A".into(),
                reason: "pathway ended at Stop".into()
            },
            Effect::Completed {
                end_event: "Stop".into(),
                terminated: true
            }
        ]
    );
    assert!(inst.tokens.is_empty());
}

#[test]
fn no_true_condition_without_default_raises_an_incident() {
    let def = inline(
        r#"<bpmn:startEvent id="S"/><bpmn:exclusiveGateway id="G"/>
        <bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>
        <bpmn:sequenceFlow id="f0" sourceRef="S" targetRef="G"/>
        <bpmn:sequenceFlow id="f1" sourceRef="G" targetRef="E1"><bpmn:conditionExpression>x &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="f2" sourceRef="G" targetRef="E2"><bpmn:conditionExpression>x &lt;= 1</bpmn:conditionExpression></bpmn:sequenceFlow>"#,
    );
    let (inst, fx) = Engine::start(&def, "i", &StartTrigger::None, none(), t0()).unwrap();
    assert!(
        matches!(&fx[..], [Effect::Incident { element_id, .. }] if element_id == "G"),
        "{fx:#?}"
    );
    assert!(inst.is_running());
    assert!(matches!(inst.tokens[0].wait, Wait::Incident { .. }));
    let (inst, fx) =
        Engine::start(&def, "i", &StartTrigger::None, obj(json!({"x": 0})), t0()).unwrap();
    assert_eq!(
        fx,
        vec![Effect::Completed {
            end_event: "E2".into(),
            terminated: false
        }]
    );
    assert_eq!(inst.status, InstanceStatus::Completed);
}

#[test]
fn non_interrupting_message_acknowledges_the_task_and_keeps_it() {
    let xml = format!(
        r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn">
        <bpmn:message id="M" name="acknowledged"/><bpmn:process id="P">{}</bpmn:process></bpmn:definitions>"#,
        r#"<bpmn:startEvent id="S"/>
        <bpmn:userTask id="A" camunda:candidateGroups="nurse"/>
        <bpmn:boundaryEvent id="Esc" attachedToRef="A"><bpmn:timerEventDefinition><bpmn:timeDuration>PT15M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="Ack" attachedToRef="A" cancelActivity="false"><bpmn:messageEventDefinition messageRef="M"/></bpmn:boundaryEvent>
        <bpmn:serviceTask id="Log" camunda:topic="webhook"/>
        <bpmn:endEvent id="E"/><bpmn:endEvent id="E2"/><bpmn:endEvent id="E3"/>
        <bpmn:sequenceFlow id="f0" sourceRef="S" targetRef="A"/>
        <bpmn:sequenceFlow id="f1" sourceRef="A" targetRef="E"/>
        <bpmn:sequenceFlow id="f2" sourceRef="Esc" targetRef="E2"/>
        <bpmn:sequenceFlow id="f3" sourceRef="Ack" targetRef="Log"/>
        <bpmn:sequenceFlow id="f4" sourceRef="Log" targetRef="E3"/>"#
    );
    let def = Definition::parse(&xml).unwrap_or_else(|p| panic!("{}", format_problems(&p)));
    let (mut inst, _) = Engine::start(&def, "i", &StartTrigger::None, none(), t0()).unwrap();
    let task = task_of(&inst, "A");
    let esc = timer_of(&inst, "Esc");
    let fx =
        Engine::on_message(&def, &mut inst, "acknowledged", Some(&task), none(), at(2)).unwrap();
    assert!(
        matches!(&fx[..], [Effect::CancelTimer { timer_id }, Effect::ServiceCall { action: Action::Webhook, .. }] if *timer_id == esc),
        "{fx:#?}"
    );
    assert_eq!(inst.open_tasks(), vec![task.as_str()]);
    assert!(Engine::on_timer(&def, &mut inst, &esc, at(15))
        .unwrap()
        .is_empty());
}

#[test]
fn starting_twice_with_the_same_input_gives_the_same_ids() {
    let (a, fa) = start_sepsis("same");
    let (b, fb) = start_sepsis("same");
    assert_eq!(fa, fb);
    assert_eq!(a, b);
    let (c, _) = start_sepsis("other");
    assert_ne!(a.open_tasks(), c.open_tasks());
    assert!(a.open_tasks()[0].len() <= 64 && a.open_tasks()[0].starts_with("pw-"));
}
