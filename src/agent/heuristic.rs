//! The heuristic investigator: reads artifacts, runs the checks that separate
//! the task's faults, queries the fields it needs, reasons from that evidence
//! to one diagnosis and writes the fix in its own words. It sees only what the
//! environment shows through its actions: never the seed, the ground truth or
//! the environment's code.

use serde_json::{Value, json};

use crate::env::action::ActionType;

/// What the investigation has established so far.
#[derive(Default)]
struct Evidence {
    checks: Vec<(String, Value)>,
    queries: Vec<(String, Value)>,
}

impl Evidence {
    fn check(&self, name: &str) -> Option<&Value> {
        self.checks.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn verdict(&self, name: &str) -> &str {
        self.check(name).and_then(|c| c["result"].as_str()).unwrap_or("PASS")
    }
    fn measurement(&self, check: &str, key: &str) -> Option<&Value> {
        self.check(check).map(|c| &c["measurements"][key])
    }
    fn query(&self, path: &str) -> Option<&Value> {
        self.queries.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }
    fn number(&self, path: &str) -> Option<f64> {
        self.query(path).and_then(Value::as_f64)
    }
}

pub struct Heuristic {
    plan: Vec<Value>,
    next: usize,
    evidence: Evidence,
    task: String,
}

fn read(action: ActionType) -> Value {
    json!({"action_type": action.as_str()})
}
fn check(name: &str) -> Value {
    json!({"action_type": ActionType::RunSanityCheck.as_str(), "sanity_check_type": name})
}
fn query(artifact: &str, path: &str) -> Value {
    json!({"action_type": ActionType::QueryArtifact.as_str(), "artifact_name": artifact, "field_path": path})
}

impl Heuristic {
    pub fn new() -> Heuristic {
        Heuristic { plan: Vec::new(), next: 0, evidence: Evidence::default(), task: String::new() }
    }

    /// The investigation plan for a task: three reads (no investigation
    /// penalty), the checks that tell its faults apart, the fields a fix needs.
    fn plan_for(task: &str) -> Vec<Value> {
        match task {
            "easy" => vec![
                read(ActionType::ReadConfig),
                read(ActionType::ReadLogs),
                read(ActionType::CheckDatasetStats),
                check("loss_trajectory"),
                check("gradient_norms"),
                query("config.yaml", "optimizer.name"),
                query("config.yaml", "optimizer.learning_rate"),
                query("config.yaml", "optimizer.momentum"),
                query("config.yaml", "training.batch_size"),
                query("dataset_stats.json", "splits.train"),
            ],
            "medium" => vec![
                read(ActionType::ReadConfig),
                read(ActionType::CheckDatasetStats),
                read(ActionType::InspectPreprocessing),
                check("data_leakage"),
                check("feature_statistics"),
                check("metric_gap_analysis"),
                check("loss_trajectory"),
                query("dataset_stats.json", "splits"),
            ],
            _ => vec![
                read(ActionType::ReadLogs),
                read(ActionType::ReadEvalResults),
                read(ActionType::InspectPreprocessing),
                check("label_consistency"),
                check("encoder_version_match"),
                check("metric_gap_analysis"),
                query("preprocessing.py", "load_tokenizer"),
            ],
        }
    }

    /// Records what the last action showed.
    fn observe(&mut self, observation: &Value) {
        let result = &observation["last_action_result"];
        match result["action_type"].as_str().and_then(ActionType::parse) {
            Some(ActionType::RunSanityCheck) => {
                let name = result["check"].as_str().unwrap_or_default().to_string();
                self.evidence.checks.push((name, result.clone()));
            }
            Some(ActionType::QueryArtifact) if result.get("field_path").is_some() => {
                let path = result["field_path"].as_str().unwrap_or_default().to_string();
                let value = if result["found"] == true { result["value"].clone() } else { Value::Null };
                self.evidence.queries.push((path, value));
            }
            _ => {}
        }
    }

    /// The next action, given the latest observation.
    pub fn act(&mut self, observation: &Value) -> Value {
        if self.plan.is_empty() {
            self.task = observation["task_id"].as_str().unwrap_or("easy").to_string();
            self.plan = Self::plan_for(&self.task);
        } else {
            self.observe(observation);
        }
        if let Some(action) = self.plan.get(self.next) {
            self.next += 1;
            return action.clone();
        }
        self.diagnose()
    }

    fn submit(category: &str, file: &str, field: &str, diagnosis: &str, fix: String) -> Value {
        json!({"action_type": ActionType::SubmitDiagnosis.as_str(), "failure_category": category, "root_cause_file": file,
               "root_cause_field": field, "diagnosis": diagnosis, "proposed_fix": fix})
    }

