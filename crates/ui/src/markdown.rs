//! Markdown to HTML for model cards: CommonMark plus tables, with raw HTML
//! escaped, unsafe link schemes neutralised, images turned into links (no
//! external loads) and headings demoted so the page keeps one `<h1>`.

use pulldown_cmark::{html, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Renders `md` to an HTML fragment; `demote` shifts headings down by that
/// many levels (capped at `<h6>`).
pub fn markdown_to_html(md: &str, demote: u8) -> String {
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(
        |e| match e {
            Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Event::Start(Tag::Heading {
                level: shift(level, demote),
                id,
                classes,
                attrs,
            }),
            Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(shift(level, demote))),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            }),
            Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
            e => e,
        },
    );
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

fn shift(level: HeadingLevel, by: u8) -> HeadingLevel {
    let n = (level as usize + by as usize).min(6);
    HeadingLevel::try_from(n).unwrap_or(HeadingLevel::H6)
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme_ok = match lower.find(':') {
        // No scheme, or the colon comes after a path/query/fragment start.
        None => true,
        Some(i) => {
            lower[..i].contains(['/', '?', '#'])
                || ["http", "https", "mailto"].contains(&&lower[..i])
        }
    };
    if scheme_ok {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_escaped() {
        let h = markdown_to_html("hello <script>alert(1)</script>\n\n<b>x</b>", 0);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("<b>"), "{h}");
    }

    #[test]
    fn headings_are_demoted() {
        let h = markdown_to_html("# Title\n\n###### Deep", 1);
        assert!(h.contains("<h2>Title</h2>"), "{h}");
        assert!(h.contains("<h6>Deep</h6>"), "{h}");
    }

    #[test]
    fn unsafe_links_are_neutralised_and_images_become_links() {
        let h = markdown_to_html("[a](javascript:alert(1)) [b](https://x.org/a) [c](/ui/models) ![d](http://e.org/i.png)", 0);
        assert!(h.contains(r##"<a href="#">a</a>"##), "{h}");
        assert!(h.contains(r#"<a href="https://x.org/a">b</a>"#), "{h}");
        assert!(h.contains(r#"<a href="/ui/models">c</a>"#), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(h.contains(r#"<a href="http://e.org/i.png">d</a>"#), "{h}");
    }

    #[test]
    fn tables_render() {
        let h = markdown_to_html("|a|b|\n|-|-|\n|1|2|", 0);
        assert!(h.contains("<table>") && h.contains("<td>1</td>"), "{h}");
    }
}
