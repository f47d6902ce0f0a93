//! Real agents' answers (tests/data/agent-answers.json): independent LLM
//! agents played official-range seeds through the HTTP API in their own
//! words; the lead labelled each answer as an expert would. The grader must
//! agree on at least 95% of components, and every answer the expert judges
//! fully correct must score at least 0.9. Prints the agreement per component
//! and per bug (docs/GRADING.md reports it).

use std::collections::BTreeMap;

use mlops_debug_env::env::catalogue::*;
use mlops_debug_env::env::grader::{Diagnosis, grade};
use mlops_debug_env::env::world::World;
use serde_json::Value;

#[derive(Default, Clone, Copy)]
struct Agree {
    n: usize,
    agree: usize,
}

#[test]
fn grader_agrees_with_the_expert_on_real_agents_answers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/agent-answers.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut per_component: BTreeMap<&str, Agree> = BTreeMap::new();
    let mut per_bug: BTreeMap<String, Agree> = BTreeMap::new();
    let mut low_correct = Vec::new();
    let mut disagreements = Vec::new();
    for a in doc["answers"].as_array().unwrap() {
        let task = TaskId::parse(a["task"].as_str().unwrap()).unwrap();
        let w = World::generate(task, a["seed"].as_u64().unwrap());
        assert_eq!(w.bug.as_str(), a["bug"], "{a}");
        let s = &a["submit"];
        let d = Diagnosis {
            failure_category: Category::parse(s["failure_category"].as_str().unwrap()).unwrap(),
            root_cause_file: s["root_cause_file"].as_str().unwrap().into(),
            root_cause_field: s["root_cause_field"].as_str().unwrap().into(),
            diagnosis: s["diagnosis"].as_str().unwrap().into(),
            proposed_fix: s["proposed_fix"].as_str().unwrap().into(),
        };
        let (score, b) = grade(&w, &d, MIN_ARTIFACTS_READ, true);
        let e = &a["expert"];
        let fix_expected = match e["fix"].as_str().unwrap() {
            "correct" => |x: i64| x >= WEIGHT_FIX * 8 / 10,
            "partial" => |x: i64| x > WEIGHT_FIX / 10 && x <= WEIGHT_FIX / 2,
            _ => |x: i64| x <= WEIGHT_FIX / 10,
        };
        let checks = [
            ("category", (b.failure_category.awarded.0 > 0) == (e["category"] == 1)),
            ("file", (b.root_cause_file.awarded.0 > 0) == (e["file"] == 1)),
            (
                "field",
                b.root_cause_field.awarded.0 == (e["field"].as_f64().unwrap() * WEIGHT_FIELD as f64) as i64,
            ),
            ("fix", fix_expected(b.proposed_fix.awarded.0)),
        ];
        let who = format!("{} {} {} [{}]", a["agent"], a["task"], a["seed"], a["bug"]);
        for (name, ok) in checks {
            let c = per_component.entry(name).or_default();
            c.n += 1;
            c.agree += ok as usize;
            let g = per_bug.entry(a["bug"].as_str().unwrap().to_string()).or_default();
            g.n += 1;
            g.agree += ok as usize;
            if !ok {
                disagreements.push(format!("{who} {name}: {b:?}"));
            }
        }
        let fully_correct =
            e["category"] == 1 && e["file"] == 1 && e["field"] == 1.0 && e["fix"] == "correct";
        if fully_correct && score.0 < 9_000 {
            low_correct.push(format!("{who} scored {}", score.as_f64()));
        }
    }
    let pct = |a: Agree| format!("{}/{} ({:.1}%)", a.agree, a.n, 100.0 * a.agree as f64 / a.n as f64);
    println!("\nagreement per component:");
    for (k, v) in &per_component {
        println!("  {k:<10} {}", pct(*v));
    }
    println!("agreement per bug (all four components):");
    for (k, v) in &per_bug {
        println!("  {k:<26} {}", pct(*v));
    }
    for d in &disagreements {
        println!("  disagree: {d}");
    }
    let total = per_component
        .values()
        .fold(Agree::default(), |t, a| Agree { n: t.n + a.n, agree: t.agree + a.agree });
    println!("all components {}", pct(total));
    assert!(total.agree * 100 >= total.n * 95, "agreement {}", pct(total));
    assert!(low_correct.is_empty(), "fully correct answers scoring below 0.9: {low_correct:?}");
}
