//! Model facts: one page per served model version, from the package (card,
//! spec, `metrics.json` when the package has one) and the certification
//! the hooks use.

use crate::{ViewError, Views};
use bedside_models::Model;
use bedside_policy::Certification;
use bedside_ui::{
    CertifiedPromise, Estimate, MetricRow, ModelFactsView, ModelListItem, ModelsIndexView,
    SourceAttribute, SubgroupRow,
};
use serde_json::Value;
use std::path::Path;

/// The HTI-1 table of a card: rows `| n | group | attribute | value |`
/// under a heading containing "HTI-1".
pub(crate) fn hti1_attributes(card: &str) -> Vec<SourceAttribute> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in card.lines() {
        if line.starts_with('#') {
            inside = line.contains("HTI-1");
            continue;
        }
        if !inside {
            continue;
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() == 4 && cells[0].parse::<u32>().is_ok() {
            out.push(SourceAttribute {
                name: cells[2].to_string(),
                value: cells[3].to_string(),
            });
        }
    }
    out
}

/// `metrics.json` next to the package's `model.toml`, when it is a
/// directory that has one.
fn package_metrics(model: &Model) -> Option<Value> {
    let text =
        std::fs::read_to_string(Path::new(&model.package.source).join("metrics.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn estimate(v: &Value, ci: &Value) -> Option<Estimate> {
    let x = v.as_f64()?;
    Some(match (ci[0].as_f64(), ci[1].as_f64()) {
        (Some(lo), Some(hi)) => Estimate::with_ci(x, lo, hi),
        _ => Estimate::point(x),
    })
}

fn metric_rows(m: &Value) -> Vec<MetricRow> {
    let test = &m["test"];
    let names = [
        ("auroc", "AUROC"),
        ("auprc", "AUPRC"),
        ("ece", "ECE (lower is better)"),
        ("sensitivity", "Sensitivity at threshold"),
        ("ppv", "PPV at threshold"),
    ];
    names
        .iter()
        .filter_map(|(k, label)| {
            Some(MetricRow {
                name: label.to_string(),
                estimate: estimate(&test[*k], &test["ci95"][*k])?,
                n: test["rows"].as_u64(),
                source: Some("held-out test split (scoring rows)".into()),
            })
        })
        .collect()
}

fn subgroup_rows(m: &Value) -> Vec<SubgroupRow> {
    let mut out = Vec::new();
    for (attr, groups) in m["test_subgroups"].as_object().into_iter().flatten() {
        for (group, g) in groups.as_object().into_iter().flatten() {
            out.push(SubgroupRow {
                attribute: attr.replace('_', " "),
                group: group.clone(),
                n: g["rows"].as_u64().unwrap_or(0),
                events: g["positives"].as_u64().unwrap_or(0),
                auroc: g["auroc"].as_f64().map(Estimate::point),
                ppv: g["ppv"].as_f64().map(Estimate::point),
                ece: g["ece"].as_f64(),
            });
        }
    }
    out
}

impl Views {
    fn served(&self) -> impl Iterator<Item = &std::sync::Arc<Model>> {
        self.models.iter()
    }

    fn stage_name(&self, model_id: &str) -> String {
        match &self.policy_for(model_id).policy.stage {
            bedside_policy::Stage::Silent => "silent",
            bedside_policy::Stage::Pilot { .. } => "pilot",
            bedside_policy::Stage::Live => "live",
        }
        .to_string()
    }

    /// Every served model version.
    pub fn ui_models(&self) -> ModelsIndexView {
        ModelsIndexView {
            models: self
                .served()
                .map(|m| ModelListItem {
                    id: m.id().to_string(),
                    version: m.version().to_string(),
                    name: m.package.spec.name.clone(),
                    stage: Some(self.stage_name(m.id())),
                    intended_use: Some(m.package.spec.intended_use.clone()),
                })
                .collect(),
        }
    }

    /// The facts page of one served model version (404 otherwise).
    pub fn ui_model_facts(&self, id: &str, version: &str) -> Result<ModelFactsView, ViewError> {
        let m = self
            .served()
            .find(|m| m.id() == id && m.version() == version)
            .ok_or_else(|| {
                ViewError::not_found(format!("model {id:?} version {version:?} is not served"))
            })?;
        let metrics = package_metrics(m);
        let view = self.policy_for(id);
        let cfg = &view.policy.certification;
        let promise = view.certification_of(id).map(|c| match c {
            Certification::Certified(c) => CertifiedPromise {
                certified: true,
                ppv_floor: c.ppv_floor,
                confidence: c.confidence,
                threshold: Some(c.threshold),
                alert_budget: Some(c.alert_budget_per_100_patient_days),
                expected_alerts: Some(c.alert_rate_per_100_patient_days),
                statement: c.promise.clone(),
            },
            Certification::NotCertified { .. } => CertifiedPromise {
                certified: false,
                ppv_floor: cfg.ppv_floor,
                confidence: cfg.confidence,
                threshold: None,
                alert_budget: Some(cfg.alert_budget_per_100_patient_days),
                expected_alerts: None,
                statement: c.statement(),
            },
        });
        Ok(ModelFactsView {
            model_id: id.to_string(),
            version: version.to_string(),
            name: m.package.spec.name.clone(),
            stage: Some(self.stage_name(id)),
            card_markdown: m.package.card_markdown.clone(),
            source_attributes: hti1_attributes(&m.package.card_markdown),
            metrics: metrics.as_ref().map(metric_rows).unwrap_or_default(),
            subgroups: metrics.as_ref().map(subgroup_rows).unwrap_or_default(),
            promise,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_hti1_table_only() {
        let card = "# Card\n| 1 | a | not | hti |\n## HTI-1 source attributes\n\n| # | group | attribute | value |\n|---|---|---|---|\n| 1 | Details | Intended use | Screening. |\n| 2 | Purpose | Users | Nurses |\n## Next\n| 3 | x | y | z |\n";
        let a = hti1_attributes(card);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].name, "Intended use");
        assert_eq!(a[1].value, "Nurses");
    }

    #[test]
    fn metrics_with_intervals() {
        let m = serde_json::json!({"test": {"rows": 10, "auroc": 0.8, "ci95": {"auroc": [0.7, 0.9]}, "ece": 0.05}});
        let rows = metric_rows(&m);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].estimate, Estimate::with_ci(0.8, 0.7, 0.9));
        assert_eq!(rows[1].estimate, Estimate::point(0.05));
        assert_eq!(rows[0].n, Some(10));
    }
}
