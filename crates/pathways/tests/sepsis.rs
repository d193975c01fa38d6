//! Engine runs of the shipped sepsis escalation pathway.

mod common;

use bedside_pathways::*;
use common::*;
use serde_json::json;

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
    assert_eq!(inst.active_elements(), vec!["Task_RapidResponse"]);
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
            "Gateway_MergePhysician",
            "Task_PhysicianReview",
            "Event_PhysicianTimeout",
            "Gateway_MergeRrt",
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
fn starting_twice_with_the_same_input_gives_the_same_ids() {
    let (a, fa) = start_sepsis("same");
    let (b, fb) = start_sepsis("same");
    assert_eq!(fa, fb);
    assert_eq!(a, b);
    let (c, _) = start_sepsis("other");
    assert_ne!(a.open_tasks(), c.open_tasks());
    assert!(a.open_tasks()[0].len() <= 64 && a.open_tasks()[0].starts_with("pw-"));
}

/// A Task reached by several paths says which one was taken: the rapid
/// response Task names the physician's call or the missed deadline, never
/// both.
#[test]
fn a_task_names_the_actual_reason_it_exists() {
    let def = sepsis();
    let description = |fx: &[Effect], element: &str| -> String {
        creates(fx)
            .iter()
            .find(|c| c.element_id == element)
            .and_then(|c| c.description.clone())
            .unwrap_or_default()
    };

    // Nobody acknowledged: physician for the missed deadline, then RRT
    // for the missed deadline.
    let (mut inst, _) = start_sepsis("why-1");
    let t = timer_of(&inst, "Event_NurseTimeout");
    let fx = Engine::on_timer(&def, &mut inst, &t, at(15)).unwrap();
    let phys = description(&fx, "Task_PhysicianReview");
    assert!(
        phys.contains("Reason: The bedside nurse did not acknowledge"),
        "{phys}"
    );
    let t = timer_of(&inst, "Event_PhysicianTimeout");
    let fx = Engine::on_timer(&def, &mut inst, &t, at(30)).unwrap();
    let rrt = description(&fx, "Task_RapidResponse");
    assert!(
        rrt.contains("Reason: The alert was not acted on within 30 minutes"),
        "{rrt}"
    );
    assert!(
        !rrt.contains("physician.") && !rrt.to_lowercase().contains("called by"),
        "{rrt}"
    );

    // The physician calls the team: that is the reason, not the deadline.
    let (mut inst, _) = start_sepsis("why-2");
    let t = task_of(&inst, "Task_NurseReassessment");
    Engine::on_task_update(&def, &mut inst, &t, TaskStatus::InProgress, none(), at(2)).unwrap();
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &t,
        TaskStatus::Completed,
        obj(json!({"nurse": {"decision": "escalate"}})),
        at(5),
    )
    .unwrap();
    let phys = description(&fx, "Task_PhysicianReview");
    assert!(
        phys.contains("Reason: Escalated by the bedside nurse."),
        "{phys}"
    );
    let t = task_of(&inst, "Task_PhysicianReview");
    Engine::on_task_update(&def, &mut inst, &t, TaskStatus::InProgress, none(), at(7)).unwrap();
    let fx = Engine::on_task_update(
        &def,
        &mut inst,
        &t,
        TaskStatus::Completed,
        obj(json!({"physician": {"decision": "rrt"}})),
        at(10),
    )
    .unwrap();
    let rrt = description(&fx, "Task_RapidResponse");
    assert!(
        rrt.contains("Reason: Called by the covering physician."),
        "{rrt}"
    );
    assert!(!rrt.contains("not acted on"), "{rrt}");
}
