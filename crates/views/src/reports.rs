//! Governance reports over the stored record: `readiness` (the six
//! questions to ask before adopting a model, each answered with measured
//! evidence from this installation) and `silent` (silent-mode performance
//! and the simulated alert burden). Every figure names the records it was
//! computed from; the full [`MonitoringSnapshot`] over the whole record
//! travels with the report as evidence. HTML rendering: [`render_html`].

mod html;

pub use html::render_html;

use crate::monitoring::{MonitoringQuery, MonitoringSnapshot, Span};
use crate::{ViewError, Views};
use bedside_core::Instant;
use bedside_policy::{Decision, Recipient};
use bedside_record::kinds::{DECISION, PATHWAY_INSTANCE, TASK};
use bedside_record::{CardRecord, DecisionRecord, LatestRisk, Record as _, TaskRecord};
use bedside_store::DocFilter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One measured figure and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub label: String,
    pub value: Value,
    /// The stored records this figure is computed from.
    pub source: String,
}

fn fig(label: &str, value: impl Serialize, source: &str) -> Figure {
    Figure {
        label: label.into(),
        value: serde_json::to_value(value).unwrap_or(Value::Null),
        source: source.into(),
    }
}

/// A question with its short answer and evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub question: String,
    pub answer: String,
    pub figures: Vec<Figure>,
}

/// A rendered-once report (JSON is this struct).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `readiness` or `silent`.
    pub kind: String,
    pub model_id: String,
    pub model_version: Option<String>,
    /// The data clock (newest stored prediction) the report is as of.
    pub as_of: Instant,
    /// The stored predictions covered (first to newest).
    pub window: Span,
    pub sections: Vec<Section>,
    pub evidence: MonitoringSnapshot,
}

const PRED: &str = "`prediction` documents";
const CARDS: &str = "`card` documents";

fn pct(k: u64, n: u64) -> Value {
    if n == 0 {
        Value::Null
    } else {
        json!((k as f64 / n as f64 * 1000.0).round() / 10.0)
    }
}

impl Views {
    /// The snapshot over every stored prediction of a model.
    async fn whole_record(&self, model_id: &str) -> Result<(Span, MonitoringSnapshot), ViewError> {
        let span = self.prediction_span(model_id).await?.ok_or_else(|| {
            ViewError::not_found(format!(
                "no stored predictions of model {model_id:?}: replay or ingest data first"
            ))
        })?;
        let mut cfg = self.monitoring_config();
        // One window from the first prediction to just after the newest.
        let hours = (span.end - span.start).num_seconds() as f64 / 3600.0 + 1.0;
        cfg.window_hours = hours;
        cfg.reference_hours = hours;
        cfg.rolling_step_hours = (hours / 8.0).max(24.0);
        let now = span.end + chrono::Duration::seconds(1);
        let q = MonitoringQuery {
            model_id: model_id.into(),
            now,
        };
        Ok((span, self.monitoring_with(&q, &cfg).await?))
    }

    fn report(
        &self,
        kind: &str,
        span: Span,
        snap: MonitoringSnapshot,
        sections: Vec<Section>,
    ) -> Report {
        Report {
            kind: kind.into(),
            model_id: snap.model_id.clone(),
            model_version: snap.model_version.clone(),
            as_of: span.end,
            window: span,
            sections,
            evidence: snap,
        }
    }

    /// `bedside report readiness`.
    pub async fn readiness_report(&self, model_id: &str) -> Result<Report, ViewError> {
        let (span, snap) = self.whole_record(model_id).await?;
        let sections = vec![
            self.workflow_section(model_id).await?,
            latency_section(&snap),
            self.wrongness_section(model_id, &snap, span).await?,
            use_section(&snap, span),
            self.population_section(model_id, &snap)?,
            self.override_section(&snap),
        ];
        Ok(self.report("readiness", span, snap, sections))
    }

