//! Features from patient state, and whole predictions.

mod common;
use bedside_core::{EncounterInfo, Instant, PatientState, Point, Sex};
use bedside_models::features::FeatureSet;
use bedside_models::spec::FeatureSpec;
use bedside_models::{Direction, Model, Prediction};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use common::fixture;
use std::collections::BTreeMap;

fn t(h: f64) -> Instant {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap() + Duration::minutes((h * 60.0) as i64)
}

fn spec(name: &str, kind: &str, channel: Option<&str>, w: Option<f64>) -> FeatureSpec {
    FeatureSpec {
        name: name.into(),
        kind: kind.into(),
        channel: channel.map(Into::into),
        window_hours: w,
        label: None,
    }
}

fn state() -> PatientState {
    let mut s = PatientState::new("p1");
    s.birth_date = NaiveDate::from_ymd_opt(1950, 6, 1);
    s.sex = Some(Sex::Female);
    let r = Duration::hours(72);
    // heart rate 80, 90, 100, 110 at hours 0..3; one future point at 10.
    for (i, v) in [80.0, 90.0, 100.0, 110.0].iter().enumerate() {
        s.observe(
            "heart_rate",
            Point {
                t: t(i as f64),
                v: *v,
                source: format!("Observation/hr{i}"),
            },
            r,
        );
    }
    s.observe(
        "heart_rate",
        Point {
            t: t(10.0),
            v: 200.0,
            source: "Observation/future".into(),
        },
        r,
    );
    s.observe(
        "lactate",
        Point {
            t: t(1.5),
            v: 3.2,
            source: "Observation/l1".into(),
        },
        r,
    );
    s.encounters.insert(
        "e1".into(),
        EncounterInfo {
            id: "e1".into(),
            start: Some(t(-2.0)),
            ..Default::default()
        },
    );
    s
}

fn set() -> FeatureSet {
    let units: BTreeMap<String, String> = [
        ("heart_rate".to_string(), "/min".to_string()),
        ("lactate".into(), "mmol/L".into()),
    ]
    .into();
    let specs = vec![
        spec("hr_last", "last", Some("heart_rate"), None),
        spec("hr_mean", "mean", Some("heart_rate"), Some(2.5)),
        spec("hr_min", "min", Some("heart_rate"), Some(2.5)),
        spec("hr_max", "max", Some("heart_rate"), Some(24.0)),
        spec("hr_slope", "slope", Some("heart_rate"), Some(6.0)),
        spec("hr_count", "count", Some("heart_rate"), Some(6.0)),
        spec("lac_since", "hours_since_last", Some("lactate"), None),
        spec("lac_missing", "missing", Some("lactate"), Some(1.0)),
        spec("lac_last_1h", "last", Some("lactate"), Some(1.0)),
        spec("age", "age", None, None),
        spec("sex", "sex", None, None),
        spec("adm", "hours_since_admission", None, None),
        spec("crp_last", "last", Some("crp"), Some(24.0)),
    ];
    let mut p = Default::default();
    let s = FeatureSet::from_specs(&specs, &units, &mut p);
    assert!(p.is_empty(), "{p:?}");
    s
}

#[test]
fn every_kind_uses_only_points_at_or_before_at() {
    let v = set().compute(&state(), t(3.0));
    // Window (0.5, 3]: 90, 100, 110.
    let want = [
        Some(110.0),
        Some(100.0),
        Some(90.0),
        Some(110.0),
        Some(10.0),
        Some(4.0),
        Some(1.5),
        Some(1.0),
        None,
        Some(73.0),
        Some(0.0),
        Some(5.0),
        None,
    ];
    for (i, (a, b)) in v.iter().zip(want).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "feature {i}: {a} vs {b}"),
            _ => assert_eq!(*a, b, "feature {i}"),
        }
    }
    // Adding a later point changes nothing at t(3).
    let mut s = state();
    s.observe(
        "lactate",
        Point {
            t: t(3.5),
            v: 9.0,
            source: "Observation/l2".into(),
        },
        Duration::hours(72),
    );
    assert_eq!(set().compute(&s, t(3.0)), v);
    // Deterministic.
    assert_eq!(set().compute(&state(), t(3.0)), v);
}

