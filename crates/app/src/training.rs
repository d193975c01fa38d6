//! Training before go-live: per use case a short module rendered from its
//! package and configuration (what the model sees and does not see, its
//! validated population, what the card's parts mean, when to be
//! skeptical, how to override and what happens then, who to tell when it
//! is wrong), ending with an attestation (who, when, which model version,
//! role and unit; audited). A use case with `require_training = true`
//! gives an untrained clinician passive cards with the training link
//! instead of interruptive ones (`App::training_gate`, hooks).

use crate::audit::{Action, Actor, Entity, Event};
use crate::{ApiError, App};
use bedside_core::Instant;
use bedside_record::{kinds, Record as _, TrainingAttestationRecord};
use bedside_store::{Commit, DocFilter};
use bedside_usecase::UseCase;
use std::collections::BTreeMap;

/// One section of a training module: a heading and Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSection {
    pub title: String,
    pub markdown: String,
}

/// A use case's training module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingModule {
    pub use_case: String,
    pub name: String,
    pub model_id: Option<String>,
    pub model_version: Option<String>,
    pub required: bool,
    pub sections: Vec<TrainingSection>,
}

/// Trained clinicians per role and unit, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrainingCoverage {
    /// (role, unit) -> clinicians attested for the current model version.
    pub by_role_unit: BTreeMap<(String, String), u64>,
    /// Clinicians shown this use case's cards who have not attested.
    pub untrained_card_users: u64,
}

/// The body of the Markdown section headed `heading` (`## heading`) in a
/// model facts card, if any.
fn card_section(card: &str, heading: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in card.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            if inside {
                break;
            }
            inside = h.trim().eq_ignore_ascii_case(heading);
            continue;
        }
        if inside {
            out.push(line);
        }
    }
    let text = out.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}