    /// Q1: where it sits in the workflow.
    async fn workflow_section(&self, model_id: &str) -> Result<Section, ViewError> {
        let services: Vec<String> = self
            .hooks
            .iter()
            .map(|h| format!("{model_id}-{h}"))
            .collect();
        let cards = self
            .docs_of(bedside_record::kinds::CARD, Some(model_id))
            .await?;
        let mut by_hook: BTreeMap<String, u64> = BTreeMap::new();
        for c in &cards {
            let hook = CardRecord::from_document(c)
                .map(|r| r.hook)
                .unwrap_or_else(|_| "unknown".into());
            *by_hook.entry(hook).or_default() += 1;
        }
        let prefix = format!("{model_id}|");
        let instances = self.docs_of(PATHWAY_INSTANCE, None).await?;
        let started: Vec<&str> = instances
            .iter()
            .filter(|d| d.id.starts_with(&prefix))
            .map(|d| d.id.as_str())
            .collect();
        let tasks = self.docs_of(TASK, None).await?;
        let n_tasks = tasks
            .iter()
            .filter(|t| {
                TaskRecord::from_document((*t).clone())
                    .ok()
                    .and_then(|t| t.instance_id().map(|g| started.contains(&g)))
                    .unwrap_or(false)
            })
            .count();
        let stage = format!("{:?}", self.policy_for(model_id).policy.stage);
        let pathways: Vec<String> = self.pathways.iter().map(|d| d.id.clone()).collect();
        Ok(Section {
            question: "Where does it sit in the workflow?".into(),
            answer: format!(
                "Scored ahead of time after ingest; answers {} CDS Hooks services; alert policy stage {stage}; {} cards recorded, {} pathway instances started, {n_tasks} pathway Tasks created.",
                services.len(), cards.len(), started.len()
            ),
            figures: vec![
                fig("CDS Hooks services", &services, "served models x hooks (`GET /cds-services`)"),
                fig("alert policy stage", &stage, "the alert policy in force"),
                fig("pathways loaded", &pathways, "loaded BPMN definitions"),
                fig("cards by hook", &by_hook, CARDS),
                fig("pathway instances started", started.len(), "`pathway_instance` documents with id `{model}|...`"),
                fig("pathway Tasks created", n_tasks, "`Task` documents of those instances (groupIdentifier)"),
            ],
        })
    }

    async fn docs_of(
        &self,
        kind: &str,
        owner: Option<&str>,
    ) -> Result<Vec<bedside_store::Document>, ViewError> {
        Ok(self
            .store
            .list_documents(&DocFilter {
                kind: kind.into(),
                owner: owner.map(str::to_string),
                ..Default::default()
            })
            .await?)
    }

    /// Q3: how a clinician would know it is wrong.
    async fn wrongness_section(
        &self,
        model_id: &str,
        s: &MonitoringSnapshot,
        span: Span,
    ) -> Result<Section, ViewError> {
        let rec = self
            .monitoring_record(
                model_id,
                span.start,
                span.end + chrono::Duration::seconds(1),
            )
            .await?;
        let n = rec.predictions.len() as u64;
        let count = |f: &dyn Fn(&crate::monitoring::collect::PredRow) -> bool| {
            rec.predictions.iter().filter(|p| f(p)).count() as u64
        };
        let ood = count(&|p| !p.in_distribution);
        let with_interval = count(&|p| p.has_interval);
        let with_factors = count(&|p| p.has_factors);
        Ok(Section {
            question: "How would a clinician know it is wrong?".into(),
            answer: format!(
                "Each prediction carries its interval ({}% of {n}) and top factors ({}%); {}% were flagged out of distribution; calibration ECE {} on {} labelled predictions; {} governance alarms raised now.",
                pct(with_interval, n), pct(with_factors, n), pct(ood, n),
                s.performance.ece.map(|e| format!("{e:.3}")).unwrap_or_else(|| "n/a".into()),
                s.performance.n, s.alarms.len()
            ),
            figures: vec![
                fig("predictions", n, PRED),
                fig("with an interval (%)", pct(with_interval, n), PRED),
                fig("with top factors (%)", pct(with_factors, n), PRED),
                fig("out of distribution (%)", pct(ood, n), "`prediction.in_distribution`"),
                fig("ECE", s.performance.ece, "labelled predictions (outcome definition over stored Conditions)"),
                fig("reliability", &s.performance, "labelled predictions"),
                fig("live PPV vs certified floor", &s.live_ppv, "`decision` documents labelled by outcome"),
                fig("alarms now", &s.alarms, "alarm rules over this evidence"),
            ],
        })
    }

