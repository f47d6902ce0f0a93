//! The catalogue: tasks, bugs, categories, artifacts, checks, thresholds,
//! reward weights and briefs. One source of truth for the grader, the docs,
//! openenv.yaml and `/tasks`.

use serde::Serialize;

/// Versions the generator, the catalogue, the rubrics and the observation keys.
pub const ENV_VERSION: &str = "2.0.0";

/// Seeds below this are the official evaluation set's range; training should use seeds >= it.
pub const TRAINING_SEED_START: u64 = 1 << 32;
/// Official evaluation seeds are 0..EVAL_SEED_COUNT.
pub const EVAL_SEED_COUNT: u64 = 10_000;

// ---- rewards, in basis points (1 = 0.0001) --------------------------------
pub const REWARD_FIRST_READ: i64 = 200;
pub const REWARD_DUPLICATE_READ: i64 = -200;
pub const REWARD_FIRST_CHECK: i64 = 100;
pub const WEIGHT_CATEGORY: i64 = 1500;
pub const WEIGHT_FILE: i64 = 2500;
pub const WEIGHT_FIELD: i64 = 3000;
pub const WEIGHT_FIX: i64 = 3000;
pub const INVESTIGATION_PENALTY: i64 = -500;
/// Distinct artifacts to read before submitting to avoid the investigation penalty.
pub const MIN_ARTIFACTS_READ: usize = 3;
/// Hard task: a component sum below this triggers the hard-task penalty.
pub const HARD_TASK_THRESHOLD: i64 = 7000;
/// A "budget nearly spent" notice follows every step leaving this few steps or fewer.
pub const BUDGET_NOTICE_STEPS: u32 = 3;

// ---- check thresholds -----------------------------------------------------
pub const GRAD_NORM_WARN: f64 = 5.0;
pub const GRAD_NORM_ANOMALY: f64 = 10.0;
/// Last over first gradient norm above this is a growing trend.
pub const GRAD_NORM_GROWTH_ANOMALY: f64 = 3.0;
/// Last over first training loss above this (or a non-finite loss) is divergence.
pub const LOSS_DIVERGENCE_RATIO: f64 = 1.5;
/// Share of epoch-to-epoch direction reversals at or above which the loss oscillates ...
pub const LOSS_OSCILLATION_REVERSALS: f64 = 0.5;
/// ... when it also fails to fall below this fraction of its first value.
pub const LOSS_OSCILLATION_RATIO: f64 = 0.7;
/// A final training loss below this has collapsed to zero (memorisation).
pub const LOSS_COLLAPSE: f64 = 0.01;
/// A final training loss above this fraction of the first is a plateau (warning).
pub const LOSS_PLATEAU_RATIO: f64 = 0.8;
pub const CLASS_BALANCE_WARN: f64 = 1.5;
pub const CLASS_BALANCE_ANOMALY: f64 = 3.0;
/// |val mean - train mean| / train std of the features.
pub const FEATURE_SHIFT_WARN: f64 = 0.1;
pub const FEATURE_SHIFT_ANOMALY: f64 = 0.25;
/// Eval val accuracy minus eval test accuracy.
pub const VAL_TEST_GAP_WARN: f64 = 0.05;
pub const VAL_TEST_GAP_ANOMALY: f64 = 0.08;
/// The log's best val accuracy minus eval val (or test) accuracy.
pub const EVAL_DROP_WARN: f64 = 0.02;
pub const EVAL_DROP_ANOMALY: f64 = 0.05;

// ---- validation limits (characters) ----------------------------------------
pub const MAX_LOG_FILTER: usize = 200;
pub const MAX_FIELD_PATH: usize = 200;
pub const MAX_DIAGNOSIS: usize = 4000;
pub const MAX_PROPOSED_FIX: usize = 2000;
pub const MAX_ROOT_CAUSE: usize = 256;
pub const MAX_EPISODE_ID: usize = 255;
/// Characters of a step's request_id at most.
pub const MAX_REQUEST_ID: usize = 255;
/// Lines a log or code field query returns at most.
pub const MAX_QUERY_LINES: usize = 20;

