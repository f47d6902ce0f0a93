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

/// The structure a structured artifact is rendered from, as an ordered tree.
pub fn structure(w: &World, name: ArtifactName) -> Option<Node> {
    match name {
        ArtifactName::Config => Some(config::tree(w)),
        ArtifactName::DatasetStats => Some(Node::from_json(&stats::value(w))),
        ArtifactName::EvalResults => Some(Node::from_json(&eval::value(w))),
        ArtifactName::ModelCard => Some(Node::from_json(&card::value(w))),
        ArtifactName::TrainLog | ArtifactName::Preprocessing => None,
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

/// query_artifact with a field path.
pub fn query(w: &World, name: ArtifactName, path: &str) -> QueryAnswer {
    match structure(w, name) {
        Some(tree) => match tree.resolve(path) {
            Ok(node) => QueryAnswer::Found(node.clone()),
            Err(available) => QueryAnswer::Missing { available },
        },
        None => {
            // Log and code: up to 20 lines containing the path's last segment (case-sensitive).
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