    /// Q5: population match.
    fn population_section(
        &self,
        model_id: &str,
        s: &MonitoringSnapshot,
    ) -> Result<Section, ViewError> {
        let model = self.served_model(model_id)?;
        let psi: BTreeMap<String, Value> = s
            .drift
            .training
            .iter()
            .map(|d| (d.name.clone(), json!({"psi": d.psi, "n": d.n_current, "ks": d.ks.as_ref().map(|k| k.statistic), "missing_change": d.missingness.as_ref().map(|m| m.difference)})))
            .collect();
        let big = s
            .drift
            .training
            .iter()
            .filter(|d| d.psi.is_some_and(|p| p > 0.25))
            .count();
        let min_n = self.monitoring_config().alarms.drift.min_samples;
        let big_enough = s
            .drift
            .training
            .iter()
            .filter(|d| d.psi.is_some_and(|p| p > 0.25) && d.n_current >= min_n)
            .count();
        let mut local: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for g in &s.subgroups {
            local
                .entry(g.attribute.clone())
                .or_default()
                .insert(g.group.clone(), g.summary.n);
        }
        Ok(Section {
            question: "How well does the local population match the training profile?".into(),
            answer: format!(
                "{big} of {} inputs (and the score) have PSI > 0.25 against the training profile ({} training rows), {big_enough} of them with at least {min_n} values (the alarm rule's minimum); PSI from sampling alone is about 9 x (1/n + 1/n_training) with 10 bins, so small n inflates it: see n per input.",
                s.drift.training.len(), model.package.profile.n_rows
            ),
            figures: vec![
                fig("PSI / KS / missingness change per input", &psi, "`prediction.features` vs training_profile.json quantiles (score: calibration_set.json)"),
                fig("local predictions by subgroup", &local, "labelled predictions x stored Patient / encounter location"),
                fig("training subgroups (rows)", &model.package.profile.subgroups, "training_profile.json"),
            ],
        })
    }

    /// Q6: how to override.
    fn override_section(&self, s: &MonitoringSnapshot) -> Section {
        let view = self.policy_for(&s.model_id);
        let policy = &view.policy;
        let reasons: Vec<String> = policy
            .override_reasons
            .iter()
            .map(|c| format!("{} ({})", c.code, c.display))
            .collect();
        Section {
            question: "How does a clinician override it?".into(),
            answer: format!(
                "Every card offers a one-click override with a coded reason ({} reasons); an override snoozes the alert for {} h by default. {} overrides recorded so far.",
                reasons.len(), policy.snooze.default_hours, s.usage.overall.overridden
            ),
            figures: vec![
                fig("override reasons offered", &reasons, "CDS Hooks alert policy"),
                fig("default snooze (h)", policy.snooze.default_hours, "CDS Hooks alert policy"),
                fig("overrides by reason", &s.usage.overall.override_reasons, "`feedback` documents (overridden)"),
            ],
        }
    }