/// Strings no artifact may contain (environment.md §3). The first four match
/// case-sensitively as whole words; the rest case-insensitively as whole words
/// or phrases (symbols match anywhere).
pub const HINTS_CASE_SENSITIVE: &[&str] = &["BUG", "FIXME", "TODO", "XXX"];
pub const HINTS: &[&str] = &[
    "should be",
    "should have",
    "leak",
    "leaks",
    "leaked",
    "leaky",
    "leakage",
    "mismatch",
    "mismatched",
    "swapped",
    "swap",
    "drift",
    "drifted",
    "wrong",
    "incorrect",
    "misconfigured",
    "too high",
    "too large",
    "too low",
    "too small",
    "root cause",
    "culprit",
    "hint",
    "fix",
    "fixme",
    "oops",
    "hack",
    "verify no",
    "make sure",
    "careful",
    "suspicious",
    "broken",
    "->",
    "<-",
    "=>",
    "<=",
    "-->",
    "<--",
    "\u{2190}",
    "\u{2192}",
    "!!!",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskId {
    Easy,
    Medium,
    Hard,
}

impl TaskId {
    pub const ALL: [TaskId; 3] = [TaskId::Easy, TaskId::Medium, TaskId::Hard];

    pub const fn as_str(self) -> &'static str {
        match self {
            TaskId::Easy => "easy",
            TaskId::Medium => "medium",
            TaskId::Hard => "hard",
        }
    }

    pub fn parse(s: &str) -> Option<TaskId> {
        TaskId::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub const fn name(self) -> &'static str {
        match self {
            TaskId::Easy => "Config Error Diagnosis",
            TaskId::Medium => "Data Leakage Detection",
            TaskId::Hard => "Silent Evaluation Bug",
        }
    }

    pub const fn max_steps(self) -> u32 {
        match self {
            TaskId::Easy => 20,
            TaskId::Medium => 30,
            TaskId::Hard => 40,
        }
    }

    pub const fn bug_pool(self) -> [BugKind; 3] {
        match self {
            TaskId::Easy => [BugKind::ExplodingLr, BugKind::WrongOptimizer, BugKind::BatchSizeOverflow],
            TaskId::Medium => {
                [BugKind::DataLeakageScaler, BugKind::DataLeakageOverlap, BugKind::WrongSplitRatio]
            }
            TaskId::Hard => {
                [BugKind::LabelEncoderMismatch, BugKind::SilentMetricSwap, BugKind::TokenizerVersionDrift]
            }
        }
    }

    pub const fn modalities(self) -> &'static [Modality] {
        match self {
            TaskId::Easy => &[Modality::Image, Modality::Text],
            TaskId::Medium => &[Modality::Tabular, Modality::Image, Modality::Text],
            TaskId::Hard => &[Modality::Text],
        }
    }

    /// The status line of run_summary: one constant per task.
    pub const fn status_line(self) -> &'static str {
        match self {
            // "ended": an easy run may have been stopped on a non-finite loss
            TaskId::Easy => "training run ended; results are far from what this setup usually reaches",
            TaskId::Medium => {
                "training run completed; the data pipeline is under review before the model ships"
            }
            // not "cleanly": a hard log may carry a retried checkpoint write
            TaskId::Hard => "training run completed; reported evaluation numbers are under review",
        }
    }

    pub fn brief(self) -> &'static str {
        match self {
            TaskId::Easy => BRIEF_EASY,
            TaskId::Medium => BRIEF_MEDIUM,
            TaskId::Hard => BRIEF_HARD,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Text,
    Image,
    Tabular,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ConfigError,
    DataLeakage,
    EvaluationBug,
    PreprocessingBug,
    LabelMismatch,
    ArchitectureBug,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::ConfigError,
        Category::DataLeakage,
        Category::EvaluationBug,
        Category::PreprocessingBug,
        Category::LabelMismatch,
        Category::ArchitectureBug,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Category::ConfigError => "config_error",
            Category::DataLeakage => "data_leakage",
            Category::EvaluationBug => "evaluation_bug",
            Category::PreprocessingBug => "preprocessing_bug",
            Category::LabelMismatch => "label_mismatch",
            Category::ArchitectureBug => "architecture_bug",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BugKind {
    ExplodingLr,
    WrongOptimizer,
    BatchSizeOverflow,
    DataLeakageScaler,
    DataLeakageOverlap,
    WrongSplitRatio,
    LabelEncoderMismatch,
    SilentMetricSwap,
    TokenizerVersionDrift,
}

impl BugKind {
    pub const ALL: [BugKind; 9] = [
        BugKind::ExplodingLr,
        BugKind::WrongOptimizer,
        BugKind::BatchSizeOverflow,
        BugKind::DataLeakageScaler,
        BugKind::DataLeakageOverlap,
        BugKind::WrongSplitRatio,
        BugKind::LabelEncoderMismatch,
        BugKind::SilentMetricSwap,
        BugKind::TokenizerVersionDrift,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            BugKind::ExplodingLr => "exploding_lr",
            BugKind::WrongOptimizer => "wrong_optimizer",
            BugKind::BatchSizeOverflow => "batch_size_overflow",
            BugKind::DataLeakageScaler => "data_leakage_scaler",
            BugKind::DataLeakageOverlap => "data_leakage_overlap",
            BugKind::WrongSplitRatio => "wrong_split_ratio",
            BugKind::LabelEncoderMismatch => "label_encoder_mismatch",
            BugKind::SilentMetricSwap => "silent_metric_swap",
            BugKind::TokenizerVersionDrift => "tokenizer_version_drift",
        }
    }

    pub fn parse(s: &str) -> Option<BugKind> {
        BugKind::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub const fn task(self) -> TaskId {
        match self {
            BugKind::ExplodingLr | BugKind::WrongOptimizer | BugKind::BatchSizeOverflow => TaskId::Easy,
            BugKind::DataLeakageScaler | BugKind::DataLeakageOverlap | BugKind::WrongSplitRatio => {
                TaskId::Medium
            }
            BugKind::LabelEncoderMismatch | BugKind::SilentMetricSwap | BugKind::TokenizerVersionDrift => {
                TaskId::Hard
            }
        }
    }

    pub const fn category(self) -> Category {
        match self {
            BugKind::ExplodingLr | BugKind::WrongOptimizer | BugKind::BatchSizeOverflow => {
                Category::ConfigError
            }
            BugKind::DataLeakageScaler | BugKind::DataLeakageOverlap => Category::DataLeakage,
            BugKind::WrongSplitRatio => Category::PreprocessingBug,
            BugKind::LabelEncoderMismatch => Category::LabelMismatch,
            BugKind::SilentMetricSwap | BugKind::TokenizerVersionDrift => Category::EvaluationBug,
        }
    }

    pub const fn file(self) -> ArtifactName {
        match self {
            BugKind::ExplodingLr | BugKind::WrongOptimizer | BugKind::BatchSizeOverflow => {
                ArtifactName::Config
            }
            _ => ArtifactName::Preprocessing,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ArtifactName {
    #[serde(rename = "config.yaml")]
    Config,
    #[serde(rename = "train.log")]
    TrainLog,
    #[serde(rename = "dataset_stats.json")]
    DatasetStats,
    #[serde(rename = "preprocessing.py")]
    Preprocessing,
    #[serde(rename = "eval_results.json")]
    EvalResults,
    #[serde(rename = "model_card.json")]
    ModelCard,
}

impl ArtifactName {
    pub const ALL: [ArtifactName; 6] = [
        ArtifactName::Config,
        ArtifactName::TrainLog,
        ArtifactName::DatasetStats,
        ArtifactName::Preprocessing,
        ArtifactName::EvalResults,
        ArtifactName::ModelCard,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ArtifactName::Config => "config.yaml",
            ArtifactName::TrainLog => "train.log",
            ArtifactName::DatasetStats => "dataset_stats.json",
            ArtifactName::Preprocessing => "preprocessing.py",
            ArtifactName::EvalResults => "eval_results.json",
            ArtifactName::ModelCard => "model_card.json",
        }
    }

    pub fn parse(s: &str) -> Option<ArtifactName> {
        ArtifactName::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn description(self) -> &'static str {
        match self {
            ArtifactName::Config => {
                "training configuration: model, training, optimizer, scheduler, data, logging"
            }
            ArtifactName::TrainLog => "training log: header, one line per epoch, warnings and errors, footer",
            ArtifactName::DatasetStats => {
                "dataset statistics: split sizes, class counts, overlap, feature statistics"
            }
            ArtifactName::Preprocessing => "data pipeline and evaluation code",
            ArtifactName::EvalResults => "final evaluation metrics on the validation and test splits",
            ArtifactName::ModelCard => {
                "model card: architecture, dataset, classes, training summary, preprocessing versions"
            }
        }
    }

    /// A coarse size range per artifact kind and task, the same for every bug of the task.
    pub const fn size_hint(self, task: TaskId) -> &'static str {
        match (self, task) {
            (ArtifactName::Config, _) => "0.5-2 KB",
            (ArtifactName::TrainLog, _) => "1-8 KB",
            (ArtifactName::DatasetStats, _) => "1-4 KB",
            (ArtifactName::Preprocessing, TaskId::Easy) => "2-6 KB",
            (ArtifactName::Preprocessing, _) => "2-8 KB",
            (ArtifactName::EvalResults, _) => "0.3-1 KB",
            (ArtifactName::ModelCard, _) => "1-3 KB",
        }
    }

    /// Whether query_artifact resolves dot paths in this artifact (structured) or
    /// selects lines (log and code).
    pub const fn is_structured(self) -> bool {
        !matches!(self, ArtifactName::TrainLog | ArtifactName::Preprocessing)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    LabelConsistency,
    DataLeakage,
    GradientNorms,
    ClassBalance,
    FeatureStatistics,
    EncoderVersionMatch,
    LossTrajectory,
    MetricGapAnalysis,
}

impl CheckKind {
    pub const ALL: [CheckKind; 8] = [
        CheckKind::LabelConsistency,
        CheckKind::DataLeakage,
        CheckKind::GradientNorms,
        CheckKind::ClassBalance,
        CheckKind::FeatureStatistics,
        CheckKind::EncoderVersionMatch,
        CheckKind::LossTrajectory,
        CheckKind::MetricGapAnalysis,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CheckKind::LabelConsistency => "label_consistency",
            CheckKind::DataLeakage => "data_leakage",
            CheckKind::GradientNorms => "gradient_norms",
            CheckKind::ClassBalance => "class_balance",
            CheckKind::FeatureStatistics => "feature_statistics",
            CheckKind::EncoderVersionMatch => "encoder_version_match",
            CheckKind::LossTrajectory => "loss_trajectory",
            CheckKind::MetricGapAnalysis => "metric_gap_analysis",
        }
    }

    pub fn parse(s: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

macro_rules! brief {
    ($task_text:expr, $extra:expr) => {
        concat!(
            $task_text,
            "\n\nInvestigate with actions: read_config, read_logs (optional log_filter: a keyword, or epoch:N / epoch:N-M), ",
            "check_dataset_stats, inspect_preprocessing, read_eval_results, run_sanity_check (sanity_check_type: ",
            "label_consistency, data_leakage, gradient_norms, class_balance, feature_statistics, encoder_version_match, ",
            "loss_trajectory, metric_gap_analysis), query_artifact (artifact_name, optional field_path: a dot path such as ",
            "optimizer.momentum or metrics.val_accuracy into config.yaml or a JSON artifact, or an identifier to find in ",
            "train.log or preprocessing.py; without field_path it reads the whole artifact, which is how model_card.json is read), ",
            "and submit_diagnosis, which ends the episode.\n\n",
            "Artifacts: config.yaml, train.log, dataset_stats.json, preprocessing.py, eval_results.json, model_card.json.\n\n",
            "Submit: failure_category (one of config_error, data_leakage, evaluation_bug, preprocessing_bug, label_mismatch, ",
            "architecture_bug), root_cause_file (one of the six artifact names), root_cause_field, diagnosis (free text, ",
            "recorded, not scored) and proposed_fix (a concrete change with values).\n\n",
            "Naming root_cause_field: the place the fault lives. In config.yaml, the key's dot path, for example ",
            "data.num_workers. In code, an identifier on the faulty statement itself: the variable it assigns, the function ",
            "it calls or that call's keyword argument with the wrong value, the dictionary key or the constant it writes, ",
            "optionally qualified by the enclosing function, the object or the class, for example augment_batch.crop_size ",
            "or metrics[\"f1\"] (made-up examples). Where a fault spans two statements, either counts. The enclosing ",
            "function's name alone earns half the field where that function holds no other possible fault. Several ",
            "different places, or a name that points at healthy lines as much as at the faulty one (a variable or call ",
            "used on many lines), earn nothing.\n\n",
            "Scoring: category 0.15, file 0.25, field 0.30, fix up to 0.30 (the concepts of the right fix, with values in a ",
            "healthy range, in your own words; proposing a fix for another fault as well halves the fix credit, for two ",
            "or more it earns nothing). Reading fewer than 3 distinct artifacts before submitting costs 0.05; a ",
            "query_artifact with field_path that finds its field counts as looking at that artifact (it earns no read ",
            "reward). Step rewards: first read of an artifact +0.02, a read identical to an earlier one -0.02, first run ",
            "of a sanity check type +0.01, anything else 0.",
            $extra,
            "\n\nSanity check results are PASS, WARN, ANOMALY or FAIL. Thresholds: gradient_norms WARN above 5.0, ANOMALY above ",
            "10.0, non-finite, or last/first above 3.0; loss_trajectory ANOMALY when diverging (non-finite, or last/first ",
            "training loss above 1.5), oscillating (at least half the epoch-to-epoch changes reverse direction and last/first ",
            "stays above 0.7) or collapsing (final training loss below 0.01), WARN when last/first stays above 0.8; ",
            "class_balance WARN above a max/min class ratio of 1.5, ANOMALY above 3.0; feature_statistics ANOMALY when train ",
            "and val statistics are identical or the val mean shifts by more than 0.25 train standard deviations (WARN above ",
            "0.1); metric_gap_analysis ANOMALY when test accuracy is above val accuracy, val exceeds test by more than 0.08 ",
            "(WARN above 0.05), or eval accuracy falls more than 0.05 below the log's best val accuracy (WARN above 0.02); ",
            "label_consistency, data_leakage and encoder_version_match FAIL when a hard invariant is violated (mappings ",
            "differ; split overlap above 0 or a normaliser fitted before the split; versions differ). A check whose inputs ",
            "the run lacks returns PASS with not_applicable."
        )
    };
}

const BRIEF_EASY: &str = brief!(
    "You are a senior ML engineer. A training run produced poor results and exactly one fault in its setup is \
     responsible. In this task the fault is a configuration error in config.yaml: one of exploding_lr \
     (failure_category config_error: a learning rate orders of magnitude too large), wrong_optimizer (config_error: \
     SGD with a momentum that prevents convergence) or batch_size_overflow (config_error: a batch size larger than \
     the training split). The run may also show benign warnings that \
     are not the fault. Find the fault and submit a structured diagnosis.",
    ""
);

const BRIEF_MEDIUM: &str = brief!(
    "You are a senior ML engineer. A training run reports numbers that do not hold up, and exactly one fault in its \
     data pipeline is responsible. In this task the fault lies in how the data is split or scaled, in \
     preprocessing.py: one of data_leakage_scaler (failure_category data_leakage: a normaliser fitted on all data \
     before the split), data_leakage_overlap (data_leakage: splits drawn so that validation overlaps training) or \
     wrong_split_ratio (preprocessing_bug: a split that trains on the minority of the data). The run may also show benign warnings that are not the fault. Find the \
     fault and submit a structured diagnosis.",
    ""
);

const BRIEF_HARD: &str = brief!(
    "You are a senior ML engineer. Training looked healthy, but the reported evaluation is not trustworthy, and \
     exactly one silent fault in the evaluation path is responsible. The fault is in preprocessing.py: one of \
     label_encoder_mismatch (failure_category label_mismatch: evaluation builds a label-to-index mapping that \
     differs from training's), silent_metric_swap (evaluation_bug: validation and test accuracy stored under each \
     other's names) or tokenizer_version_drift (evaluation_bug: evaluation loads a different tokenizer version \
     than training). The run may also show benign warnings that \
     are not the fault. Find the fault and submit a structured diagnosis.",
    "\n\nHard task rule: when the four components sum to less than 0.70, each component's shortfall (its weight minus \
     what it earned) is deducted once more at half weight, so partial answers score low."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bug_belongs_to_exactly_the_pool_of_its_task() {
        for bug in BugKind::ALL {
            assert!(bug.task().bug_pool().contains(&bug));
            assert_eq!(BugKind::parse(bug.as_str()), Some(bug));
        }
        let pooled: usize = TaskId::ALL.iter().map(|t| t.bug_pool().len()).sum();
        assert_eq!(pooled, BugKind::ALL.len());
    }

    #[test]
    fn briefs_state_the_vocabulary_and_thresholds() {
        for task in TaskId::ALL {
            let brief = task.brief();
            for c in Category::ALL {
                assert!(brief.contains(c.as_str()));
            }
            for a in ArtifactName::ALL {
                assert!(brief.contains(a.as_str()));
            }
            for b in task.bug_pool() {
                assert!(brief.contains(b.as_str()));
                // each fault is named with its category
                let at = brief.find(b.as_str()).unwrap() + b.as_str().len();
                let said = brief[at..].trim_start_matches([' ', '(']).trim_start_matches("failure_category ");
                assert!(said.starts_with(b.category().as_str()), "{} without its category", b.as_str());
            }
            for check in CheckKind::ALL {
                assert!(brief.contains(check.as_str()));
            }
        }
        assert!(TaskId::Hard.brief().contains("0.70"));
        assert!(!TaskId::Easy.brief().contains("0.70"));
    }
}
