//! Error and not-found pages.

use crate::layout::page;
use crate::urls;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// An error to show the user (never internal details or patient data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    /// HTTP status code.
    pub status: u16,
    pub title: String,
    pub message: String,
    /// Correlation id to quote to support, when there is one.
    pub request_id: Option<String>,
}

/// A generic error page.
pub fn render_error(v: &ErrorView) -> Markup {
    page(
        &v.title,
        None,
        html! {
            h1 { (v.title) }
            p.error-status { "Error " (v.status) }
            p { (v.message) }
            @if let Some(id) = &v.request_id { p.muted { "Request id: " code { (id) } } }
            p { a href=(urls::dashboard(None)) { "Back to the dashboard" } }
        },
    )
}

/// The 404 page for `path`.
pub fn render_not_found(path: &str) -> Markup {
    render_error(&ErrorView {
        status: 404,
        title: "Page not found".into(),
        message: format!("There is no page at {path}."),
        request_id: None,
    })
}
