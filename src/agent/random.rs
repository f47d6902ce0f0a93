//! The random agent: random valid actions, then a random diagnosis.

use serde_json::{Value, json};

use crate::env::action::ActionType;
use crate::env::catalogue::{ArtifactName, Category, CheckKind};

/// SplitMix64: a small, seedable generator for the agent's own choices.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIELDS: [&str; 9] = [
    "optimizer.learning_rate",
    "optimizer.momentum",
    "training.batch_size",
    "StandardScaler.fit_transform",
    "train_test_split.random_state",
    "train_test_split.test_size",
    "LabelEncoder.classes_",
    "metrics.val_accuracy",
    "tokenizer.version",
];
const FIXES: [&str; 4] =
    ["Retrain the model.", "Check the pipeline again.", "Lower the learning rate to 1e-4.", "Use more data."];

pub struct RandomAgent {
    rng: SplitMix,
    /// Steps to take before submitting.
    budget: Option<u64>,
}

impl RandomAgent {
    pub fn new(seed: u64) -> RandomAgent {
        RandomAgent { rng: SplitMix::new(seed), budget: None }
    }

    pub fn act(&mut self, observation: &Value) -> Value {
        let max = observation["max_steps"].as_u64().unwrap_or(20);
        let budget = *self.budget.get_or_insert_with(|| 1 + self.rng.next_u64() % (max - 1));
        let steps = observation["step_count"].as_u64().unwrap_or(0);
        let r = &mut self.rng;
        if steps + 1 >= budget {
            return json!({"action_type": "submit_diagnosis",
                "failure_category": r.pick(&Category::ALL).as_str(),
                "root_cause_file": r.pick(&ArtifactName::ALL).as_str(),
                "root_cause_field": *r.pick(&FIELDS), "diagnosis": "random", "proposed_fix": *r.pick(&FIXES)});
        }
        // Every action but the one that ends the episode, in the catalogue's order.
        let actions: Vec<ActionType> = ActionType::ALL.into_iter().filter(|t| !t.ends_episode()).collect();
        match *r.pick(&actions) {
            ActionType::RunSanityCheck => {
                json!({"action_type": "run_sanity_check", "sanity_check_type": r.pick(&CheckKind::ALL).as_str()})
            }
            ActionType::QueryArtifact => {
                json!({"action_type": "query_artifact", "artifact_name": r.pick(&ArtifactName::ALL).as_str()})
            }
            ActionType::ReadLogs if r.below(2) == 0 => {
                json!({"action_type": "read_logs", "log_filter": format!("epoch:1-{}", 1 + r.below(5))})
            }
            other => json!({"action_type": other.as_str()}),
        }
    }
}
