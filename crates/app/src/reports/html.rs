//! A report as one self-contained HTML page (no external assets): each
//! question with its answer and a table of figures with their sources.

use super::Report;
use serde_json::Value;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Scalars inline; structures as indented JSON in a collapsible block.
fn value_html(v: &Value) -> String {
    match v {
        Value::Null => "<em>n/a</em>".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => esc(&format!("{f:.4}")),
            _ => esc(&n.to_string()),
        },
        Value::String(s) => esc(s),
        Value::Bool(b) => b.to_string(),
        other => {
            let text = serde_json::to_string_pretty(other).unwrap_or_default();
            format!(
                "<details><summary>data</summary><pre>{}</pre></details>",
                esc(&text)
            )
        }
    }
}

/// Render a report as HTML.
pub fn render_html(r: &Report) -> String {
    let title = format!("Bedside {} report: {}", r.kind, r.model_id);
    let mut o = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}}\
.src{{color:#555;font-size:.9em}}pre{{max-height:20rem;overflow:auto}}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    o.push_str(&format!(
        "<p>Model {} version {}; stored predictions from {} to {} (as of the newest).</p>\n",
        esc(&r.model_id),
        esc(r.model_version.as_deref().unwrap_or("unknown")),
        esc(&r.window.start.to_rfc3339()),
        esc(&r.window.end.to_rfc3339())
    ));
    for s in &r.sections {
        o.push_str(&format!(
            "<section><h2>{}</h2>\n<p>{}</p>\n<table><thead><tr><th>figure</th><th>value</th><th>computed from</th></tr></thead><tbody>\n",
            esc(&s.question),
            esc(&s.answer)
        ));
        for f in &s.figures {
            o.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"src\">{}</td></tr>\n",
                esc(&f.label),
                value_html(&f.value),
                esc(&f.source)
            ));
        }
        o.push_str("</tbody></table></section>\n");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_shows_missing_values() {
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(value_html(&Value::Null), "<em>n/a</em>");
        assert_eq!(value_html(&serde_json::json!(0.123456)), "0.1235");
        assert!(value_html(&serde_json::json!({"a": "<b>"})).contains("&lt;b&gt;"));
    }
}
