//! Grader acceptance (environment.md §7, §10.2): paraphrases, canonical
//! answers, stuffing, field matching, penalties, clamp and rounding.

use mlops_debug_env::env::catalogue::*;
use mlops_debug_env::env::fields::{accepted_forms, canonical_field, field_matches};
use mlops_debug_env::env::grader::{Bp, Diagnosis, canonical_fix, grade, ground_truth};
use mlops_debug_env::env::world::World;
use mlops_debug_env::env::{Episode, StepOutcome};
use serde_json::{Value, json};

mod common;

fn vectors() -> Value {
    common::test_data("grader-vectors.json")
}

/// The first `n` seeds >= 0 of the bug's task that plant the bug.
fn seeds_of(bug: BugKind, n: usize) -> Vec<u64> {
    (0..).filter(|&s| World::generate(bug.task(), s).bug == bug).take(n).collect()
}

fn diagnosis(w: &World, field: &str, fix: &str) -> Diagnosis {
    Diagnosis {
        failure_category: w.bug.category(),
        root_cause_file: w.bug.file().as_str().into(),
        root_cause_field: field.into(),
        diagnosis: String::new(),
        proposed_fix: fix.into(),
    }
}

fn fix_award(w: &World, fix: &str) -> i64 {
    let (_, b) = grade(w, &diagnosis(w, "", fix), 3, true);
    b.proposed_fix.awarded.0
}

#[test]
fn correct_paraphrases_earn_at_least_eighty_percent_and_wrong_ones_at_most_ten() {
    let v = vectors();
    for bug in BugKind::ALL {
        let entry = &v["bugs"][bug.as_str()];
        for seed in seeds_of(bug, 8) {
            let w = World::generate(bug.task(), seed);
            for fix in entry["correct"].as_array().unwrap() {
                let award = fix_award(&w, fix.as_str().unwrap());
                assert!(award >= WEIGHT_FIX * 8 / 10, "{} seed {seed}: {fix} earned {award}", bug.as_str());
            }
            for fix in entry["wrong"].as_array().unwrap() {
                let award = fix_award(&w, fix.as_str().unwrap());
                assert!(award <= WEIGHT_FIX / 10, "{} seed {seed}: {fix} earned {award}", bug.as_str());
            }
        }
    }
}

#[test]
fn canonical_answer_scores_one_and_every_accepted_form_scores_the_field() {
    for bug in BugKind::ALL {
        for seed in seeds_of(bug, 20) {
            let w = World::generate(bug.task(), seed);
            let gt = ground_truth(&w);
            let (score, b) = grade(&w, &diagnosis(&w, &gt.field, &gt.fix), 3, true);
            assert_eq!(score, Bp(10_000), "{} seed {seed}: {b:?} for {}", bug.as_str(), gt.fix);
            assert!(b.proposed_fix.correct && b.root_cause_field.correct);
            for form in accepted_forms(&w) {
                assert!(field_matches(&w, &form), "{form}");
                assert!(field_matches(&w, &form.to_uppercase()), "{form} upper-cased");
                assert!(field_matches(&w, &format!("`{form}`")), "{form} in backticks");
                assert!(
                    field_matches(&w, &format!("{}:{form}", bug.file().as_str())),
                    "{form} with its file"
                );
            }
        }
    }
}

#[test]
fn concatenated_canonical_fixes_and_foreign_fixes_earn_nothing() {
    let canonical: Vec<(BugKind, String)> = BugKind::ALL
        .iter()
        .map(|&b| (b, canonical_fix(&World::generate(b.task(), seeds_of(b, 1)[0]))))
        .collect();
    let all: String = canonical.iter().map(|(_, f)| f.as_str()).collect::<Vec<_>>().join(" ");
    for bug in BugKind::ALL {
        for seed in seeds_of(bug, 10) {
            let w = World::generate(bug.task(), seed);
            assert_eq!(fix_award(&w, &all), 0, "{} seed {seed}: the concatenation earns 0", bug.as_str());
            for (other, fix) in &canonical {
                if *other != bug {
                    let award = fix_award(&w, fix);
                    assert!(
                        award <= WEIGHT_FIX / 10,
                        "{} earns {award} for {}'s fix",
                        bug.as_str(),
                        other.as_str()
                    );
                }
            }
        }
    }
}

#[test]
fn one_foreign_fix_halves_the_credit() {
    let w = World::generate(TaskId::Easy, seeds_of(BugKind::ExplodingLr, 1)[0]);
    let own = canonical_fix(&w);
    let with_one = format!("{own} Also lower the momentum to 0.9.");
    assert_eq!(fix_award(&w, &own), WEIGHT_FIX);
    assert_eq!(fix_award(&w, &with_one), WEIGHT_FIX / 2);
    let with_two = format!("{with_one} And lower the batch size to 32.");
    assert_eq!(fix_award(&w, &with_two), 0);
}

