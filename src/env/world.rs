//! The latent run: everything true about one episode's training run, drawn
//! from `(task, seed)`. Every artifact and every sanity check reads only this
//! (and the per-epoch curves derived from it in `curves.rs`), so they agree.

use super::catalogue::CLASS_BALANCE_WARN;
use super::catalogue::{BugKind, Modality, TaskId};
use super::curves::curves;
use super::models::{CONFIGS, ModelConfig, configs_for};
use super::num::{Sci2, quantise};
use super::rng::{Purpose, Stream};
use super::timeline::timeline;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    Sgd,
    Adam,
    AdamW,
}

impl OptimizerKind {
    pub const fn config_name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
    pub const fn display(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "SGD",
            OptimizerKind::Adam => "Adam",
            OptimizerKind::AdamW => "AdamW",
        }
    }
    pub const fn is_adaptive(self) -> bool {
        !matches!(self, OptimizerKind::Sgd)
    }
    /// Upper end of the healthy learning-rate range (the lower end is 1e-6).
    pub const fn max_healthy_lr(self) -> f64 {
        if self.is_adaptive() { 3e-3 } else { 0.1 }
    }
}

pub const GPUS: [&str; 4] = ["NVIDIA A100-SXM4-40GB", "NVIDIA A10G", "NVIDIA L4", "NVIDIA H100 80GB HBM3"];
/// Memory of each GPU in GB, in GPUS order.
pub const GPU_MEMORY_GB: [f64; 4] = [40.0, 24.0, 24.0, 80.0];

/// Memory a training step needs for `micro_batch` samples, in GB: weights,
/// gradients and optimiser state (4 + 4 + 8 bytes a parameter for Adam/AdamW,
/// 4 + 4 + 4 for SGD with momentum), activations, and 1.5 GB of CUDA context and workspace.
pub fn step_memory_gb(
    config: &ModelConfig,
    parameters: u64,
    adaptive: bool,
    bf16: bool,
    micro_batch: u32,
) -> f64 {
    let states = parameters as f64 * if adaptive { 16.0 } else { 12.0 } / 1e9;
    let activations = config.activation_mb * if bf16 { 1.0 } else { 2.0 } * micro_batch as f64 / 1e3;
    states + activations + 1.5
}

pub const MIN_HEALTHY_LR: f64 = 1e-6;
pub const MAX_HEALTHY_MOMENTUM: f64 = 0.95;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerKind {
    Cosine,
    Linear,
    Step,
    Constant,
}

impl SchedulerKind {
    pub const fn name(self) -> &'static str {
        match self {
            SchedulerKind::Cosine => "cosine",
            SchedulerKind::Linear => "linear",
            SchedulerKind::Step => "step",
            SchedulerKind::Constant => "constant",
        }
    }
}

/// How the features are normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normaliser {
    /// Text without a fitted normaliser (easy and hard tasks).
    None,
    /// Images normalised with fixed ImageNet constants (nothing is fitted).
    FixedConstants,
    /// A StandardScaler on numeric (tabular) or embedding (text) features.
    StandardScaler,
    /// Per-channel mean and std computed from the images.
    ChannelStats,
}

impl Normaliser {
    pub const fn is_fitted(self) -> bool {
        matches!(self, Normaliser::StandardScaler | Normaliser::ChannelStats)
    }
}

/// Mean and std of one split's features (or token lengths), 4 decimals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitStats {
    pub mean: f64,
    pub std: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenLengths {
    pub mean: f64,
    pub std: f64,
    pub p95: u32,
    pub max: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub fn text(self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenizerState {
    pub train_version: Version,
    pub eval_version: Version,
    /// The version before the training one (minor - 1), which the card's changelog names.
    pub previous_version: Version,
    /// Vocabulary entries the training version added over the previous one.
    pub tokens_added: u32,
    /// Entries of the training version: the base model's plus every version's additions.
    pub vocab_size: u32,
    /// Share of eval tokens that become [UNK] under the eval tokenizer.
    pub eval_unk_rate: f64,
    /// Share of [UNK] under the training tokenizer (healthy, small).
    pub train_unk_rate: f64,
}

impl TokenizerState {
    /// Vocabulary entries of the training tokenizer that the eval tokenizer lacks.
    pub fn tokens_missing_in_eval(&self) -> u32 {
        if self.eval_version == self.train_version { 0 } else { self.tokens_added }
    }
}

/// Benign anomalies that are not the fault (environment.md §3, distractors).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distractor {
    /// PyTorch's warning that num_workers exceeds the CPUs it suggests.
    WorkerOversubscribed,
    Deprecation {
        variant: u8,
    },
    ClassImbalance,
    CheckpointRetry {
        epoch: u16,
    },
    SlowEpoch {
        epoch: u16,
        factor: f64,
    },
}

/// Which shape the per-epoch curves take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    Healthy,
    Diverging,
    Oscillating,
    Plateau,
    Memorising,
}

/// Scalar outcomes the curves are built to meet, and the reported evaluation.
/// Every loss is `calibration::loss(accuracy, K, excess)` of a reported
/// accuracy (see `calibration.rs`); the excesses are the latents drawn here.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub regime: Regime,
    /// The first epoch's training loss where the regime sets it directly (diverging runs).
    pub first_train_loss: f64,
    pub first_train_acc: f64,
    pub final_train_acc: f64,
    /// Excess of the training loss over its floor at the first and the last epoch.
    pub train_excess: (f64, f64),
    pub first_val_acc: f64,
    /// The trainer's own best val accuracy (in the log), and its epoch.
    pub best_val_acc: f64,
    pub best_epoch: u16,
    /// The log's val loss at the best epoch.
    pub best_val_loss: f64,
    /// Excess of the val loss at the best epoch, and its growth per epoch (confidence keeps rising).
    pub val_excess: f64,
    pub val_excess_slope: f64,
    /// Epoch at which the loss became non-finite and training halted.
    pub halt_epoch: Option<u16>,
    pub grad_norm_start: f64,
    /// The accuracy the model really has on held-out data (latent; the confusion model's diagonal).
    pub true_val_acc: f64,
    pub true_test_acc: f64,
    /// The evaluated checkpoint's confidence on held-out data (from its val loss).
    pub confidence: f64,
    /// What eval_results.json reports.
    pub eval_val_acc: f64,
    pub eval_test_acc: f64,
    pub eval_val_loss: f64,
    pub eval_test_loss: f64,
}

