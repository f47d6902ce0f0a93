//! openenv.yaml agrees with the catalogue: tasks, budgets, pools, checks,
//! artifacts, categories, action types, observation keys, rewards.

use mlops_debug_env::env::action::ActionType;
use mlops_debug_env::env::catalogue::*;
use mlops_debug_env::env::{Episode, TaskId};
use yaml_rust2::{Yaml, YamlLoader};

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn openenv_yaml_matches_the_catalogue() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openenv.yaml")).unwrap();
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    assert_eq!(doc["spec_version"].as_i64(), Some(1));
    assert_eq!(doc["name"].as_str(), Some("mlops-debug-env"));
    assert_eq!(doc["port"].as_i64(), Some(7860));
    assert_eq!(doc["env_version"].as_str(), Some(ENV_VERSION));
    let tasks = doc["tasks"].as_vec().unwrap();
    assert_eq!(tasks.len(), TaskId::ALL.len());
    for (y, task) in tasks.iter().zip(TaskId::ALL) {
        assert_eq!(y["id"].as_str(), Some(task.as_str()));
        assert_eq!(y["name"].as_str(), Some(task.name()));
        assert_eq!(y["max_steps"].as_i64(), Some(task.max_steps() as i64));
        let pool: Vec<String> = task.bug_pool().iter().map(|b| b.as_str().to_string()).collect();
        assert_eq!(strings(&y["bug_pool"]), pool);
    }
    let actions = doc["action_space"].as_hash().unwrap();
    let names: Vec<&str> = actions.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ActionType::ALL.map(ActionType::as_str).to_vec());
    let checks: Vec<String> = CheckKind::ALL.iter().map(|c| c.as_str().to_string()).collect();
    assert_eq!(strings(&doc["action_space"]["run_sanity_check"]["sanity_check_type"]), checks);
    let artifacts: Vec<String> = ArtifactName::ALL.iter().map(|a| a.as_str().to_string()).collect();
    assert_eq!(strings(&doc["action_space"]["query_artifact"]["artifact_name"]), artifacts);
    let categories: Vec<String> = Category::ALL.iter().map(|c| c.as_str().to_string()).collect();
    assert_eq!(strings(&doc["action_space"]["submit_diagnosis"]["failure_category"]), categories);
    let obs = serde_json::to_value(Episode::new(TaskId::Easy, 0, "m").reset_observation(Vec::new())).unwrap();
    let keys: Vec<String> = obs.as_object().unwrap().keys().cloned().collect();
    let mut declared = strings(&doc["observation"]["fields"]);
    let mut actual = keys.clone();
    declared.sort();
    actual.sort();
    assert_eq!(declared, actual, "observation keys");
    let r = &doc["reward"];
    let bp = |y: &Yaml| (y.as_f64().unwrap() * 10_000.0).round() as i64;
    assert_eq!(bp(&r["per_step"]["first_read_of_an_artifact"]), REWARD_FIRST_READ);
    assert_eq!(bp(&r["per_step"]["identical_read"]), REWARD_DUPLICATE_READ);
    assert_eq!(bp(&r["per_step"]["first_run_of_a_check_type"]), REWARD_FIRST_CHECK);
    assert_eq!(bp(&r["terminal"]["failure_category"]), WEIGHT_CATEGORY);
    assert_eq!(bp(&r["terminal"]["root_cause_file"]), WEIGHT_FILE);
    assert_eq!(bp(&r["terminal"]["root_cause_field"]), WEIGHT_FIELD);
    assert_eq!(bp(&r["terminal"]["proposed_fix"]), WEIGHT_FIX);
    assert_eq!(bp(&r["terminal"]["investigation_penalty"]), INVESTIGATION_PENALTY);
    assert_eq!(bp(&r["terminal"]["hard_task_threshold"]), HARD_TASK_THRESHOLD);
}