#[test]
fn field_answers_are_whole_normalised_identifiers() {
    let w = World::generate(TaskId::Easy, seeds_of(BugKind::ExplodingLr, 1)[0]);
    for good in [
        "optimizer.learning_rate",
        " Optimizer.Learning_Rate ",
        "config.yaml:optimizer.learning_rate",
        "config.yaml: optimizer.learning_rate",
        "config.yaml.optimizer.learning_rate",
        "optimizer['learning_rate']",
        "optimizer::learning_rate",
        "optimizer->learning_rate",
        "optimizer/learning_rate",
        "optimizer.learning_rate (lr)",
        "lr",
    ] {
        assert!(field_matches(&w, good), "{good:?} should match");
    }
    for bad in [
        "",
        "learning",
        "rate",
        "optimizer",
        "optimizer.learning_rate_x",
        "optimizer.learning_rate, training.batch_size",
        "optimizer.learning_rate / optimizer.momentum",
        "the learning rate is too high",
        "25.0",
    ] {
        assert!(!field_matches(&w, bad), "{bad:?} should not match");
    }
    let swap = World::generate(TaskId::Hard, seeds_of(BugKind::SilentMetricSwap, 1)[0]);
    for good in [
        "val_accuracy/test_accuracy",
        "metrics.test_accuracy",
        "results[\"val_accuracy\"]"
            .replace("results", canonical_field(&swap).split('.').next().unwrap())
            .as_str(),
    ] {
        assert!(field_matches(&swap, good), "{good:?} should match");
    }
    // A field answer listing every bug's canonical field earns 0.
    let every: Vec<String> = BugKind::ALL
        .iter()
        .map(|&b| accepted_forms(&World::generate(b.task(), seeds_of(b, 1)[0]))[0].clone())
        .collect();
    for bug in BugKind::ALL {
        let w = World::generate(bug.task(), seeds_of(bug, 1)[0]);
        assert!(!field_matches(&w, &every.join(", ")), "{}", bug.as_str());
        assert!(!field_matches(&w, &every.join(" / ")), "{}", bug.as_str());
    }
}

#[test]
fn penalties_clamp_and_rounding_follow_the_spec() {
    // Investigation penalty: fewer than 3 distinct artifacts read.
    let w = World::generate(TaskId::Easy, seeds_of(BugKind::WrongOptimizer, 1)[0]);
    let gt = ground_truth(&w);
    let (score, b) = grade(&w, &diagnosis(&w, &gt.field, &gt.fix), 2, true);
    assert_eq!((score, b.investigation_penalty), (Bp(9_500), Bp(-500)));
    let (score, _) = grade(&w, &diagnosis(&w, &gt.field, &gt.fix), 2, false);
    assert_eq!(score, Bp(10_000), "offline grading has no investigation penalty");

    // Clamp at 0: nothing right, with the penalty.
    let mut nothing = diagnosis(&w, "", "");
    nothing.failure_category = Category::ArchitectureBug;
    nothing.root_cause_file = "train.log".into();
    let (score, b) = grade(&w, &nothing, 0, true);
    assert_eq!((score, b.investigation_penalty), (Bp(0), Bp(-500)));

    // Hard task: below 0.70, each shortfall is deducted again at half weight.
    let h = World::generate(TaskId::Hard, seeds_of(BugKind::TokenizerVersionDrift, 1)[0]);
    let gt = ground_truth(&h);
    let partial = diagnosis(&h, &gt.field, "");
    let (score, b) = grade(&h, &partial, 3, true);
    // components 0.15 + 0.25 + 0.30 = 0.70: not below 0.70, no penalty
    assert_eq!((score, b.hard_task_penalty), (Bp(7_000), Bp(0)));
    let no_field = diagnosis(&h, "tokenizer", "");
    let (score, b) = grade(&h, &no_field, 3, true);
    // 0.40 earned; shortfall 0.30 + 0.30 = 0.60; penalty -0.30
    assert_eq!((score, b.hard_task_penalty), (Bp(1_000), Bp(-3_000)));
    let mut wrong_category = no_field.clone();
    wrong_category.failure_category = Category::LabelMismatch;
    let (score, b) = grade(&h, &wrong_category, 3, true);
    // 0.25 earned; shortfall 0.75; penalty -0.375; clamped at 0
    assert_eq!((score, b.hard_task_penalty), (Bp(0), Bp(-3_750)));

    // Rounding toward zero: a right fix that also proposes one other fault's fix keeps half,
    // a seed alone (it would make validation a subset of test) earns nothing,
    // and the hard penalty halves an odd shortfall toward zero.
    let o = World::generate(TaskId::Medium, seeds_of(BugKind::DataLeakageOverlap, 1)[0]);
    assert_eq!(
        fix_award(&o, "Split once with random_state=42. Also lower the learning rate to 1e-4."),
        1_500
    );
    assert_eq!(fix_award(&o, "Use a fixed random_state=42."), 0);
    let label = World::generate(TaskId::Hard, seeds_of(BugKind::LabelEncoderMismatch, 1)[0]);
    let mut d = diagnosis(&label, "", "Reuse the same training label encoder at evaluation.");
    d.root_cause_file = "config.yaml".into();
    d.failure_category = Category::ConfigError;
    let (score, b) = grade(&label, &d, 3, true);
    // 0.30 earned (the fix); shortfall 0.70 -> penalty -0.35 -> score 0
    assert_eq!((score, b.hard_task_penalty, b.proposed_fix.awarded), (Bp(0), Bp(-3_500), Bp(3_000)));
}