/// Choices of surface form in the code artifact (indices into name tables in `artifacts/code.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SurfaceForm {
    pub load_fn: u8,
    pub split_fn: u8,
    pub scale_fn: u8,
    pub scaler_var: u8,
    pub encoder_var: u8,
    pub results_var: u8,
    pub label_map_var: u8,
    pub eval_tokenizer_var: u8,
    pub eval_fn: u8,
    /// Bit set of optional pipeline steps (dedupe, dropna, shuffle, ...).
    pub optional_steps: u8,
    /// Whether the evaluation block comes before the data pipeline helpers.
    pub eval_first: bool,
    pub comment_style: u8,
    pub import_order: u8,
}

#[derive(Clone, Debug, PartialEq)]
pub struct World {
    pub task: TaskId,
    pub seed: u64,
    pub bug: BugKind,
    pub config_index: u8,
    // optimisation
    pub optimizer: OptimizerKind,
    pub lr: Sci2,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub batch_size: u32,
    /// Samples a forward/backward pass holds at once: the batch size when it
    /// fits the GPU, else the largest power of two that does (gradients are
    /// accumulated over batch_size / micro_batch_size passes).
    pub micro_batch_size: u32,
    pub epochs: u16,
    pub scheduler: SchedulerKind,
    pub warmup_steps: u32,
    pub dropout: f64,
    pub bf16: bool,
    pub num_workers: u8,
    pub train_seed: u32,
    pub gpu: u8,
    // data
    pub n_total: u32,
    pub n_train: u32,
    pub n_val: u32,
    pub n_test: u32,
    /// test_size of the first split call, in hundredths.
    pub test_size_pct: u32,
    /// test_size of the separate validation draw (overlap bug only), in thousandths.
    pub val_draw_permille: u32,
    /// `random_state` of the split calls; `None` when they pass `random_state=None`.
    pub random_state: Option<u32>,
    pub overlap_train_val: u32,
    pub overlap_val_test: u32,
    pub normaliser: Normaliser,
    pub normaliser_fitted_before_split: bool,
    pub feature_stats: Option<[SplitStats; 3]>,
    pub token_lengths: Option<[TokenLengths; 3]>,
    /// Per-class counts of train, val and test, in training-index order (sorted names).
    pub class_counts: [Vec<u32>; 3],
    /// The eval pipeline's class order: eval index i is given to training class `eval_order[i]`.
    pub eval_order: Vec<u8>,
    pub tokenizer: Option<TokenizerState>,
    pub sklearn_version: Version,
    // outcome
    pub outcome: Outcome,
    pub distractors: Vec<Distractor>,
    pub surface: SurfaceForm,
    /// Unix milliseconds of the log's first line; the run is placed so that
    /// its evaluation ends before the earliest upload (timeline.rs).
    pub started_at_ms: u64,
    /// Unix seconds: the earliest upload of the artifacts; each artifact's
    /// upload time is this plus its offset (drawn before the run, so the
    /// listing says nothing about the run).
    pub uploaded_at: u64,
    pub upload_offsets: [u16; 6],
    pub run_id: u64,
    pub epoch_seconds: f64,
    pub timing: Timing,
}

/// Durations of the run outside its epochs (timeline.rs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// From the header (config loaded) to the first step: model build, data loading.
    pub setup_ms: u32,
    /// Checkpoint write throughput of the run's storage.
    pub write_mb_per_s: f64,
    /// How far a failed checkpoint write got before the error (share of a full write).
    pub failed_write_share: f64,
    /// From the end of training to the start of the evaluation job.
    pub eval_delay_ms: u64,
    /// The evaluation job: load the checkpoint, score val and test.
    pub eval_ms: u64,
}

fn q4(x: f64) -> f64 {
    quantise(x, 4)
}

/// An accuracy as the evaluation code computes it on a split of `n`
/// examples: a count of correct predictions over `n` (then 4 decimals).
/// From 10,000 examples on, every 4-decimal value is such a ratio.
pub fn snap_accuracy(acc: f64, n: u32) -> f64 {
    if !acc.is_finite() || n == 0 || n >= 10_000 {
        return q4(acc);
    }
    let k = libm::round(acc.clamp(0.0, 1.0) * n as f64);
    q4(k / n as f64)
}

/// One correct prediction of a split of `n` examples, as an accuracy.
pub fn one_count(n: u32) -> f64 {
    1.0 / n.max(1) as f64
}

/// sklearn's train_test_split sizes: n_test = ceil(test_size * n), n_train = n - n_test.
pub fn split_sizes(n: u32, test_size: f64) -> (u32, u32) {
    let n_test = libm::ceil(test_size * n as f64) as u32;
    (n - n_test, n_test)
}

