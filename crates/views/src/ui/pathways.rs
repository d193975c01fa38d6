//! The pathway view: each loaded BPMN drawn from its diagram-interchange
//! coordinates, with the number of running instances waiting at each
//! element.

use crate::{ViewError, Views};
use bedside_core::Instant;
use bedside_record::kinds::PATHWAY_INSTANCE;
use bedside_record::{InstanceRecord, Record as _};
use bedside_store::DocFilter;
use bedside_ui::{Choice, PathwayDiagram, PathwaysView};
use std::collections::HashMap;

impl Views {
    /// Tokens of running instances of `definition_id`, per element.
    async fn waiting_counts(&self, definition_id: &str) -> Result<HashMap<String, u64>, ViewError> {
        let docs = self
            .store
            .list_documents(&DocFilter {
                kind: PATHWAY_INSTANCE.into(),
                status: Some("running".into()),
                owner: Some(definition_id.to_string()),
                ..Default::default()
            })
            .await?;
        let mut counts = HashMap::new();
        for d in &docs {
            let inst = InstanceRecord::from_document(d)
                .map_err(|e| ViewError::internal(e.to_string()))?
                .instance;
            for t in &inst.tokens {
                *counts.entry(t.element_id.clone()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    /// One pathway's drawing with live counts (404 when not loaded).
    pub async fn ui_pathway_diagram(
        &self,
        id: &str,
        now: Instant,
    ) -> Result<PathwayDiagram, ViewError> {
        let def = self
            .definition(id)
            .ok_or_else(|| ViewError::not_found(format!("pathway {id:?} is not loaded")))?;
        let waiting = self.waiting_counts(id).await?;
        PathwayDiagram::from_outline(&def.outline(), &waiting, now)
            .map_err(|e| ViewError::internal(format!("pathway {id:?}: {e}")))
    }

    /// The pathways page, with `selected` drawn (`None`: the only loaded
    /// pathway when there is exactly one, else just the list).
    pub async fn ui_pathways(
        &self,
        selected: Option<&str>,
        now: Instant,
    ) -> Result<PathwaysView, ViewError> {
        let available: Vec<Choice> = self
            .pathways
            .iter()
            .map(|d| Choice {
                value: d.id.clone(),
                label: d.name.clone().unwrap_or_else(|| d.id.clone()),
            })
            .collect();
        let pick = match selected {
            Some(s) => Some(s.to_string()),
            None if available.len() == 1 => Some(available[0].value.clone()),
            None => None,
        };
        let diagram = match pick {
            Some(id) => Some(self.ui_pathway_diagram(&id, now).await?),
            None => None,
        };
        Ok(PathwaysView { available, diagram })
    }
}
