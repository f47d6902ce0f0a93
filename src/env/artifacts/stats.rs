//! dataset_stats.json: split sizes, class counts, overlap, feature and token statistics.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::code::preprocessing_steps;
use crate::env::catalogue::Modality;
use crate::env::num::Num;
use crate::env::world::{SplitStats, TokenLengths, World};

/// At most this many classes are listed by name; the rest are summarised.
pub const LISTED_CLASSES: usize = 10;

#[derive(Serialize)]
struct PerSplit<T> {
    train: T,
    val: T,
    test: T,
}

/// Named counts in class-index order (a map with dynamic keys, serialised in order).
struct ClassCounts<'a> {
    names: &'a [&'static str],
    counts: &'a [u32],
}

impl Serialize for ClassCounts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.names.len().min(LISTED_CLASSES)))?;
        for (name, count) in self.names.iter().zip(self.counts).take(LISTED_CLASSES) {
            m.serialize_entry(name, count)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct OtherClasses {
    count: usize,
    total: u32,
    min: u32,
    max: u32,
}

#[derive(Serialize)]
struct Overlap {
    train_val: u32,
    train_test: u32,
    val_test: u32,
}

#[derive(Serialize)]
struct FeatureStats {
    mean: Num,
    std: Num,
}

#[derive(Serialize)]
struct TokenStats {
    mean: Num,
    std: Num,
    p95: u32,
    max: u32,
}

#[derive(Serialize)]
struct DatasetStats<'a> {
    dataset: &'static str,
    num_samples: u32,
    num_classes: usize,
    splits: PerSplit<u32>,
    class_counts: PerSplit<ClassCounts<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_classes: Option<PerSplit<OtherClasses>>,
    overlap: Overlap,
    #[serde(skip_serializing_if = "Option::is_none")]
    feature_stats: Option<PerSplit<FeatureStats>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_lengths: Option<PerSplit<TokenStats>>,
    preprocessing_steps: Vec<&'static str>,
    seed: Option<u32>,
}

fn others(counts: &[u32]) -> OtherClasses {
    let rest = &counts[LISTED_CLASSES..];
    OtherClasses {
        count: rest.len(),
        total: rest.iter().sum(),
        min: rest.iter().copied().min().unwrap_or(0),
        max: rest.iter().copied().max().unwrap_or(0),
    }
}

fn features(s: &SplitStats) -> FeatureStats {
    FeatureStats { mean: Num(s.mean), std: Num(s.std) }
}

fn tokens(t: &TokenLengths) -> TokenStats {
    TokenStats { mean: Num(t.mean), std: Num(t.std), p95: t.p95, max: t.max }
}

fn per_split<T, U>(v: &[T; 3], f: impl Fn(&T) -> U) -> PerSplit<U> {
    PerSplit { train: f(&v[0]), val: f(&v[1]), test: f(&v[2]) }
}

fn document(w: &World) -> DatasetStats<'_> {
    let names = w.classes();
    let counts = |i: usize| ClassCounts { names, counts: &w.class_counts[i] };
    DatasetStats {
        dataset: w.config().dataset,
        num_samples: w.n_total,
        num_classes: names.len(),
        splits: PerSplit { train: w.n_train, val: w.n_val, test: w.n_test },
        class_counts: PerSplit { train: counts(0), val: counts(1), test: counts(2) },
        other_classes: (names.len() > LISTED_CLASSES).then(|| per_split(&w.class_counts, |c| others(c))),
        overlap: Overlap { train_val: w.overlap_train_val, train_test: 0, val_test: w.overlap_val_test },
        feature_stats: w.feature_stats.as_ref().map(|f| per_split(f, features)),
        token_lengths: w
            .token_lengths
            .as_ref()
            .filter(|_| w.config().modality == Modality::Text)
            .map(|t| per_split(t, tokens)),
        preprocessing_steps: preprocessing_steps(w),
        seed: w.random_state,
    }
}

pub fn render(w: &World) -> String {
    serde_json::to_string_pretty(&document(w)).expect("dataset stats serialise")
}

pub fn value(w: &World) -> serde_json::Value {
    serde_json::to_value(document(w)).expect("dataset stats serialise")
}
