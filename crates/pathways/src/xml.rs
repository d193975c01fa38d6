//! A tiny namespace-resolved element tree over quick-xml.
//!
//! BPMN files are small (kilobytes), so reading the whole document into a
//! tree first keeps the importer simple: it walks elements by namespace +
//! local name and never cares which prefix (`bpmn:`, `bpmn2:`, default
//! namespace) the modeler chose.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

pub const NS_BPMN: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
pub const NS_BPMNDI: &str = "http://www.omg.org/spec/BPMN/20100524/DI";
pub const NS_DC: &str = "http://www.omg.org/spec/DD/20100524/DC";
pub const NS_DI: &str = "http://www.omg.org/spec/DD/20100524/DI";
pub const NS_CAMUNDA: &str = "http://camunda.org/schema/1.0/bpmn";
pub const NS_ZEEBE: &str = "http://camunda.org/schema/zeebe/1.0";
/// Bedside's own extension namespace (`xmlns:bedside="..."`).
pub const NS_BEDSIDE: &str = "http://bedside.dev/schema/bpmn/1.0";

/// Nesting deeper than this is rejected (BPMN files nest < 10 levels);
/// it bounds the recursion of everything that walks the tree.
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    /// Namespace URI; `None` for unprefixed attributes.
    pub ns: Option<String>,
    pub local: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Namespace URI; `None` when the element is in no namespace.
    pub ns: Option<String>,
    pub local: String,
    /// The name as written (`bpmn:userTask`), for messages.
    pub qname: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// Concatenated text and CDATA content directly inside the element.
    pub text: String,
    /// 1-based line of the start tag.
    pub line: usize,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }
    pub fn is_bpmn(&self, local: &str) -> bool {
        self.is(NS_BPMN, local)
    }
    /// Unprefixed attribute.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }
    /// Attribute in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }
    pub fn id(&self) -> Option<&str> {
        self.attr("id")
    }
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }
    /// Descendants (depth-first) with this namespace and name.
    pub fn descendants<'a>(&'a self, ns: &str, local: &str, out: &mut Vec<&'a Element>) {
        for c in &self.children {
            if c.is(ns, local) {
                out.push(c);
            }
            c.descendants(ns, local, out);
        }
    }
}

/// Why the XML could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("XML error at line {line}: {reason}")]
pub struct XmlError {
    pub line: usize,
    pub reason: String,
}

fn line_of(src: &str, pos: u64) -> usize {
    let end = usize::try_from(pos).unwrap_or(usize::MAX).min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Line numbers for increasing byte positions, in linear total time.
struct Lines<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, pos: u64) -> usize {
        let end = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.src.len());
        if end < self.pos {
            return self.src[..end].iter().filter(|b| **b == b'\n').count() + 1;
        }
        self.line += self.src[self.pos..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.pos = end;
        self.line
    }
}

fn ns_of(r: ResolveResult<'_>) -> Result<Option<String>, String> {
    match r {
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(format!(
            "undeclared namespace prefix {:?}",
            String::from_utf8_lossy(&p)
        )),
    }
}

fn start_element(
    reader: &NsReader<&[u8]>,
    e: &quick_xml::events::BytesStart<'_>,
    line: usize,
) -> Result<Element, String> {
    let (res, local) = reader.resolve_element(e.name());
    let ns = ns_of(res)?;
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        let key = a.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (res, alocal) = reader.resolve_attribute(key);
        let value = a.unescape_value().map_err(|err| err.to_string())?;
        attrs.push(Attr {
            ns: ns_of(res)?,
            local: String::from_utf8_lossy(alocal.as_ref()).into_owned(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        local: String::from_utf8_lossy(local.as_ref()).into_owned(),
        qname: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
    })
}

/// Parse a whole document into its root element.
pub fn parse(src: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_reader(src.as_bytes());
    let cfg = reader.config_mut();
    cfg.expand_empty_elements = true;
    cfg.check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buf = Vec::new();
    let mut lines = Lines {
        src: src.as_bytes(),
        pos: 0,
        line: 1,
    };
    loop {
        let before = reader.buffer_position();
        let err = |reason: String, pos: u64| XmlError {
            line: line_of(src, pos),
            reason,
        };
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => return Err(err(e.to_string(), reader.error_position())),
        };
        match ev {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(err("content after the root element".into(), before));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        format!("elements nested deeper than {MAX_DEPTH}"),
                        before,
                    ));
                }
                let el =
                    start_element(&reader, &e, lines.at(before)).map_err(|r| err(r, before))?;
                stack.push(el);
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(err("unexpected end tag".into(), before));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| err(e.to_string(), before))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(err("text outside the root element".into(), before)),
                }
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t).into_owned();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&text),
                    None => return Err(err("CDATA outside the root element".into(), before)),
                }
            }
            Event::DocType(_) => {
                return Err(err("DOCTYPE declarations are not accepted".into(), before));
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(XmlError {
            line: line_of(src, src.len() as u64),
            reason: format!("unclosed element <{}>", stack[stack.len() - 1].qname),
        });
    }
    root.ok_or(XmlError {
        line: 1,
        reason: "no root element".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_any_prefix_to_the_same_namespace() {
        for doc in [
            r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p"/></bpmn:definitions>"#,
            r#"<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn2:process id="p"/></bpmn2:definitions>"#,
            r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"/></definitions>"#,
        ] {
            let root = parse(doc).unwrap();
            assert!(root.is_bpmn("definitions"), "{doc}");
            let p = root.child(NS_BPMN, "process").unwrap();
            assert_eq!(p.id(), Some("p"));
        }
    }

    #[test]
    fn extension_attributes_keep_their_namespace() {
        let doc = r#"<d xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:candidateGroups="nurse" id="x"/>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.attr_ns(NS_CAMUNDA, "candidateGroups"), Some("nurse"));
        assert_eq!(root.attr("candidateGroups"), None);
        assert_eq!(root.attr("id"), Some("x"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("<a>\n<b>\n</a>").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        assert!(parse("<a><x:b/></a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<!DOCTYPE a><a/>").is_err());
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let doc = "<a>".repeat(10_000);
        assert!(parse(&doc).is_err());
    }
}
