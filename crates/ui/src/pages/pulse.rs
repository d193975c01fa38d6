//! The trust pulse: one question, answered 1-5 with an optional comment,
//! by the clinician the card (or worklist) offered it to.

use crate::layout::page;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// The pulse page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseView {
    /// The model asked about (its id, submitted as `model`).
    pub model: String,
    /// What the model is called ("Sepsis screening (1.0.0)").
    pub model_label: String,
    /// The question.
    pub question: String,
    /// Who answers (the signed-in clinician, or the demo user).
    pub clinician: String,
    /// In demo mode (no sign-in) the clinician is submitted with the
    /// form; with sign-in it is the signed-in person's and not sent.
    pub send_clinician: bool,
    /// Set once answered ("Thank you: recorded 4 of 5.").
    pub thanks: Option<String>,
    /// Why the question cannot be answered now (not offered, already
    /// answered this period).
    pub unavailable: Option<String>,
}

/// The one-question page.
pub fn render_pulse(v: &PulseView) -> Markup {
    page(
        "Trust pulse",
        None,
        html! {
            h1 { "Trust pulse" }
            p.pulse-model { "About " strong { (v.model_label) } ", for " (v.clinician) }
            @if let Some(t) = &v.thanks {
                p.flash.pulse-thanks role="status" { (t) }
            } @else if let Some(u) = &v.unavailable {
                p.pulse-unavailable role="status" { (u) }
            } @else {
                form.pulse method="post" action="/ui/pulse" {
                    input type="hidden" name="model" value=(v.model);
                    @if v.send_clinician {
                        input type="hidden" name="clinician" value=(v.clinician);
                    }
                    fieldset {
                        legend { (v.question) }
                        @for n in 1..=5u8 {
                            label.pulse-score {
                                input type="radio" name="score" value=(n) required;
                                " " (n)
                            }
                        }
                    }
                    label for="pulse-comment" { "Comment (optional)" }
                    textarea #pulse-comment name="comment" maxlength="1000" rows="3" {}
                    button type="submit" .btn-pulse { "Send" }
                }
            }
        },
    )
}
