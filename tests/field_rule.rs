//! The field rule (docs/GRADING.md): no constant answer pays on two faults of
//! a task's pool, and the documented table of answers earns what it says.

use std::collections::{BTreeMap, BTreeSet};

use mlops_debug_env::env::artifacts::render;
use mlops_debug_env::env::catalogue::{ArtifactName, BugKind, TaskId, WEIGHT_FIELD};
use mlops_debug_env::env::fields::FieldKey;
use mlops_debug_env::env::locations::statements;
use mlops_debug_env::env::world::World;

const SEEDS_PER_TASK: u64 = 1_000;

/// Dot paths of config.yaml, and every suffix of them.
fn config_paths(yaml: &str) -> Vec<String> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        let Some((key, _)) = line.trim().split_once(':') else { continue };
        stack.retain(|(i, _)| *i < indent);
        stack.push((indent, key.trim().to_lowercase()));
        let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        for start in 0..path.len() {
            out.push(path[start..].join("."));
        }
    }
    out
}

/// Every identifier of the code, and every `qualifier.identifier` and
/// `identifier.identifier` pair on one statement, and the config's paths.
fn candidates(w: &World) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = config_paths(&render(w, ArtifactName::Config)).into_iter().collect();
    for s in statements(&render(w, ArtifactName::Preprocessing)) {
        for i in &s.idents {
            out.insert(i.clone());
            for q in s.qualifiers.iter().chain(&s.idents) {
                if q != i {
                    out.insert(format!("{q}.{i}"));
                }
            }
        }
        out.extend(s.function.clone());
    }
    out
}

#[test]
fn no_constant_field_answer_pays_on_two_faults_of_a_pool() {
    for task in TaskId::ALL {
        let worlds: Vec<World> = (0..SEEDS_PER_TASK).map(|s| World::generate(task, s)).collect();
        let mut pool: BTreeSet<String> = BTreeSet::new();
        for w in worlds.iter().step_by(5) {
            pool.extend(candidates(w));
        }
        let mut paid: BTreeMap<&str, BTreeSet<BugKind>> = BTreeMap::new();
        for w in &worlds {
            let key = FieldKey::of(w);
            for c in &pool {
                if key.grade(c, WEIGHT_FIELD).credit > 0 {
                    paid.entry(c.as_str()).or_default().insert(w.bug);
                }
            }
        }
        let shared: Vec<_> = paid.iter().filter(|(_, bugs)| bugs.len() > 1).collect();
        assert!(shared.is_empty(), "{}: answers paying on several faults: {shared:?}", task.as_str());
        // the rule is not vacuous: every fault of the pool is paid by some candidate
        let bugs: BTreeSet<BugKind> = paid.values().flatten().copied().collect();
        assert_eq!(bugs.len(), 3, "{}: {} candidates, paid {bugs:?}", task.as_str(), pool.len());
    }
}

#[test]
fn the_documented_field_table_holds() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/GRADING.md")).unwrap();
    let start = doc.find("<!-- field-table").expect("docs/GRADING.md has the field table");
    let end = doc.find("<!-- /field-table -->").unwrap();
    let mut rows = 0;
    let mut per_bug: BTreeMap<BugKind, usize> = BTreeMap::new();
    for line in doc[start..end].lines().filter(|l| l.starts_with("| ") && !l.starts_with("| fault")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [bug, episode, answer, credit] = cells[..] else { panic!("row {line}") };
        let bug = BugKind::parse(bug).unwrap_or_else(|| panic!("fault in {line}"));
        let (task, seed) = episode.split_once(' ').unwrap();
        let w = World::generate(TaskId::parse(task).unwrap(), seed.parse().unwrap());
        assert_eq!(w.bug, bug, "{line}: the episode plants another fault");
        let expected = (credit.parse::<f64>().unwrap() * 10_000.0).round() as i64;
        let got = FieldKey::of(&w).grade(answer, WEIGHT_FIELD);
        assert_eq!(got.credit, expected, "{line}: {got:?}");
        rows += 1;
        *per_bug.entry(bug).or_default() += 1;
    }
    assert_eq!(per_bug.len(), BugKind::ALL.len(), "every fault has rows");
    assert!(per_bug.values().all(|&n| n >= 10), "at least 10 answers per fault: {per_bug:?}");
    assert!(rows >= 90);
}
