//! Import and validation of BPMN files as modelers save them.

use bedside_pathways::*;
use std::collections::HashSet;

fn shipped(name: &str) -> String {
    let path = format!("{}/../../pathways/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn user_task<'a>(def: &'a Definition, id: &str) -> &'a UserTaskSpec {
    match &def.node(id).unwrap_or_else(|| panic!("no node {id}")).kind {
        NodeKind::UserTask(s) => s,
        other => panic!("{id} is {other:?}"),
    }
}

/// Every node has a shape and every flow an edge whose ends touch the
/// shapes of its source and target, so a UI can draw the pathway.
fn assert_drawable(def: &Definition) {
    let shape = |id: &str| {
        def.diagram
            .shapes
            .iter()
            .find(|s| s.element_id == id)
            .unwrap_or_else(|| panic!("no shape for {id}"))
    };
    let near = |s: &Shape, (x, y): (f64, f64)| {
        x >= s.x - 1.0 && x <= s.x + s.w + 1.0 && y >= s.y - 1.0 && y <= s.y + s.h + 1.0
    };
    for n in &def.nodes {
        let s = shape(&n.id);
        assert!(s.w > 0.0 && s.h > 0.0, "{}", n.id);
    }
    for f in &def.flows {
        let e = def
            .diagram
            .edges
            .iter()
            .find(|e| e.element_id == f.id)
            .unwrap_or_else(|| panic!("no edge for {}", f.id));
        assert!(near(shape(&f.source), e.waypoints[0]), "{} start", f.id);
        assert!(
            near(shape(&f.target), *e.waypoints.last().unwrap()),
            "{} end",
            f.id
        );
    }
}

#[test]
fn sepsis_pathway_loads_with_roles_timers_messages_and_diagram() {
    let xml = shipped("sepsis-escalation.bpmn");
    assert_eq!(
        validate(&xml),
        vec![],
        "{}",
        format_problems(&validate(&xml))
    );
    let def = Definition::parse(&xml).unwrap();
    assert_eq!(def.id, "sepsis-escalation");
    assert_eq!(
        def.start_triggers(),
        vec![StartTrigger::Message("sepsis-alert".into())]
    );
    assert_eq!(
        def.catch_messages(),
        vec!["alert-overridden", "bundle-ordered"]
    );
    let nurse = user_task(&def, "Task_NurseReassessment");
    assert_eq!(nurse.roles, vec!["nurse"]);
    assert_eq!(nurse.priority, "urgent");
    // due defaults to the escalation timer
    assert_eq!(
        nurse.due.as_ref().map(|d| d.as_delta().num_minutes()),
        Some(15)
    );
    assert!(nurse.inputs.iter().any(|i| i.name == "observations"));
    let phys = user_task(&def, "Task_PhysicianReview");
    assert_eq!(phys.roles, vec!["physician"]);
    assert!(matches!(phys.assignee, Some(InputValue::Expr(_))));
    assert_eq!(user_task(&def, "Task_RapidResponse").roles, vec!["rrt"]);
    assert_eq!(user_task(&def, "Task_RapidResponse").priority, "stat");
    match &def.node("Event_NurseTimeout").unwrap().kind {
        NodeKind::BoundaryEvent {
            attached_to,
            interrupting,
            trigger: CatchTrigger::Timer(d),
            scope,
        } => {
            assert_eq!(attached_to, "Task_NurseReassessment");
            assert!(*interrupting);
            assert_eq!(d.as_str(), "PT15M");
            assert_eq!(*scope, TimerScope::UntilAcknowledged);
        }
        other => panic!("{other:?}"),
    }
    // 3 tasks x (timer? + 2 messages)
    let nurse_node = def.node("Task_NurseReassessment").unwrap();
    assert_eq!(nurse_node.boundaries.len(), 3);
    assert_eq!(def.node("Task_RapidResponse").unwrap().boundaries.len(), 2);
    assert_eq!(def.diagram.shapes.len(), def.nodes.len());
    assert_eq!(def.diagram.edges.len(), def.flows.len());
    assert_drawable(&def);
}

#[test]
fn radiology_pathway_loads_two_starts_service_tasks_and_discordance_gateway() {
    let xml = shipped("radiology-review.bpmn");
    assert_eq!(
        validate(&xml),
        vec![],
        "{}",
        format_problems(&validate(&xml))
    );
    let def = Definition::parse(&xml).unwrap();
    assert_eq!(
        def.start_triggers(),
        vec![
            StartTrigger::Message("imaging-ai-finding".into()),
            StartTrigger::Message("imaging-qc-failure".into())
        ]
    );
    let review = user_task(&def, "Task_RadiologistReview");
    let names: Vec<&str> = review.inputs.iter().map(|i| i.name.as_str()).collect();
    for want in ["study", "finding", "allergies", "prior_imaging"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // the 4 h reminder is non-interrupting, so it is not the due date
    assert_eq!(review.due, None);
    assert_eq!(
        user_task(&def, "Task_DiscordanceQa")
            .due
            .as_ref()
            .map(|d| d.as_delta().num_hours()),
        Some(48)
    );
    match &def.node("Task_RecordDiscordance").unwrap().kind {
        NodeKind::ServiceTask { action, inputs } => {
            assert_eq!(*action, Action::WriteDetectedIssue);
            assert_eq!(
                inputs[0],
                Input {
                    name: "code".into(),
                    value: InputValue::Literal("ai-discordance".into())
                }
            );
        }
        other => panic!("{other:?}"),
    }
    match &def.node("Event_ReviewOverdue").unwrap().kind {
        NodeKind::BoundaryEvent {
            interrupting,
            scope,
            ..
        } => {
            assert!(!interrupting);
            assert_eq!(*scope, TimerScope::UntilCompleted);
        }
        other => panic!("{other:?}"),
    }
    let cond = def
        .flow("Flow_Discordant")
        .unwrap()
        .condition
        .as_ref()
        .unwrap();
    assert_eq!(cond.to_string(), "review.agrees_with_ai = false");
    assert_drawable(&def);
}

#[test]
fn camunda8_zeebe_fixture_with_bpmn2_prefix_loads() {
    let xml = fixture("zeebe-parallel.bpmn");
    assert_eq!(
        validate(&xml),
        vec![],
        "{}",
        format_problems(&validate(&xml))
    );
    let def = Definition::parse(&xml).unwrap();
    let check = user_task(&def, "Activity_Check");
    assert_eq!(check.roles, vec!["nurse", "charge-nurse"]);
    assert_eq!(check.priority, "asap"); // zeebe priority 60 -> third quartile
    assert!(matches!(check.assignee, Some(InputValue::Expr(_))));
    assert_eq!(check.inputs.len(), 2);
    match &def.node("Activity_Notify").unwrap().kind {
        NodeKind::ServiceTask { action, inputs } => {
            assert_eq!(*action, Action::SendCommunication);
            assert!(matches!(inputs[0].value, InputValue::Expr(_)));
            assert_eq!(inputs[1].value, InputValue::Literal("charge-nurse".into()));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        def.node("Event_TimedOut").unwrap().kind,
        NodeKind::EndEvent { terminate: true }
    ));
    assert_eq!(def.start_triggers(), vec![StartTrigger::None]);
    assert_drawable(&def);
}

#[test]
fn every_unsupported_element_is_named_by_id_and_tag() {
    let problems = validate(&fixture("unsupported.bpmn"));
    let text = format_problems(&problems);
    let errors: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    for (id, needle) in [
        ("StartEvent_Timer", "timerEventDefinition"),
        ("Activity_Sub", "<subProcess>"),
        ("Activity_Script", "<scriptTask>"),
        ("Gateway_Inclusive", "<inclusiveGateway>"),
        ("Activity_Multi", "multiInstanceLoopCharacteristics"),
        ("Event_Error", "errorEventDefinition"),
        ("Event_Throw", "<intermediateThrowEvent>"),
        ("Event_MessageEnd", "messageEventDefinition"),
        ("Activity_Call", "<callActivity>"),
    ] {
        assert!(
            errors
                .iter()
                .any(|p| p.element_id.as_deref() == Some(id) && p.message.contains(needle)),
            "{id} / {needle} not reported:\n{text}"
        );
    }
    // flows to unsupported elements are not also reported as dangling
    assert!(!text.contains("does not name a flow node"), "{text}");
    assert!(Definition::parse(&fixture("unsupported.bpmn")).is_err());
    assert!(text
        .lines()
        .last()
        .unwrap()
        .starts_with(&format!("{} errors", errors.len())));
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
  <bpmn:message id="M" name="go" />
  <bpmn:process id="P" isExecutable="true">"#;
const TAIL: &str = "</bpmn:process></bpmn:definitions>";

fn doc(body: &str) -> String {
    format!("{HEAD}{body}{TAIL}")
}

fn has(problems: &[Problem], sev: Severity, id: &str, needle: &str) -> bool {
    problems.iter().any(|p| {
        p.severity == sev && p.element_id.as_deref() == Some(id) && p.message.contains(needle)
    })
}

#[test]
fn structural_problems_name_their_element() {
    let p = validate(&doc(r#"<bpmn:startEvent id="S"/>
        <bpmn:userTask id="U" camunda:candidateGroups="nurse" camunda:dueDate="soon"/>
        <bpmn:userTask id="U2" camunda:candidateGroups="nurse"/>
        <bpmn:exclusiveGateway id="G"/>
        <bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>
        <bpmn:boundaryEvent id="B" attachedToRef="U2"><bpmn:timerEventDefinition><bpmn:timeDuration>15 minutes</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="U2"/>
        <bpmn:sequenceFlow id="F1" sourceRef="U2" targetRef="G"/>
        <bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E1"><bpmn:conditionExpression>x &gt;</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="F3" sourceRef="G" targetRef="E2"><bpmn:conditionExpression>x = 1</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="F4" sourceRef="G" targetRef="Nowhere"/>
        <bpmn:sequenceFlow id="F5" sourceRef="U2" targetRef="E1"><bpmn:conditionExpression>x = 2</bpmn:conditionExpression></bpmn:sequenceFlow>"#));
    let text = format_problems(&p);
    assert!(has(&p, Severity::Error, "U", "due"), "{text}");
    assert!(has(&p, Severity::Error, "B", "15 minutes"), "{text}");
    assert!(has(&p, Severity::Error, "F2", "bad condition"), "{text}");
    assert!(has(&p, Severity::Error, "F4", "\"Nowhere\""), "{text}");
    assert!(
        has(
            &p,
            Severity::Error,
            "F5",
            "only supported on flows leaving an exclusive gateway"
        ),
        "{text}"
    );
    assert!(has(&p, Severity::Warning, "G", "no default flow"), "{text}");
    assert!(!has(&p, Severity::Error, "F2", "no condition"), "{text}");
    // graph checks run when every element was understood
    let p = validate(&doc(r#"<bpmn:startEvent id="S"/><bpmn:endEvent id="E"/>
        <bpmn:userTask id="Orphan" camunda:candidateGroups="nurse"/>
        <bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="E"/>"#));
    let text = format_problems(&p);
    assert!(
        has(&p, Severity::Warning, "Orphan", "not reachable"),
        "{text}"
    );
    assert!(
        has(&p, Severity::Warning, "Orphan", "implicit end"),
        "{text}"
    );
    assert!(!p.iter().any(|q| q.severity == Severity::Error), "{text}");
    assert!(
        p.iter()
            .any(|q| q.element_id.is_none() && q.message.contains("diagram")),
        "{text}"
    );
}

#[test]
fn unknown_bedside_attributes_are_flagged() {
    let xml = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bedside="http://bedside.dev/schema/bpmn/1.0">
      <bpmn:process id="P"><bpmn:startEvent id="S"/>
      <bpmn:userTask id="U" bedside:role="nurse" bedside:priorty="stat"/>
      <bpmn:sequenceFlow id="F" sourceRef="S" targetRef="U"/></bpmn:process></bpmn:definitions>"#;
    let p = validate(xml);
    assert!(
        has(&p, Severity::Warning, "U", "bedside:priorty"),
        "{}",
        format_problems(&p)
    );
    assert_eq!(
        user_task(&Definition::parse(xml).unwrap(), "U").roles,
        vec!["nurse"]
    );
}

#[test]
fn gateway_flows_need_conditions_or_default() {
    let p = validate(&doc(
        r#"<bpmn:startEvent id="S"/><bpmn:exclusiveGateway id="G" default="Nope"/>
        <bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>
        <bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G"/>
        <bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="E1"/>
        <bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E2"><bpmn:conditionExpression>a = 1</bpmn:conditionExpression></bpmn:sequenceFlow>"#,
    ));
    assert!(has(
        &p,
        Severity::Error,
        "G",
        "\"Nope\" is not an outgoing flow"
    ));
    assert!(has(
        &p,
        Severity::Error,
        "F1",
        "no condition and is not its default"
    ));
}

#[test]
fn missing_start_bad_refs_and_bindings_are_errors() {
    let p = validate(&doc(r#"<bpmn:endEvent id="E"/>"#));
    assert!(has(&p, Severity::Error, "P", "no (supported) start event"));

    let p = validate(&doc(
        r#"<bpmn:startEvent id="S"><bpmn:messageEventDefinition messageRef="Missing"/></bpmn:startEvent>
        <bpmn:serviceTask id="T1"/>
        <bpmn:serviceTask id="T2" camunda:topic="launch_rockets"/>
        <bpmn:serviceTask id="T3" implementation="webhook"><bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="url">${url}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>
        <bpmn:userTask id="U" camunda:candidateGroups="x" camunda:priority="whenever"/>
        <bpmn:userTask id="U" camunda:candidateGroups="x"/>
        <bpmn:boundaryEvent id="B" attachedToRef="Ghost"><bpmn:messageEventDefinition messageRef="M"/></bpmn:boundaryEvent>"#,
    ));
    let text = format_problems(&p);
    assert!(has(&p, Severity::Error, "S", "\"Missing\""), "{text}");
    assert!(
        has(&p, Severity::Error, "T1", "not bound to a Bedside action"),
        "{text}"
    );
    assert!(
        has(
            &p,
            Severity::Error,
            "T2",
            "unknown action \"launch_rockets\""
        ),
        "{text}"
    );
    assert!(has(&p, Severity::Error, "T3", "JUEL"), "{text}");
    assert!(
        has(&p, Severity::Error, "U", "priority \"whenever\""),
        "{text}"
    );
    assert!(has(&p, Severity::Error, "U", "duplicate id"), "{text}");
    assert!(has(&p, Severity::Error, "B", "\"Ghost\""), "{text}");
}

#[test]
fn boundary_on_service_task_and_event_gateway_targets_are_checked() {
    let p = validate(&doc(r#"<bpmn:startEvent id="S"/>
        <bpmn:serviceTask id="T" camunda:topic="webhook"/>
        <bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:eventBasedGateway id="G"/><bpmn:endEvent id="E"/>
        <bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="T"/>
        <bpmn:sequenceFlow id="F1" sourceRef="T" targetRef="G"/>
        <bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E"/>
        <bpmn:sequenceFlow id="F3" sourceRef="B" targetRef="E"/>"#));
    let text = format_problems(&p);
    assert!(has(&p, Severity::Error, "B", "user tasks only"), "{text}");
    assert!(
        has(&p, Severity::Error, "F2", "intermediate catch events"),
        "{text}"
    );
    assert!(has(&p, Severity::Warning, "G", "fewer than two"), "{text}");
}

#[test]
fn not_bpmn_and_malformed_xml_are_document_level_errors() {
    for bad in [
        "",
        "not xml at all",
        "<html><body/></html>",
        "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"><bpmn:process id=\"a\">",
        "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"/>",
    ] {
        let p = validate(bad);
        assert!(
            p.iter().any(|q| q.severity == Severity::Error && q.element_id.is_none()),
            "{bad:?}: {p:?}"
        );
        assert!(Definition::parse(bad).is_err());
    }
}

#[test]
fn format_problems_puts_errors_first_and_counts() {
    let out = format_problems(&[
        Problem::warning(Some("G"), "w"),
        Problem::error(Some("A"), "e"),
        Problem::error(None, "doc"),
    ]);
    assert_eq!(
        out,
        "error: A: e\nerror: doc\nwarning: G: w\n2 errors, 1 warning\n"
    );
    assert_eq!(format_problems(&[]), "ok: no problems\n");
}

#[test]
fn ids_in_the_shipped_files_are_unique_across_diagram_and_process() {
    for f in ["sepsis-escalation.bpmn", "radiology-review.bpmn"] {
        let def = Definition::parse(&shipped(f)).unwrap();
        let mut seen = HashSet::new();
        for id in def
            .nodes
            .iter()
            .map(|n| &n.id)
            .chain(def.flows.iter().map(|f| &f.id))
        {
            assert!(seen.insert(id.clone()), "{f}: {id}");
        }
    }
}

#[test]
fn pools_lanes_and_annotations_are_accepted() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_Ward" name="Ward" processRef="Process_1" />
    <bpmn:participant id="Participant_Ehr" name="EHR" />
    <bpmn:messageFlow id="MessageFlow_1" sourceRef="Participant_Ehr" targetRef="StartEvent_1" />
  </bpmn:collaboration>
  <bpmn:process id="Process_1" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_Nurse" name="Nurse">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Activity_1</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Activity_1" name="Look" camunda:candidateGroups="nurse"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="Event_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Activity_1" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_1" targetRef="Event_1" />
    <bpmn:textAnnotation id="TextAnnotation_1"><bpmn:text>Within 15 minutes</bpmn:text></bpmn:textAnnotation>
    <bpmn:association id="Association_1" sourceRef="Activity_1" targetRef="TextAnnotation_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_1">
      <bpmndi:BPMNShape id="Participant_Ward_di" bpmnElement="Participant_Ward" isHorizontal="true"><dc:Bounds x="120" y="60" width="600" height="250" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_Nurse_di" bpmnElement="Lane_Nurse" isHorizontal="true"><dc:Bounds x="150" y="60" width="570" height="250" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="202" y="162" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_1_di" bpmnElement="Activity_1"><dc:Bounds x="290" y="140" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_1_di" bpmnElement="Event_1"><dc:Bounds x="442" y="162" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="TextAnnotation_1_di" bpmnElement="TextAnnotation_1"><dc:Bounds x="390" y="80" width="100" height="30" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1"><di:waypoint x="238" y="180" /><di:waypoint x="290" y="180" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2"><di:waypoint x="390" y="180" /><di:waypoint x="442" y="180" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Association_1_di" bpmnElement="Association_1"><di:waypoint x="370" y="140" /><di:waypoint x="420" y="110" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>"#;
    assert_eq!(validate(xml), vec![], "{}", format_problems(&validate(xml)));
    let def = Definition::parse(xml).unwrap();
    assert_eq!(def.id, "Process_1");
    assert_eq!(def.nodes.len(), 3);
    // pools, lanes and annotations are part of the drawing
    assert!(def
        .diagram
        .shapes
        .iter()
        .any(|s| s.element_id == "Participant_Ward"));
    let outline = def.outline();
    assert_eq!(outline["nodes"][1]["kind"], "userTask");
    assert_eq!(outline["nodes"][1]["roles"][0], "nurse");
    assert_eq!(outline["flows"][0]["source"], "StartEvent_1");
    assert_eq!(outline["diagram"]["edges"].as_array().unwrap().len(), 3);
}

#[test]
fn outline_carries_conditions_and_default_flows() {
    let def = Definition::parse(&shipped("radiology-review.bpmn")).unwrap();
    let o = def.outline();
    let flow = |id: &str| {
        o["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        flow("Flow_Discordant")["condition"],
        "review.agrees_with_ai = false"
    );
    assert_eq!(flow("Flow_Concordant")["default"], true);
    assert_eq!(flow("Flow_Discordant")["default"], false);
    let boundary = o["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "Event_ReviewOverdue")
        .unwrap();
    assert_eq!(boundary["attached_to"], "Task_RadiologistReview");
}

/// tools/reference/pathways_bpmnlint/check.mjs reads each file with
/// bpmn.io's bpmn-moddle (no warning allowed) and lints it with
/// bpmnlint:recommended (no report allowed), then records its SHA-256.
#[test]
fn shipped_files_are_the_ones_bpmn_io_read_and_linted_clean() {
    use sha2::{Digest, Sha256};
    let record: serde_json::Value =
        serde_json::from_str(&fixture("bpmnlint-validated.json")).unwrap();
    for (name, text) in [
        ("sepsis-escalation.bpmn", shipped("sepsis-escalation.bpmn")),
        ("radiology-review.bpmn", shipped("radiology-review.bpmn")),
        (
            "deterioration-escalation.bpmn",
            shipped("deterioration-escalation.bpmn"),
        ),
        ("zeebe-parallel.bpmn", fixture("zeebe-parallel.bpmn")),
    ] {
        let sha = hex::encode(Sha256::digest(text.as_bytes()));
        assert_eq!(
            record[name],
            serde_json::json!(sha),
            "{name} changed since bpmnlint checked it: run tools/reference/pathways_bpmnlint/check.mjs"
        );
    }
}

/// The decisions the shipped pathways' steps offer are read from
/// `<bedside:decision>`, and each option's value drives the gateway after
/// the task (the variable the option writes is the one its condition reads).
#[test]
fn shipped_user_tasks_offer_their_decisions() {
    let sepsis = Definition::parse(&shipped("sepsis-escalation.bpmn")).unwrap();
    let nurse = user_task(&sepsis, "Task_NurseReassessment")
        .decision
        .as_ref()
        .expect("the nurse step offers a decision");
    assert_eq!(nurse.variable, "nurse.decision");
    let codes: Vec<&str> = nurse.options.iter().map(|o| o.code.as_str()).collect();
    assert_eq!(codes, ["escalate", "resolved"]);
    let mut vars = serde_json::Map::new();
    nurse.write(nurse.option("escalate").unwrap().value.clone(), &mut vars);
    assert_eq!(vars["nurse"]["decision"], "escalate");

    let radiology = Definition::parse(&shipped("radiology-review.bpmn")).unwrap();
    let review = user_task(&radiology, "Task_RadiologistReview")
        .decision
        .as_ref()
        .expect("the radiologist step offers a decision");
    let disagree = review.option("disagree").unwrap();
    assert_eq!(disagree.value, serde_json::Value::Bool(false));
    assert!(!disagree.reasons.is_empty());
    assert!(review.option("agree").unwrap().reasons.is_empty());
    let mut vars = serde_json::Map::new();
    vars.insert(
        "review".into(),
        serde_json::json!({"report": "DiagnosticReport/r1"}),
    );
    review.write(disagree.value.clone(), &mut vars);
    assert_eq!(vars["review"]["agrees_with_ai"], false);
    assert_eq!(
        vars["review"]["report"], "DiagnosticReport/r1",
        "other keys kept"
    );
}

#[test]
fn a_decision_without_options_or_variable_is_refused_by_name() {
    let xml = shipped("sepsis-escalation.bpmn").replace(
        r#"<bedside:decision variable="nurse.decision">"#,
        r#"<bedside:decision>"#,
    );
    let err = Definition::parse(&xml).unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("Task_NurseReassessment"), "{text}");
    assert!(text.contains("bedside:decision needs a variable"), "{text}");
}