impl World {
    pub fn generate(task: TaskId, seed: u64) -> World {
        let pool = task.bug_pool();
        let bug = pool[Stream::new(task, seed, Purpose::Bug).index(pool.len())];
        let candidates = configs_for(task);
        let config_index = *Stream::new(task, seed, Purpose::Model).choose(&candidates);
        let config = &CONFIGS[config_index as usize];

        let mut h = Stream::new(task, seed, Purpose::Hyperparameters);
        let mut distractor_rng = Stream::new(task, seed, Purpose::Distractors);

        // ---- optimisation --------------------------------------------------
        let optimizer = match bug {
            BugKind::WrongOptimizer => OptimizerKind::Sgd,
            _ => *h.choose(&[OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW]),
        };
        let lr = match (bug, optimizer.is_adaptive()) {
            (BugKind::ExplodingLr, _) => Sci2::from_f64(h.log_uniform(10.0, 100.0)),
            (_, true) => Sci2::from_f64(h.log_uniform(1e-5, 1e-3)),
            (_, false) => Sci2::from_f64(h.log_uniform(1e-3, 0.095)),
        };
        let momentum = match bug {
            BugKind::WrongOptimizer => *h.choose(&[0.99, 0.995, 0.999]),
            _ if optimizer == OptimizerKind::Sgd => *h.choose(&[0.0, 0.8, 0.85, 0.9]),
            _ => 0.0,
        };
        let nesterov = optimizer == OptimizerKind::Sgd && momentum > 0.0 && h.chance(0.3);
        let weight_decay = if optimizer.is_adaptive() {
            *h.choose(&[0.0, 0.01, 0.05, 0.1])
        } else {
            *h.choose(&[0.0001, 0.0005, 0.001])
        };
        let epochs = h.range_u32(8, 20) as u16;
        let scheduler = *h.choose(&[
            SchedulerKind::Cosine,
            SchedulerKind::Linear,
            SchedulerKind::Step,
            SchedulerKind::Constant,
        ]);
        let dropout = *h.choose(&[0.0, 0.1, 0.2, 0.3]);
        let bf16 = config.modality != Modality::Tabular && h.chance(0.6);
        let num_workers = *h.choose(&[4u8, 8, 12, 16]);
        let train_seed = *h.choose(&[0u32, 1, 7, 13, 42, 123, 1234, 2024, 3407]);
        let gpu = h.below(GPUS.len() as u64) as u8;

        // ---- data splits ---------------------------------------------------
        // Every labelled example of the dataset, or the random subset config.yaml names.
        let n_total = match config.subset {
            Some((lo, hi)) => h.range_u32(lo / 1000, hi / 1000) * 1000,
            None => config.data.total(),
        };
        let test_size_pct = match bug {
            BugKind::WrongSplitRatio => h.range_u32(70, 90),
            _ => h.range_u32(10, 30),
        };
        let test_size = test_size_pct as f64 / 100.0;
        let split_random_state = *h.choose(&[0u32, 7, 13, 42, 99, 123, 2021, 31337]);
        let random_state = (bug != BugKind::DataLeakageOverlap).then_some(split_random_state);
        let (n_train, n_hold) = split_sizes(n_total, test_size);
        let val_draw_permille = test_size_pct * 5;
        let (n_val, n_test, overlap_train_val, overlap_val_test) = if bug == BugKind::DataLeakageOverlap {
            // The test split is the first call's hold-out; val is a fresh draw from all data.
            let (_, n_val) = split_sizes(n_total, val_draw_permille as f64 / 1000.0);
            // hypergeometric: n_val drawn from n_total of which n_train are training rows
            let p = n_train as f64 / n_total as f64;
            let fpc = (n_total - n_val) as f64 / (n_total as f64 - 1.0).max(1.0);
            let sd = libm::sqrt(n_val as f64 * p * (1.0 - p) * fpc);
            let tv = libm::round(n_val as f64 * p + sd * normal(&mut h)).clamp(0.0, n_val as f64) as u32;
            // train and test partition the data, so every val example is in one of them
            let vt = n_val - tv;
            (n_val, n_hold, tv, vt)
        } else {
            let (n_val, n_test) = split_sizes(n_hold, 0.5);
            (n_val, n_test, 0, 0)
        };

        // ---- batch size and warmup --------------------------------------------
        // Warmup is a share of the run the configuration was written for: with
        // the batch size it meant to use. Only an overflowing batch size makes
        // the run shorter than its warmup.
        let intended_batch = *h.choose(&[16u32, 32, 64, 128, 256]);
        let warmup_share = *h.choose(&[0.0, 0.03, 0.05, 0.1]);
        let intended_steps = n_train.div_ceil(intended_batch) as f64 * epochs as f64;
        let warmup_steps = libm::round(warmup_share * intended_steps / 10.0) as u32 * 10;
        let batch_size = match bug {
            BugKind::BatchSizeOverflow => {
                let mut b = 1u32;
                while b <= n_train {
                    b *= 2;
                }
                if h.chance(0.3) { b * 2 } else { b }
            }
            _ => intended_batch,
        };
        // ---- tokenizer -------------------------------------------------------
        // The team's tokenizer registry extends the public vocabulary version
        // by version; what each version added is a property of the tokenizer
        // (the same name and version has the same vocabulary in every run).
        let tokenizer = config.tokenizer.map(|(name, base)| {
            let train_version = Version { major: h.range_u32(2, 5) as u8, minor: h.range_u32(1, 9) as u8 };
            let previous_version = Version { major: train_version.major, minor: train_version.minor - 1 };
            let train_unk_rate = quantise(h.uniform(0.0005, 0.004), 4);
            let drift = bug == BugKind::TokenizerVersionDrift;
            TokenizerState {
                train_version,
                eval_version: if drift { previous_version } else { train_version },
                previous_version,
                tokens_added: tokens_added_in(name, train_version),
                vocab_size: base + registry_additions(name, train_version),
                eval_unk_rate: if drift { quantise(h.uniform(0.10, 0.25), 4) } else { train_unk_rate },
                train_unk_rate,
            }
        });
        // The model's parameters: the public checkpoint's with its
        // embedding matrix resized to the training vocabulary.
        let parameters = model_parameters(config, tokenizer.as_ref());
        let mut micro_batch_size = batch_size;
        while micro_batch_size > 1
            && step_memory_gb(config, parameters, optimizer.is_adaptive(), bf16, micro_batch_size)
                > 0.9 * GPU_MEMORY_GB[gpu as usize]
        {
            micro_batch_size /= 2;
        }

        // ---- normaliser and feature statistics -------------------------------
        let normaliser = match (task, config.modality) {
            (TaskId::Medium, Modality::Image) => Normaliser::ChannelStats,
            (TaskId::Medium, _) => Normaliser::StandardScaler,
            (_, Modality::Image) => Normaliser::FixedConstants,
            (_, _) => Normaliser::None,
        };
        let normaliser_fitted_before_split = bug == BugKind::DataLeakageScaler;
        // Pooled over every value of a split; a split's mean and std differ
        // from the whole's by their standard errors (`features` independent
        // values an example, about).
        let features = match config.modality {
            Modality::Tabular => config.input_size as f64,
            Modality::Image => 4.0,
            Modality::Text => 50.0,
        };
        let sizes = [n_train, n_val, n_test];
        let feature_stats = match normaliser {
            Normaliser::None => None,
            Normaliser::FixedConstants => {
                // the dataset's pixel statistics under the ImageNet constants
                let whole = imagenet_normalised(config.data.name);
                Some(sampled_splits(&mut h, whole, sizes, features, None))
            }
            _ if normaliser_fitted_before_split => {
                let all = SplitStats { mean: 0.0, std: 1.0 };
                Some([all, all, all])
            }
            // fitted on train: train is exactly 0 and 1, val and test within their standard errors
            _ => {
                let train = SplitStats { mean: 0.0, std: 1.0 };
                Some(sampled_splits(&mut h, train, sizes, features, Some(train)))
            }
        };
        // Token lengths before truncation: the dataset's profile, each split within 1-3% of it.
        let token_lengths = config.data.tokens.filter(|_| config.modality == Modality::Text).map(|p| {
            let make = |h: &mut Stream, split_max: bool| {
                // a random split's mean sits within a few hundredths of a std of the whole's
                let sign = if h.chance(0.5) { 1.0 } else { -1.0 };
                let shift = if split_max { 0.0 } else { sign * h.uniform(0.01, 0.04) };
                let f = 1.0 + shift * p.std / p.mean;
                let p95 = libm::round(p.p95 as f64 * f) as u32;
                // the longest example of a smaller split is rarely the dataset's longest
                let max = if split_max {
                    p.max
                } else {
                    (libm::round(p.max as f64 * h.uniform(0.55, 0.95)) as u32).max(p95 + 1)
                };
                TokenLengths {
                    mean: quantise(p.mean + shift * p.std, 1),
                    std: quantise(p.std * (1.0 + shift), 1),
                    p95,
                    max,
                }
            };
            let train = make(&mut h, true);
            let val = make(&mut h, false);
            let test = make(&mut h, false);
            [train, val, test]
        });

        let sklearn_version = Version { major: 1, minor: h.range_u32(2, 5) as u8 };

        // Seconds per epoch from the model's throughput on this GPU at this precision.
        let epoch_seconds =
            quantise(n_train as f64 / (config.throughput * gpu_speed(gpu, bf16)) * h.uniform(0.93, 1.07), 1)
                .max(1.0);
        // The learning the run's steps can buy: its summed rate in units of
        // the configured one (20 full-rate steps buy all a stuck run learns).
        let total_steps = n_train.div_ceil(batch_size) as u64 * epochs as u64;
        let budget: f64 = (0..total_steps.min(100))
            .map(|s| if (s as u32) < warmup_steps { (s + 1) as f64 / warmup_steps as f64 } else { 1.0 })
            .sum();
        let budget_share = (budget / 20.0).min(1.0);
        let outcome = draw_outcome(
            &mut h,
            bug,
            config,
            epochs,
            [n_train, n_val, n_test],
            overlap_train_val,
            tokenizer,
            budget_share,
        );

        // ---- surface form (its own stream), classes --------------------------------
        let mut s = Stream::new(task, seed, Purpose::SurfaceForm);
        let surface = SurfaceForm {
            load_fn: s.below(4) as u8,
            split_fn: s.below(3) as u8,
            scale_fn: s.below(3) as u8,
            scaler_var: s.below(3) as u8,
            encoder_var: s.below(3) as u8,
            results_var: s.below(3) as u8,
            label_map_var: s.below(3) as u8,
            eval_tokenizer_var: s.below(3) as u8,
            eval_fn: s.below(3) as u8,
            optional_steps: s.below(16) as u8,
            eval_first: s.chance(0.5),
            comment_style: s.below(3) as u8,
            import_order: s.below(2) as u8,
        };
        let k = config.num_classes();
        let distractors = draw_distractors(&mut distractor_rng, outcome.halt_epoch.map_or(epochs, |h| h - 1));
        let class_counts = split_class_counts(
            &mut h,
            config.data.class_totals,
            n_total,
            [n_train, n_val, n_test],
            bug == BugKind::DataLeakageOverlap,
            surface.optional_steps & STRATIFY_BIT != 0,
        );
        // The class-imbalance distractor is the data's own: a training split
        // whose largest class outnumbers its smallest by more than the warning ratio.
        // It takes the place of the last drawn one: one to three in all.
        let mut distractors = distractors;
        let (max, min) = (class_counts[0].iter().max(), class_counts[0].iter().min());
        if let (Some(&max), Some(&min)) = (max, min)
            && max as f64 > CLASS_BALANCE_WARN * min as f64
        {
            distractors.truncate(2);
            distractors.push(Distractor::ClassImbalance);
        }
        let eval_order: Vec<u8> = if bug == BugKind::LabelEncoderMismatch {
            derangement(&mut h, k)
        } else {
            (0..k as u8).collect()
        };

        // ---- timestamps, run id ------------------------------------------------
        let mut t = Stream::new(task, seed, Purpose::Timestamps);
        // Uploads first (2025-02-10 .. 2026-07-14), from nothing about the run.
        let uploaded_at = t.range_u64(1_739_145_600, 1_783_987_200);
        // One upload of the six, in listing order, each 1-4 s after the one before.
        let mut upload_offsets = [0u16; 6];
        let mut at = 0u16;
        for o in upload_offsets.iter_mut() {
            *o = at;
            at += 1 + t.below(4) as u16;
        }
        // The evaluation ends 10 minutes to 3 days before the first upload.
        let upload_gap_s = t.range_u64(600, 3 * 86_400);
        let eval_samples = (n_val + n_test) as f64;
        let timing = Timing {
            setup_ms: t.range_u32(8_000, 90_000),
            write_mb_per_s: t.uniform(250.0, 1500.0),
            failed_write_share: t.uniform(0.1, 0.9),
            eval_delay_ms: t.range_u64(30_000, 4 * 3_600_000),
            // scoring is about a third of a training step's cost per sample, plus loading
            eval_ms: libm::round(
                (epoch_seconds / n_train as f64 * eval_samples / 3.0 * t.uniform(0.9, 1.1)
                    + t.uniform(10.0, 40.0))
                    * 1000.0,
            ) as u64,
        };
        let run_id = Stream::new(task, seed, Purpose::RunId).next_u64() >> 16;

        let mut w = World {
            task,
            seed,
            bug,
            config_index,
            optimizer,
            lr,
            momentum,
            nesterov,
            weight_decay,
            batch_size,
            micro_batch_size,
            epochs,
            scheduler,
            warmup_steps,
            dropout,
            bf16,
            num_workers,
            train_seed,
            gpu,
            n_total,
            n_train,
            n_val,
            n_test,
            test_size_pct,
            val_draw_permille,
            random_state,
            overlap_train_val,
            overlap_val_test,
            normaliser,
            normaliser_fitted_before_split,
            feature_stats,
            token_lengths,
            class_counts,
            eval_order,
            tokenizer,
            sklearn_version,
            outcome,
            distractors,
            surface,
            started_at_ms: 0,
            uploaded_at,
            upload_offsets,
            run_id,
            epoch_seconds,
            timing,
        };
        // Place the run so that its evaluation ends upload_gap_s before the first upload.
        let run_ms = timeline(&w, &curves(&w)).eval_end_ms;
        w.started_at_ms = (uploaded_at - upload_gap_s) * 1000 - run_ms;
        w
    }

