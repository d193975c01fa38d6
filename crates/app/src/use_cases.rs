//! The use cases the app serves (see `bedside_usecase`): which model
//! belongs to which use case, and which use case a pathway runs for. The
//! clinical specifics a trigger needs (start message, the event channels
//! that mean the pathway's actions are under way, the override message,
//! the card's content) come from here, never from Rust constants.

use bedside_usecase::UseCase;
use std::collections::HashMap;
use std::sync::Arc;

/// The served use cases, looked up by id, model or pathway.
#[derive(Debug, Default)]
pub struct UseCases {
    list: Vec<Arc<UseCase>>,
    /// Model id (primary or shadow) → index in `list`.
    by_model: HashMap<String, usize>,
    /// BPMN process id → index in `list`.
    by_pathway: HashMap<String, usize>,
    /// The primary model id of each in `list`.
    primary: Vec<Option<String>>,
}

impl UseCases {
    /// `list` with the id of each one's model (when it has one).
    pub fn new(list: Vec<(UseCase, Option<String>)>) -> Self {
        let mut out = Self::default();
        for (i, (uc, model_id)) in list.into_iter().enumerate() {
            out.primary.push(model_id.clone());
            if let Some(m) = model_id {
                out.by_model.insert(m, i);
            }
            for s in &uc.policy.shadow_models {
                out.by_model.entry(s.clone()).or_insert(i);
            }
            if let Some(pw) = &uc.pathway {
                out.by_pathway.entry(pw.process_id.clone()).or_insert(i);
            }
            out.list.push(Arc::new(uc));
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<UseCase>> {
        self.list.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<UseCase>> {
        self.list.iter().find(|u| u.id == id)
    }

    /// The primary model id of the use case `id`, when it has a model.
    pub fn model_of(&self, id: &str) -> Option<&str> {
        let i = self.list.iter().position(|u| u.id == id)?;
        self.primary.get(i)?.as_deref()
    }

    /// The use case a model (primary or shadow challenger) serves.
    pub fn for_model(&self, model_id: &str) -> Option<&Arc<UseCase>> {
        self.by_model.get(model_id).map(|i| &self.list[*i])
    }

    /// The use case a pathway (BPMN process id) runs for.
    pub fn for_pathway(&self, process_id: &str) -> Option<&Arc<UseCase>> {
        self.by_pathway.get(process_id).map(|i| &self.list[*i])
    }

    /// `(use case id, policy, model ids)` for the decision service.
    pub fn scopes(&self) -> Vec<(String, bedside_policy::PolicyConfig, Vec<String>)> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, uc)| {
                let ids = self
                    .by_model
                    .iter()
                    .filter(|(_, j)| **j == i)
                    .map(|(m, _)| m.clone())
                    .collect();
                (uc.id.clone(), uc.policy.clone(), ids)
            })
            .collect()
    }
}
