//! The checks of [`parse_resource`](super::parse_resource) in one pass over
//! JSON text, without building a tree: syntax, every `reference` string
//! (error), and the R4 deviations that are warnings (empty strings, empty
//! arrays and objects, null properties), keeping the top-level property
//! names and coded values that `rules` checks. The few top-level elements read
//! here (`resourceType`, `id`, `meta`, `dosage`) are kept as small trees.
//!
//! [`walk_tree`] is the same walk over a [`Value`] (for resources that come
//! as trees, e.g. from a Bundle), so both give the same findings. Paths are
//! relative to the resource (`.subject.reference`, `` for the root); the
//! caller puts the resource type in front.
//!
//! Hand-written on serde's visitor API because no maintained crate
//! validates JSON while visiting it with element paths and borrowed keys.

use super::rules::{coded, TopLevel};
use crate::types::parse_reference;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::fmt::Write;

/// A warning: issue code, relative path, message.
pub(crate) type Warning = (&'static str, String, &'static str);

/// What one pass found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// The text is a JSON object.
    pub object: bool,
    pub resource_type: Option<Value>,
    pub id: Option<Value>,
    pub meta: Option<Value>,
    pub dosage: Option<Value>,
    /// The first reference that cannot be parsed: relative path, reason.
    pub bad_reference: Option<(String, String)>,
    pub warnings: Vec<Warning>,
    /// The top-level property names and coded values (for the R4 rules).
    pub top: TopLevel,
}