    pub fn config(&self) -> &'static ModelConfig {
        &CONFIGS[self.config_index as usize]
    }

    pub fn run_id_hex(&self) -> String {
        format!("{:012x}", self.run_id)
    }

    pub fn test_size(&self) -> f64 {
        self.test_size_pct as f64 / 100.0
    }

    /// Training classes in index order (LabelEncoder sorts names).
    pub fn classes(&self) -> &'static [&'static str] {
        self.config().classes
    }

    /// The last epoch the log reports (the halting epoch when training halted).
    pub fn final_epoch(&self) -> u16 {
        self.outcome.halt_epoch.unwrap_or(self.epochs)
    }

    pub fn gpu_name(&self) -> &'static str {
        GPUS[self.gpu as usize]
    }

    pub fn checkpoint(&self) -> String {
        format!("checkpoints/epoch_{:03}.pt", self.outcome.best_epoch)
    }

    /// Parameters of the trained model (the model card's count).
    pub fn parameters(&self) -> u64 {
        model_parameters(self.config(), self.tokenizer.as_ref())
    }

    pub fn steps_per_epoch(&self) -> u32 {
        self.n_train.div_ceil(self.batch_size)
    }
}

/// Width of a tokenizer's embedding rows (ALBERT and ELECTRA-small factorise
/// their embeddings to 128; MiniLM-L12-H384 is 384 wide; the rest 768).
pub fn embedding_width(tokenizer: &str) -> u64 {
    match tokenizer {
        "albert-base-v2" | "electra-small-discriminator" => 128,
        "all-minilm-l12-v2" => 384,
        _ => 768,
    }
}

