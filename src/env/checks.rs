//! The eight sanity checks. Each reads only the world (and the curves the log
//! is printed from), so its numbers equal the artifacts' to the last digit. A
//! check reports evidence; it never names a bug, a field or a fix.

use serde::Serialize;

use super::action::ActionType;
use super::catalogue::*;
use super::curves::{EpochRow, best_val, curves};
use super::num::{Num, quantise};
use super::world::{Normaliser, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "WARN")]
    Warn,
    #[serde(rename = "ANOMALY")]
    Anomaly,
    #[serde(rename = "FAIL")]
    Fail,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    pub action_type: ActionType,
    pub check: CheckKind,
    pub result: Verdict,
    pub measurements: Measurements,
    pub reading: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Measurements {
    NotApplicable {
        not_applicable: bool,
    },
    Labels {
        train_mapping: Vec<&'static str>,
        eval_mapping: Vec<&'static str>,
        differing_indices: Vec<u8>,
    },
    Leakage {
        train_val_overlap: u32,
        train_test_overlap: u32,
        val_test_overlap: u32,
        normaliser: &'static str,
        normaliser_fitted_on: &'static str,
    },
    Gradients {
        epochs: usize,
        first_grad_norm: Num,
        last_grad_norm: Num,
        max_grad_norm: Num,
        growth_ratio: Num,
        non_finite: usize,
    },
    Balance {
        split: &'static str,
        num_classes: usize,
        largest_class: &'static str,
        largest_count: u32,
        smallest_class: &'static str,
        smallest_count: u32,
        max_min_ratio: Num,
    },
    Features {
        source: &'static str,
        train_mean: Num,
        train_std: Num,
        val_mean: Num,
        val_std: Num,
        mean_shift_in_train_std: Num,
        identical: bool,
    },
    Versions {
        train_version: String,
        eval_version: String,
        model_card_version: String,
        tokens_unknown_to_eval_tokenizer: u32,
        eval_unk_rate: Num,
    },
    Loss {
        epochs: usize,
        first_train_loss: Num,
        last_train_loss: Num,
        min_train_loss: Num,
        last_over_first: Num,
        direction_reversals: usize,
        reversal_share: Num,
        non_finite: usize,
    },
    Metrics {
        eval_val_accuracy: Num,
        eval_test_accuracy: Num,
        log_best_val_accuracy: Num,
        log_best_val_epoch: u16,
        val_minus_test: Num,
        log_best_minus_best_eval: Num,
    },
}

fn q4(x: f64) -> f64 {
    quantise(x, 4)
}

fn result(check: CheckKind, result: Verdict, measurements: Measurements, reading: String) -> CheckResult {
    CheckResult { action_type: ActionType::RunSanityCheck, check, result, measurements, reading }
}

pub fn run(w: &World, check: CheckKind) -> CheckResult {
    match check {
        CheckKind::LabelConsistency => label_consistency(w),
        CheckKind::DataLeakage => data_leakage(w),
        CheckKind::GradientNorms => gradient_norms(&curves(w)),
        CheckKind::ClassBalance => class_balance(w),
        CheckKind::FeatureStatistics => feature_statistics(w),
        CheckKind::EncoderVersionMatch => encoder_version_match(w),
        CheckKind::LossTrajectory => loss_trajectory(&curves(w)),
        CheckKind::MetricGapAnalysis => metric_gap_analysis(w, &curves(w)),
    }
}

fn label_consistency(w: &World) -> CheckResult {
    let classes = w.classes();
    let train_mapping: Vec<&'static str> = classes.to_vec();
    let eval_mapping: Vec<&'static str> = w.eval_order.iter().map(|&i| classes[i as usize]).collect();
    let differing: Vec<u8> =
        (0..classes.len()).filter(|&i| train_mapping[i] != eval_mapping[i]).map(|i| i as u8).collect();
    let k = classes.len();
    let (verdict, reading) = if differing.is_empty() {
        (Verdict::Pass, format!("train and eval label mappings agree on all {k} class indices"))
    } else {
        (
            Verdict::Fail,
            format!("train and eval label mappings differ at {} of {k} class indices", differing.len()),
        )
    };
    result(
        CheckKind::LabelConsistency,
        verdict,
        Measurements::Labels { train_mapping, eval_mapping, differing_indices: differing },
        reading,
    )
}

