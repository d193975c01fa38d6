//! The page shell: document head, skip link, header with the main
//! navigation, `<main>` landmark and footer.

use crate::urls;
use maud::{html, Markup, DOCTYPE};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// The sections of the main navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NavItem {
    Dashboard,
    Worklist,
    Sandbox,
    Pathways,
    Models,
}

impl NavItem {
    /// Every item, in menu order.
    pub const ALL: [NavItem; 5] = [
        NavItem::Dashboard,
        NavItem::Worklist,
        NavItem::Sandbox,
        NavItem::Pathways,
        NavItem::Models,
    ];

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            NavItem::Dashboard => "Dashboard",
            NavItem::Worklist => "Worklist",
            NavItem::Sandbox => "Sandbox",
            NavItem::Pathways => "Pathways",
            NavItem::Models => "Models",
        }
    }

    /// Where the item links to.
    pub fn href(self) -> String {
        match self {
            NavItem::Dashboard => urls::dashboard(None),
            NavItem::Worklist => urls::worklist(),
            NavItem::Sandbox => urls::sandbox(None, None),
            NavItem::Pathways => urls::pathways(),
            NavItem::Models => urls::models(),
        }
    }
}

/// Who is looking at the page, when access control is on: the header
/// shows who is signed in and only the sections their roles may open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub subject: String,
    /// Role names, for display.
    pub roles: Vec<String>,
    /// The menu items the viewer may open.
    pub nav: Vec<NavItem>,
}

thread_local! {
    static VIEWER: RefCell<Option<Viewer>> = const { RefCell::new(None) };
}

/// Render with `viewer` in the page header. Rendering is synchronous, so
/// the viewer is scoped to this call on this thread; without one (access
/// control off, as in the demo) the header shows every section and no
/// sign-in state. (Scoping it here spares every page's view model a
/// viewer field.)
pub fn with_viewer<R>(viewer: Option<&Viewer>, render: impl FnOnce() -> R) -> R {
    let prev = VIEWER.with(|v| v.replace(viewer.cloned()));
    let out = render();
    VIEWER.with(|v| *v.borrow_mut() = prev);
    out
}

/// A complete HTML document around `body`: `title` goes into `<title>` (with
/// the product name) and `active` marks the current menu item with
/// `aria-current="page"`. The page's own `<h1>` is part of `body`.
pub fn page(title: &str, active: Option<NavItem>, body: Markup) -> Markup {
    let viewer = VIEWER.with(|v| v.borrow().clone());
    let nav: Vec<NavItem> = match &viewer {
        Some(v) => NavItem::ALL
            .into_iter()
            .filter(|i| v.nav.contains(i))
            .collect(),
        None => NavItem::ALL.to_vec(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // htmx must not inject inline styles or evaluate strings, so a
                // strict Content-Security-Policy (self only) holds.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
                title { (title) " \u{2013} Bedside" }
                link rel="stylesheet" href=(urls::asset("bedside.css"));
                script src=(urls::asset("htmx.min.js")) defer {}
                script src=(urls::asset("bedside.js")) defer {}
            }
            body {
                a.skip-link href="#main" { "Skip to main content" }
                header.site-header {
                    a.brand href=(urls::ROOT) { "Bedside" }
                    nav aria-label="Main" {
                        ul {
                            @for item in nav {
                                li {
                                    @if Some(item) == active {
                                        a href=(item.href()) aria-current="page" { (item.label()) }
                                    } @else {
                                        a href=(item.href()) { (item.label()) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(v) = &viewer {
                        form.session method="post" action=(urls::LOGOUT) {
                            span.who { (v.subject) " (" (v.roles.join(", ")) ")" }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    (body)
                }
                footer.site-footer {
                    p { "Bedside \u{2013} clinical prediction at the bedside. Decision support only: the clinician decides." }
                }
            }
        }
    }
}
