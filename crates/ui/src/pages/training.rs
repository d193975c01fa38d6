//! Training before go-live: a use case's module (sections rendered from
//! its package and configuration) ending with the attestation form.

use crate::layout::page;
use crate::markdown::markdown_to_html;
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};

/// One section: a heading and Markdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSectionView {
    pub title: String,
    pub markdown: String,
}

/// The training page of one use case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingView {
    pub use_case: String,
    pub name: String,
    /// "sepsis-demo 0.1.0", when the use case has a model.
    pub model: Option<String>,
    /// Whether the use case requires it before interruptive cards.
    pub required: bool,
    pub sections: Vec<TrainingSectionView>,
    /// Who attests (the signed-in person, or the demo user).
    pub clinician: String,
    /// The attestation in force ("Attested on ... as nurse, ward-3").
    pub attested: Option<String>,
    /// Roles to choose from when attesting.
    pub roles: Vec<String>,
}

/// The module and the attestation form.
pub fn render_training(v: &TrainingView) -> Markup {
    page(
        &format!("Training: {}", v.name),
        None,
        html! {
            h1 { "Training: " (v.name) }
            @if let Some(m) = &v.model { p.training-model { "Model " strong { (m) } } }
            @if v.required {
                p.training-required { "Required before you receive this use case's interruptive alerts." }
            }
            @for (i, s) in v.sections.iter().enumerate() {
                section.training-section aria-labelledby=(format!("tr-{i}")) {
                    h2 #(format!("tr-{i}")) { (s.title) }
                    (PreEscaped(markdown_to_html(&s.markdown, 2)))
                }
            }
            section.training-attest aria-labelledby="tr-attest" {
                h2 #tr-attest { "Attestation" }
                @if let Some(a) = &v.attested {
                    p.flash.attested role="status" { (a) }
                } @else {
                    form.attest method="post" action=(format!("/ui/training/{}", crate::util::encode_component(&v.use_case))) {
                        p { "I, " strong { (v.clinician) } ", have read this module and know when to be skeptical of the model, how to override it and whom to tell when it is wrong." }
                        label for="tr-role" { "Role" }
                        select #tr-role name="role" required {
                            @for r in &v.roles { option value=(r) { (r) } }
                        }
                        label for="tr-unit" { "Unit" }
                        input #tr-unit type="text" name="unit" required maxlength="64";
                        button type="submit" .btn-attest { "I attest" }
                    }
                }
            }
        },
    )
}
