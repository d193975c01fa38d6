//! Fixed view models for the page tests (deterministic: fixed clock).
#![allow(dead_code)]

pub mod check;

use bedside_ui::charts::{Bar, RefLine, ReliabilityBin, SparkPoint, TimePoint};
use bedside_ui::*;
use chrono::{DateTime, Duration, TimeZone, Utc};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn bar(label: &str, value: f64) -> Bar {
    Bar {
        label: label.into(),
        value,
    }
}

pub fn dashboard() -> DashboardView {
    let weeks: Vec<TimePoint> = (0..6)
        .map(|i| TimePoint {
            at: t0() - Duration::weeks(5 - i),
            value: 0.80 + 0.01 * i as f64,
            lo: Some(0.75 + 0.01 * i as f64),
            hi: Some(0.85 + 0.01 * i as f64),
            n: Some(100 + 10 * i as u64),
        })
        .collect();
    let ppv: Vec<TimePoint> = (0..6)
        .map(|i| TimePoint {
            at: t0() - Duration::weeks(5 - i),
            value: 0.30 - 0.01 * i as f64,
            lo: Some(0.2),
            hi: Some(0.4),
            n: Some(40),
        })
        .collect();
    DashboardView {
        models: vec![
            Choice {
                value: "sepsis".into(),
                label: "Sepsis 6 h (1.0.0)".into(),
            },
            Choice {
                value: "deterioration".into(),
                label: "Deterioration (0.3.1)".into(),
            },
        ],
        selected: Some("sepsis".into()),
        window: "last 6 weeks".into(),
        as_of: t0(),
        tiles: Tiles {
            auroc: Some(Estimate::with_ci(0.842, 0.81, 0.87)),
            auprc: Some(Estimate::with_ci(0.31, 0.27, 0.36)),
            ece: Some(Estimate::point(0.021)),
            live_ppv: Some(Estimate::with_ci(0.24, 0.19, 0.30)),
            certified_ppv_floor: Some(0.25),
            alerts_per_100_patient_days: Some(3.2),
            alert_budget: Some(4.0),
            override_rate: Some(Estimate::with_ci(0.35, 0.30, 0.41)),
            alerts: 312,
        },
        performance: vec![
            PerformanceSeries {
                metric: "AUROC".into(),
                points: weeks,
                reference: None,
            },
            PerformanceSeries {
                metric: "Live PPV".into(),
                points: ppv,
                reference: Some(RefLine {
                    value: 0.25,
                    label: "certified floor".into(),
                }),
            },
        ],
        reliability: vec![
            ReliabilityBin {
                predicted: 0.05,
                observed: 0.04,
                count: 900,
                lo: Some(0.03),
                hi: Some(0.05),
            },
            ReliabilityBin {
                predicted: 0.25,
                observed: 0.30,
                count: 120,
                lo: Some(0.22),
                hi: Some(0.39),
            },
            ReliabilityBin {
                predicted: 0.5,
                observed: 0.5,
                count: 40,
                lo: None,
                hi: None,
            },
            ReliabilityBin {
                predicted: 0.8,
                observed: 0.7,
                count: 0,
                lo: None,
                hi: None,
            },
        ],
        drift: vec![
            bar("lactate", 0.31),
            bar("heart rate", 0.12),
            bar("age", 0.01),
        ],
        override_reasons: vec![
            bar("Already treating", 41.0),
            bar("Not clinically relevant", 17.0),
            bar("Comfort care", 3.0),
        ],
        alert_burden: vec![bar("ICU", 6.1), bar("Ward 3", 2.4)],
        time_to_action_minutes: vec![3.0, 7.5, 12.0, 14.0, 22.0, 35.0, 48.0, 61.0],
        alarms: vec![Alarm {
            raised_at: t0() - Duration::hours(3),
            severity: "warning".into(),
            metric: "PSI lactate".into(),
            message: "PSI 0.31 exceeds 0.25".into(),
            task_url: Some("/ui/worklist".into()),
        }],
        trust_pulse: vec![],
        training: vec![],
        untrained_card_users: None,
    }
}

pub fn empty_dashboard() -> DashboardView {
    DashboardView {
        models: vec![],
        selected: None,
        window: "since go-live".into(),
        as_of: t0(),
        tiles: Tiles::default(),
        performance: vec![],
        reliability: vec![],
        drift: vec![],
        override_reasons: vec![],
        alert_burden: vec![],
        time_to_action_minutes: vec![],
        alarms: vec![],
        trust_pulse: vec![],
        training: vec![],
        untrained_card_users: None,
    }
}