/// A fixed hash of a tokenizer name and a version (FNV-1a): the registry's
/// record of what that version added, the same in every episode.
fn registry_hash(name: &str, major: u8, minor: u8) -> u64 {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain([major, minor]) {
        x ^= b as u64;
        x = x.wrapping_mul(0x0100_0000_01b3);
    }
    x
}

/// Entries the tokenizer's version `v` added over the version before it (150-900).
pub fn tokens_added_in(name: &str, v: Version) -> u32 {
    150 + (registry_hash(name, v.major, v.minor) % 751) as u32
}

/// Entries every version up to `v` added over the public vocabulary.
pub fn registry_additions(name: &str, v: Version) -> u32 {
    (1..=v.minor).map(|m| tokens_added_in(name, Version { major: v.major, minor: m })).sum()
}

/// The trained model's parameter count: the public checkpoint with its head,
/// plus one embedding row per vocabulary entry the registry added (a frozen
/// encoder's head alone is trained, and counted).
pub fn model_parameters(config: &ModelConfig, tokenizer: Option<&TokenizerState>) -> u64 {
    match (config.tokenizer, tokenizer) {
        (Some((name, base)), Some(t)) if !config.frozen_encoder => {
            config.parameters + (t.vocab_size - base) as u64 * embedding_width(name)
        }
        _ => config.parameters,
    }
}

/// Pixel mean and std per channel in [0, 1] (grey datasets repeat one channel
/// three times: `grayscale_to_rgb`), from the datasets' published statistics.
fn pixel_stats(dataset: &str) -> ([f64; 3], [f64; 3]) {
    match dataset {
        "cifar10" => ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
        "cifar100" => ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]),
        "fashion_mnist" => ([0.2860; 3], [0.3530; 3]),
        "mnist" => ([0.1307; 3], [0.3081; 3]),
        _ => ([0.4467, 0.4398, 0.4066], [0.2603, 0.2566, 0.2713]), // stl10
    }
}

/// Mean and std of a dataset's pixels after `(x - IMAGENET_MEAN) / IMAGENET_STD`,
/// pooled over the three channels (MNIST: mean -1.41, std 1.37).
fn imagenet_normalised(dataset: &str) -> SplitStats {
    const MEAN: [f64; 3] = [0.485, 0.456, 0.406];
    const STD: [f64; 3] = [0.229, 0.224, 0.225];
    let (m, s) = pixel_stats(dataset);
    let mut mean = 0.0;
    let mut second = 0.0;
    for c in 0..3 {
        let (mc, sc) = ((m[c] - MEAN[c]) / STD[c], s[c] / STD[c]);
        mean += mc / 3.0;
        second += (sc * sc + mc * mc) / 3.0;
    }
    SplitStats { mean, std: libm::sqrt(second - mean * mean) }
}

