//! Page behaviour beyond the snapshots: grouping, forms, links, filters.

mod common;

use bedside_ui::*;
use scraper::{Html, Selector};

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

#[test]
fn worklist_groups_by_role_then_owner_and_sorts_by_deadline() {
    let d = Html::parse_document(&render_worklist(&common::worklist()).into_string());
    let groups: Vec<String> = d
        .select(&sel(".task-group h2"))
        .map(|h| h.text().collect::<String>())
        .collect();
    assert_eq!(
        groups,
        vec![
            "attending \u{2013} unclaimed (1)",
            "rapid-response nurse \u{2013} unclaimed (2)",
            "rapid-response nurse \u{2013} Dr Ada (1)"
        ]
    );
    let order: Vec<&str> = d
        .select(&sel("li.task"))
        .filter_map(|t| t.value().attr("data-task-id"))
        .collect();
    assert_eq!(
        order,
        vec!["t4", "t3", "t1", "t2"],
        "overdue t3 before t1; no deadline last"
    );
}

#[test]
fn worklist_forms_post_to_the_action_urls_and_work_without_js() {
    let d = Html::parse_document(&render_worklist(&common::worklist()).into_string());
    let t3 = d.select(&sel(r#"li[data-task-id="t3"]"#)).next().unwrap();
    let actions: Vec<&str> = t3
        .select(&sel("form"))
        .filter_map(|f| f.value().attr("action"))
        .collect();
    assert_eq!(
        actions,
        vec![
            "/ui/worklist/t3/claim",
            "/ui/worklist/t3/acknowledge",
            "/ui/worklist/t3/complete",
            "/ui/worklist/t3/reassign",
            "/ui/worklist/t3/snooze"
        ]
    );
    // Snooze asks for one of the coded reasons, with a label.
    let reasons: Vec<&str> = t3
        .select(&sel(r#"select[name="reason"] option"#))
        .filter_map(|o| o.value().attr("value"))
        .collect();
    assert_eq!(reasons, vec!["not-septic"]);
    let rid = t3
        .select(&sel(r#"select[name="reason"]"#))
        .next()
        .and_then(|s| s.value().attr("id"))
        .unwrap();
    assert!(t3
        .select(&sel(&format!(r#"label[for="{rid}"]"#)))
        .next()
        .is_some());
    for f in t3.select(&sel("form")) {
        assert_eq!(f.value().attr("method"), Some("post"));
        assert_eq!(f.value().attr("hx-post"), f.value().attr("action"));
        assert!(f.select(&sel("button[type=submit]")).next().is_some());
    }
    let opts: Vec<&str> = t3
        .select(&sel(r#"select[name="to"] option"#))
        .filter_map(|o| o.value().attr("value"))
        .collect();
    assert_eq!(opts, vec!["role:attending", "Practitioner/ada"]);
    // Overdue: red class and the word, not colour alone.
    let dl = t3.select(&sel("time.deadline")).next().unwrap();
    assert!(dl.value().classes().any(|c| c == "overdue"));
    assert_eq!(dl.text().collect::<String>(), "overdue by 5 min 0 s");
    assert_eq!(
        dl.value().attr("data-deadline"),
        Some("2026-03-01T11:55:00Z")
    );
    let esc: String = t3
        .select(&sel("dd.escalation"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(esc, "step 2 of 3: charge nurse");
}

#[test]
fn task_actions_round_trip_through_their_path_segment() {
    for a in TaskAction::ALL {
        assert_eq!(TaskAction::parse(a.as_str()), Some(a));
    }
    assert_eq!(TaskAction::parse("delete"), None);
}

#[test]
fn sandbox_filters_patients_and_carries_hook_context() {
    let v = common::sandbox();
    let d = Html::parse_document(&render_sandbox(&v).into_string());
    let names: Vec<String> = d
        .select(&sel("#patient-list li a"))
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(
        names,
        vec!["Patient Alpha", "Patient Bravo"],
        "query 'pat' filters out Zed"
    );
    let s = d.select(&sel("#sandbox")).next().unwrap().value();
    assert_eq!(s.attr("data-patient-id"), Some("p1"));
    assert_eq!(s.attr("data-encounter-id"), Some("enc-1"));
    assert_eq!(s.attr("data-user-id"), Some("Practitioner/demo"));
    assert_eq!(
        s.attr("data-fhir-server"),
        Some("http://127.0.0.1:8080/fhir")
    );
    assert_eq!(s.attr("data-token-url"), Some("/ui/sandbox/token"));
    let hooks: Vec<&str> = d
        .select(&sel("button.fire"))
        .filter_map(|b| b.value().attr("data-hook"))
        .collect();
    assert_eq!(hooks, vec!["patient-view", "order-sign"]);
    let drafts: String = d
        .select(&sel("script#draft-orders"))
        .next()
        .unwrap()
        .text()
        .collect();
    let drafts: serde_json::Value = serde_json::from_str(&drafts).unwrap();
    assert_eq!(drafts, default_draft_orders("p1"));
    assert_eq!(
        drafts["entry"][0]["resource"]["subject"]["reference"],
        "Patient/p1"
    );
}

#[test]
fn draft_orders_cannot_break_out_of_their_script_element() {
    let mut v = common::sandbox();
    v.selected.as_mut().unwrap().draft_orders =
        Some(serde_json::json!({"note": "</script><script>alert(1)</script>"}));
    let html = render_sandbox(&v).into_string();
    assert!(!html.contains("</script><script>alert"));
    let d = Html::parse_document(&html);
    let text: String = d
        .select(&sel("script#draft-orders"))
        .next()
        .unwrap()
        .text()
        .collect();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["note"], "</script><script>alert(1)</script>");
}

#[test]
fn dashboard_flags_ppv_below_the_certified_floor() {
    let d = Html::parse_document(&render_dashboard(&common::dashboard()).into_string());
    let breaches: Vec<String> = d
        .select(&sel("li.tile.breach .tile-label"))
        .map(|t| t.text().collect())
        .collect();
    assert_eq!(
        breaches,
        vec!["Live PPV"],
        "0.24 < floor 0.25; 3.2 alerts within budget 4.0"
    );
    let selected: Vec<&str> = d
        .select(&sel("#model-select option[selected]"))
        .filter_map(|o| o.value().attr("value"))
        .collect();
    assert_eq!(selected, vec!["sepsis"]);
}

#[test]
fn model_facts_escapes_card_html_and_keeps_one_h1() {
    let html = render_model_facts(&common::facts()).into_string();
    assert!(!html.contains("<script>alert"));
    let d = Html::parse_document(&html);
    assert_eq!(d.select(&sel("h1")).count(), 1);
    assert!(
        d.select(&sel(".model-card h3")).next().is_some(),
        "card '# ' became h3 under the section h2"
    );
    let promise: String = d
        .select(&sel(".promise-ok"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        promise.contains("0.182") && promise.contains("25.0%") && promise.contains("95.0%"),
        "{promise}"
    );
}

#[test]
fn every_nav_link_is_an_asset_free_ui_path() {
    let d = Html::parse_document(&render_not_found("/x").into_string());
    let hrefs: Vec<&str> = d
        .select(&sel("nav a"))
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(
        hrefs,
        vec![
            "/ui",
            "/ui/worklist",
            "/ui/sandbox",
            "/ui/pathways",
            "/ui/models"
        ]
    );
    for name in asset_names() {
        assert!(assets(name).is_some());
    }
}

#[test]
fn reassign_is_offered_only_with_targets() {
    let mut v = common::worklist();
    v.reassign_targets.clear();
    let d = Html::parse_document(&render_worklist(&v).into_string());
    assert!(d.select(&sel("button.btn-reassign")).next().is_none());
    assert_eq!(d.select(&sel("button.btn-complete")).count(), 4);
}