fn data_leakage(w: &World) -> CheckResult {
    let (normaliser, fitted_on) = match w.normaliser {
        Normaliser::None => ("none", "not_fitted"),
        Normaliser::FixedConstants => ("imagenet_mean_std", "not_fitted"),
        Normaliser::StandardScaler | Normaliser::ChannelStats => (
            if w.normaliser == Normaliser::StandardScaler { "StandardScaler" } else { "ChannelNormalizer" },
            if w.normaliser_fitted_before_split { "all_data_before_split" } else { "train_split" },
        ),
    };
    let (tv, vt) = (w.overlap_train_val, w.overlap_val_test);
    let before = w.normaliser_fitted_before_split;
    let verdict = if tv > 0 || vt > 0 || before { Verdict::Fail } else { Verdict::Pass };
    let reading = format!(
        "split overlap: train/val {tv}, train/test 0, val/test {vt}; normaliser {normaliser} fitted on {}",
        fitted_on.replace('_', " ")
    );
    result(
        CheckKind::DataLeakage,
        verdict,
        Measurements::Leakage {
            train_val_overlap: tv,
            train_test_overlap: 0,
            val_test_overlap: vt,
            normaliser,
            normaliser_fitted_on: fitted_on,
        },
        reading,
    )
}

fn gradient_norms(rows: &[EpochRow]) -> CheckResult {
    let norms: Vec<f64> = rows.iter().map(|r| r.grad_norm).collect();
    let non_finite = norms.iter().filter(|g| !g.is_finite()).count();
    let first = norms[0];
    let last = *norms.last().expect("at least one epoch");
    let max = norms.iter().cloned().fold(f64::NEG_INFINITY, |a, b| if b > a || b.is_nan() { b } else { a });
    let growth = if last.is_finite() { q4(last / first) } else { f64::INFINITY };
    let verdict = if non_finite > 0 || max > GRAD_NORM_ANOMALY || growth > GRAD_NORM_GROWTH_ANOMALY {
        Verdict::Anomaly
    } else if max > GRAD_NORM_WARN {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    let reading = format!(
        "gradient norm {} at epoch 1, {} at epoch {}, max {}; {non_finite} non-finite",
        super::num::fixed(first, 2),
        super::num::fixed(last, 2),
        rows.len(),
        super::num::fixed(max, 2)
    );
    result(
        CheckKind::GradientNorms,
        verdict,
        Measurements::Gradients {
            epochs: rows.len(),
            first_grad_norm: Num(first),
            last_grad_norm: Num(last),
            max_grad_norm: Num(max),
            growth_ratio: Num(growth),
            non_finite,
        },
        reading,
    )
}

fn class_balance(w: &World) -> CheckResult {
    let classes = w.classes();
    let counts = &w.class_counts[0];
    let (mut hi, mut lo) = (0usize, 0usize);
    for i in 0..counts.len() {
        if counts[i] > counts[hi] {
            hi = i;
        }
        if counts[i] < counts[lo] {
            lo = i;
        }
    }
    let ratio = q4(counts[hi] as f64 / counts[lo] as f64);
    let verdict = if ratio > CLASS_BALANCE_ANOMALY {
        Verdict::Anomaly
    } else if ratio > CLASS_BALANCE_WARN {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    let reading = format!(
        "train split: largest class {} ({}), smallest {} ({}), ratio {}",
        classes[hi],
        counts[hi],
        classes[lo],
        counts[lo],
        super::num::fixed(ratio, 4)
    );
    result(
        CheckKind::ClassBalance,
        verdict,
        Measurements::Balance {
            split: "train",
            num_classes: counts.len(),
            largest_class: classes[hi],
            largest_count: counts[hi],
            smallest_class: classes[lo],
            smallest_count: counts[lo],
            max_min_ratio: Num(ratio),
        },
        reading,
    )
}

fn feature_statistics(w: &World) -> CheckResult {
    let (source, train, val) = match (w.feature_stats, w.token_lengths) {
        (Some(f), _) => ("feature_stats", (f[0].mean, f[0].std), (f[1].mean, f[1].std)),
        (None, Some(t)) => ("token_lengths", (t[0].mean, t[0].std), (t[1].mean, t[1].std)),
        (None, None) => {
            return result(
                CheckKind::FeatureStatistics,
                Verdict::Pass,
                Measurements::NotApplicable { not_applicable: true },
                "no per-split feature statistics recorded".into(),
            );
        }
    };
    let identical = train == val;
    let shift = q4((val.0 - train.0).abs() / train.1);
    let verdict = if identical || shift > FEATURE_SHIFT_ANOMALY {
        Verdict::Anomaly
    } else if shift > FEATURE_SHIFT_WARN {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    let reading = format!(
        "{source}: train mean {} std {}, val mean {} std {}; val mean shifted by {} train std{}",
        super::num::fixed(train.0, 4),
        super::num::fixed(train.1, 4),
        super::num::fixed(val.0, 4),
        super::num::fixed(val.1, 4),
        super::num::fixed(shift, 4),
        if identical { "; train and val statistics are identical" } else { "" }
    );
    result(
        CheckKind::FeatureStatistics,
        verdict,
        Measurements::Features {
            source,
            train_mean: Num(train.0),
            train_std: Num(train.1),
            val_mean: Num(val.0),
            val_std: Num(val.1),
            mean_shift_in_train_std: Num(shift),
            identical,
        },
        reading,
    )
}

fn encoder_version_match(w: &World) -> CheckResult {
    let Some(t) = w.tokenizer else {
        return result(
            CheckKind::EncoderVersionMatch,
            Verdict::Pass,
            Measurements::NotApplicable { not_applicable: true },
            "no tokenizer in this pipeline".into(),
        );
    };
    let same = t.train_version == t.eval_version;
    let reading = format!(
        "tokenizer version {} in training and model card, {} in evaluation; {} training tokens unknown to the eval tokenizer",
        t.train_version.text(),
        t.eval_version.text(),
        t.tokens_missing_in_eval()
    );
    result(
        CheckKind::EncoderVersionMatch,
        if same { Verdict::Pass } else { Verdict::Fail },
        Measurements::Versions {
            train_version: t.train_version.text(),
            eval_version: t.eval_version.text(),
            model_card_version: t.train_version.text(),
            tokens_unknown_to_eval_tokenizer: t.tokens_missing_in_eval(),
            eval_unk_rate: Num(t.eval_unk_rate),
        },
        reading,
    )
}

fn loss_trajectory(rows: &[EpochRow]) -> CheckResult {
    let losses: Vec<f64> = rows.iter().map(|r| r.train_loss).collect();
    let non_finite = losses.iter().filter(|l| !l.is_finite()).count();
    let first = losses[0];
    let last = *losses.last().expect("at least one epoch");
    let min = losses.iter().cloned().filter(|l| l.is_finite()).fold(f64::INFINITY, f64::min);
    let ratio = if last.is_finite() { q4(last / first) } else { f64::NAN };
    let changes: Vec<f64> = losses.windows(2).map(|p| p[1] - p[0]).filter(|d| d.is_finite()).collect();
    let reversals = changes.windows(2).filter(|p| (p[0] > 0.0) != (p[1] > 0.0)).count();
    let possible = changes.len().saturating_sub(1).max(1);
    let share = q4(reversals as f64 / possible as f64);
    let (verdict, pattern) = if non_finite > 0 || ratio > LOSS_DIVERGENCE_RATIO {
        (Verdict::Anomaly, "rising or non-finite")
    } else if share >= LOSS_OSCILLATION_REVERSALS && ratio > LOSS_OSCILLATION_RATIO {
        (Verdict::Anomaly, "alternating up and down without settling")
    } else if last < LOSS_COLLAPSE {
        (Verdict::Anomaly, "near zero at the end")
    } else if ratio > LOSS_PLATEAU_RATIO {
        (Verdict::Warn, "barely falling")
    } else {
        (Verdict::Pass, "falling steadily")
    };
    let reading = format!(
        "training loss {} at epoch 1, {} at epoch {}: {pattern}; of its {} epoch-to-epoch changes, {reversals} reverse the direction of the one before",
        super::num::fixed(first, 4),
        super::num::fixed(last, 4),
        rows.len(),
        changes.len()
    );
    result(
        CheckKind::LossTrajectory,
        verdict,
        Measurements::Loss {
            epochs: rows.len(),
            first_train_loss: Num(first),
            last_train_loss: Num(last),
            min_train_loss: Num(min),
            last_over_first: Num(ratio),
            direction_reversals: reversals,
            reversal_share: Num(share),
            non_finite,
        },
        reading,
    )
}

fn metric_gap_analysis(w: &World, rows: &[EpochRow]) -> CheckResult {
    let (val, test) = (w.outcome.eval_val_acc, w.outcome.eval_test_acc);
    let (best, best_epoch) = best_val(rows);
    let gap = q4(val - test);
    let drop = q4(best - val.max(test));
    let verdict = if test > val || gap > VAL_TEST_GAP_ANOMALY || drop > EVAL_DROP_ANOMALY {
        Verdict::Anomaly
    } else if gap > VAL_TEST_GAP_WARN || drop > EVAL_DROP_WARN {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    let reading = format!(
        "eval val accuracy {}, test {}; the log's best val accuracy {} at epoch {best_epoch}",
        super::num::fixed(val, 4),
        super::num::fixed(test, 4),
        super::num::fixed(best, 4)
    );
    result(
        CheckKind::MetricGapAnalysis,
        verdict,
        Measurements::Metrics {
            eval_val_accuracy: Num(val),
            eval_test_accuracy: Num(test),
            log_best_val_accuracy: Num(best),
            log_best_val_epoch: best_epoch,
            val_minus_test: Num(gap),
            log_best_minus_best_eval: Num(drop),
        },
        reading,
    )
}
