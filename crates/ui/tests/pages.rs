//! Every page rendered from fixed view models: snapshot (committed under
//! tests/snapshots/) and checked for well-formedness and accessibility.

mod common;

use bedside_ui::*;
use common::check::{assert_clean, problems};

/// One tag per line so snapshot diffs are readable (display only).
fn pretty(html: &str) -> String {
    html.replace("><", ">\n<")
}

fn check_and_snap(name: &str, html: String, full_page: bool) {
    assert_clean(name, &html, full_page);
    // For looking at the pages in a browser: BEDSIDE_UI_DUMP=dir writes them.
    if let Ok(dir) = std::env::var("BEDSIDE_UI_DUMP") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.html"), &html).unwrap();
    }
    insta::assert_snapshot!(name, pretty(&html));
}

#[test]
fn dashboard() {
    check_and_snap(
        "dashboard",
        render_dashboard(&common::dashboard()).into_string(),
        true,
    );
}

#[test]
fn dashboard_without_data() {
    check_and_snap(
        "dashboard_empty",
        render_dashboard(&common::empty_dashboard()).into_string(),
        true,
    );
}

#[test]
fn worklist() {
    check_and_snap(
        "worklist",
        render_worklist(&common::worklist()).into_string(),
        true,
    );
}

#[test]
fn worklist_fragment_is_clean_alone() {
    assert_clean(
        "worklist fragment",
        &worklist_fragment(&common::worklist()).into_string(),
        false,
    );
}

#[test]
fn model_facts() {
    check_and_snap(
        "model_facts",
        render_model_facts(&common::facts()).into_string(),
        true,
    );
}

#[test]
fn models_index() {
    check_and_snap(
        "models",
        render_models(&common::models()).into_string(),
        true,
    );
}

#[test]
fn sandbox() {
    check_and_snap(
        "sandbox",
        render_sandbox(&common::sandbox()).into_string(),
        true,
    );
}

#[test]
fn sandbox_without_selection() {
    let mut v = common::sandbox();
    v.selected = None;
    v.query.clear();
    check_and_snap("sandbox_none", render_sandbox(&v).into_string(), true);
}

#[test]
fn pathways() {
    check_and_snap(
        "pathways",
        render_pathways(&common::pathways()).into_string(),
        true,
    );
}

#[test]
fn errors() {
    check_and_snap(
        "not_found",
        render_not_found("/ui/nope?<x>").into_string(),
        true,
    );
    let e = ErrorView {
        status: 500,
        title: "Something went wrong".into(),
        message: "The store is unavailable.".into(),
        request_id: Some("req-1".into()),
    };
    check_and_snap("error", render_error(&e).into_string(), true);
}

#[test]
fn checker_catches_problems() {
    // The checker itself must fail on the faults it claims to find.
    let bad = r#"<!DOCTYPE html><html><head><title>x</title></head><body>
        <input id="a"><input id="a" aria-label="x"><svg role="img"></svg><button></button>
        <script>alert(1)</script><script src="https://cdn.example/x.js"></script>
        <div style="color:red" onclick="x()"></div><p aria-describedby="nope"></p></body></html>"#;
    let p = problems(bad, true).join("\n");
    for want in [
        "duplicate id",
        "unlabelled control",
        "svg role=img without title",
        "button without a name",
        "inline script",
        "script from https://cdn.example",
        "inline style",
        "inline onclick",
        "missing id \"nope\"",
        "html without lang",
        "0 h1",
        "no <main>",
    ] {
        assert!(p.contains(want), "checker missed {want:?} in:\n{p}");
    }
}

#[test]
fn text_is_escaped() {
    let mut v = common::worklist();
    v.tasks[0].patient = "<script>alert(1)</script>".into();
    let html = render_worklist(&v).into_string();
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)"));
}