#[test]
fn windows_are_half_open_and_empty_windows_are_missing() {
    let s = state();
    let fs = set();
    let v = fs.compute(&s, t(5.5));
    assert_eq!(v[1], None, "no heart rate in (3, 5.5]");
    assert_eq!(v[2], None);
    assert_eq!(v[4], Some(10.0), "slope over (-0.5, 5.5]");
    assert_eq!(v[7], Some(1.0), "lactate missing in (4.5, 5.5]");
    let v = fs.compute(&s, t(9.0));
    assert_eq!(v[4], None, "no slope from an empty window");
    assert_eq!(v[0], Some(110.0), "last without a window reaches back");
    let v = fs.compute(&s, t(-1.0));
    assert_eq!(v[0], None);
    assert_eq!(v[5], Some(0.0));
    assert_eq!(fs.required_retention_hours(), 24.0);
}

#[test]
fn bad_feature_specs_are_reported() {
    let mut p = Default::default();
    FeatureSet::from_specs(
        &[
            spec("a", "mean", Some("heart_rate"), None),
            spec("a", "age", Some("heart_rate"), None),
            spec("c", "last", None, Some(-1.0)),
        ],
        &BTreeMap::new(),
        &mut p,
    );
    let msgs: Vec<String> = p.0.iter().map(|p| p.to_string()).collect();
    assert!(
        msgs.contains(
            &"model.toml:features[0].window_hours: kind \"mean\" needs window_hours".into()
        ),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("model.toml:features[1].name: duplicate")),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"model.toml:features[1].channel: kind \"age\" takes no channel".into()),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("model.toml:features[2].window_hours")),
        "{msgs:?}"
    );
}

fn septic_state() -> PatientState {
    let mut s = PatientState::new("p2");
    s.birth_date = NaiveDate::from_ymd_opt(1940, 1, 1);
    s.sex = Some(Sex::Male);
    let r = Duration::hours(72);
    for h in 0..6 {
        let h = h as f64;
        let mut obs = |c: &str, v: f64| {
            s.observe(
                c,
                Point {
                    t: t(h),
                    v,
                    source: format!("Observation/{c}{h}"),
                },
                r,
            );
        };
        obs("heart_rate", 110.0 + 2.0 * h);
        obs("resp_rate", 24.0 + h);
        obs("temperature", 38.9);
        obs("sbp", 100.0 - 5.0 * h);
        obs("spo2", 92.0);
    }
    s.observe(
        "lactate",
        Point {
            t: t(2.0),
            v: 4.5,
            source: "Observation/lac".into(),
        },
        r,
    );
    s.observe(
        "wbc",
        Point {
            t: t(2.0),
            v: 18.0,
            source: "Observation/wbc".into(),
        },
        r,
    );
    s
}

#[test]
fn prediction_is_complete_and_contributions_add_up() {
    let mut m = Model::load(&fixture("pkg")).expect("fixture loads");
    m.top_k = 100;
    let p = m.predict(&septic_state(), t(5.0)).expect("predicts");
    let prob = p.probability.get();
    let base = p.base_probability.expect("base").get();
    assert!(
        prob > base,
        "a septic-looking patient is above base rate: {prob} vs {base}"
    );
    let iv = p.interval.clone().expect("interval");
    assert!(iv.lo <= prob && prob <= iv.hi);
    let sum_m: f64 = p.top_factors.iter().map(|f| f.margin_contribution).sum();
    assert!((sum_m + p.base_margin.expect("base") - p.margin).abs() < 1e-9);
    let sum_p: f64 = p
        .top_factors
        .iter()
        .map(|f| f.probability_contribution)
        .sum();
    assert!(
        (sum_p - (prob - base)).abs() < 1e-9,
        "{sum_p} vs {}",
        prob - base
    );
    let lac = p
        .top_factors
        .iter()
        .find(|f| f.feature == "lactate_last")
        .expect("lactate factor");
    assert_eq!(lac.direction, Direction::Raises);
    assert_eq!(lac.unit, "mmol/L");
    assert_eq!(p.explanation_method, "tree_shap");
    assert_eq!(p.missing_count, 1, "creatinine only");
    assert_eq!(p.features.len(), 12);
    // Serde round trip (stored as a document).
    let back: Prediction =
        serde_json::from_str(&serde_json::to_string(&p).expect("ser")).expect("de");
    assert_eq!(
        (back.at, back.top_factors.len(), back.features.len()),
        (p.at, p.top_factors.len(), p.features.len())
    );
    assert!((back.margin - p.margin).abs() < 1e-12 && back.in_distribution == p.in_distribution);
}