/// Each split's statistics: the whole's, moved by the standard error of a
/// split of its size (`features` independent values an example); `exact`
/// is the statistics of the split a scaler was fitted on (train), reported
/// as fitted; val never prints train's statistics exactly (a rounding
/// coincidence the feature check would read as a fitted-on-everything scaler).
fn sampled_splits(
    h: &mut Stream,
    whole: SplitStats,
    sizes: [u32; 3],
    features: f64,
    exact: Option<SplitStats>,
) -> [SplitStats; 3] {
    let mut out = [whole; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let values = sizes[i].max(1) as f64 * features;
        let se_mean = whole.std / libm::sqrt(values);
        let se_std = whole.std / libm::sqrt(2.0 * values);
        *o = SplitStats {
            mean: q4(whole.mean + se_mean * normal(h)),
            std: q4(whole.std + se_std * normal(h)),
        };
    }
    if let Some(fit) = exact {
        out[0] = SplitStats { mean: q4(fit.mean), std: q4(fit.std) };
        let first = out[0];
        for o in out.iter_mut().skip(1) {
            if *o == first {
                o.mean = q4(o.mean + if h.chance(0.5) { 1e-4 } else { -1e-4 });
            }
        }
    } else if out[1] == out[0] {
        out[1].mean = q4(out[1].mean + 1e-4);
    }
    out
}

/// The surface-form bit of a stratified split (artifacts/code.rs's OPT_STRATIFY).
pub const STRATIFY_BIT: u8 = 4;

/// Relative speed of a GPU at a precision, against an A100 in bf16 (dense
/// tensor throughput as the vendors publish it, damped by what input pipelines reach).
pub fn gpu_speed(gpu: u8, bf16: bool) -> f64 {
    let (bf, fp) = match GPUS[gpu as usize] {
        "NVIDIA A100-SXM4-40GB" => (1.0, 0.55),
        "NVIDIA A10G" => (0.36, 0.2),
        "NVIDIA L4" => (0.3, 0.16),
        _ => (1.9, 1.0), // H100
    };
    if bf16 { bf } else { fp }
}

/// A standard normal draw (Box-Muller, libm only).
fn normal(h: &mut Stream) -> f64 {
    let u = h.uniform(1e-12, 1.0);
    let v = h.unit();
    libm::sqrt(-2.0 * libm::log(u)) * libm::cos(2.0 * core::f64::consts::PI * v)
}

/// Draws `n` of the `pool` examples per class: exact proportions when
/// stratified; otherwise the hypergeometric spread a random split has.
fn draw_from(h: &mut Stream, pool: &[u32], n: u32, stratified: bool) -> Vec<u32> {
    let total: u32 = pool.iter().sum();
    let weights: Vec<f64> = pool.iter().map(|&c| c as f64).collect();
    let mut counts = apportion(n, &weights);
    if !stratified && total > 1 {
        let f = n as f64 / total as f64;
        for (c, &p) in counts.iter_mut().zip(pool) {
            let share = p as f64 / total as f64;
            let sd = libm::sqrt(total as f64 * share * (1.0 - share) * f * (1.0 - f));
            *c = (libm::round(*c as f64 + sd * normal(h)).max(0.0) as u32).min(p);
        }
        // restore the split's size, one example at a time, where the pool has room
        let mut sum: u32 = counts.iter().sum();
        let mut i = 0;
        while sum != n {
            let j = i % counts.len();
            if sum < n && counts[j] < pool[j] {
                counts[j] += 1;
                sum += 1;
            } else if sum > n && counts[j] > 0 {
                counts[j] -= 1;
                sum -= 1;
            }
            i += 1;
        }
    }
    counts
}

/// Per-class counts of train, val and test, drawn from the dataset's real
/// class totals (scaled to the subset when one is used). With the overlap
/// bug, val is a fresh draw from all the data; otherwise the three partition it.
fn split_class_counts(
    h: &mut Stream,
    class_totals: &[u32],
    n_total: u32,
    sizes: [u32; 3],
    val_from_all: bool,
    stratified: bool,
) -> [Vec<u32>; 3] {
    // a random subset of the dataset (records shuffled, then the first n kept)
    let all = draw_from(h, class_totals, n_total, false);
    let train = draw_from(h, &all, sizes[0], stratified);
    let rest: Vec<u32> = all.iter().zip(&train).map(|(a, t)| a - t).collect();
    if val_from_all {
        let val = draw_from(h, &all, sizes[1], stratified);
        return [train, val, rest];
    }
    let val = draw_from(h, &rest, sizes[1], stratified);
    let test: Vec<u32> = rest.iter().zip(&val).map(|(r, v)| r - v).collect();
    [train, val, test]
}

/// Integer counts proportional to `weights` that sum to `n`: each class its
/// floor, then one more to the classes with the largest remainders (ties by
/// index), as sklearn's stratified split apportions: two halves of a pool
/// differ by at most one example per class.
fn apportion(n: u32, weights: &[f64]) -> Vec<u32> {
    let total: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| n as f64 * w / total).collect();
    let mut counts: Vec<u32> = exact.iter().map(|&x| libm::floor(x) as u32).collect();
    let rest = n.saturating_sub(counts.iter().sum::<u32>()) as usize;
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - libm::floor(exact[a]), exact[b] - libm::floor(exact[b]));
        rb.partial_cmp(&ra).unwrap_or(core::cmp::Ordering::Equal).then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(rest) {
        counts[i] += 1;
    }
    counts
}

/// A uniformly drawn permutation of 0..k in which no index keeps its place.
fn derangement(h: &mut Stream, k: usize) -> Vec<u8> {
    loop {
        let mut p: Vec<u8> = (0..k as u8).collect();
        h.shuffle(&mut p);
        if p.iter().enumerate().all(|(i, &v)| i as u8 != v) {
            return p;
        }
    }
}

