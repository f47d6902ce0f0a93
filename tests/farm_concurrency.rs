//! 1,000 concurrent sessions, WebSocket and HTTP mixed, each playing a seeded
//! episode: every trajectory equals the same episode played alone.

mod common;

use std::sync::Arc;

use common::*;
use mlops_debug_env::config::{FarmSettings, Settings};
use mlops_debug_env::env::grader::ground_truth;
use mlops_debug_env::env::{Episode, TaskId};
use serde_json::{Value, json};
use tokio::sync::Barrier;

const SESSIONS: usize = 1_000;

fn script(task: TaskId, seed: u64) -> Vec<Value> {
    let gt = ground_truth(Episode::new(task, seed, "x").world());
    vec![
        json!({"action_type": "read_config"}),
        json!({"action_type": "read_logs", "log_filter": "epoch:1-2"}),
        json!({"action_type": "run_sanity_check", "sanity_check_type": "metric_gap_analysis"}),
        json!({"action_type": "query_artifact", "artifact_name": "eval_results.json", "field_path": "metrics"}),
        json!({"action_type": "bogus"}),
        json!({"action_type": "submit_diagnosis", "failure_category": gt.category.as_str(), "root_cause_file": gt.file.as_str(),
               "root_cause_field": gt.field, "diagnosis": "", "proposed_fix": gt.fix}),
    ]
}

/// The same episode played alone, in process: each step's reply or error code.
fn solo(task: TaskId, seed: u64, episode_id: &str) -> Vec<Value> {
    let mut ep = Episode::new(task, seed, episode_id);
    let mut out =
        vec![json!({"observation": ep.reset_observation(Vec::new()), "reward": null, "done": false})];
    for a in script(task, seed) {
        out.push(match ep.step_json(&a) {
            Ok(o) => json!({"observation": o.observation, "reward": o.reward, "done": o.done}),
            Err(_) => json!("VALIDATION_ERROR"),
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_sessions_each_see_their_own_episode() {
    let server = Arc::new(
        start(Settings { farm: FarmSettings { max_sessions: SESSIONS, ..settings().farm }, ..settings() })
            .await,
    );
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..SESSIONS {
        let (server, barrier, client) = (server.clone(), barrier.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let task = TaskId::ALL[i % 3];
            let seed = (i / 3) as u64 * 7919 + 1;
            let episode_id = format!("ep-{i}");
            let reset = json!({"task_id": task.as_str(), "seed": seed, "episode_id": episode_id});
            let mut got = Vec::new();
            if i % 2 == 0 {
                let mut ws = server.ws().await;
                got.push(request(&mut ws, json!({"type": "reset", "data": reset})).await["data"].clone());
                barrier.wait().await; // every session is live at once
                for a in script(task, seed) {
                    let r = request(&mut ws, json!({"type": "step", "data": a})).await;
                    got.push(if r["type"] == "error" {
                        r["data"]["code"].clone()
                    } else {
                        r["data"].clone()
                    });
                }
            } else {
                let http = Http { client, ..Http::new(&server) };
                let (_, _, mut r) = http.post("/reset", None, reset).await;
                let id = r["session_id"].as_str().unwrap().to_string();
                r.as_object_mut().unwrap().remove("session_id");
                r.as_object_mut().unwrap().remove("session_secret");
                got.push(r);
                barrier.wait().await;
                for a in script(task, seed) {
                    let (s, _, r) = http.post("/step", Some(&id), json!({"action": a})).await;
                    got.push(if s == 200 { r } else { r["error"]["code"].clone() });
                }
            }
            assert_eq!(
                got,
                solo(task, seed, &episode_id),
                "session {i} differs from its episode played alone"
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let m = server.metrics().await;
    assert_eq!(metric(&m, r#"mlops_sessions_created_total{transport="ws"}"#), Some(500.0));
    assert_eq!(metric(&m, r#"mlops_sessions_created_total{transport="http"}"#), Some(500.0));
    let submitted: f64 = ["easy", "medium", "hard"]
        .iter()
        .map(|t| metric(&m, &format!(r#"mlops_episodes_total{{task="{t}",outcome="submitted"}}"#)).unwrap())
        .sum();
    assert_eq!(submitted, SESSIONS as f64);
    Arc::try_unwrap(server).ok().expect("sole owner").stop().await;
}