pub fn worklist() -> WorklistView {
    let task =
        |id: &str, role: &str, owner: Option<&str>, mins: Option<i64>, esc: Option<&str>| TaskRow {
            id: id.into(),
            title: "Review sepsis alert".into(),
            patient: format!("Patient {id}"),
            patient_url: Some(format!("/ui/sandbox?patient={id}")),
            role: role.into(),
            owner: owner.map(Into::into),
            priority: if esc.is_some() {
                "stat".into()
            } else {
                "urgent".into()
            },
            status: if owner.is_some() {
                "accepted".into()
            } else {
                "requested".into()
            },
            deadline: mins.map(|m| t0() + Duration::minutes(m)),
            escalation: esc.map(Into::into),
            context: Some("risk 0.42; lactate 4.1 mmol/L, heart rate 124/min".into()),
            actions: TaskAction::ALL.to_vec(),
            decisions: vec![],
            decision_reasons: vec![],
            why: vec![],
            trend: vec![],
        };
    WorklistView {
        now: t0(),
        tasks: vec![
            task(
                "t3",
                "rapid-response nurse",
                None,
                Some(-5),
                Some("step 2 of 3: charge nurse"),
            ),
            task("t1", "rapid-response nurse", None, Some(25), None),
            task("t2", "rapid-response nurse", Some("Dr Ada"), None, None),
            task("t4", "attending", None, Some(90), None),
        ],
        snooze_reasons: vec![Choice {
            value: "not-septic".into(),
            label: "Clinical picture not consistent".into(),
        }],
        reassign_targets: vec![
            Choice {
                value: "role:attending".into(),
                label: "Attending (role)".into(),
            },
            Choice {
                value: "Practitioner/ada".into(),
                label: "Dr Ada".into(),
            },
        ],
        flash: Some("Task t0 completed".into()),
        act_as: vec![],
        acting: None,
    }
}

pub fn facts() -> ModelFactsView {
    ModelFactsView {
        model_id: "sepsis".into(),
        version: "1.0.0".into(),
        name: Some("Sepsis within 6 h".into()),
        stage: Some("live".into()),
        card_markdown: "# Sepsis within 6 h\n\nPredicts **sepsis** onset.\n\n## Limits\n\n- Not for children\n- <script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n".into(),
        source_attributes: vec![
            SourceAttribute { name: "Intended use".into(), value: "Adult inpatients, early sepsis recognition".into() },
            SourceAttribute { name: "Developer".into(), value: "Bedside demo".into() },
        ],
        metrics: vec![
            MetricRow { name: "AUROC".into(), estimate: Estimate::with_ci(0.842, 0.81, 0.87), n: Some(4000), source: Some("test split".into()) },
            MetricRow { name: "ECE".into(), estimate: Estimate::point(0.021), n: Some(4000), source: None },
        ],
        subgroups: vec![
            SubgroupRow { attribute: "Sex".into(), group: "female".into(), n: 2100, events: 130, auroc: Some(Estimate::with_ci(0.85, 0.81, 0.89)), ppv: None, ece: Some(0.02) },
            SubgroupRow { attribute: "Age band".into(), group: "65+".into(), n: 1500, events: 120, auroc: None, ppv: Some(Estimate::with_ci(0.3, 0.25, 0.36)), ece: None },
        ],
        promise: Some(CertifiedPromise {
            certified: true,
            ppv_floor: 0.25,
            confidence: 0.95,
            threshold: Some(0.182),
            alert_budget: Some(4.0),
            expected_alerts: Some(3.1),
            statement: "Certified on 1,200 calibration patients (Clopper-Pearson lower bound 0.262).".into(),
        }),
    }
}

pub fn models() -> ModelsIndexView {
    ModelsIndexView {
        models: vec![ModelListItem {
            id: "sepsis".into(),
            version: "1.0.0".into(),
            name: Some("Sepsis within 6 h".into()),
            stage: Some("live".into()),
            intended_use: Some("Adult inpatients".into()),
        }],
    }
}

