//! An ordered tree of values: the structure config.yaml is rendered from, and
//! the form query results take. Keys keep their order in both YAML and JSON,
//! whatever serde_json's features, so output bytes never depend on a feature flag.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::env::num::Sci2;

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Str(String),
    Int(i64),
    /// A plain decimal (always rendered with a digit after the point).
    Float(f64),
    /// A value rendered in scientific form (learning rates).
    Sci(Sci2),
    Bool(bool),
    Null,
}

impl Node {
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Node)>) -> Node {
        Node::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// The node at a dot path (`a.b.0.c`), or the keys (or indices) available at
    /// the deepest level that resolved.
    pub fn resolve(&self, path: &str) -> Result<&Node, Vec<String>> {
        let mut node = self;
        for segment in path.split('.') {
            let next = match node {
                Node::Map(entries) => entries.iter().find(|(k, _)| k == segment).map(|(_, v)| v),
                Node::List(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return Err(node.available()),
            }
        }
        Ok(node)
    }

    fn available(&self) -> Vec<String> {
        match self {
            Node::Map(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
            Node::List(items) => (0..items.len()).map(|i| i.to_string()).collect(),
            _ => Vec::new(),
        }
    }

    /// Converts a JSON value into a tree with object keys in sorted order
    /// (serde_json's map order depends on its features; sorting does not).
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value;
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Node::Int(i),
                None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Node::Str(s.clone()),
            Value::Array(items) => Node::List(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => {
                let mut entries: Vec<(String, Node)> =
                    map.iter().map(|(k, v)| (k.clone(), Node::from_json(v))).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Node::Map(entries)
            }
        }
    }

    /// Block-style YAML with two-space indentation; scalar lists in flow style.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(1024);
        if let Node::Map(entries) = self {
            write_yaml_map(&mut out, entries, 0);
        }
        out
    }
}

fn write_yaml_map(out: &mut String, entries: &[(String, Node)], indent: usize) {
    for (key, value) in entries {
        for _ in 0..indent {
            out.push(' ');
        }
        out.push_str(key);
        out.push(':');
        match value {
            Node::Map(inner) => {
                out.push('\n');
                write_yaml_map(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&yaml_scalar(other));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(node: &Node) -> String {
    match node {
        Node::Str(s) => yaml_string(s),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => plain_float(*f),
        Node::Sci(s) => s.text(),
        Node::Bool(b) => b.to_string(),
        Node::Null => "null".to_string(),
        Node::List(items) => {
            let parts: Vec<String> = items.iter().map(yaml_scalar).collect();
            format!("[{}]", parts.join(", "))
        }
        Node::Map(_) => unreachable!("maps are written in block style"),
    }
}

/// A plain decimal with a digit after the point (`0.9`, `1.0`, `0.0005`).
pub fn plain_float(f: f64) -> String {
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Plain where YAML 1.1 and 1.2 both read the text as this string; quoted otherwise.
fn yaml_string(s: &str) -> String {
    const RESERVED: &[&str] = &["yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"];
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain { s.to_string() } else { format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")) }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Map(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Node::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Str(v) => s.serialize_str(v),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => crate::env::num::Num(*f).serialize(s),
            Node::Sci(v) => s.serialize_f64(v.value()),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Null => s.serialize_unit(),
        }
    }
}