    fn diagnose(&self) -> Value {
        let e = &self.evidence;
        match self.task.as_str() {
            "easy" => {
                let lr = e.number("optimizer.learning_rate").unwrap_or(0.0);
                let adaptive = e.query("optimizer.name").and_then(Value::as_str).is_some_and(|n| n != "sgd");
                let momentum = e.number("optimizer.momentum").unwrap_or(0.0);
                let batch = e.number("training.batch_size").unwrap_or(0.0);
                let train = e.number("splits.train").unwrap_or(f64::INFINITY);
                let diverging =
                    e.measurement("loss_trajectory", "non_finite").and_then(Value::as_u64).unwrap_or(0) > 0;
                if diverging || lr > 1.0 {
                    let target = if adaptive { "3e-4" } else { "1e-2" };
                    Self::submit(
                        "config_error",
                        "config.yaml",
                        "optimizer.learning_rate",
                        "The loss grows every epoch and turns nan; gradient norms explode. The learning rate is orders of magnitude too large.",
                        format!("Lower the learning rate from {lr} to {target}."),
                    )
                } else if !adaptive && momentum >= 0.95 {
                    Self::submit(
                        "config_error",
                        "config.yaml",
                        "optimizer.momentum",
                        "SGD momentum this close to 1 keeps the loss oscillating without converging, with large gradient norms.",
                        format!("Lower the SGD momentum from {momentum} to 0.9."),
                    )
                } else {
                    let target = if train > 64.0 { 64 } else { 16 };
                    Self::submit(
                        "config_error",
                        "config.yaml",
                        "training.batch_size",
                        &format!(
                            "The batch size {batch} exceeds the {train} training samples: one step per epoch, so the model underfits."
                        ),
                        format!(
                            "Lower the batch size from {batch} to {target}, far below the {train} training samples."
                        ),
                    )
                }
            }
            "medium" => {
                let fitted = e
                    .measurement("data_leakage", "normaliser_fitted_on")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let normaliser = e
                    .measurement("data_leakage", "normaliser")
                    .and_then(Value::as_str)
                    .unwrap_or("StandardScaler");
                let overlap =
                    e.measurement("data_leakage", "train_val_overlap").and_then(Value::as_u64).unwrap_or(0);
                if fitted == "all_data_before_split" {
                    Self::submit(
                        "data_leakage",
                        "preprocessing.py",
                        &format!("{normaliser}.fit_transform"),
                        "The normaliser is fitted on all data before the split: train and val feature statistics are identical and val/test accuracy is inflated.",
                        format!(
                            "Fit the {normaliser} on the training split only, after the split, and only transform validation and test with it."
                        ),
                    )
                } else if overlap > 0 {
                    Self::submit(
                        "data_leakage",
                        "preprocessing.py",
                        "X_val",
                        &format!("{overlap} validation samples also appear in training because the splits are drawn by separate unseeded calls; val accuracy is far above test."),
                        "Use one seeded split with a fixed random_state (42), then split the held-out remainder into validation and test so the splits are disjoint.".to_string(),
                    )
                } else {
                    Self::submit(
                        "preprocessing_bug",
                        "preprocessing.py",
                        "train_test_split.test_size",
                        "The test_size leaves the model training on a minority of the data: it memorises its small training split and val/test accuracy is low.",
                        "Set test_size to 0.2 so the model trains on the majority of the data.".to_string(),
                    )
                }
            }
            _ => {
                if e.verdict("label_consistency") == "FAIL" {
                    Self::submit(
                        "label_mismatch",
                        "preprocessing.py",
                        "LabelEncoder.classes_",
                        "The evaluation code builds its own class order, so every class is scored under another class's index.",
                        "Reuse the training LabelEncoder's classes_ for the evaluation mapping so it is identical to the training one.".to_string(),
                    )
                } else if e.verdict("encoder_version_match") == "FAIL" {
                    let train = e
                        .measurement("encoder_version_match", "train_version")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    // the variable evaluation loads its tokenizer into: not the training one
                    let lines =
                        e.query("load_tokenizer").and_then(Value::as_array).cloned().unwrap_or_default();
                    let eval_var = lines
                        .iter()
                        .filter_map(|l| l.as_str()?.trim().split_once(" = load_tokenizer"))
                        .map(|(var, _)| var.trim())
                        .find(|var| *var != "tokenizer")
                        .unwrap_or("eval_tokenizer");
                    Self::submit(
                        "evaluation_bug",
                        "preprocessing.py",
                        &format!("{eval_var}.version"),
                        "Evaluation loads an older tokenizer than training; tokens it lacks become [UNK] and eval accuracy drops.",
                        format!("Load the same tokenizer version {train} in evaluation as in training."),
                    )
                } else {
                    Self::submit(
                        "evaluation_bug",
                        "preprocessing.py",
                        "metrics.val_accuracy",
                        "Reported test accuracy is above val and equals the log's best val accuracy: the evaluation stores the two under each other's keys.",
                        "Swap the val_accuracy and test_accuracy assignments back so each metric is stored under its own key.".to_string(),
                    )
                }
            }
        }
    }
}

impl Default for Heuristic {
    fn default() -> Self {
        Heuristic::new()
    }
}