pub fn sandbox() -> SandboxView {
    let spark = |vals: &[f64]| -> Vec<SparkPoint> {
        vals.iter()
            .enumerate()
            .map(|(i, v)| SparkPoint {
                at: t0() - Duration::hours(vals.len() as i64 - i as i64),
                value: *v,
            })
            .collect()
    };
    SandboxView {
        query: "pat".into(),
        patients: vec![
            PatientListItem {
                id: "p1".into(),
                display: "Patient Alpha".into(),
                details: Some("F, 67 y, ICU".into()),
            },
            PatientListItem {
                id: "p2".into(),
                display: "Patient Bravo".into(),
                details: None,
            },
            PatientListItem {
                id: "x9".into(),
                display: "Zed".into(),
                details: None,
            },
        ],
        selected: Some(PatientTimeline {
            id: "p1".into(),
            display: "Patient Alpha".into(),
            details: Some("F, 67 y, ICU".into()),
            encounter_id: Some("enc-1".into()),
            channels: vec![
                ChannelView {
                    name: "Heart rate".into(),
                    unit: "/min".into(),
                    points: spark(&[88.0, 96.0, 110.0, 124.0]),
                },
                ChannelView {
                    name: "Lactate".into(),
                    unit: "mmol/L".into(),
                    points: spark(&[1.9, 4.1]),
                },
                ChannelView {
                    name: "Temperature".into(),
                    unit: "Cel".into(),
                    points: vec![],
                },
            ],
            events: vec![
                TimelineEvent {
                    at: t0() - Duration::hours(30),
                    kind: "Condition".into(),
                    text: "Pneumonia".into(),
                },
                TimelineEvent {
                    at: t0() - Duration::hours(1),
                    kind: "Alert".into(),
                    text: "Sepsis risk 0.42".into(),
                },
            ],
            draft_orders: None,
        }),
        services: vec![
            CdsServiceRef {
                id: "bedside-sepsis-patient-view".into(),
                hook: "patient-view".into(),
                title: "Sepsis risk".into(),
            },
            CdsServiceRef {
                id: "bedside-sepsis-order-sign".into(),
                hook: "order-sign".into(),
                title: "Sepsis risk at signing".into(),
            },
        ],
        fhir_server: "http://127.0.0.1:8080/fhir".into(),
        user_id: "Practitioner/demo".into(),
        can_start_pathway: true,
    }
}

pub fn pathways() -> PathwaysView {
    let shape = |id: &str,
                 name: Option<&str>,
                 kind: ShapeKind,
                 x: f64,
                 y: f64,
                 w: f64,
                 h: f64,
                 waiting: u64| DiagramShape {
        element_id: id.into(),
        name: name.map(Into::into),
        kind,
        x,
        y,
        w,
        h,
        label: None,
        waiting,
    };
    PathwaysView {
        available: vec![
            Choice {
                value: "sepsis_escalation".into(),
                label: "Sepsis escalation".into(),
            },
            Choice {
                value: "radiology_qc".into(),
                label: "Radiology QC".into(),
            },
        ],
        diagram: Some(PathwayDiagram {
            id: "sepsis_escalation".into(),
            name: Some("Sepsis escalation".into()),
            as_of: t0(),
            shapes: vec![
                shape(
                    "start",
                    Some("Risk above threshold"),
                    ShapeKind::StartEvent,
                    100.0,
                    100.0,
                    36.0,
                    36.0,
                    0,
                ),
                shape(
                    "review",
                    Some("Review sepsis alert at bedside"),
                    ShapeKind::UserTask,
                    200.0,
                    78.0,
                    100.0,
                    80.0,
                    3,
                ),
                shape(
                    "gw",
                    Some("Sepsis likely?"),
                    ShapeKind::ExclusiveGateway,
                    360.0,
                    93.0,
                    50.0,
                    50.0,
                    0,
                ),
                shape(
                    "timer",
                    None,
                    ShapeKind::BoundaryEvent,
                    262.0,
                    140.0,
                    36.0,
                    36.0,
                    1,
                ),
                shape(
                    "end",
                    Some("Done"),
                    ShapeKind::EndEvent,
                    470.0,
                    100.0,
                    36.0,
                    36.0,
                    0,
                ),
                shape(
                    "par",
                    None,
                    ShapeKind::ParallelGateway,
                    360.0,
                    200.0,
                    50.0,
                    50.0,
                    0,
                ),
            ],
            edges: vec![
                DiagramEdge {
                    element_id: "f1".into(),
                    name: None,
                    waypoints: vec![(136.0, 118.0), (200.0, 118.0)],
                },
                DiagramEdge {
                    element_id: "f2".into(),
                    name: None,
                    waypoints: vec![(300.0, 118.0), (360.0, 118.0)],
                },
                DiagramEdge {
                    element_id: "f3".into(),
                    name: Some("yes".into()),
                    waypoints: vec![(410.0, 118.0), (470.0, 118.0)],
                },
                DiagramEdge {
                    element_id: "f4".into(),
                    name: None,
                    waypoints: vec![(280.0, 176.0), (280.0, 225.0), (360.0, 225.0)],
                },
            ],
        }),
    }
}