impl App {
    /// The use case `id`, or a 404 naming it.
    fn training_use_case(&self, id: &str) -> Result<&std::sync::Arc<UseCase>, ApiError> {
        self.use_cases
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("no use case {id:?} is served here")))
    }

    /// The use case's model, when it has one that is served.
    fn training_model(&self, uc: &UseCase) -> Option<std::sync::Arc<bedside_models::Model>> {
        let id = self.use_cases.model_of(&uc.id)?;
        self.views.served_model(id).ok()
    }

    /// The training module of use case `id`, built from its package and
    /// configuration.
    pub fn training_module(&self, id: &str) -> Result<TrainingModule, ApiError> {
        let uc = self.training_use_case(id)?;
        let model = self.training_model(uc);
        let mut sections = Vec::new();
        let mut push = |title: &str, markdown: String| {
            sections.push(TrainingSection {
                title: title.to_string(),
                markdown,
            })
        };
        let card = model
            .as_ref()
            .map(|m| m.package.card_markdown.as_str())
            .unwrap_or("");
        // What the model sees, and does not.
        match &model {
            Some(m) => {
                let spec = &m.package.spec;
                let channels: Vec<String> = spec
                    .channels
                    .iter()
                    .map(|c| format!("- {} ({})", c.name.replace('_', " "), c.unit))
                    .collect();
                push(
                    "What the model sees",
                    format!(
                        "{}\n\nIt reads these charted values, and nothing else:\n\n{}",
                        spec.intended_use,
                        channels.join("\n")
                    ),
                );
                push(
                    "What it does not see",
                    format!(
                        "Anything not in the list above: your assessment at the bedside, notes, \
                         the patient's appearance, values not yet charted, and what happened in \
                         another hospital. A missing value is missing to the model too; the card \
                         names it.{}",
                        card_section(card, "Known limits")
                            .map(|k| format!("\n\nKnown limits of this model:\n\n{k}"))
                            .unwrap_or_default()
                    ),
                );
                push(
                    "Who it was validated on",
                    card_section(card, "Who it was trained on").unwrap_or_else(|| {
                        "The model's package does not describe its population: ask the model owner.".into()
                    }),
                );
            }
            None => push(
                "What the finding comes from",
                format!(
                    "{} The finding comes from an external system; Bedside routes it to the \
                     person responsible and records what they decide.",
                    uc.description.clone().unwrap_or_default()
                ),
            ),
        }
        // The card.
        let suggestions: Vec<String> = uc
            .card
            .suggestions
            .iter()
            .map(|s| format!("- **{}**: {}", s.label, s.description))
            .collect();
        push(
            "What the card's parts mean",
            format!(
                "- **The summary** starts with \"{}\" and the risk in percent, how it compares \
                 with the usual risk, and what to do: \"{}\".\n\
                 - **The indicator**: *info* is a passive card you may read when you like; \
                 *warning* interrupts because the risk crossed the certified threshold; \
                 *critical* means the alert escalated and a pathway Task is open.\n\
                 - **The trend** compares the risk now with 6 and 24 hours ago.\n\
                 - **The factors** are the charted values that push this patient's risk up or \
                 down most, in clinical units; they explain the model, not the patient.\n\
                 - **The interval** is how sure the model is; a wide one means be careful.\n\
                 {}",
                uc.card.statement,
                uc.card.action,
                if suggestions.is_empty() {
                    String::new()
                } else {
                    format!(
                        "- **The suggestions** you may accept with one click:\n{}",
                        suggestions.join("\n")
                    )
                }
            ),
        );
        push(
            "When to be skeptical",
            card_section(card, "When to be skeptical").unwrap_or_else(|| {
                "- The card says the patient is outside the model's training population.\n\
                 - Many values are missing, or the newest data is old.\n\
                 - The factors do not match what you see at the bedside."
                    .into()
            }),
        );
        let view = self
            .decisions
            .view_for(model.as_ref().map(|m| m.id()).unwrap_or(uc.id.as_str()));
        let reasons: Vec<String> = view
            .policy
            .override_reasons
            .iter()
            .map(|r| format!("- {}", r.display))
            .collect();
        push(
            "How to override, and what happens then",
            format!(
                "Disagree on the card (or \"Disagree and snooze\" on the worklist) and give one \
                 coded reason:\n\n{}\n\nThe alert is then quiet for this patient for {} hours \
                 (at most {}), an open pathway for it ends and its Task is cancelled. Your \
                 reason is recorded with your name in the audit log and counted on the \
                 monitoring dashboard, where the model's owners read it: overriding is \
                 expected and never held against you.",
                reasons.join("\n"),
                view.policy.snooze.default_hours,
                view.policy.snooze.max_hours,
            ),
        );
        push(
            "Who to tell when it is wrong",
            format!(
                "{}\n\nA disagreement you record with a reason reaches them through the \
                 monitoring dashboard; the trust pulse link on some cards asks how much you \
                 trust the alerts (one question, 1-5).",
                uc.training_contact.clone().unwrap_or_else(|| {
                    "The model's owner in your clinical informatics team.".into()
                })
            ),
        );
        Ok(TrainingModule {
            use_case: uc.id.clone(),
            name: uc.name.clone(),
            model_id: model.as_ref().map(|m| m.id().to_string()),
            model_version: model.as_ref().map(|m| m.version().to_string()),
            required: uc.require_training,
            sections,
        })
    }

    /// The attestation of `clinician` for use case `id` that counts: made
    /// for the model version served now.
    pub async fn training_attestation(
        &self,
        id: &str,
        clinician: &str,
    ) -> Result<Option<TrainingAttestationRecord>, ApiError> {
        let uc = self.training_use_case(id)?;
        let version = self.training_model(uc).map(|m| m.version().to_string());
        let Some(d) = self
            .store
            .get_document(kinds::TRAINING_ATTESTATION, &format!("{id}|{clinician}"))
            .await?
        else {
            return Ok(None);
        };
        let a = TrainingAttestationRecord::from_document(&d)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok((a.model_version == version).then_some(a))
    }

    /// Record that `clinician` (who = the signed-in person) completed the
    /// training of use case `id`, in `role` and `unit`; audited
    /// (`training-attested`, with the model version).
    pub async fn attest_training(
        &self,
        who: &Actor,
        id: &str,
        clinician: &str,
        role: &str,
        unit: &str,
        now: Instant,
    ) -> Result<TrainingAttestationRecord, ApiError> {
        let module = self.training_module(id)?;
        let clean = |v: &str, what: &str| {
            let v = v.trim();
            if v.is_empty() || v.len() > 64 {
                Err(ApiError::bad_request(
                    format!("training attestation: {what} must be 1 to 64 characters"),
                    Some(what),
                ))
            } else {
                Ok(v.to_string())
            }
        };
        let a = TrainingAttestationRecord {
            use_case: module.use_case.clone(),
            clinician: clean(clinician, "clinician")?,
            at: now,
            model_id: module.model_id.clone(),
            model_version: module.model_version.clone(),
            role: clean(role, "role")?,
            unit: clean(unit, "unit")?,
        };
        let mut commit = Commit::default();
        commit.documents.push(a.to_document());
        let mut what = Entity::identifier("urn:bedside:use-case", &a.use_case)
            .detail("clinician", &a.clinician)
            .detail("role", &a.role)
            .detail("unit", &a.unit);
        if let (Some(m), Some(v)) = (&a.model_id, &a.model_version) {
            what = what.detail("model", format!("{m}|{v}"));
        }
        let ev = Event::rest("create", "training-attested", Action::Create)
            .by(who)
            .entity(what);
        self.record(&mut commit, ev);
        self.write(commit).await?;
        Ok(a)
    }

    /// Trained clinicians by role and unit for the use case of `model_id`,
    /// and how many clinicians shown its cards have not trained.
    pub async fn training_coverage(
        &self,
        model_id: &str,
    ) -> Result<Option<TrainingCoverage>, ApiError> {
        let Some(uc) = self.use_cases.for_model(model_id) else {
            return Ok(None);
        };
        let version = self.training_model(uc).map(|m| m.version().to_string());
        let docs = self
            .store
            .list_documents(&DocFilter {
                kind: kinds::TRAINING_ATTESTATION.into(),
                owner: Some(uc.id.clone()),
                ..Default::default()
            })
            .await?;
        let mut cov = TrainingCoverage::default();
        let mut trained = std::collections::BTreeSet::new();
        for a in docs
            .iter()
            .filter_map(|d| TrainingAttestationRecord::from_document(d).ok())
            .filter(|a| a.model_version == version)
        {
            *cov.by_role_unit
                .entry((a.role.clone(), a.unit.clone()))
                .or_default() += 1;
            trained.insert(a.clinician);
        }
        let cards = self
            .store
            .list_documents(&DocFilter {
                kind: kinds::CARD.into(),
                owner: Some(model_id.to_string()),
                ..Default::default()
            })
            .await?;
        let users: std::collections::BTreeSet<String> = cards
            .iter()
            .filter_map(|d| d.body["user"].as_str().map(str::to_string))
            .collect();
        cov.untrained_card_users = users.iter().filter(|u| !trained.contains(*u)).count() as u64;
        Ok(Some(cov))
    }

    /// For a card of `tier` shown to `user` by the model `model_id`: the
    /// tier to show, and the training URL when the use case requires
    /// training the user has not attested (then an interruptive or
    /// escalation card becomes passive).
    pub(crate) async fn training_gate(
        &self,
        model_id: &str,
        user: Option<&str>,
        tier: Option<bedside_cds::Tier>,
    ) -> Result<(Option<bedside_cds::Tier>, Option<String>), ApiError> {
        use bedside_cds::Tier;
        let Some(uc) = self
            .use_cases
            .for_model(model_id)
            .filter(|u| u.require_training)
        else {
            return Ok((tier, None));
        };
        if !matches!(tier, Some(Tier::Interruptive | Tier::Escalate)) {
            return Ok((tier, None));
        }
        let trained = match user {
            Some(u) => self.training_attestation(&uc.id, u).await?.is_some(),
            None => false,
        };
        if trained {
            return Ok((tier, None));
        }
        let base = self.config.public_url.trim_end_matches('/');
        Ok((
            Some(Tier::Passive),
            Some(format!("{base}/ui/training/{}", crate::pulse::enc(&uc.id))),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn card_sections_are_read_by_heading_up_to_the_next() {
        let card = "# T\n\n## Known limits\n\n- a\n- b\n\n## When to be skeptical\n\n- c\n";
        assert_eq!(
            super::card_section(card, "known limits").as_deref(),
            Some("- a\n- b")
        );
        assert_eq!(
            super::card_section(card, "When to be skeptical").as_deref(),
            Some("- c")
        );
        assert_eq!(super::card_section(card, "Nope"), None);
    }
}
