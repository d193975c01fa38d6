//! Engine runs over the radiology pathway, a Camunda 8 fixture and small
//! inline processes (parallel, event gateway, terminate, incident).

mod common;

use bedside_pathways::*;
use chrono::TimeDelta;
use common::*;
use serde_json::json;

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

const HEAD: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><bpmn:process id="P">"#;

fn inline(body: &str) -> Definition {
    let xml = format!("{HEAD}{body}</bpmn:process></bpmn:definitions>");
    Definition::parse(&xml).unwrap_or_else(|p| panic!("{}", format_problems(&p)))
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
        if params.get("evidence_report").is_some_and(|r| r["reference"] == json!("DiagnosticReport/d1")) && params.get("code") == Some(&json!("ai-discordance"))),
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
fn a_join_that_can_never_complete_is_an_incident_not_a_silent_hang() {
    // one branch of the fork ends before the join
    let def = inline(
        r#"<bpmn:startEvent id="S"/><bpmn:parallelGateway id="F"/><bpmn:parallelGateway id="J"/>
        <bpmn:exclusiveGateway id="X" default="toEnd"/>
        <bpmn:endEvent id="E"/><bpmn:endEvent id="E2"/>
        <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="F"/>
        <bpmn:sequenceFlow id="f2" sourceRef="F" targetRef="J"/>
        <bpmn:sequenceFlow id="f3" sourceRef="F" targetRef="X"/>
        <bpmn:sequenceFlow id="toJoin" sourceRef="X" targetRef="J"><bpmn:conditionExpression>go = true</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="toEnd" sourceRef="X" targetRef="E2"/>
        <bpmn:sequenceFlow id="f4" sourceRef="J" targetRef="E"/>"#,
    );
    let (inst, fx) = Engine::start(&def, "i", &StartTrigger::None, none(), t0()).unwrap();
    assert!(
        matches!(&fx[..], [Effect::Incident { element_id, .. }] if element_id == "J"),
        "{fx:#?}"
    );
    assert!(inst.is_running());
    let (inst, fx) = Engine::start(
        &def,
        "i",
        &StartTrigger::None,
        obj(json!({"go": true})),
        t0(),
    )
    .unwrap();
    assert_eq!(
        fx,
        vec![Effect::Completed {
            end_event: "E".into(),
            terminated: false
        }]
    );
    assert!(inst.joins.is_empty());
}