/// Distractors never depend on the bug, so they say nothing about it; their
/// epochs fall among the epochs the log reports with a checkpoint (a slow
/// epoch is never the first: it is slow against the epochs before it).
fn draw_distractors(d: &mut Stream, last_epoch: u16) -> Vec<Distractor> {
    let epoch = |d: &mut Stream| 1 + d.below(last_epoch as u64) as u16;
    let later_epoch = |d: &mut Stream| 2 + d.below(last_epoch.max(2) as u64 - 1) as u16;
    let count = 1 + d.below(3) as usize;
    let mut kinds = [0u8, 1, 3, 4];
    d.shuffle(&mut kinds);
    let mut out = Vec::with_capacity(count);
    for &kind in kinds.iter().take(count) {
        out.push(match kind {
            0 => Distractor::WorkerOversubscribed,
            1 => Distractor::Deprecation { variant: d.below(3) as u8 },
            3 => Distractor::CheckpointRetry { epoch: epoch(d) },
            _ => Distractor::SlowEpoch { epoch: later_epoch(d), factor: quantise(d.uniform(2.0, 3.0), 1) },
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn draw_outcome(
    h: &mut Stream,
    bug: BugKind,
    config: &ModelConfig,
    epochs: u16,
    sizes: [u32; 3],
    overlap_train_val: u32,
    tokenizer: Option<TokenizerState>,
    budget_share: f64,
) -> Outcome {
    use super::calibration as cal;
    let k = config.num_classes();
    let [n_train, n_val, n_test] = sizes;
    let chance = 1.0 / k as f64;
    let a = h.uniform(config.accuracy.0, config.accuracy.1);
    let a = snap_accuracy(a, n_val);
    let ln_k = libm::log(k as f64);
    let best_epoch = epochs - h.below(3) as u16;
    let grad_norm_start = h.uniform(0.5, 3.0);
    // Training accuracy above val by a few points, never by more than a share
    // of the error left (no shared ceiling: a run at 99% val ends near 99.5%).
    let healthy_train = q4(a + h.uniform(0.02, 0.07).min((1.0 - a) * h.uniform(0.2, 0.75)));
    let val_gap = h.uniform(0.005, 0.04);
    let val_excess = h.uniform(0.03, 0.15);
    let mut o = Outcome {
        regime: Regime::Healthy,
        first_train_loss: f64::NAN,
        first_train_acc: q4(chance + (healthy_train - chance) * h.uniform(0.35, 0.7)),
        final_train_acc: healthy_train,
        train_excess: (h.uniform(0.05, 0.2), h.uniform(0.02, 0.08)),
        first_val_acc: q4(chance + (a - chance) * h.uniform(0.55, 0.9)),
        best_val_acc: a,
        best_epoch,
        best_val_loss: 0.0,
        val_excess,
        val_excess_slope: h.uniform(0.004, 0.02),
        halt_epoch: None,
        grad_norm_start,
        true_val_acc: a,
        true_test_acc: q4(a - val_gap),
        confidence: 0.0,
        eval_val_acc: a,
        eval_test_acc: q4(a - val_gap),
        eval_val_loss: 0.0,
        eval_test_loss: 0.0,
    };

    match bug {
        BugKind::ExplodingLr => {
            let halt = h.range_u32(2, 5) as u16;
            let best = q4(chance + h.uniform(0.0, 0.05));
            o.regime = Regime::Diverging;
            o.halt_epoch = Some(halt);
            o.first_train_loss = q4(ln_k * h.uniform(1.0, 2.0));
            o.first_train_acc = q4(chance + h.uniform(-0.02, 0.02));
            o.final_train_acc = q4(chance + h.uniform(-0.02, 0.02));
            o.first_val_acc = best;
            o.best_val_acc = best;
            o.best_epoch = 1;
            // The epoch-1 checkpoint is as unsure as its loss says: above ln K at chance accuracy.
            o.val_excess = o.first_train_loss * h.uniform(1.05, 1.3) / cal::floor(best, k) - 1.0;
            o.grad_norm_start = h.uniform(20.0, 80.0);
            o.true_val_acc = best;
            o.true_test_acc = q4(best - h.uniform(0.0, 0.01));
            o.eval_val_acc = best;
            o.eval_test_acc = o.true_test_acc;
        }
        BugKind::WrongOptimizer | BugKind::BatchSizeOverflow => {
            let stuck = q4(chance + (a - chance) * h.uniform(0.05, 0.25));
            o.regime = if bug == BugKind::WrongOptimizer { Regime::Oscillating } else { Regime::Plateau };
            o.first_train_acc = q4(chance + (stuck - chance) * h.uniform(0.2, 0.6));
            o.final_train_acc = q4(stuck + h.uniform(0.0, 0.02));
            o.first_val_acc = q4(chance + (stuck - chance) * h.uniform(0.2, 0.6));
            o.best_val_acc = stuck;
            o.true_val_acc = stuck;
            o.eval_val_acc = stuck;
            o.true_test_acc = q4(stuck - h.uniform(0.005, 0.03));
            o.eval_test_acc = o.true_test_acc;
            if bug == BugKind::WrongOptimizer {
                o.grad_norm_start = h.uniform(12.0, 60.0);
                o.train_excess = (h.uniform(0.05, 0.12), 0.0);
            } else {
                o.grad_norm_start = h.uniform(0.1, 0.8);
                // What a handful of steps inside warmup can buy: the learning
                // above scales with the rate the run really spent.
                o.final_train_acc =
                    q4(o.first_train_acc + (o.final_train_acc - o.first_train_acc) * budget_share);
                o.best_val_acc = q4(o.first_val_acc + (o.best_val_acc - o.first_val_acc) * budget_share);
                o.true_val_acc = o.best_val_acc;
                o.eval_val_acc = o.best_val_acc;
                o.true_test_acc = q4(o.best_val_acc - h.uniform(0.005, 0.03));
                o.eval_test_acc = o.true_test_acc;
                o.val_excess_slope *= budget_share;
                // The loss ends up to 5-18% below where it started (less when
                // the rate spent is smaller): the excess at the start is
                // whatever makes that ratio (at least 0.01).
                let last = h.uniform(0.01, 0.08);
                let ratio = 1.0 - ((1.0 - h.uniform(0.82, 0.95)) * budget_share).max(0.01);
                let first = cal::floor(o.final_train_acc, k) * (1.0 + last)
                    / (ratio * cal::floor(o.first_train_acc, k))
                    - 1.0;
                o.train_excess = (first.max(0.01), last);
            }
        }
        BugKind::DataLeakageScaler => {
            let inflated = q4((a + h.uniform(0.04, 0.08)).min(0.985));
            o.best_val_acc = inflated;
            o.eval_val_acc = inflated;
            o.first_val_acc = q4(chance + (inflated - chance) * h.uniform(0.5, 0.85));
            o.final_train_acc =
                q4(inflated + h.uniform(0.005, 0.03).min((1.0 - inflated) * h.uniform(0.2, 0.75)));
            o.eval_test_acc = q4(inflated - h.uniform(0.001, 0.012));
            o.true_test_acc = o.eval_test_acc;
        }
        BugKind::DataLeakageOverlap => {
            let train = q4(h.uniform(0.985, 0.998));
            let f = overlap_train_val as f64 / n_val as f64;
            let val = q4(f * train + (1.0 - f) * a);
            o.final_train_acc = train;
            o.best_val_acc = val;
            o.first_val_acc = q4(chance + (val - chance) * h.uniform(0.5, 0.85));
            o.eval_val_acc = val;
            o.eval_test_acc = a;
            o.true_test_acc = a;
        }
        BugKind::WrongSplitRatio => {
            let low = q4(a - h.uniform(0.10, 0.20));
            o.regime = Regime::Memorising;
            // Memorised: the training loss ends below LOSS_COLLAPSE.
            o.final_train_acc = q4(h.uniform(0.9994, 0.9999));
            o.train_excess = (o.train_excess.0, h.uniform(0.02, 0.15));
            o.best_val_acc = low;
            o.first_val_acc = q4(chance + (low - chance) * h.uniform(0.6, 0.9));
            o.val_excess = h.uniform(0.2, 0.5);
            o.val_excess_slope = h.uniform(0.02, 0.05);
            o.true_val_acc = low;
            o.eval_val_acc = low;
            o.eval_test_acc = q4(low - h.uniform(0.002, 0.015));
            o.true_test_acc = o.eval_test_acc;
        }
        BugKind::LabelEncoderMismatch => {
            // Training is healthy; eval scores every class under another class's index.
            o.true_test_acc = q4((a + h.uniform(0.0, 0.02)).min(0.999));
            o.eval_val_acc = q4(cal::permuted_accuracy(a, k));
            o.eval_test_acc = q4(cal::permuted_accuracy(o.true_test_acc, k));
        }
        BugKind::SilentMetricSwap => {
            // True test is below true val; the eval code stores each accuracy under the other's key.
            o.eval_val_acc = o.true_test_acc;
            o.eval_test_acc = o.true_val_acc;
        }
        BugKind::TokenizerVersionDrift => {
            let unk = tokenizer.map(|t| t.eval_unk_rate).unwrap_or(0.1);
            let val = q4(a * (1.0 - unk * h.uniform(0.9, 1.1)));
            o.eval_val_acc = val;
            o.eval_test_acc = q4(val - h.uniform(0.003, 0.02));
        }
    }
    // Every accuracy is a count over its split (the losses below derive from these).
    o.first_train_acc = snap_accuracy(o.first_train_acc, n_train);
    o.final_train_acc = snap_accuracy(o.final_train_acc, n_train);
    o.first_val_acc = snap_accuracy(o.first_val_acc, n_val);
    o.best_val_acc = snap_accuracy(o.best_val_acc, n_val);
    o.true_val_acc = snap_accuracy(o.true_val_acc, n_val);
    o.true_test_acc = snap_accuracy(o.true_test_acc, n_test);
    if bug == BugKind::SilentMetricSwap {
        o.eval_val_acc = o.true_test_acc;
        o.eval_test_acc = o.true_val_acc;
    } else if bug == BugKind::LabelEncoderMismatch {
        o.eval_val_acc = snap_accuracy(cal::permuted_accuracy(o.true_val_acc, k), n_val);
        o.eval_test_acc = snap_accuracy(cal::permuted_accuracy(o.true_test_acc, k), n_test);
    } else {
        o.eval_val_acc = snap_accuracy(o.eval_val_acc, n_val);
        o.eval_test_acc = snap_accuracy(o.eval_test_acc, n_test);
    }
    // A run that learns ends its training loss at most 0.65 of where it started
    // (the loss_trajectory check's healthy side): raise the first epoch's excess when needed.
    if matches!(o.regime, Regime::Healthy | Regime::Memorising) {
        let last = cal::loss(o.final_train_acc, k, o.train_excess.1);
        let needed = last / (0.65 * cal::floor(o.first_train_acc, k)) - 1.0;
        o.train_excess.0 = o.train_excess.0.max(needed);
    }
    // The evaluated checkpoint is the best epoch's: its logged val loss, and the
    // confidence that loss implies, score every split the evaluation reports.
    o.best_val_loss = q4(cal::loss(o.best_val_acc, k, o.val_excess));
    o.confidence = cal::confidence(o.best_val_acc, k, o.best_val_loss);
    let c = o.confidence;
    (o.eval_val_loss, o.eval_test_loss) = match bug {
        BugKind::LabelEncoderMismatch => (
            q4(cal::permuted_cross_entropy(o.true_val_acc, c, k)),
            q4(cal::permuted_cross_entropy(o.true_test_acc, c, k)),
        ),
        // The losses are stored under their own keys; only the accuracies trade places.
        BugKind::SilentMetricSwap => (o.best_val_loss, q4(cal::cross_entropy(o.true_test_acc, c, k))),
        BugKind::TokenizerVersionDrift => {
            (q4(cal::cross_entropy(o.eval_val_acc, c, k)), q4(cal::cross_entropy(o.eval_test_acc, c, k)))
        }
        _ => (o.best_val_loss, q4(cal::cross_entropy(o.eval_test_acc, c, k))),
    };
    o
}
