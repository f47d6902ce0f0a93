//! The fix rubric measured on a development corpus (tests/data/fix-corpus.json,
//! a copy of the shared one): phrasings written independently of the code, per
//! bug correct, opposite, wrong and partial. Each phrasing is graded on several
//! episodes of its bug. A correct one counts as credited only if it earns at
//! least 0.8 of the fix weight on every one of them; the others count by their
//! highest award. Prints the table docs/GRADING.md reports, then asserts the goals.

use mlops_debug_env::env::catalogue::{BugKind, WEIGHT_FIX};
use mlops_debug_env::env::rubric::fix_credit;
use mlops_debug_env::env::world::World;
use serde_json::Value;

mod common;

const SEEDS_PER_BUG: usize = 6;

fn corpus() -> Value {
    common::test_data("fix-corpus.json")
}

fn worlds_of(bug: BugKind) -> Vec<World> {
    (0..).map(|s| World::generate(bug.task(), s)).filter(|w| w.bug == bug).take(SEEDS_PER_BUG).collect()
}

/// (lowest, highest) award over the bug's episodes, in basis points of the fix weight.
fn awards(worlds: &[World], fix: &str) -> (i64, i64) {
    let all: Vec<i64> = worlds.iter().map(|w| fix_credit(w, fix, WEIGHT_FIX)).collect();
    (*all.iter().min().unwrap(), *all.iter().max().unwrap())
}

#[derive(Default, Clone, Copy)]
struct Tally {
    total: usize,
    good: usize,
}

#[test]
fn fix_corpus_meets_the_goals() {
    let c = corpus();
    let classes = ["correct", "opposite", "wrong", "partial"];
    let mut sums = [Tally::default(); 4];
    let mut failures = Vec::new();
    println!(
        "\n{:<26}{:>14}{:>14}{:>14}{:>14}",
        "bug", "correct>=0.8", "opposite<=0.5", "wrong<=0.1", "partial<=0.5"
    );
    for bug in BugKind::ALL {
        let worlds = worlds_of(bug);
        let mut row = [Tally::default(); 4];
        for (k, class) in classes.iter().enumerate() {
            for fix in c["bugs"][bug.as_str()][class].as_array().into_iter().flatten() {
                let fix = fix.as_str().unwrap();
                let (low, high) = awards(&worlds, fix);
                let good = match *class {
                    "correct" => low >= WEIGHT_FIX * 8 / 10,
                    "wrong" => high <= WEIGHT_FIX / 10,
                    _ => high <= WEIGHT_FIX / 2,
                };
                row[k].total += 1;
                row[k].good += good as usize;
                if !good {
                    failures.push(format!("{} [{class}] {low}..{high}: {fix}", bug.as_str()));
                }
            }
        }
        let cell = |t: Tally| format!("{}/{}", t.good, t.total);
        println!(
            "{:<26}{:>14}{:>14}{:>14}{:>14}",
            bug.as_str(),
            cell(row[0]),
            cell(row[1]),
            cell(row[2]),
            cell(row[3])
        );
        for k in 0..4 {
            sums[k].total += row[k].total;
            sums[k].good += row[k].good;
        }
    }
    let pct = |t: Tally| format!("{}/{} {:.1}%", t.good, t.total, 100.0 * t.good as f64 / t.total as f64);
    println!("{:<26}{:>14}{:>14}{:>14}{:>14}", "all", pct(sums[0]), pct(sums[1]), pct(sums[2]), pct(sums[3]));
    for f in &failures {
        println!("  miss: {f}");
    }
    let share = |t: Tally| t.good as f64 / t.total as f64;
    assert!(share(sums[0]) >= 0.97, "correct fixes credited: {}", pct(sums[0]));
    assert_eq!(sums[2].good, sums[2].total, "every wrong fix earns <= 0.1");
    let (op, pa) = (sums[1], sums[3]);
    let bounded = Tally { total: op.total + pa.total, good: op.good + pa.good };
    assert!(share(bounded) >= 0.97, "opposite and partial fixes bounded: {}", pct(bounded));
}
