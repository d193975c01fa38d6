//! A small HTML checker: well-formedness (no HTML5 parse errors) and the
//! accessibility / CSP rules every page must follow.

use scraper::{ElementRef, Html, Selector};
use std::collections::HashSet;

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// Problems found in `html`; `full_page` adds document-level rules.
pub fn problems(html: &str, full_page: bool) -> Vec<String> {
    let doc = if full_page {
        Html::parse_document(html)
    } else {
        Html::parse_fragment(html)
    };
    let mut out: Vec<String> = doc
        .errors
        .iter()
        .map(|e| format!("parse error: {e}"))
        .collect();

    // Unique ids, and every reference points at one.
    let mut ids = HashSet::new();
    for e in doc.select(&sel("[id]")) {
        let id = e.value().attr("id").unwrap_or_default();
        if !ids.insert(id.to_string()) {
            out.push(format!("duplicate id {id:?}"));
        }
    }
    for attr in ["aria-labelledby", "aria-describedby"] {
        for e in doc.select(&sel(&format!("[{attr}]"))) {
            for r in e.value().attr(attr).unwrap_or_default().split_whitespace() {
                if !ids.contains(r) {
                    out.push(format!("{attr} points at missing id {r:?}"));
                }
            }
        }
    }
    let label_for: HashSet<String> = doc
        .select(&sel("label[for]"))
        .filter_map(|l| l.value().attr("for").map(str::to_string))
        .collect();
    for f in &label_for {
        if !ids.contains(f) {
            out.push(format!("label for missing id {f:?}"));
        }
    }

    // Every form control has an accessible name.
    for e in doc.select(&sel("input, select, textarea")) {
        let v = e.value();
        if matches!(v.attr("type"), Some("hidden" | "submit" | "button")) {
            continue;
        }
        let labelled = v.attr("aria-label").is_some_and(|s| !s.trim().is_empty())
            || v.attr("aria-labelledby").is_some()
            || v.attr("id").is_some_and(|id| label_for.contains(id))
            || has_ancestor(e, "label");
        if !labelled {
            out.push(format!("unlabelled control: {}", e.html()));
        }
    }
    for e in doc.select(&sel("button")) {
        let text: String = e.text().collect();
        if text.trim().is_empty() && e.value().attr("aria-label").is_none() {
            out.push(format!("button without a name: {}", e.html()));
        }
    }
    // Images have text alternatives.
    for e in doc.select(&sel("svg[role=img]")) {
        let titled = e
            .children()
            .filter_map(ElementRef::wrap)
            .any(|c| c.value().name() == "title");
        if !titled
            && e.value().attr("aria-label").is_none()
            && e.value().attr("aria-labelledby").is_none()
        {
            out.push("svg role=img without title or label".to_string());
        }
    }
    for e in doc.select(&sel("img")) {
        if e.value().attr("alt").is_none() {
            out.push(format!("img without alt: {}", e.html()));
        }
    }
    for e in doc.select(&sel("svg")) {
        if e.value().attr("role").is_none() && e.value().attr("aria-hidden").is_none() {
            out.push("svg without role=img or aria-hidden".to_string());
        }
    }

    // CSP: nothing external, no inline code or styles.
    for e in doc.select(&sel("script")) {
        match e.value().attr("src") {
            Some(src) if !src.starts_with("/ui/assets/") => out.push(format!("script from {src}")),
            Some(_) => {}
            None if e.value().attr("type") == Some("application/json") => {}
            None => out.push("inline script".to_string()),
        }
    }
    for e in doc.select(&sel("link[href], img[src]")) {
        let u = e
            .value()
            .attr("href")
            .or(e.value().attr("src"))
            .unwrap_or_default();
        if !u.starts_with('/') || u.starts_with("//") {
            out.push(format!("external resource {u}"));
        }
    }
    for e in doc.select(&sel("*")) {
        for (name, _) in e.value().attrs() {
            if name == "style" || name.starts_with("on") || name.starts_with("hx-on") {
                out.push(format!("inline {name} attribute on <{}>", e.value().name()));
            }
        }
        if e.value().name() == "style" {
            out.push("inline <style>".to_string());
        }
    }

    if full_page {
        if doc.select(&sel("html[lang]")).next().is_none() {
            out.push("html without lang".to_string());
        }
        let h1 = doc.select(&sel("h1")).count();
        if h1 != 1 {
            out.push(format!("{h1} h1 elements (want exactly 1)"));
        }
        for landmark in ["header", "nav", "main", "footer", "title"] {
            if doc.select(&sel(landmark)).next().is_none() {
                out.push(format!("no <{landmark}>"));
            }
        }
    }
    out
}

fn has_ancestor(e: ElementRef<'_>, name: &str) -> bool {
    e.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().name() == name)
}

/// Panics with every problem found.
pub fn assert_clean(name: &str, html: &str, full_page: bool) {
    let p = problems(html, full_page);
    assert!(
        p.is_empty(),
        "{name}: {} problems:\n{}",
        p.len(),
        p.join("\n")
    );
}
