//! The stuffing agent: the strongest constant cheat of environment.md §10.2.
//! It reads three artifacts, then submits the category and file with the best
//! expected score for the task, a field listing every fault's field, and a fix
//! concatenating every fix it can think of. The grader must give it little.

use serde_json::{Value, json};

use crate::env::action::ActionType;

const READS: [ActionType; 3] =
    [ActionType::ReadConfig, ActionType::ReadLogs, ActionType::InspectPreprocessing];

const ALL_FIELDS: &str = "optimizer.learning_rate, optimizer.momentum, training.batch_size, \
    StandardScaler.fit_transform, train_test_split.random_state, train_test_split.test_size, \
    LabelEncoder.classes_, metrics.val_accuracy, tokenizer.version";

const ALL_FIXES: &str = "Lower the learning rate to 3e-4. Lower the momentum to 0.9. \
    Lower the batch size to 64. Fit the StandardScaler on the training split only, after the split. \
    Use one seeded split with random_state=42 and split the held-out remainder into disjoint validation and test sets. \
    Set test_size to 0.2 so the model trains on the majority of the data. \
    Reuse the same training LabelEncoder at evaluation. \
    Swap the val_accuracy and test_accuracy assignments back. \
    Load the same tokenizer version in evaluation as in training.";

#[derive(Default)]
pub struct Stuffing;

impl Stuffing {
    pub fn act(&mut self, observation: &Value) -> Value {
        let steps = observation["step_count"].as_u64().unwrap_or(0) as usize;
        if let Some(read) = READS.get(steps) {
            return json!({"action_type": read.as_str()});
        }
        let (category, file) = match observation["task_id"].as_str() {
            Some("easy") => ("config_error", "config.yaml"),
            Some("medium") => ("data_leakage", "preprocessing.py"),
            _ => ("evaluation_bug", "preprocessing.py"),
        };
        json!({"action_type": ActionType::SubmitDiagnosis.as_str(), "failure_category": category, "root_cause_file": file,
               "root_cause_field": ALL_FIELDS, "diagnosis": "everything", "proposed_fix": ALL_FIXES})
    }
}