/// The stuffing policy of §10.2 and the best constant canonical answers.
#[test]
fn constant_policies_score_what_the_spec_expects() {
    let all_fields: Vec<String> = BugKind::ALL
        .iter()
        .map(|&b| accepted_forms(&World::generate(b.task(), seeds_of(b, 1)[0]))[0].clone())
        .collect();
    let all_fixes: Vec<String> =
        BugKind::ALL.iter().map(|&b| canonical_fix(&World::generate(b.task(), seeds_of(b, 1)[0]))).collect();
    let stuffed = |task: TaskId| -> (Category, &'static str) {
        match task {
            TaskId::Easy => (Category::ConfigError, "config.yaml"),
            TaskId::Medium => (Category::DataLeakage, "preprocessing.py"),
            TaskId::Hard => (Category::EvaluationBug, "preprocessing.py"),
        }
    };
    let n = 600;
    let mut means = Vec::new();
    for (task, expected) in [(TaskId::Easy, 0.40), (TaskId::Medium, 0.35), (TaskId::Hard, 0.0667)] {
        let (category, file) = stuffed(task);
        let total: i64 = (0..n)
            .map(|seed| {
                let w = World::generate(task, seed);
                let d = Diagnosis {
                    failure_category: category,
                    root_cause_file: file.into(),
                    root_cause_field: all_fields.join(", "),
                    diagnosis: String::new(),
                    proposed_fix: all_fixes.join(" "),
                };
                grade(&w, &d, 3, true).0.0
            })
            .sum();
        let mean = total as f64 / n as f64 / 10_000.0;
        assert!((mean - expected).abs() < 0.03, "stuffing on {}: {mean:.3} vs {expected}", task.as_str());
        means.push(mean);
    }
    assert!(means.iter().sum::<f64>() / 3.0 < 0.30);

    // Submitting one bug's canonical answer in every episode of the task.
    // hard: 0.32, below the 0.37 of env_version 1, since its canonical fields now name the
    // episode's own identifiers (the evaluation tokenizer's variable, the results dict)
    for (task, expected) in [(TaskId::Easy, 0.60), (TaskId::Medium, 0.55), (TaskId::Hard, 0.32)] {
        let best = task
            .bug_pool()
            .iter()
            .map(|&bug| {
                let source = World::generate(task, seeds_of(bug, 1)[0]);
                let gt = ground_truth(&source);
                let total: i64 = (0..n)
                    .map(|seed| {
                        let w = World::generate(task, seed);
                        grade(&w, &gt.canonical_diagnosis(), 3, true).0.0
                    })
                    .sum();
                total as f64 / n as f64 / 10_000.0
            })
            .fold(0.0, f64::max);
        assert!(
            (best - expected).abs() < 0.05,
            "best constant answer on {}: {best:.3} vs {expected}",
            task.as_str()
        );
    }
}

