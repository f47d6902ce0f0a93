//! environment.md §10.1: nothing in the reset observation predicts the bug.
//! For every reset-observation field (but seed, episode_id and run_id), and for
//! the tuple of all fields with at most 50 distinct values, a majority-vote
//! lookup classifier trained on 2,000 seeds is tested on 1,000 held-out seeds:
//! its accuracy stays at most 1/3 + 0.05. run_id is tested modulo 2, 3, 9 and
//! 256 the same way, and bug frequencies pass a chi-square test.

use std::collections::BTreeMap;

use mlops_debug_env::env::{BugKind, Episode, TaskId};
use serde_json::Value;

const TRAIN: u64 = 2_000;
const HELD_OUT: u64 = 1_000;
const BOUND: f64 = 1.0 / 3.0 + 0.05;

/// Accuracy on held-out samples of "predict the most frequent bug seen with this value".
fn lookup_accuracy(train: &[(String, BugKind)], test: &[(String, BugKind)]) -> f64 {
    let mut table: BTreeMap<&str, BTreeMap<BugKind, u32>> = BTreeMap::new();
    let mut overall: BTreeMap<BugKind, u32> = BTreeMap::new();
    for (feature, bug) in train {
        *table.entry(feature).or_default().entry(*bug).or_default() += 1;
        *overall.entry(*bug).or_default() += 1;
    }
    let majority = |counts: &BTreeMap<BugKind, u32>| *counts.iter().max_by_key(|(_, c)| **c).unwrap().0;
    let fallback = majority(&overall);
    let hits = test
        .iter()
        .filter(|(feature, bug)| table.get(feature.as_str()).map(majority).unwrap_or(fallback) == *bug)
        .count();
    hits as f64 / test.len() as f64
}

#[test]
fn no_reset_observation_field_predicts_the_bug() {
    for task in TaskId::ALL {
        let samples: Vec<(Value, BugKind)> = (0..TRAIN + HELD_OUT)
            .map(|seed| {
                let ep = Episode::new(task, seed, "leak-test");
                let obs = serde_json::to_value(ep.reset_observation(Vec::new())).unwrap();
                (obs, ep.world().bug)
            })
            .collect();
        let fields: Vec<String> = samples[0].0.as_object().unwrap().keys().cloned().collect();
        let mut features: BTreeMap<String, Vec<(String, BugKind)>> = BTreeMap::new();
        for (obs, bug) in &samples {
            for field in &fields {
                if matches!(field.as_str(), "seed" | "episode_id" | "run_id") {
                    continue;
                }
                features.entry(field.clone()).or_default().push((obs[field].to_string(), *bug));
            }
            let run_id = u64::from_str_radix(obs["run_id"].as_str().unwrap(), 16).unwrap();
            for modulus in [2u64, 3, 9, 256] {
                features
                    .entry(format!("run_id mod {modulus}"))
                    .or_default()
                    .push(((run_id % modulus).to_string(), *bug));
            }
        }
        // The tuple of every field with at most 50 distinct values in training.
        let low_cardinality: Vec<String> = fields
            .iter()
            .filter(|f| !matches!(f.as_str(), "seed" | "episode_id" | "run_id"))
            .filter(|f| {
                let distinct: std::collections::BTreeSet<&String> =
                    features[*f][..TRAIN as usize].iter().map(|(v, _)| v).collect();
                distinct.len() <= 50
            })
            .cloned()
            .collect();
        assert!(low_cardinality.contains(&"run_summary".to_string()), "model choice is tested in the tuple");
        let tuple: Vec<(String, BugKind)> = (0..samples.len())
            .map(|i| {
                let key: Vec<&str> = low_cardinality.iter().map(|f| features[f][i].0.as_str()).collect();
                (key.join("|"), samples[i].1)
            })
            .collect();
        features.insert("tuple of low-cardinality fields".into(), tuple);

        for (name, rows) in &features {
            let (train, test) = rows.split_at(TRAIN as usize);
            let acc = lookup_accuracy(train, test);
            assert!(acc <= BOUND, "task {}: {name} predicts the bug with accuracy {acc:.3}", task.as_str());
        }

        // Bug frequencies are near uniform: chi-square with 2 degrees of freedom, p > 0.001.
        let mut counts: BTreeMap<BugKind, f64> = BTreeMap::new();
        for (_, bug) in &samples {
            *counts.entry(*bug).or_default() += 1.0;
        }
        assert_eq!(counts.len(), 3, "every bug of the pool occurs");
        let expected = samples.len() as f64 / 3.0;
        let chi2: f64 = counts.values().map(|o| (o - expected) * (o - expected) / expected).sum();
        // chi-square critical value for p = 0.001 at 2 degrees of freedom
        assert!(chi2 < 13.816, "task {}: bug frequencies {counts:?} (chi2 {chi2:.2})", task.as_str());
    }
}
