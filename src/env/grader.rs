//! Terminal grading: four independent components, the investigation and
//! hard-task penalties, all in integer basis points (environment.md §7).

use serde::{Serialize, Serializer};

use super::artifacts::code::names;
use super::catalogue::*;
use super::fields::{canonical_field, expected_location, grade_field};
use super::num::Sci2;
use super::rubric::grade_fix;
use super::world::{Normaliser, OptimizerKind, World};

/// Basis points (1 = 0.0001), written to JSON as a number with at most 4 decimals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bp(pub i64);

impl Bp {
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 10_000.0
    }
}

impl Serialize for Bp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

/// A submitted diagnosis (validated).
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    pub failure_category: Category,
    pub root_cause_file: String,
    pub root_cause_field: String,
    pub diagnosis: String,
    pub proposed_fix: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Component {
    pub awarded: Bp,
    pub correct: bool,
}

impl Component {
    const ZERO: Component = Component { awarded: Bp(0), correct: false };
}

/// The field component, with the location the answer was matched to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldComponent {
    pub awarded: Bp,
    pub correct: bool,
    /// Where the answer was matched (absent when it earned nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_location: Option<String>,
    /// The fault's location: revealed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_location: Option<String>,
}

/// The fix component, with the rubric concepts the fix asserted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FixComponent {
    pub awarded: Bp,
    pub correct: bool,
    pub concepts_found: Vec<&'static str>,
    /// Concepts of the right fix it lacks: revealed only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concepts_missing: Option<Vec<&'static str>>,
    /// Other faults whose fix it also proposed: one halves the credit, two or more void it.
    pub other_faults_proposed: Vec<BugKind>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakdown {
    pub failure_category: Component,
    pub root_cause_file: Component,
    pub root_cause_field: FieldComponent,
    pub proposed_fix: FixComponent,
    pub investigation_penalty: Bp,
    pub hard_task_penalty: Bp,
}

impl Breakdown {
    /// What a truncated episode reports: nothing graded.
    pub fn ungraded() -> Breakdown {
        Breakdown {
            failure_category: Component::ZERO,
            root_cause_file: Component::ZERO,
            root_cause_field: FieldComponent {
                awarded: Bp(0),
                correct: false,
                matched_location: None,
                expected_location: None,
            },
            proposed_fix: FixComponent {
                awarded: Bp(0),
                correct: false,
                concepts_found: Vec::new(),
                concepts_missing: None,
                other_faults_proposed: Vec::new(),
            },
            investigation_penalty: Bp(0),
            hard_task_penalty: Bp(0),
        }
    }

