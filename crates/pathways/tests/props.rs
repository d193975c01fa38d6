//! Property tests: parsers never panic; the engine's effects always agree
//! with the state it stores (what the caller's job queue and task list
//! hold is exactly what the instance still waits on).

use bedside_pathways::*;
use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}
fn sepsis_xml() -> &'static str {
    static X: OnceLock<String> = OnceLock::new();
    X.get_or_init(|| read("../../pathways/sepsis-escalation.bpmn"))
}
fn defs() -> &'static [Definition; 3] {
    static D: OnceLock<[Definition; 3]> = OnceLock::new();
    D.get_or_init(|| {
        [
            Definition::parse(sepsis_xml()).unwrap(),
            Definition::parse(&read("../../pathways/radiology-review.bpmn")).unwrap(),
            Definition::parse(&read("tests/fixtures/zeebe-parallel.bpmn")).unwrap(),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn import_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = validate(&s);
        let _ = Definition::parse(&s);
    }

    #[test]
    fn import_never_panics_on_xml_like_text(s in r#"(<[a-z:]{1,12}( [a-zA-Z:]{1,10}="[^"<]{0,10}")*/?>|</[a-z:]{1,12}>|[a-z &;]{0,5}){0,30}"#) {
        let doc = format!(r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">{s}</bpmn:process></bpmn:definitions>"#);
        let _ = validate(&doc);
    }

    #[test]
    fn import_never_panics_on_damaged_real_files(
        cut in 0usize..20_000, len in 0usize..200, insert in "[<>\"=/a-zA-Z:_ ]{0,12}"
    ) {
        let src = sepsis_xml();
        let at = src.char_indices().map(|(i, _)| i).find(|i| *i >= cut.min(src.len())).unwrap_or(src.len());
        let end = src.char_indices().map(|(i, _)| i).find(|i| *i >= at + len).unwrap_or(src.len());
        let damaged = format!("{}{}{}", &src[..at], insert, &src[end..]);
        let problems = validate(&damaged);
        // a damaged file either still loads or says why
        prop_assert_eq!(Definition::parse(&damaged).is_ok(), !problems.iter().any(|p| p.severity == Severity::Error));
    }

    #[test]
    fn feel_and_durations_never_panic(s in any::<String>(), t in "[-=a-z0-9.()<>!\" ]{0,40}") {
        let vars: Map<String, Value> = json!({"a": 1, "b": {"c": "x"}, "t": true}).as_object().cloned().unwrap();
        for src in [&s, &t] {
            if let Ok(e) = Expr::parse(src) {
                let _ = e.eval(&vars);
            }
            let _ = IsoDuration::parse(src);
        }
    }
}

#[derive(Debug, Clone)]
enum Act {
    Timer(usize),
    Message(usize),
    Task(usize, usize, bool),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        (0usize..8).prop_map(Act::Timer),
        (0usize..6).prop_map(Act::Message),
        (0usize..8, 0usize..12, any::<bool>()).prop_map(|(a, b, c)| Act::Task(a, b, c)),
    ]
}

const MESSAGES: [&str; 6] = [
    "bundle-ordered",
    "alert-overridden",
    "ack",
    "nobody",
    "bundle-ordered",
    "ack",
];

/// What the caller knows from the effects alone.
#[derive(Default)]
struct Caller {
    timers: BTreeSet<String>,
    tasks: BTreeMap<String, TaskStatus>,
    all_timers: Vec<String>,
    all_tasks: Vec<String>,
    completed: usize,
}

impl Caller {
    fn apply(&mut self, fx: &[Effect]) -> Result<(), TestCaseError> {
        for e in fx {
            match e {
                Effect::ScheduleTimer { timer_id, .. } => {
                    prop_assert!(
                        self.timers.insert(timer_id.clone()),
                        "scheduled twice: {}",
                        timer_id
                    );
                    self.all_timers.push(timer_id.clone());
                }
                Effect::CancelTimer { timer_id } => {
                    prop_assert!(
                        self.timers.remove(timer_id),
                        "cancelled unknown timer {}",
                        timer_id
                    );
                }
                Effect::CreateTask(c) => {
                    prop_assert!(self
                        .tasks
                        .insert(c.task_id.clone(), TaskStatus::Requested)
                        .is_none());
                    self.all_tasks.push(c.task_id.clone());
                }
                Effect::CancelTask { task_id, .. } => {
                    prop_assert!(
                        self.tasks.remove(task_id).is_some(),
                        "cancelled unknown task {}",
                        task_id
                    );
                }
                Effect::Completed { .. } => self.completed += 1,
                Effect::ServiceCall { .. } | Effect::Incident { .. } => {}
            }
        }
        Ok(())
    }
    fn check(&self, inst: &Instance) -> Result<(), TestCaseError> {
        let pending: BTreeSet<String> = inst
            .pending_timers()
            .into_iter()
            .map(String::from)
            .collect();
        prop_assert_eq!(&pending, &self.timers);
        let open: BTreeSet<String> = inst.open_tasks().into_iter().map(String::from).collect();
        let known: BTreeSet<String> = self.tasks.keys().cloned().collect();
        prop_assert_eq!(open, known);
        prop_assert_eq!(self.completed, usize::from(!inst.is_running()));
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn effects_always_match_the_stored_state(which in 0usize..3, acts in prop::collection::vec(act(), 0..25)) {
        let def = &defs()[which];
        let trigger = def.start_triggers()[0].clone();
        let vars = json!({"risk": {"probability": 0.7}, "covering_physician": "Practitioner/x"});
        let now0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let (mut inst, fx) = Engine::start(def, "i", &trigger, vars.as_object().cloned().unwrap(), now0).unwrap();
        let mut caller = Caller::default();
        caller.apply(&fx)?;
        caller.check(&inst)?;
        for (step, a) in acts.into_iter().enumerate() {
            let now = now0 + TimeDelta::minutes(step as i64 + 1);
            match a {
                Act::Timer(i) if !caller.all_timers.is_empty() => {
                    let t = caller.all_timers[i % caller.all_timers.len()].clone();
                    let fx = Engine::on_timer(def, &mut inst, &t, now).unwrap();
                    if !fx.is_empty() {
                        prop_assert!(caller.timers.remove(&t), "fired a timer that was not live");
                    }
                    caller.apply(&fx)?;
                }
                Act::Message(i) => {
                    let payload = json!({"nurse": {"decision": "escalate"}});
                    let fx = Engine::on_message(def, &mut inst, MESSAGES[i], None, payload.as_object().cloned().unwrap(), now).unwrap();
                    caller.apply(&fx)?;
                }
                Act::Task(i, s, agree) if !caller.all_tasks.is_empty() => {
                    let task = caller.all_tasks[i % caller.all_tasks.len()].clone();
                    let status = TaskStatus::ALL[s];
                    let out = json!({"review": {"agrees_with_ai": agree}, "physician": {"decision": if agree {"rrt"} else {"plan"}}});
                    let before = inst.clone();
                    let res = Engine::on_task_update(def, &mut inst, &task, status, out.as_object().cloned().unwrap(), now);
                    match caller.tasks.get(&task).copied() {
                        Some(cur) if cur != status && before.is_running() => {
                            let allowed = transition(cur, status).is_ok();
                            prop_assert_eq!(res.is_ok(), allowed, "{} -> {}", cur, status);
                            if allowed {
                                if status.is_terminal() {
                                    caller.tasks.remove(&task);
                                } else {
                                    caller.tasks.insert(task.clone(), status);
                                }
                            } else {
                                prop_assert_eq!(&inst, &before);
                            }
                            caller.apply(&res.unwrap_or_default())?;
                        }
                        _ => {
                            // unknown, finished, repeated or instance over: no-op
                            prop_assert_eq!(res, Ok(vec![]));
                            prop_assert_eq!(&inst, &before);
                        }
                    }
                }
                _ => {}
            }
            caller.check(&inst)?;
            // the stored form always resumes to the same instance
            let back: Instance = serde_json::from_str(&serde_json::to_string(&inst).unwrap()).unwrap();
            prop_assert_eq!(&back, &inst);
        }
    }
}
