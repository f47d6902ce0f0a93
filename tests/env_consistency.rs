//! Property tests over 1,000 seeds per task (plus random seeds over the full
//! u64 range): the planted bug is present, every consistency rule of
//! environment.md §3 holds, no artifact carries a hint, YAML and JSON parse,
//! every accepted field form appears, and every check agrees with the
//! artifacts and with itself.

use mlops_debug_env::env::artifacts::{QueryAnswer, query, render};
use mlops_debug_env::env::catalogue::*;
use mlops_debug_env::env::checks::{self, Verdict};
use mlops_debug_env::env::fields::accepted_forms;
use mlops_debug_env::env::hints::find_hint;
use mlops_debug_env::env::models::CONFIGS;
use mlops_debug_env::env::world::{Distractor, World};
use serde_json::Value;

const SEEDS_PER_TASK: u64 = 1_000;

struct Rendered {
    config: String,
    log: String,
    stats: Value,
    code: String,
    eval: Value,
    card: Value,
}

fn rendered(w: &World) -> Rendered {
    Rendered {
        config: render(w, ArtifactName::Config),
        log: render(w, ArtifactName::TrainLog),
        stats: serde_json::from_str(&render(w, ArtifactName::DatasetStats)).expect("stats parse"),
        code: render(w, ArtifactName::Preprocessing),
        eval: serde_json::from_str(&render(w, ArtifactName::EvalResults)).expect("eval parses"),
        card: serde_json::from_str(&render(w, ArtifactName::ModelCard)).expect("card parses"),
    }
}

/// `key=value` pairs of a log line.
fn kv<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|t| t.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn num(s: &str) -> f64 {
    s.trim_end_matches('s').parse().unwrap_or_else(|_| panic!("number: {s}"))
}

struct EpochLine {
    train_loss: f64,
    val_acc: f64,
    train_acc: f64,
    grad_norm: f64,
}

fn epoch_lines(log: &str) -> Vec<EpochLine> {
    log.lines()
        .filter(|l| l.contains(" epoch ") && l.contains("train_loss="))
        .map(|l| EpochLine {
            train_loss: num(kv(l, "train_loss").unwrap()),
            val_acc: num(kv(l, "val_acc").unwrap()),
            train_acc: num(kv(l, "train_acc").unwrap()),
            grad_norm: num(kv(l, "grad_norm").unwrap()),
        })
        .collect()
}

fn header_value(log: &str, key: &str) -> f64 {
    log.lines().filter_map(|l| kv(l, key)).map(num).next().unwrap_or_else(|| panic!("header {key}"))
}

fn yaml_value<'a>(doc: &'a yaml_rust2::Yaml, path: &str) -> &'a yaml_rust2::Yaml {
    path.split('.').fold(doc, |node, key| &node[key])
}

fn f(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn m(result: &checks::CheckResult) -> Value {
    serde_json::to_value(&result.measurements).unwrap()
}

/// Whether `ident` occurs as a whole identifier ([A-Za-z0-9_] run) in `text`.
fn has_identifier(text: &str, ident: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|t| t.eq_ignore_ascii_case(ident))
}

/// The checks each bug moves, and to what; every other check passes (class_balance
/// warns exactly when the class-imbalance distractor is present).
fn expected_signals(bug: BugKind) -> &'static [(CheckKind, Verdict)] {
    use CheckKind::*;
    use Verdict::*;
    match bug {
        BugKind::ExplodingLr => &[(LossTrajectory, Anomaly), (GradientNorms, Anomaly)],
        BugKind::WrongOptimizer => &[(LossTrajectory, Anomaly), (GradientNorms, Anomaly)],
        BugKind::BatchSizeOverflow => &[(LossTrajectory, Warn)],
        BugKind::DataLeakageScaler => &[(DataLeakage, Fail), (FeatureStatistics, Anomaly)],
        BugKind::DataLeakageOverlap => &[(DataLeakage, Fail), (MetricGapAnalysis, Anomaly)],
        BugKind::WrongSplitRatio => &[(LossTrajectory, Anomaly)],
        BugKind::LabelEncoderMismatch => &[(LabelConsistency, Fail), (MetricGapAnalysis, Anomaly)],
        BugKind::SilentMetricSwap => &[(MetricGapAnalysis, Anomaly)],
        BugKind::TokenizerVersionDrift => &[(EncoderVersionMatch, Fail), (MetricGapAnalysis, Anomaly)],
    }
}