    /// `bedside report silent`.
    pub async fn silent_report(&self, model_id: &str) -> Result<Report, ViewError> {
        let (span, snap) = self.whole_record(model_id).await?;
        let decisions = self.docs_of(DECISION, Some(model_id)).await?;
        let days = ((span.end - span.start).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
        let mut per_shift: BTreeMap<(String, i64), u64> = BTreeMap::new();
        for d in &decisions {
            let Ok(dec) = serde_json::from_value::<Decision>(d.body.clone()) else {
                continue;
            };
            for r in &dec.route_to {
                let who = match r {
                    Recipient::Practitioner { reference, .. } => reference.clone(),
                    Recipient::Role { role, .. } => format!("role:{role}"),
                };
                let shift = bedside_monitor::usage::shift_index(
                    d.created_at,
                    &self.monitoring_config().shift,
                );
                *per_shift.entry((who, shift)).or_default() += 1;
            }
        }
        let shifts = per_shift.len() as f64;
        let per_clin = (shifts > 0.0).then(|| per_shift.values().sum::<u64>() as f64 / shifts);
        let patient_days = self.patient_days(model_id, span).await?;
        let n = decisions.len() as u64;
        let p = &snap.performance;
        let silent_cards = snap.usage.overall.alerts - snap.usage.overall.shown;
        let sections = vec![
            Section {
                question: "How well does it perform in silent mode?".into(),
                answer: format!(
                    "{} labelled predictions ({} positive): AUROC {}, AUPRC {}, ECE {}.",
                    p.n, p.positives,
                    p.auroc.as_ref().map(|a| format!("{:.3} ({:.3}-{:.3})", a.value, a.lower, a.upper)).unwrap_or_else(|| "n/a".into()),
                    p.auprc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "n/a".into()),
                    p.ece.map(|a| format!("{a:.3}")).unwrap_or_else(|| "n/a".into()),
                ),
                figures: vec![
                    fig("performance (95% CIs)", p, "labelled `prediction` documents (outcome definition over stored Conditions)"),
                    fig("label states", &snap.labels, PRED),
                    fig("rolling performance", &snap.rolling, PRED),
                    fig("by subgroup", &snap.subgroups, "labelled predictions x stored Patient / encounter location"),
                    fig("fairness breaches", &snap.fairness.breaches, "fairness audit of labelled predictions"),
                    fig("label-free estimate (pending)", &snap.cbpe, "pending predictions' calibrated probabilities (CBPE)"),
                ],
            },
            Section {
                question: "What alert burden would it have caused?".into(),
                answer: format!(
                    "{n} alerts over {days:.1} days ({:.2} per day, {} per 100 patient-days); {} per clinician-shift that received any; live PPV {}.",
                    n as f64 / days,
                    patient_days.map(|pd| format!("{:.1}", n as f64 / pd * 100.0)).unwrap_or_else(|| "n/a".into()),
                    per_clin.map(|v| format!("{v:.2}")).unwrap_or_else(|| "n/a".into()),
                    snap.live_ppv.ppv.as_ref().map(|e| format!("{:.2} ({:.2}-{:.2})", e.value, e.lower, e.upper)).unwrap_or_else(|| "n/a".into()),
                ),
                figures: vec![
                    fig("certification", self.policy_for(model_id).certification_of(model_id).map(|c| c.statement()), "the model package calibration set under the alert policy"),
                    fig("alerts (decisions)", n, "`decision` documents (new alert or escalation, shown or not)"),
                    fig("alerts per day", n as f64 / days, "`decision` documents / prediction span"),
                    fig("patient-days", patient_days, "stored patient state: encounter time within the prediction span"),
                    fig("alerts per clinician-shift", per_clin, "`decision.route_to` x 12 h shifts"),
                    fig("live PPV of alerts", &snap.live_ppv, "`decision` documents labelled by outcome"),
                    fig("cards recorded silent", silent_cards, CARDS),
                ],
            },
        ];
        let mut sections = sections;
        for shadow in self.shadow_models_of(model_id) {
            sections.push(self.shadow_section(model_id, &shadow, &snap).await?);
        }
        Ok(self.report("silent", span, snap, sections))
    }

    /// Served challenger models in shadow (policy `shadow_models`) other
    /// than `model_id` itself.
    fn shadow_models_of(&self, model_id: &str) -> Vec<String> {
        let view = self.policy_for(model_id);
        self.model_ids
            .iter()
            .filter(|id| *id != model_id && view.policy.shadow_models.contains(id))
            .cloned()
            .collect()
    }

