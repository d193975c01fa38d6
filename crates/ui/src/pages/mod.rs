//! The pages: one module per page, each a view model (plain, serde-friendly
//! data the server fills in) and a `render_*` function returning the whole
//! document.

pub mod dashboard;
pub mod error;
pub mod facts;
pub mod login;
pub mod outline;
pub mod pathway;
pub mod patient;
pub mod pulse;
pub mod sandbox;
pub mod training;
pub mod worklist;

use crate::util::num;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// A point estimate with an optional 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl Estimate {
    /// An estimate without an interval.
    pub fn point(value: f64) -> Self {
        Estimate {
            value,
            lo: None,
            hi: None,
        }
    }

    /// An estimate with a 95% interval.
    pub fn with_ci(value: f64, lo: f64, hi: f64) -> Self {
        Estimate {
            value,
            lo: Some(lo),
            hi: Some(hi),
        }
    }

    /// "0.812 (95% CI 0.790–0.834)".
    pub(crate) fn text(&self, d: usize) -> String {
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) => format!(
                "{} (95% CI {}\u{2013}{})",
                num(self.value, d),
                num(lo, d),
                num(hi, d)
            ),
            _ => num(self.value, d),
        }
    }

    /// Value and interval as separate markup pieces.
    pub(crate) fn markup(&self, d: usize) -> Markup {
        html! {
            span.value { (num(self.value, d)) }
            @if let (Some(lo), Some(hi)) = (self.lo, self.hi) {
                " " span.ci { "95% CI " (num(lo, d)) "\u{2013}" (num(hi, d)) }
            }
        }
    }
}

/// A link target with a label (menus, selectors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// The value submitted / the id in the URL.
    pub value: String,
    /// What the user sees.
    pub label: String,
}
