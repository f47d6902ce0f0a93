//! Root-cause fields: each episode's accepted forms (canonical first) and the
//! normalisation that compares answers to them as whole identifiers.

use super::artifacts::code::names;
use super::catalogue::{ArtifactName, BugKind};
use super::world::World;

/// The accepted forms of this episode's field, canonical form first. Each
/// appears in the episode's artifacts (a test checks it).
pub fn accepted_forms(w: &World) -> Vec<String> {
    let n = names(w);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match w.bug {
        BugKind::ExplodingLr => {
            s(&["optimizer.learning_rate", "learning_rate", "lr", "training.optimizer.lr"])
        }
        BugKind::WrongOptimizer => s(&["optimizer.momentum", "momentum", "training.optimizer.momentum"]),
        BugKind::BatchSizeOverflow => s(&["training.batch_size", "batch_size"]),
        BugKind::DataLeakageScaler => vec![
            format!("{}.fit_transform", n.normaliser_class),
            "fit_transform".into(),
            format!("{}.fit_transform", n.normaliser_var),
        ],
        BugKind::DataLeakageOverlap => s(&["train_test_split.random_state", "random_state"]),
        BugKind::WrongSplitRatio => s(&["train_test_split.test_size", "test_size"]),
        BugKind::LabelEncoderMismatch => vec![
            "LabelEncoder.classes_".into(),
            "classes_".into(),
            format!("{}.classes_", n.encoder_var),
            n.label_map_var.into(),
        ],
        BugKind::SilentMetricSwap => vec![
            "metrics.val_accuracy".into(),
            "metrics.test_accuracy".into(),
            "val_accuracy".into(),
            "test_accuracy".into(),
            format!("{}.val_accuracy", n.results_var),
            format!("{}.test_accuracy", n.results_var),
        ],
        BugKind::TokenizerVersionDrift => {
            vec!["tokenizer.version".into(), format!("{}.version", n.eval_tokenizer_var)]
        }
    }
}

pub fn canonical_field(w: &World) -> String {
    accepted_forms(w).swap_remove(0)
}

/// Trim, lower-case, drop quotes and backticks, `x[k]` -> `x.k`, `::` and
/// `->` -> `.`, and drop a leading artifact name followed by `:` or `.`.
pub fn normalise(answer: &str) -> String {
    let mut s: String =
        answer.trim().to_lowercase().chars().filter(|c| !matches!(c, '"' | '\'' | '`')).collect();
    if s.contains(['[', ']', ':', '-']) {
        s = s.replace("::", ".").replace("->", ".").replace('[', ".").replace(']', "");
    }
    for a in ArtifactName::ALL {
        if let Some(rest) = s.strip_prefix(a.as_str()).and_then(|r| r.strip_prefix([':', '.'])) {
            s = rest.to_string();
            break;
        }
    }
    s.trim().to_string()
}

/// Whether an answer names this episode's field: as a whole (with `/` read
/// as `.`), or as parts split at `/`, `,` and parentheses that are all accepted forms.
pub fn field_matches(w: &World, answer: &str) -> bool {
    let accepted: Vec<String> = accepted_forms(w).iter().map(|f| normalise(f)).collect();
    let norm = normalise(answer);
    if norm.is_empty() {
        return false;
    }
    if accepted.contains(&norm.replace('/', ".")) {
        return true;
    }
    let parts: Vec<String> =
        norm.split(['/', ',', '(', ')']).map(normalise).filter(|p| !p.is_empty()).collect();
    !parts.is_empty() && parts.iter().all(|p| accepted.contains(p))
}
