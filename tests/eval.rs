//! `eval` end to end: the agents' thresholds with modest counts, the output
//! formats, infrastructure failures kept apart from scores, and the llm agent
//! against a local fake chat-completions server (no network).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::routing::post;
use clap::Parser;
use common::*;
use mlops_debug_env::eval::{EvalArgs, report, run};
use serde_json::{Value, json};

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: EvalArgs,
}

fn args(line: &str) -> EvalArgs {
    Wrapper::parse_from(std::iter::once("eval").chain(line.split_whitespace())).args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heuristic_solves_and_stuffing_and_random_do_not() {
    let heuristic = run(&args("--agent heuristic --episodes 40 --concurrency 8"), |_| {}).await.unwrap();
    for (task, t) in &heuristic.tasks {
        assert_eq!((t.episodes, t.failures), (40, 0), "{task}");
        assert!(t.mean_score >= 0.95, "heuristic on {task}: {}", t.mean_score);
    }
    let stuffing = run(&args("--agent stuffing --episodes 60 --concurrency 8"), |_| {}).await.unwrap();
    for (task, t) in &stuffing.tasks {
        assert!(t.mean_score <= 0.45, "stuffing on {task}: {}", t.mean_score);
        assert!(
            t.components["root_cause_field"] <= 0.02 && t.components["proposed_fix"] <= 0.02,
            "{task}: {:?}",
            t.components
        );
    }
    assert!(stuffing.mean_score <= 0.30, "stuffing overall {}", stuffing.mean_score);
    let random = run(&args("--agent random --episodes 30 --concurrency 8 --seed-start 4294967296"), |_| {})
        .await
        .unwrap();
    assert!(random.mean_score < 0.3, "random {}", random.mean_score);
    assert!(
        random.throughput.steps_per_s > 0.0
            && random.throughput.step_latency_p99_ms >= random.throughput.step_latency_p50_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_failures_are_reported_not_scored() {
    // A farm with room for one session, evaluated with four connections at once.
    let server = start(mlops_debug_env::config::Settings {
        farm: mlops_debug_env::config::FarmSettings { max_sessions: 1, ..settings().farm },
        ..settings()
    })
    .await;
    let line =
        format!("--agent heuristic --tasks easy --episodes 12 --concurrency 4 --url {}", server.url(""));
    let summary = run(&args(&line), |_| {}).await.unwrap();
    let easy = &summary.tasks["easy"];
    assert!(easy.failures > 0, "capacity refusals are infrastructure failures");
    assert_eq!(easy.episodes + easy.failures, 12);
    assert!(easy.mean_score >= 0.95, "failed episodes are not scored as zero: {}", easy.mean_score);
    server.stop().await;
}

#[test]
fn the_command_prints_a_table_json_traces_and_trajectories() {
    let bin = env!("CARGO_BIN_EXE_mlops-debug-env");
    let dir = std::env::temp_dir().join(format!("mlops-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let traj = dir.join("t.jsonl");
    let out = Command::new(bin)
        .args([
            "eval",
            "--agent",
            "heuristic",
            "--tasks",
            "easy,hard",
            "--episodes",
            "2",
            "--concurrency",
            "2",
            "--trace",
            "--trajectories",
        ])
        .arg(&traj)
        .args(["--max-content-chars", "100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let starts = text
        .lines()
        .filter(|l| l.starts_with("[START] task=") && l.ends_with(" env=mlops-debug-env model=heuristic"))
        .count();
    assert_eq!(starts, 4);
    let step = text.lines().find(|l| l.starts_with("[STEP] ")).unwrap();
    let parts: Vec<&str> = step.splitn(3, ' ').collect();
    assert!(parts[1].starts_with("step=1") && parts[2].starts_with("action={"), "{step}");
    assert!(step.contains(" reward=0.02 done=false error=null"), "{step}");
    let end = text.lines().find(|l| l.starts_with("[END] ")).unwrap();
    assert!(
        end.starts_with("[END] success=true steps=") && end.contains(" score=1.0000 rewards=0.02,0.02,0.02,"),
        "{end}"
    );
    assert!(text.contains("task      episodes  mean score") && text.contains("throughput:"));
    let lines: Vec<Value> =
        std::fs::read_to_string(&traj).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    for l in &lines {
        for key in [
            "task",
            "seed",
            "agent",
            "env_version",
            "steps",
            "score",
            "breakdown",
            "ground_truth",
            "duration_s",
            "infra_error",
        ] {
            assert!(l.get(key).is_some(), "{key}");
        }
        assert_eq!(l["env_version"], mlops_debug_env::env::ENV_VERSION);
        let content = l["steps"][0]["observation"]["last_action_result"]["content"].as_str().unwrap();
        assert!(content.chars().count() <= 100);
    }
    let json = Command::new(bin)
        .args(["eval", "--agent", "stuffing", "--tasks", "medium", "--episodes", "3", "--json"])
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&json.stdout).unwrap();
    for key in ["mean_score", "solve_rate", "mean_steps", "episodes", "failures"] {
        assert!(summary["tasks"]["medium"][key].is_number(), "{key}");
    }
    assert!(summary["throughput"]["steps_per_s"].is_number());
    let bad = Command::new(bin).args(["eval", "--tasks", "extreme"]).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("unknown task"));
    let _ = std::fs::remove_dir_all(dir);
}

/// A fake OpenAI-compatible server: answers with a fixed plan of actions, after
/// one 429 and one chatty malformed reply, and records the prompts it saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_agent_plays_through_an_openai_compatible_api() {
    let calls = Arc::new(AtomicUsize::new(0));
    let prompts = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (c, p) = (calls.clone(), prompts.clone());
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let (c, p) = (c.clone(), p.clone());
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst);
                p.lock().unwrap().push(body["messages"].to_string());
                if n == 0 {
                    return (axum::http::StatusCode::TOO_MANY_REQUESTS, Json(json!({"error": "slow down"})));
                }
                let users = body["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "user").count();
                let content = if n == 1 {
                    "I think we should look at the config first.".to_string()
                } else {
                    match users {
                        0..=2 => r#"Let me start. {"action_type": "read_config"}"#.to_string(),
                        3 => r#"{"action_type": "read_logs"}"#.to_string(),
                        4 => r#"{"action_type": "check_dataset_stats"}"#.to_string(),
                        _ => r#"{"action_type": "submit_diagnosis", "failure_category": "config_error", "root_cause_file": "config.yaml",
                                  "root_cause_field": "optimizer.learning_rate", "diagnosis": "guess", "proposed_fix": "Lower the learning rate to 3e-4."}"#
                            .to_string(),
                    }
                };
                (axum::http::StatusCode::OK, Json(json!({"choices": [{"message": {"role": "assistant", "content": content}}]})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let line = format!(
        "--agent llm --tasks easy --episodes 2 --concurrency 1 --api-base-url http://{addr}/v1 --model fake"
    );
    let mut records = Vec::new();
    let summary = run(&args(&line), |r| records.push(r.clone())).await.unwrap();
    assert_eq!(summary.tasks["easy"].failures, 0);
    for r in &records {
        let kinds: Vec<&str> = r.steps.iter().map(|s| s.action["action_type"].as_str().unwrap()).collect();
        assert_eq!(kinds.last(), Some(&"submit_diagnosis"), "{kinds:?}");
        assert!(r.score.is_some());
        assert!(report::trace(r).contains("[END] "));
    }
    assert!(calls.load(Ordering::SeqCst) >= 8, "the 429 was retried and the malformed reply corrected");
    let seen = prompts.lock().unwrap().join("\n");
    assert!(seen.contains("Reply with exactly one JSON object"));
    // The model is shown observations, never an end object or the ground truth.
    for answer in ["ground_truth", "bug_type"] {
        assert!(!seen.contains(answer), "the prompt carries {answer}");
    }
}
