//! Model facts: the package's `card.md` followed by facts generated from
//! the package itself (features, calibration, training population), so the
//! card cannot drift from what is actually loaded.

use crate::features::FeatureKind;
use crate::ood::fmt_num;
use crate::package::Package;
use std::fmt::Write;

/// The model facts card as Markdown.
pub fn render_card_markdown(pkg: &Package) -> String {
    render_card_markdown_with(pkg, None)
}

/// The model facts with the alerting promise of this installation (the
/// policy's certification statement, decided elsewhere: this crate only
/// shows it).
pub fn render_card_markdown_with(pkg: &Package, alerting: Option<&str>) -> String {
    let mut s = pkg.card_markdown.trim_end().to_string();
    s.push_str("\n\n");
    if let Some(a) = alerting {
        let _ = writeln!(s, "## When this model alerts\n\n{}\n", a.trim());
    }
    s.push_str(&generated_facts(pkg));
    s
}

/// The model facts card as a standalone HTML page (raw HTML in the card
/// source is escaped, not passed through).
pub fn render_card_html(pkg: &Package) -> String {
    render_card_html_with(pkg, None)
}

/// The page's stylesheet (a constant: nothing from the package).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}\
code{background:#f4f4f4}";

/// [`render_card_html`] with the alerting promise (see
/// [`render_card_markdown_with`]).
pub fn render_card_html_with(pkg: &Package, alerting: Option<&str>) -> String {
    use maud::{html, PreEscaped, DOCTYPE};
    let body = markdown_to_html(&render_card_markdown_with(pkg, alerting));
    let title = pkg.spec.name.as_deref().unwrap_or(&pkg.spec.id);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - model facts" }
                style { (PreEscaped(STYLE)) }
            }
            // HTML from the Markdown renderer, which escapes every text
            // (raw HTML in the card included): inserted as it is.
            body { (PreEscaped(body)) }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// Markdown to an HTML fragment; raw HTML in the source becomes escaped
/// text.
fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{html, Event, Options, Parser};
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        e => e,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn generated_facts(pkg: &Package) -> String {
    let spec = &pkg.spec;
    let mut s = String::new();
    let _ = writeln!(s, "## Package facts (generated from the package)\n");
    let _ = writeln!(
        s,
        "- Model: `{}` version `{}` (format {})",
        spec.id, spec.version, spec.format_version
    );
    let _ = writeln!(s, "- Intended use: {}", spec.intended_use);
    let o = &spec.outcome;
    let codes: Vec<String> = o
        .codes
        .iter()
        .map(|c| match c.element {
            crate::spec::OutcomeElement::ConditionCode => {
                format!("{} {}", c.system, c.prefixes.join(", "))
            }
            e => format!("{} {} {}", e.as_str(), c.system, c.prefixes.join(", ")),
        })
        .collect();
    let _ = writeln!(
        s,
        "- Outcome: {} (codes: {}; time basis: {}; window: {} to {} h after the scoring time)",
        o.description,
        codes.join("; "),
        o.time_basis,
        o.lookback_hours
            .map_or("any time before".into(), |l| format!("-{}", fmt_num(l))),
        fmt_num(o.horizon_hours)
    );
    if let Some(w) = o.detection_window_hours.filter(|w| *w > 0.0) {
        let _ = writeln!(
            s,
            "- Detection window: an alert up to {} h after the outcome's time counts as detecting it (screening)",
            fmt_num(w)
        );
    }
    let _ = writeln!(
        s,
        "- Prediction horizon: {} h",
        fmt_num(spec.prediction.horizon_hours)
    );
    let _ = writeln!(
        s,
        "- Scorer: {} (`{}`)",
        pkg.scorer.kind(),
        spec.scorer.file
    );
    let interval = match &pkg.calibration.interval {
        Some(crate::calibration::IntervalMethod::VennAbers(_)) => "Venn-Abers".to_string(),
        Some(crate::calibration::IntervalMethod::Conformal { level, .. }) => {
            format!("split-conformal at level {level}")
        }
        None => "none".into(),
    };
    let _ = writeln!(
        s,
        "- Calibration: {}; interval: {}",
        pkg.calibration.map.method(),
        interval
    );
    let prof = &pkg.profile;
    let _ = writeln!(
        s,
        "- Training profile: {} rows{}",
        prof.n_rows,
        prof.n_patients
            .map_or(String::new(), |n| format!(" from {n} patients"))
    );
    let _ = writeln!(
        s,
        "- Out-of-distribution guard: out of range, more than {:.0}% inputs missing, multivariate distance above the training {} percentile\n",
        spec.ood.max_missing_fraction * 100.0,
        if spec.ood.distance_quantile == "q999" { "99.9th" } else { "99th" }
    );
    let _ = writeln!(s, "### Features\n");
    let _ = writeln!(
        s,
        "| feature | what | unit | training missing | training 5th-95th pct |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for (d, f) in pkg.features.defs.iter().zip(&prof.features) {
        let what = describe(&d.kind);
        let range = match (f.quantiles.get("p5"), f.quantiles.get("p95")) {
            (Some(a), Some(b)) => format!("{} - {}", fmt_num(*a), fmt_num(*b)),
            _ => "not available".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0}% | {} |",
            cell(&d.label),
            cell(&what),
            cell(&d.unit),
            f.missing_rate * 100.0,
            range
        );
    }
    if !prof.subgroups.is_empty() {
        let _ = writeln!(s, "\n### Training population by subgroup\n");
        let _ = writeln!(s, "| attribute | group | rows |");
        let _ = writeln!(s, "|---|---|---|");
        for (attr, groups) in &prof.subgroups {
            for (g, n) in groups {
                let _ = writeln!(s, "| {} | {} | {n} |", cell(attr), cell(g));
            }
        }
    }
    s
}

fn describe(k: &FeatureKind) -> String {
    let w = |h: &f64| format!("{} h", fmt_num(*h));
    match k {
        FeatureKind::Last {
            channel,
            window_hours,
        } => match window_hours {
            Some(h) => format!("latest {channel} within {}", w(h)),
            None => format!("latest {channel}"),
        },
        FeatureKind::Mean {
            channel,
            window_hours,
        } => format!("mean {channel} over {}", w(window_hours)),
        FeatureKind::Min {
            channel,
            window_hours,
        } => format!("lowest {channel} over {}", w(window_hours)),
        FeatureKind::Max {
            channel,
            window_hours,
        } => format!("highest {channel} over {}", w(window_hours)),
        FeatureKind::Slope {
            channel,
            window_hours,
        } => {
            format!("trend of {channel} per hour over {}", w(window_hours))
        }
        FeatureKind::Count {
            channel,
            window_hours,
        } => format!("number of {channel} values in {}", w(window_hours)),
        FeatureKind::HoursSinceLast { channel } => format!("hours since the latest {channel}"),
        FeatureKind::Missing {
            channel,
            window_hours,
        } => {
            format!("1 if no {channel} in {}", w(window_hours))
        }
        FeatureKind::Age => "age in years".into(),
        FeatureKind::Sex => "1 male, 0 female".into(),
        FeatureKind::HoursSinceAdmission => "hours since the encounter started".into(),
    }
}