fn check_episode(task: TaskId, seed: u64) {
    let w = World::generate(task, seed);
    let ctx = format!("task {} seed {seed} bug {}", task.as_str(), w.bug.as_str());
    let r = rendered(&w);
    let config = w.config();
    let chance = 1.0 / config.num_classes() as f64;
    assert!(task.bug_pool().contains(&w.bug), "{ctx}");
    assert!(task.modalities().contains(&config.modality), "{ctx}");

    // ---- every artifact parses and carries no hint --------------------------
    let yaml = yaml_rust2::YamlLoader::load_from_str(&r.config).unwrap_or_else(|e| panic!("{ctx}: yaml {e}"));
    let yaml = &yaml[0];
    for a in ArtifactName::ALL {
        let text = render(&w, a);
        assert_eq!(text, render(&w, a), "{ctx}: {} renders identically twice", a.as_str());
        if let Some(h) = find_hint(&text) {
            panic!("{ctx}: hint {h:?} in {}", a.as_str());
        }
    }

    // ---- the log, config, stats and card agree --------------------------------
    let rows = epoch_lines(&r.log);
    let lr = yaml_value(yaml, "optimizer.learning_rate").as_f64().unwrap();
    let batch = yaml_value(yaml, "training.batch_size").as_i64().unwrap() as f64;
    assert_eq!(header_value(&r.log, "lr"), lr, "{ctx}: log header lr");
    assert_eq!(header_value(&r.log, "batch_size"), batch, "{ctx}: log header batch size");
    assert_eq!(f(&r.card["training"]["optimizer"]["lr"]), lr, "{ctx}");
    assert_eq!(f(&r.card["training"]["batch_size"]), batch, "{ctx}");
    let n_train = f(&r.stats["splits"]["train"]);
    let n_val = f(&r.stats["splits"]["val"]);
    let n_test = f(&r.stats["splits"]["test"]);
    assert_eq!(header_value(&r.log, "train"), n_train, "{ctx}");
    assert_eq!(header_value(&r.log, "val"), n_val, "{ctx}");
    assert_eq!(header_value(&r.log, "test"), n_test, "{ctx}");
    assert!(n_train >= 2_000.0, "{ctx}: training split {n_train}");
    assert_eq!(f(&r.eval["num_samples"]["val"]), n_val, "{ctx}");
    for split in ["train", "val", "test"] {
        let listed: f64 = r.stats["class_counts"][split].as_object().unwrap().values().map(f).sum();
        let others = r.stats.get("other_classes").map_or(0.0, |o| f(&o[split]["total"]));
        assert_eq!(listed + others, f(&r.stats["splits"][split]), "{ctx}: class counts of {split}");
        assert!(r.stats["class_counts"][split].as_object().unwrap().len() <= 10, "{ctx}");
    }
    assert_eq!(f(&r.eval["final_epoch"]), rows.len() as f64, "{ctx}: final epoch");
    assert_eq!(r.card["classes"].as_array().unwrap().len(), config.num_classes(), "{ctx}");
    let (log_best, log_best_epoch) =
        rows.iter().enumerate().fold((f64::NEG_INFINITY, 0), |(b, at), (i, r)| {
            if r.val_acc > b { (r.val_acc, i + 1) } else { (b, at) }
        });
    let footer = r.log.lines().find(|l| l.contains("best val_acc=")).unwrap();
    assert_eq!(num(kv(footer, "val_acc").unwrap().trim_end_matches(';')), log_best, "{ctx}");
    assert!(footer.contains(&format!("at epoch {log_best_epoch};")), "{ctx}: {footer}");
    assert!(r.eval["checkpoint"].as_str().unwrap().contains(&format!("epoch_{log_best_epoch:03}")), "{ctx}");
    let val = f(&r.eval["metrics"]["val_accuracy"]);
    let test = f(&r.eval["metrics"]["test_accuracy"]);
    if w.bug != BugKind::SilentMetricSwap {
        assert!(test <= val, "{ctx}: test {test} above val {val}");
    }

    // ---- healthy ranges for everything not planted -----------------------------
    let opt = yaml_value(yaml, "optimizer.name").as_str().unwrap().to_string();
    let max_lr = if opt == "sgd" { 0.1 } else { 3e-3 };
    if w.bug != BugKind::ExplodingLr {
        assert!((1e-6..=max_lr).contains(&lr), "{ctx}: lr {lr}");
    }
    if opt == "sgd" && w.bug != BugKind::WrongOptimizer {
        assert!(yaml_value(yaml, "optimizer.momentum").as_f64().unwrap() <= 0.9, "{ctx}");
    }
    if w.bug != BugKind::BatchSizeOverflow {
        assert!(batch <= n_train / 8.0, "{ctx}: batch {batch}");
    }
    let code_test_size = r
        .code
        .lines()
        .find_map(|l| l.split("test_size=").nth(1))
        .map(|s| num(s.split(',').next().unwrap()))
        .unwrap();
    if w.bug != BugKind::WrongSplitRatio {
        assert!((0.1..=0.3).contains(&code_test_size), "{ctx}: test_size {code_test_size}");
    }
    if w.bug != BugKind::DataLeakageOverlap {
        assert!(!r.code.contains("random_state=None"), "{ctx}");
        assert!(r.stats["seed"].is_u64(), "{ctx}");
    }
    if task == TaskId::Medium {
        assert!(r.stats.get("feature_stats").is_some(), "{ctx}: medium pipelines have a fitted normaliser");
        assert!(r.code.contains(".fit_transform("), "{ctx}");
    }
    if task == TaskId::Hard {
        assert!(config.tokenizer.is_some(), "{ctx}: hard uses text models only");
    }

    // ---- the planted bug is present ----------------------------------------------
    match w.bug {
        BugKind::ExplodingLr => {
            assert!((10.0..=100.0).contains(&lr), "{ctx}: lr {lr}");
            let finite: Vec<&EpochLine> = rows.iter().filter(|r| r.train_loss.is_finite()).collect();
            assert!(finite.windows(2).all(|p| p[1].train_loss > p[0].train_loss), "{ctx}: loss grows");
            assert!(finite.windows(2).all(|p| p[1].grad_norm > p[0].grad_norm), "{ctx}: grad norms grow");
            assert!(rows.last().unwrap().train_loss.is_nan(), "{ctx}: log reaches nan");
            assert!(r.log.contains("ERROR"), "{ctx}: halts with an error line");
            assert!(f(&r.eval["metrics"]["val_loss"]).is_finite(), "{ctx}: the epoch-1 checkpoint is finite");
            assert!(val < chance + 0.06, "{ctx}: diverged model's accuracy");
        }
        BugKind::WrongOptimizer => {
            assert_eq!(opt, "sgd", "{ctx}");
            assert!(yaml_value(yaml, "optimizer.momentum").as_f64().unwrap() >= 0.99, "{ctx}");
            let reversals = rows.windows(3).filter(|p| {
                (p[1].train_loss - p[0].train_loss > 0.0) != (p[2].train_loss - p[1].train_loss > 0.0)
            });
            assert_eq!(reversals.count(), rows.len() - 2, "{ctx}: loss oscillates every epoch");
            assert!(rows.last().unwrap().train_loss / rows[0].train_loss > 0.7, "{ctx}: without converging");
            assert!(rows.iter().all(|r| r.grad_norm > 10.0), "{ctx}: large grad norms");
        }
        BugKind::BatchSizeOverflow => {
            assert!(batch > n_train, "{ctx}");
            assert_eq!(header_value(&r.log, "steps_per_epoch"), 1.0, "{ctx}");
            let ratio = rows.last().unwrap().train_loss / rows[0].train_loss;
            assert!(ratio > 0.8 && ratio < 1.0, "{ctx}: loss falls slowly ({ratio})");
            assert!(log_best < config.accuracy.0 - 0.1, "{ctx}: far below a healthy run");
            assert!(rows.last().unwrap().train_acc < config.accuracy.0 - 0.1, "{ctx}");
        }
        BugKind::DataLeakageScaler => {
            let fs = &r.stats["feature_stats"];
            assert_eq!(fs["train"], fs["val"], "{ctx}: identical train and val statistics");
            let scale_line =
                r.code.lines().position(|l| l.trim_start().starts_with("X = ") && l.contains("(X)")).unwrap();
            let split_line = r.code.lines().position(|l| l.contains("train, val, test = ")).unwrap();
            assert!(scale_line < split_line, "{ctx}: normaliser fitted before the split");
            assert!(val - test <= 0.0125 && val > config.accuracy.0 - 0.06, "{ctx}: inflated and close");
        }
        BugKind::DataLeakageOverlap => {
            assert!(f(&r.stats["overlap"]["train_val"]) > 0.0, "{ctx}");
            assert_eq!(r.code.matches("random_state=None").count(), 2, "{ctx}");
            assert!(r.stats["seed"].is_null(), "{ctx}");
            assert!(val - test > 0.08, "{ctx}: val far above test");
        }
        BugKind::WrongSplitRatio => {
            assert!((0.7..=0.9).contains(&code_test_size), "{ctx}");
            assert!(n_train < n_val + n_test, "{ctx}: training on the minority");
            assert!(rows.last().unwrap().train_acc >= 0.99, "{ctx}: train accuracy high");
            assert!(val - test < 0.02 && val < log_best + 1e-9, "{ctx}: val and test low and close");
        }
        BugKind::LabelEncoderMismatch => {
            let res = checks::run(&w, CheckKind::LabelConsistency);
            let mm = m(&res);
            let train: Vec<&str> =
                mm["train_mapping"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            let eval: Vec<&str> =
                mm["eval_mapping"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert!(train.iter().zip(&eval).all(|(a, b)| a != b), "{ctx}: a derangement");
            // accuracy = sum over classes of share x P(model predicts the class the eval mapping assigns)
            let k = train.len() as f64;
            let a = w.outcome.true_val_acc;
            let counts = &w.class_counts[1];
            let total: f64 = counts.iter().map(|&c| c as f64).sum();
            let expected: f64 = (0..train.len())
                .map(|c| {
                    let assigned = eval.iter().position(|n| *n == train[c]).unwrap();
                    let p = if assigned == c { a } else { (1.0 - a) / (k - 1.0) };
                    counts[c] as f64 / total * p
                })
                .sum();
            // the reported accuracy is a count over the split (one example of rounding)
            let tolerance = 1.5e-4f64.max(1.0 / w.n_val as f64);
            assert!(
                (expected - val).abs() < tolerance,
                "{ctx}: eval accuracy {val} vs recomputed {expected}"
            );
            assert!(val < log_best - 0.05 && test < log_best - 0.05, "{ctx}");
        }
        BugKind::SilentMetricSwap => {
            assert!(test > val, "{ctx}");
            assert_eq!(test, log_best, "{ctx}: reported test equals the log's best val");
            assert!((0.005..=0.0401).contains(&(test - val)), "{ctx}");
        }
        BugKind::TokenizerVersionDrift => {
            let train_v = r.card["tokenizer"]["version"].as_str().unwrap();
            let eval_v = r.card["evaluation"]["tokenizer_version"].as_str().unwrap();
            assert_ne!(train_v, eval_v, "{ctx}");
            assert!(r.code.contains(&format!("version=\"{train_v}\"")), "{ctx}");
            assert!(r.code.contains(&format!("version=\"{eval_v}\"")), "{ctx}");
            let mm = m(&checks::run(&w, CheckKind::EncoderVersionMatch));
            assert_eq!(mm["train_version"], train_v, "{ctx}");
            assert_eq!(mm["eval_version"], eval_v, "{ctx}");
            assert_eq!(
                mm["tokens_unknown_to_eval_tokenizer"],
                r.card["evaluation"]["tokens_unknown_to_eval_tokenizer"],
                "{ctx}"
            );
            assert!(f(&mm["tokens_unknown_to_eval_tokenizer"]) >= 100.0, "{ctx}: hundreds of tokens");
            let unk = w.tokenizer.unwrap().eval_unk_rate;
            let drop = (log_best - val) / log_best;
            assert!((drop / unk) > 0.85 && (drop / unk) < 1.15, "{ctx}: drop in proportion to [UNK]");
        }
    }
    if task == TaskId::Hard {
        let loss = checks::run(&w, CheckKind::LossTrajectory);
        assert_eq!(loss.result, Verdict::Pass, "{ctx}: the training log looks healthy");
    }

    // ---- distractors ----------------------------------------------------------
    // one to three, the data's own class imbalance among them where it has one
    assert!((1..=3).contains(&w.distractors.len()), "{ctx}");

    // ---- checks: expected verdicts, repeatable, and equal to the artifacts ------
    let signals = expected_signals(w.bug);
    let imbalance = w.distractors.contains(&Distractor::ClassImbalance);
    for kind in CheckKind::ALL {
        let res = checks::run(&w, kind);
        let json = |r: &checks::CheckResult| serde_json::to_string(r).unwrap();
        assert_eq!(json(&res), json(&checks::run(&w, kind)), "{ctx}: {} repeats identically", kind.as_str());
        let expected = signals.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v).unwrap_or(
            if kind == CheckKind::ClassBalance && imbalance { Verdict::Warn } else { Verdict::Pass },
        );
        assert_eq!(res.result, expected, "{ctx}: {} reads {:?}", kind.as_str(), res.reading);
        for word in [w.bug.as_str(), "leak", "swap", "drift", "mismatch"] {
            assert!(!res.reading.contains(word), "{ctx}: reading names {word}");
        }
    }
    let grad = m(&checks::run(&w, CheckKind::GradientNorms));
    assert_eq!(f(&grad["first_grad_norm"]), rows[0].grad_norm, "{ctx}");
    let last = rows.last().unwrap();
    let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
    assert!(same(f(&grad["last_grad_norm"]), last.grad_norm), "{ctx}");
    let loss = m(&checks::run(&w, CheckKind::LossTrajectory));
    assert_eq!(f(&loss["first_train_loss"]), rows[0].train_loss, "{ctx}");
    assert!(same(f(&loss["last_train_loss"]), last.train_loss), "{ctx}");
    let gap = m(&checks::run(&w, CheckKind::MetricGapAnalysis));
    assert_eq!(f(&gap["eval_val_accuracy"]), val, "{ctx}");
    assert_eq!(f(&gap["eval_test_accuracy"]), test, "{ctx}");
    assert_eq!(f(&gap["log_best_val_accuracy"]), log_best, "{ctx}");
    let leak = m(&checks::run(&w, CheckKind::DataLeakage));
    assert_eq!(leak["train_val_overlap"], r.stats["overlap"]["train_val"], "{ctx}");
    assert_eq!(leak["val_test_overlap"], r.stats["overlap"]["val_test"], "{ctx}");
    let bal = m(&checks::run(&w, CheckKind::ClassBalance));
    let train_counts = &r.stats["class_counts"]["train"];
    for (name, count) in [("largest_class", "largest_count"), ("smallest_class", "smallest_count")] {
        let class = bal[name].as_str().unwrap();
        match train_counts.get(class) {
            Some(c) => assert_eq!(c, &bal[count], "{ctx}"),
            None => {
                let others = &r.stats["other_classes"]["train"];
                assert!(others["min"] == bal[count] || others["max"] == bal[count], "{ctx}");
            }
        }
    }
    let feat = m(&checks::run(&w, CheckKind::FeatureStatistics));
    let source = feat["source"].as_str().unwrap();
    assert_eq!(feat["train_mean"], r.stats[source]["train"]["mean"], "{ctx}");
    assert_eq!(feat["val_std"], r.stats[source]["val"]["std"], "{ctx}");
    let labels = m(&checks::run(&w, CheckKind::LabelConsistency));
    assert_eq!(labels["train_mapping"], r.card["classes"], "{ctx}");

    // ---- every accepted field form appears in the artifacts ----------------------
    let bug_file = render(&w, w.bug.file());
    for written in accepted_forms(&w) {
        let form = mlops_debug_env::env::fields::normalise(&written);
        let as_path = ArtifactName::ALL
            .iter()
            .filter(|a| a.is_structured())
            .any(|&a| matches!(query(&w, a, &form), QueryAnswer::Found(_)));
        let as_code = form.split_once('.').is_some_and(|(a, b)| {
            !b.contains('.') && has_identifier(&bug_file, a) && has_identifier(&bug_file, b)
        });
        let as_identifier =
            !form.contains('.') && ArtifactName::ALL.iter().any(|&a| has_identifier(&render(&w, a), &form));
        assert!(as_path || as_code || as_identifier, "{ctx}: field form {form} appears nowhere");
    }
}

#[test]
fn every_episode_is_consistent_for_the_first_thousand_seeds_of_every_task() {
    for task in TaskId::ALL {
        for seed in 0..SEEDS_PER_TASK {
            check_episode(task, seed);
        }
    }
}

#[test]
fn bug_is_present_and_artifacts_consistent_for_random_seeds() {
    use proptest::prelude::*;
    let mut runner =
        proptest::test_runner::TestRunner::new(ProptestConfig { cases: 300, ..ProptestConfig::default() });
    runner
        .run(&(0usize..3, any::<u64>()), |(t, seed)| {
            check_episode(TaskId::ALL[t], seed);
            Ok(())
        })
        .unwrap();
}

#[test]
fn variety_of_configurations_is_what_the_spec_asks() {
    let text = CONFIGS.iter().filter(|c| c.tokenizer.is_some()).count();
    assert!(CONFIGS.len() >= 12, "{} configurations", CONFIGS.len());
    assert!(text >= 6, "{text} text configurations");
    // code artifacts vary in surface form: many distinct code shapes per bug
    let mut shapes = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let w = World::generate(TaskId::Hard, seed);
        let code = render(&w, ArtifactName::Preprocessing);
        let shape: String = code.lines().map(|l| l.split('(').next().unwrap_or("")).collect();
        shapes.insert(shape);
    }
    assert!(shapes.len() > 100, "only {} code shapes in 200 hard episodes", shapes.len());
}