    /// Without what would reveal the answer: the expected location and the
    /// rubric concepts the fix lacks.
    pub fn redacted(mut self) -> Breakdown {
        self.root_cause_field.expected_location = None;
        self.proposed_fix.concepts_missing = None;
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroundTruth {
    pub bug_type: BugKind,
    pub category: Category,
    pub file: ArtifactName,
    pub field: String,
    pub fix: String,
}

impl GroundTruth {
    /// The canonical answer: the diagnosis that scores 1.0.
    pub fn canonical_diagnosis(&self) -> Diagnosis {
        Diagnosis {
            failure_category: self.category,
            root_cause_file: self.file.as_str().into(),
            root_cause_field: self.field.clone(),
            diagnosis: String::new(),
            proposed_fix: self.fix.clone(),
        }
    }
}

pub fn ground_truth(w: &World) -> GroundTruth {
    GroundTruth {
        bug_type: w.bug,
        category: w.bug.category(),
        file: w.bug.file(),
        field: canonical_field(w),
        fix: canonical_fix(w),
    }
}

/// A healthy learning rate to suggest for the episode's optimizer.
fn healthy_lr(w: &World) -> Sci2 {
    match w.optimizer {
        OptimizerKind::Sgd => Sci2 { digits: 10, exp: -2 },
        _ => Sci2 { digits: 30, exp: -4 },
    }
}

/// The canonical fix, quoting the episode's own values.
pub fn canonical_fix(w: &World) -> String {
    let n = names(w);
    match w.bug {
        BugKind::ExplodingLr => format!(
            "Lower optimizer.learning_rate from {} to {} so the loss stops diverging.",
            w.lr.text(),
            healthy_lr(w).text()
        ),
        BugKind::WrongOptimizer => format!(
            "Lower optimizer.momentum from {} to 0.9 so SGD stops oscillating.",
            super::artifacts::tree::plain_float(w.momentum)
        ),
        BugKind::BatchSizeOverflow => format!(
            "Lower training.batch_size from {} to 64, well below the {} training samples, so each epoch takes many optimisation steps.",
            w.batch_size, w.n_train
        ),
        BugKind::DataLeakageScaler if w.normaliser == Normaliser::ChannelStats => format!(
            "Fit the ChannelNormalizer on the training images only: call {}.fit_transform on X_train after the split and {}.transform on X_val and X_test.",
            n.normaliser_var, n.normaliser_var
        ),
        BugKind::DataLeakageScaler => format!(
            "Fit the StandardScaler on the training split only: call {}.fit_transform on X_train after train_test_split and {}.transform on X_val and X_test.",
            n.normaliser_var, n.normaliser_var
        ),
        BugKind::DataLeakageOverlap => "Split once with a fixed integer random_state (e.g. random_state=42) in train_test_split, then split the held-out remainder into validation and test so the splits are disjoint.".to_string(),
        BugKind::WrongSplitRatio => format!(
            "Set test_size in train_test_split from {} to 0.2 so the model trains on the majority of the data.",
            super::artifacts::tree::plain_float(w.test_size())
        ),
        BugKind::LabelEncoderMismatch => format!(
            "Build the evaluation mapping {} from the training LabelEncoder's classes_ (reuse the same fitted encoder) so every class keeps its training index.",
            n.label_map_var
        ),
        BugKind::SilentMetricSwap => format!(
            "Swap the two assignments back: store val_acc under {r}['val_accuracy'] and test_acc under {r}['test_accuracy'].",
            r = n.results_var
        ),
        BugKind::TokenizerVersionDrift => {
            let t = w.tokenizer.expect("hard-task models have a tokenizer");
            format!(
                "Load the same tokenizer version {} in evaluation as in training instead of {}, so evaluation text is tokenized with the training vocabulary.",
                t.train_version.text(),
                t.eval_version.text()
            )
        }
    }
}

/// Basename, trimmed and lower-cased, equals the bug's file.
fn file_matches(w: &World, answer: &str) -> bool {
    let base = answer.trim().rsplit(['/', '\\']).next().unwrap_or("").trim().to_lowercase();
    base == w.bug.file().as_str()
}

fn component(awarded: i64, correct_at: i64) -> Component {
    Component { awarded: Bp(awarded), correct: awarded >= correct_at }
}

/// Grades a diagnosis; returns the score and its breakdown.
pub fn grade(
    w: &World,
    d: &Diagnosis,
    distinct_artifacts_read: usize,
    investigation_applies: bool,
) -> (Bp, Breakdown) {
    let category = if d.failure_category == w.bug.category() { WEIGHT_CATEGORY } else { 0 };
    let file = if file_matches(w, &d.root_cause_file) { WEIGHT_FILE } else { 0 };
    let field_grade = grade_field(w, &d.root_cause_field, WEIGHT_FIELD);
    let field = field_grade.credit;
    let fix_grade = grade_fix(w, &d.proposed_fix, WEIGHT_FIX);
    let fix = fix_grade.credit;
    let sum = category + file + field + fix;
    let hard_task_penalty = if w.task == TaskId::Hard && sum < HARD_TASK_THRESHOLD {
        let shortfall =
            (WEIGHT_CATEGORY - category) + (WEIGHT_FILE - file) + (WEIGHT_FIELD - field) + (WEIGHT_FIX - fix);
        -(shortfall / 2)
    } else {
        0
    };
    let investigation_penalty = if investigation_applies && distinct_artifacts_read < MIN_ARTIFACTS_READ {
        INVESTIGATION_PENALTY
    } else {
        0
    };
    let score = (sum + hard_task_penalty + investigation_penalty).clamp(0, 10_000);
    let breakdown = Breakdown {
        failure_category: component(category, WEIGHT_CATEGORY),
        root_cause_file: component(file, WEIGHT_FILE),
        root_cause_field: FieldComponent {
            awarded: Bp(field),
            correct: field >= WEIGHT_FIELD,
            matched_location: field_grade.matched,
            expected_location: Some(expected_location(w)),
        },
        proposed_fix: FixComponent {
            awarded: Bp(fix),
            // correct at >= 0.8 of the weight
            correct: fix >= WEIGHT_FIX * 8 / 10,
            concepts_found: fix_grade.found,
            concepts_missing: Some(fix_grade.missing),
            other_faults_proposed: fix_grade.foreign,
        },
        investigation_penalty: Bp(investigation_penalty),
        hard_task_penalty: Bp(hard_task_penalty),
    };
    (Bp(score), breakdown)
}