/// Scan JSON text (the whole text must be one JSON value).
pub(crate) fn scan(text: &str) -> Result<Scanned, serde_json::Error> {
    let mut out = Scanned::default();
    let mut path = String::new();
    let mut de = serde_json::Deserializer::from_str(text);
    Node {
        path: &mut path,
        out: &mut out,
        depth: 0,
        key: Key::Other,
        coded: None,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// The same findings over a tree (`object`, `resource_type` and the other
/// captured elements are left unset).
pub(crate) fn walk_tree(v: &Value, out: &mut Scanned) {
    if let Value::Object(m) = v {
        out.top = TopLevel::of_tree(m);
    }
    let mut path = String::new();
    walk_value(v, &mut path, out);
}

fn walk_value(v: &Value, path: &mut String, out: &mut Scanned) {
    match v {
        Value::Object(m) => {
            if m.is_empty() {
                out.warnings
                    .push(("structure", path.clone(), "empty object"));
            }
            for (k, child) in m {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match child {
                    Value::String(s) if k == "reference" => out.check_reference(path, s),
                    Value::String(s) if s.is_empty() => {
                        out.warnings.push(("value", path.clone(), "empty string"))
                    }
                    Value::Null => out.warnings.push(("structure", path.clone(), "null value")),
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                    _ => walk_value(child, path, out),
                }
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            if a.is_empty() {
                out.warnings
                    .push(("structure", path.clone(), "empty array"));
            }
            for (i, child) in a.iter().enumerate() {
                if matches!(child, Value::Object(_) | Value::Array(_)) {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    walk_value(child, path, out);
                    path.truncate(len);
                } else if matches!(child, Value::String(s) if s.is_empty()) {
                    out.warnings
                        .push(("value", format!("{path}[{i}]"), "empty string"));
                }
            }
        }
        _ => {}
    }
}

impl Scanned {
    fn check_reference(&mut self, path: &str, s: &str) {
        if self.bad_reference.is_none() {
            if let Err(why) = parse_reference(s) {
                self.bad_reference = Some((path.to_string(), why));
            }
        }
    }
}

/// How the value being visited was reached.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    /// A property named `reference`.
    Reference,
    /// Any other property.
    Other,
    /// An array element.
    Element(usize),
}

/// One value at `path` (an object property or array element).
struct Node<'a> {
    path: &'a mut String,
    out: &'a mut Scanned,
    depth: usize,
    key: Key,
    /// A top-level coded property (or an element of one that is an
    /// array): its string values are kept in `out.top.codes`.
    coded: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Node<'_> {
    fn string(self, s: &str) {
        if let Some(name) = self.coded {
            self.out.top.codes.push((name, s.to_string()));
        }
        match self.key {
            Key::Reference => self.out.check_reference(self.path, s),
            _ if !s.is_empty() => {}
            Key::Other => self
                .out
                .warnings
                .push(("value", self.path.clone(), "empty string")),
            Key::Element(i) => {
                self.out
                    .warnings
                    .push(("value", format!("{}[{i}]", self.path), "empty string"))
            }
        }
    }
    /// Enter a nested object or array (array elements add `[i]`).
    fn enter(&mut self) -> usize {
        let len = self.path.len();
        if let Key::Element(i) = self.key {
            let _ = write!(self.path, "[{i}]");
        }
        len
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.string(s);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        if self.depth == 1 {
            if let Some(last) = self.out.top.keys.last_mut() {
                last.1 = true;
            }
        }
        if self.key == Key::Other || self.key == Key::Reference {
            self.out
                .warnings
                .push(("structure", self.path.clone(), "null value"));
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let len = self.enter();
        let mut i = 0;
        while seq
            .next_element_seed(Node {
                path: self.path,
                out: self.out,
                depth: self.depth + 1,
                key: Key::Element(i),
                coded: if self.depth == 1 { self.coded } else { None },
            })?
            .is_some()
        {
            i += 1;
        }
        if i == 0 {
            self.out
                .warnings
                .push(("structure", self.path.clone(), "empty array"));
        }
        self.path.truncate(len);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let len = self.enter();
        if self.depth == 0 {
            self.out.object = true;
        }
        let mut empty = true;
        while let Some(PropertyName(k)) = map.next_key()? {
            empty = false;
            let at = self.path.len();
            self.path.push('.');
            self.path.push_str(&k);
            if self.depth == 0 {
                self.out.top.keys.push((k.to_string(), false));
            }
            if self.depth == 0 && slot_of(self.out, &k).is_some() {
                let v: Value = map.next_value()?;
                if v.is_null() {
                    if let Some(last) = self.out.top.keys.last_mut() {
                        last.1 = true;
                    }
                }
                // The property itself as walk_value sees an object's child.
                match &v {
                    Value::String(s) if s.is_empty() => {
                        self.out
                            .warnings
                            .push(("value", self.path.clone(), "empty string"))
                    }
                    Value::Null => {
                        self.out
                            .warnings
                            .push(("structure", self.path.clone(), "null value"))
                    }
                    Value::Object(_) | Value::Array(_) => walk_value(&v, self.path, self.out),
                    _ => {}
                }
                if let Some(slot) = slot_of(self.out, &k) {
                    *slot = Some(v);
                }
            } else {
                map.next_value_seed(Node {
                    path: self.path,
                    out: self.out,
                    depth: self.depth + 1,
                    key: if &*k == "reference" {
                        Key::Reference
                    } else {
                        Key::Other
                    },
                    coded: if self.depth == 0 { coded(&k) } else { None },
                })?;
            }
            self.path.truncate(at);
        }
        if empty {
            self.out
                .warnings
                .push(("structure", self.path.clone(), "empty object"));
        }
        self.path.truncate(len);
        Ok(())
    }
}

/// Where a captured top-level element goes.
fn slot_of<'a>(out: &'a mut Scanned, k: &str) -> Option<&'a mut Option<Value>> {
    match k {
        "resourceType" => Some(&mut out.resource_type),
        "id" => Some(&mut out.id),
        "meta" => Some(&mut out.meta),
        "dosage" => Some(&mut out.dosage),
        _ => None,
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct PropertyName<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for PropertyName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PropertyName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(PropertyName(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(PropertyName(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
                Ok(PropertyName(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}
