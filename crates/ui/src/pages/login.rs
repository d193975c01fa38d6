//! Sign-in (access control on): the browser cannot send a bearer header,
//! so the user pastes an access token (from the hospital's identity
//! provider) or a service token; the server keeps it in an HttpOnly,
//! SameSite=Strict session cookie.

use crate::layout::page;
use crate::urls;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// The sign-in page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginView {
    /// Where to go after signing in (a `/ui` path).
    pub next: String,
    /// Why the last attempt or request was refused, if it was.
    pub error: Option<String>,
}

pub fn render_login(v: &LoginView) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(e) = &v.error {
                p.error role="alert" { (e) }
            }
            form.login method="post" action=(urls::login(None)) {
                input type="hidden" name="next" value=(v.next);
                label for="token" { "Access token" }
                textarea #token name="token" rows="4" required autocomplete="off" spellcheck="false" {}
                p.muted { "Paste the access token your identity provider issued, or a service token." }
                button type="submit" { "Sign in" }
            }
        },
    )
}