#[test]
fn episode_rewards_and_budget_follow_the_rules() {
    let seed = seeds_of(BugKind::ExplodingLr, 1)[0];
    let options = mlops_debug_env::env::EpisodeOptions { reveal_answers: true, ..Default::default() };
    let mut ep = Episode::with_options(TaskId::Easy, seed, "e1", options);
    let r = |ep: &mut Episode, v: Value| -> StepOutcome { ep.step_json(&v).unwrap() };
    assert_eq!(r(&mut ep, json!({"action_type": "read_config"})).reward, Bp(200));
    assert_eq!(r(&mut ep, json!({"action_type": "read_config"})).reward, Bp(-200));
    assert_eq!(r(&mut ep, json!({"action_type": "read_logs", "log_filter": "epoch:1"})).reward, Bp(200));
    assert_eq!(r(&mut ep, json!({"action_type": "read_logs", "log_filter": " EPOCH:1-1 "})).reward, Bp(-200));
    assert_eq!(r(&mut ep, json!({"action_type": "read_logs", "log_filter": "grad"})).reward, Bp(0));
    let none = r(&mut ep, json!({"action_type": "read_logs", "log_filter": "no-such-text-anywhere"}));
    assert_eq!(none.reward, Bp(0));
    assert_eq!(
        r(&mut ep, json!({"action_type": "read_logs"})).reward,
        Bp(0),
        "new (absent) filter of a read artifact"
    );
    assert_eq!(
        r(&mut ep, json!({"action_type": "query_artifact", "artifact_name": "train.log"})).reward,
        Bp(-200)
    );
    assert_eq!(
        r(&mut ep, json!({"action_type": "query_artifact", "artifact_name": "model_card.json"})).reward,
        Bp(200)
    );
    assert_eq!(r(&mut ep, json!({"action_type": "query_artifact", "artifact_name": "config.yaml", "field_path": "optimizer.nope"})).reward, Bp(0));
    assert_eq!(
        r(&mut ep, json!({"action_type": "run_sanity_check", "sanity_check_type": "loss_trajectory"})).reward,
        Bp(100)
    );
    assert_eq!(
        r(&mut ep, json!({"action_type": "run_sanity_check", "sanity_check_type": "loss_trajectory"})).reward,
        Bp(0)
    );
    let state = ep.state();
    assert_eq!(state.step_count, 12);
    assert_eq!(state.duplicate_reads, 3);
    // +0.02 -0.02 +0.02 -0.02, three zero-reward steps, -0.02 +0.02, a query, +0.01, a repeat
    let rewards = [200, -200, 200, -200, 0, 0, 0, -200, 200, 0, 100, 0];
    assert_eq!(state.total_reward, Bp(rewards.iter().sum()));
    // Run out the budget: the last action executes and pays; no terminal reward after it.
    let mut last = None;
    for _ in 12..20 {
        last = Some(r(
            &mut ep,
            json!({"action_type": "run_sanity_check", "sanity_check_type": "class_balance"}),
        ));
    }
    let last = last.unwrap();
    assert!(last.done && last.observation.truncated);
    assert_eq!(last.reward, Bp(0));
    let end = serde_json::to_value(&last.observation.last_action_result).unwrap();
    assert_eq!(end["status"], "truncated");
    assert_eq!(end["score"], 0.0);
    assert_eq!(end["action_result"]["check"], "class_balance");
    assert_eq!(end["ground_truth"]["bug_type"], "exploding_lr", "revealed: this episode reveals answers");
    assert!(ep.step_json(&json!({"action_type": "read_config"})).is_err(), "EPISODE_DONE after the end");
    assert_eq!(ep.state().step_count, 20);
}

/// After the end the breakdown explains itself; what would reveal the answer
/// (expected location, missing concepts, ground truth) only when answers are revealed.
#[test]
fn the_breakdown_explains_and_reveals_only_when_asked() {
    let seed = seeds_of(BugKind::WrongSplitRatio, 1)[0];
    let submit = json!({"action_type": "submit_diagnosis", "failure_category": "preprocessing_bug",
        "root_cause_file": "preprocessing.py", "root_cause_field": "train_test_split.test_size",
        "diagnosis": "", "proposed_fix": "Set test_size=0.2 and fit the scaler on the training split only."});
    for reveal in [false, true] {
        let options = mlops_debug_env::env::EpisodeOptions { reveal_answers: reveal, ..Default::default() };
        let mut ep = Episode::with_options(TaskId::Medium, seed, "b", options);
        let end = ep.step_json(&submit).unwrap().observation.last_action_result;
        let end = serde_json::to_value(&end).unwrap();
        let (field, fix) = (&end["breakdown"]["root_cause_field"], &end["breakdown"]["proposed_fix"]);
        assert!(field["matched_location"].as_str().unwrap().contains("test_size="), "{field}");
        assert_eq!(fix["concepts_found"], json!(["training_gets_the_majority_of_the_data"]));
        assert_eq!(fix["other_faults_proposed"], json!(["data_leakage_scaler"]), "why the fix was halved");
        assert_eq!(fix["awarded"], json!(0.15));
        for hidden in [field.get("expected_location"), fix.get("concepts_missing"), end.get("ground_truth")] {
            assert_eq!(hidden.is_some(), reveal, "{end}");
        }
    }
}
