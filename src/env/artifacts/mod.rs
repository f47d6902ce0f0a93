//! The six artifacts, each rendered from the world alone, and field queries
//! against the structures they are rendered from.

pub mod card;
pub mod code;
pub mod config;
pub mod eval;
pub mod log;
pub mod stats;
pub mod tree;

use crate::env::catalogue::{ArtifactName, MAX_QUERY_LINES};
use crate::env::world::World;
use tree::Node;

pub fn render(w: &World, name: ArtifactName) -> String {
    match name {
        ArtifactName::Config => config::render(w),
        ArtifactName::TrainLog => log::render(w),
        ArtifactName::DatasetStats => stats::render(w),
        ArtifactName::Preprocessing => code::render(w),
        ArtifactName::EvalResults => eval::render(w),
        ArtifactName::ModelCard => card::render(w),
    }
}

/// The outcome of a field query.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryAnswer {
    Found(Node),
    /// A dot path that did not resolve, with what was available at the deepest level that did.
    Missing {
        available: Vec<String>,
    },
    /// A line search (log or code) that matched nothing.
    NoLines,
}

/// query_artifact with a field path: structured artifacts resolve it against
/// the structure they are rendered from; log and code select lines.
pub fn query(w: &World, name: ArtifactName, path: &str) -> QueryAnswer {
    let tree_answer = |r: Result<&Node, Vec<String>>| match r {
        Ok(node) => QueryAnswer::Found(node.clone()),
        Err(available) => QueryAnswer::Missing { available },
    };
    match name {
        ArtifactName::Config => tree_answer(config::tree(w).resolve(path)),
        ArtifactName::DatasetStats => json_answer(&stats::value(w), path),
        ArtifactName::EvalResults => json_answer(&eval::value(w), path),
        ArtifactName::ModelCard => json_answer(&card::value(w), path),
        ArtifactName::TrainLog | ArtifactName::Preprocessing => {
            // Up to 20 lines containing the path's last segment (case-sensitive).
            let needle = path.rsplit('.').next().unwrap_or(path);
            let text = render(w, name);
            let lines: Vec<Node> = text
                .lines()
                .filter(|l| !needle.is_empty() && l.contains(needle))
                .take(MAX_QUERY_LINES)
                .map(|l| Node::str(l.trim_end()))
                .collect();
            if lines.is_empty() { QueryAnswer::NoLines } else { QueryAnswer::Found(Node::List(lines)) }
        }
    }
}

/// Walks a JSON artifact's value (typed structs serialised by serde, never
/// parsed text). Available keys are sorted, so the answer never depends on
/// serde_json's map order.
fn json_answer(value: &serde_json::Value, path: &str) -> QueryAnswer {
    use serde_json::Value;
    let mut node = value;
    for segment in path.split('.') {
        let next = match node {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => {
                let available = match node {
                    Value::Object(map) => {
                        let mut keys: Vec<String> = map.keys().cloned().collect();
                        keys.sort();
                        keys
                    }
                    Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
                    _ => Vec::new(),
                };
                return QueryAnswer::Missing { available };
            }
        }
    }
    QueryAnswer::Found(Node::from_json(node))
}