#[test]
fn ood_guard_flags_extreme_and_sparse_inputs() {
    let m = Model::load(&fixture("pkg")).expect("fixture loads");
    let mut s = septic_state();
    s.observe(
        "lactate",
        Point {
            t: t(4.0),
            v: 40.0,
            source: "Observation/lac2".into(),
        },
        Duration::hours(72),
    );
    let p = m.predict(&s, t(5.0)).expect("predicts");
    assert!(!p.in_distribution);
    assert!(
        p.ood_reasons.iter().any(
            |r| r.starts_with("lactate_last 40 mmol/L is above every training value (max 13.3")
        ),
        "{:?}",
        p.ood_reasons
    );
    let empty = PatientState::new("p3");
    let p = m.predict(&empty, t(5.0)).expect("predicts");
    assert!(!p.in_distribution);
    assert!(
        p.ood_reasons
            .iter()
            .any(|r| r.contains("inputs are missing")),
        "{:?}",
        p.ood_reasons
    );
    // An ordinary patient is in distribution.
    let p = m.predict(&septic_state(), t(5.0)).expect("predicts");
    assert!(p.in_distribution, "{:?}", p.ood_reasons);
}

#[test]
fn card_renders_markdown_and_escaped_html() {
    let m = Model::load(&fixture("pkg")).expect("fixture loads");
    let md = bedside_models::render_card_markdown(&m.package);
    assert!(md.starts_with("# Fixture LightGBM model"));
    assert!(
        md.contains("| lactate_last | latest lactate within 48 h | mmol/L |"),
        "{md}"
    );
    let html = bedside_models::render_card_html(&m.package);
    assert!(html.contains("<table>") && html.contains("<h1>Fixture LightGBM model</h1>"));
    assert!(!md.contains("When this model alerts"));
    let promise = "At least 30.0% of alerted patients <develop> the outcome";
    let md = bedside_models::render_card_markdown_with(&m.package, Some(promise));
    let at = md
        .find("## When this model alerts")
        .expect("promise section");
    assert!(md[at..].contains(promise));
    let html = bedside_models::render_card_html_with(&m.package, Some(promise));
    assert!(html.contains("&lt;develop&gt;"), "the statement is escaped");
}

#[test]
fn card_html_is_one_page_with_the_package_text_escaped_once() {
    let mut m = Model::load(&fixture("pkg")).expect("fixture loads");
    m.package.spec.name = Some("Sepsis <v2> & \"co\"".into());
    m.package.card_markdown = "# Card & <b>bold</b>\n\n<script>alert(1)</script>\n".into();
    m.package.features.defs[0].label = "lactate <max> & co".into();
    let html = bedside_models::render_card_html_with(&m.package, Some("PPV >= 30% & more"));

    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"));
    assert!(html.ends_with("</body></html>\n"), "{html}");
    assert_eq!(html.matches("<body>").count(), 1);
    // The title from the package name: escaped by the page, once.
    assert!(
        html.contains("<title>Sepsis &lt;v2&gt; &amp; &quot;co&quot; - model facts</title>"),
        "{html}"
    );
    // Card text, raw HTML in it, the promise and a feature label: escaped
    // by the Markdown renderer, once; headings are headings.
    assert!(
        html.contains("<h1>Card &amp; &lt;b&gt;bold&lt;/b&gt;</h1>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>") && !html.contains("<b>"));
    assert!(
        html.contains("<h2>When this model alerts</h2>\n<p>PPV &gt;= 30% &amp; more</p>"),
        "{html}"
    );
    assert!(html.contains("<h2>Package facts (generated from the package)</h2>"));
    assert!(html.contains("<h3>Features</h3>"));
    assert!(
        html.contains("<td>lactate &lt;max&gt; &amp; co</td>"),
        "{html}"
    );
    assert!(
        !html.contains("&amp;lt;") && !html.contains("&amp;amp;"),
        "double escape: {html}"
    );
    // The stylesheet is the page's own, unescaped.
    assert!(html.contains("<style>body{font-family:system-ui,sans-serif;"));
}
