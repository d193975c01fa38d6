//! A report as one self-contained HTML page (no external assets): each
//! question with its answer and a table of figures with their sources.
//! Built with maud, which escapes every interpolated text.

use super::Report;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}\
.src{color:#555;font-size:.9em}pre{max-height:20rem;overflow:auto}";

/// Scalars inline; structures as indented JSON in a collapsible block.
fn value_html(v: &Value) -> Markup {
    match v {
        Value::Null => html! { em { "n/a" } },
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => html! { (format!("{f:.4}")) },
            _ => html! { (n.to_string()) },
        },
        Value::String(s) => html! { (s) },
        Value::Bool(b) => html! { (b.to_string()) },
        other => {
            let text = serde_json::to_string_pretty(other).unwrap_or_default();
            html! { details { summary { "data" } pre { (text) } } }
        }
    }
}

/// Render a report as HTML.
pub fn render_html(r: &Report) -> String {
    let title = format!("Bedside {} report: {}", r.kind, r.model_id);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                p {
                    "Model " (r.model_id) " version "
                    (r.model_version.as_deref().unwrap_or("unknown"))
                    "; stored predictions from " (r.window.start.to_rfc3339())
                    " to " (r.window.end.to_rfc3339()) " (as of the newest)."
                }
                @for s in &r.sections {
                    section {
                        h2 { (s.question) }
                        p { (s.answer) }
                        table {
                            thead { tr { th { "figure" } th { "value" } th { "computed from" } } }
                            tbody {
                                @for f in &s.figures {
                                    tr {
                                        td { (f.label) }
                                        td { (value_html(&f.value)) }
                                        td class="src" { (f.source) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_shows_missing_values() {
        assert_eq!(
            html! { ("<a href='x'>&") }.into_string(),
            "&lt;a href='x'&gt;&amp;"
        );
        assert_eq!(value_html(&Value::Null).into_string(), "<em>n/a</em>");
        assert_eq!(
            value_html(&serde_json::json!(0.123456)).into_string(),
            "0.1235"
        );
        let nested = value_html(&serde_json::json!({"a": "<b>"})).into_string();
        assert!(
            nested.contains("&lt;b&gt;") && !nested.contains("<b>"),
            "{nested}"
        );
    }
}