    /// The challenger next to the primary: predictions paired by patient
    /// and scoring time, their probability difference, alerts each would
    /// have made, and each one's performance on the labelled record.
    async fn shadow_section(
        &self,
        primary: &str,
        shadow: &str,
        primary_snap: &MonitoringSnapshot,
    ) -> Result<Section, ViewError> {
        let key =
            |d: &bedside_store::Document| (d.patient_id.clone().unwrap_or_default(), d.created_at);
        let prob = |d: &bedside_store::Document| {
            LatestRisk::from_document(d)
                .ok()
                .map(|r| r.prediction.probability.get())
        };
        let mine: BTreeMap<_, _> = self
            .docs_of(bedside_record::kinds::PREDICTION, Some(primary))
            .await?
            .iter()
            .filter_map(|d| Some((key(d), prob(d)?)))
            .collect();
        let theirs = self
            .docs_of(bedside_record::kinds::PREDICTION, Some(shadow))
            .await?;
        let (mut paired, mut sum_abs, mut max_abs) = (0u64, 0.0f64, 0.0f64);
        for d in &theirs {
            if let (Some(a), Some(b)) = (mine.get(&key(d)), prob(d)) {
                paired += 1;
                sum_abs += (a - b).abs();
                max_abs = max_abs.max((a - b).abs());
            }
        }
        let alerts = |docs: &[bedside_store::Document]| docs.len() as u64;
        let primary_alerts = alerts(&self.docs_of(DECISION, Some(primary)).await?);
        let shadow_decisions = self.docs_of(DECISION, Some(shadow)).await?;
        let shadow_shown = shadow_decisions
            .iter()
            .filter(|d| DecisionRecord::from_document(d).is_ok_and(|r| r.decision.shown))
            .count();
        let shadow_snap = match self.whole_record(shadow).await {
            Ok((_, s)) => Some(s),
            Err(e) if e.status == 404 => None,
            Err(e) => return Err(e),
        };
        let auroc = |s: &MonitoringSnapshot| {
            s.performance
                .auroc
                .as_ref()
                .map(|a| format!("{:.3} ({:.3}-{:.3})", a.value, a.lower, a.upper))
                .unwrap_or_else(|| "n/a".into())
        };
        let mean_abs = (paired > 0).then(|| sum_abs / paired as f64);
        Ok(Section {
            question: format!("How does the challenger {shadow} compare (shadow)?"),
            answer: format!(
                "{} of its {} predictions pair with {primary}'s (same patient and time): mean |difference| {}, max {:.3}. Alerts it would have made: {} ({} shown: a shadow model is never shown) vs {primary_alerts}. AUROC {} vs {}.",
                paired,
                theirs.len(),
                mean_abs.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into()),
                max_abs,
                shadow_decisions.len(),
                shadow_shown,
                shadow_snap.as_ref().map(auroc).unwrap_or_else(|| "n/a".into()),
                auroc(primary_snap),
            ),
            figures: vec![
                fig("paired predictions", paired, PRED),
                fig("mean absolute probability difference", mean_abs, PRED),
                fig("challenger alerts (decisions)", shadow_decisions.len(), "`decision` documents of the shadow model"),
                fig("challenger alerts shown", shadow_shown, "`decision.shown` of the shadow model"),
                fig("primary alerts (decisions)", primary_alerts, "`decision` documents"),
                fig("challenger performance", shadow_snap.as_ref().map(|s| &s.performance), "labelled `prediction` documents of the shadow model"),
            ],
        })
    }

    /// Encounter time of the model's patients within `span`, in days.
    async fn patient_days(&self, model_id: &str, span: Span) -> Result<Option<f64>, ViewError> {
        let rec = self
            .monitoring_record(
                model_id,
                span.start,
                span.end + chrono::Duration::seconds(1),
            )
            .await?;
        let mut secs = 0i64;
        for st in rec.states.values() {
            for e in st.encounters.values() {
                let (Some(s), end) = (e.start, e.end.unwrap_or(span.end)) else {
                    continue;
                };
                let (a, b) = (s.max(span.start), end.min(span.end));
                if b > a {
                    secs += (b - a).num_seconds();
                }
            }
        }
        Ok((secs > 0).then(|| secs as f64 / 86_400.0))
    }
}

/// Q2: measured latency.
fn latency_section(s: &MonitoringSnapshot) -> Section {
    let answer = if s.latency.is_empty() {
        "No CDS Hooks call has been answered here yet, so card latency is not measured; run the EHR sandbox or a hook client, then re-run this report.".to_string()
    } else {
        s.latency
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms over {} cards",
                    v.p50, v.p95, v.p99, v.n
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    Section {
        question: "How fast is it, measured here?".into(),
        answer,
        figures: vec![fig(
            "card latency by hook (ms)",
            &s.latency,
            "`card.latency_ms` (request received to card rendered)",
        )],
    }
}

/// Q4: sustained use so far.
fn use_section(s: &MonitoringSnapshot, span: Span) -> Section {
    let u = &s.usage.overall;
    let days = (span.end - span.start).num_seconds() as f64 / 86_400.0;
    Section {
        question: "Has it been used, and does use last?".into(),
        answer: format!(
            "Predictions over {days:.1} days; {} cards ({} shown), {} acted on, {} accepted, {} overridden; {} trust-pulse answers.",
            u.alerts, u.shown, u.acted_on, u.accepted, u.overridden, s.sources.pulse_answers
        ),
        figures: vec![
            fig("days of predictions", days, PRED),
            fig("use overall", u, "`card` + `feedback` documents, orders and Task actions after each card"),
            fig("use by unit", &s.usage.by_unit, "cards x patient encounter location"),
            fig("use by role", &s.usage.by_role, "cards x PractitionerRole of the hook user"),
            fig("trust pulse by period", &s.trust_pulse, "`pulse_answer` documents"),
        ],
    }
}
