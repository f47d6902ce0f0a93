//! Determinism: pinned episodes compared byte for byte, and the same episode
//! built on several threads at once. Rewrite the golden files only on purpose:
//! `UPDATE_GOLDEN=1 cargo test --test golden` (and bump ENV_VERSION).

use mlops_debug_env::commands;
use mlops_debug_env::env::grader::ground_truth;
use mlops_debug_env::env::{CheckKind, Episode, EpisodeOptions, TaskId};
use serde_json::{Value, json};

const SEEDS: [u64; 3] = [0, 7, u64::MAX];

/// A fixed script: every read, a filtered log read, two queries, every check, the canonical submit.
fn script(ep: &Episode) -> Vec<Value> {
    let gt = ground_truth(ep.world());
    let mut actions = vec![
        json!({"action_type": "read_config"}),
        json!({"action_type": "read_logs", "log_filter": "epoch:2-3"}),
        json!({"action_type": "read_logs"}),
        json!({"action_type": "check_dataset_stats"}),
        json!({"action_type": "inspect_preprocessing"}),
        json!({"action_type": "read_eval_results"}),
        json!({"action_type": "query_artifact", "artifact_name": "model_card.json"}),
        json!({"action_type": "query_artifact", "artifact_name": "config.yaml", "field_path": "optimizer"}),
        json!({"action_type": "query_artifact", "artifact_name": "preprocessing.py", "field_path": "test_size"}),
    ];
    for check in CheckKind::ALL {
        actions.push(json!({"action_type": "run_sanity_check", "sanity_check_type": check.as_str()}));
    }
    actions.push(json!({"action_type": "submit_diagnosis", "failure_category": gt.category.as_str(),
        "root_cause_file": gt.file.as_str(), "root_cause_field": gt.field, "diagnosis": "golden", "proposed_fix": gt.fix}));
    actions
}

/// The bytes pinned for one episode: its dump and a scripted trajectory.
fn golden_bytes(task: TaskId, seed: u64) -> String {
    let dump: Value = serde_json::from_str(&commands::episode(task, seed, true, true)).unwrap();
    // Pinned with the answer revealed (EpisodeOptions hide it by default since 2.0.0).
    let options = EpisodeOptions { reveal_answers: true, ..Default::default() };
    let mut ep = Episode::with_options(task, seed, commands::cli_episode_id(task, seed), options);
    let mut trajectory = Vec::new();
    for action in script(&ep) {
        let out = ep.step_json(&action).expect("scripted actions are valid");
        trajectory.push(
            json!({"action": action, "reward": out.reward, "done": out.done, "observation": out.observation}),
        );
    }
    trajectory.push(json!({"state": ep.state()}));
    let text = serde_json::to_string_pretty(&json!({"episode": dump, "trajectory": trajectory})).unwrap();
    text + "\n"
}

fn path(task: TaskId, seed: u64) -> String {
    format!("{}/tests/golden/{}-{seed}.json", env!("CARGO_MANIFEST_DIR"), task.as_str())
}

#[test]
fn pinned_episodes_match_byte_for_byte() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for task in TaskId::ALL {
        for seed in SEEDS {
            let bytes = golden_bytes(task, seed);
            let file = path(task, seed);
            if update {
                std::fs::write(&file, &bytes).unwrap();
                continue;
            }
            let pinned = std::fs::read_to_string(&file)
                .unwrap_or_else(|_| panic!("{file} missing: run UPDATE_GOLDEN=1 cargo test --test golden"));
            assert!(
                pinned == bytes,
                "{file} differs from this build's output (a deliberate change bumps ENV_VERSION and reruns with UPDATE_GOLDEN=1)"
            );
        }
    }
}

#[test]
fn the_same_episode_built_on_many_threads_at_once_is_identical() {
    for task in TaskId::ALL {
        let expected = golden_bytes(task, 42);
        let threads: Vec<_> = (0..8).map(|_| std::thread::spawn(move || golden_bytes(task, 42))).collect();
        for t in threads {
            assert!(t.join().unwrap() == expected, "task {}: bytes differ across threads", task.as_str());
        }
    }
}
