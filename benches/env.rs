//! Criterion benchmarks of the pure environment: reset, every action kind,
//! and grading. Goals (medians, on the 2-core reference machine): reset
//! <= 20 us, an artifact read <= 25 us, any other step <= 5 us.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mlops_debug_env::agent::heuristic::Heuristic;
use mlops_debug_env::env::grader::{grade, ground_truth};
use mlops_debug_env::env::{CheckKind, Episode, TaskId};
use mlops_debug_env::server::StepData;
use mlops_debug_env::server::body::parse_json;
use mlops_debug_env::server::ws::frame_text;
use serde_json::{Value, json};

const SEED: u64 = 12_345;

fn step_bench(c: &mut Criterion, name: &str, task: TaskId, action: Value) {
    c.bench_function(name, |b| {
        b.iter_batched(
            || Episode::new(task, SEED, "bench"),
            |mut ep| black_box(ep.step_json(&action).expect("valid action")),
            BatchSize::SmallInput,
        )
    });
}

fn benches(c: &mut Criterion) {
    for task in TaskId::ALL {
        c.bench_function(&format!("reset/{}", task.as_str()), |b| {
            let mut seed = 0u64;
            b.iter(|| {
                seed += 1;
                let ep = Episode::new(task, seed, "bench");
                black_box(ep.reset_observation(Vec::new()))
            })
        });
    }
    let task = TaskId::Hard;
    for (name, action) in [
        ("read/read_config", json!({"action_type": "read_config"})),
        ("read/read_logs", json!({"action_type": "read_logs"})),
        ("read/read_logs_epoch_filter", json!({"action_type": "read_logs", "log_filter": "epoch:2-5"})),
        ("read/read_logs_keyword_filter", json!({"action_type": "read_logs", "log_filter": "warning"})),
        ("read/check_dataset_stats", json!({"action_type": "check_dataset_stats"})),
        ("read/inspect_preprocessing", json!({"action_type": "inspect_preprocessing"})),
        ("read/read_eval_results", json!({"action_type": "read_eval_results"})),
        (
            "read/query_model_card",
            json!({"action_type": "query_artifact", "artifact_name": "model_card.json"}),
        ),
        (
            "query/config_path",
            json!({"action_type": "query_artifact", "artifact_name": "config.yaml", "field_path": "optimizer.learning_rate"}),
        ),
        (
            "query/json_path",
            json!({"action_type": "query_artifact", "artifact_name": "eval_results.json", "field_path": "metrics.val_accuracy"}),
        ),
        (
            "query/code_lines",
            json!({"action_type": "query_artifact", "artifact_name": "preprocessing.py", "field_path": "test_size"}),
        ),
    ] {
        step_bench(c, &format!("step/{name}"), task, action);
    }
    for check in CheckKind::ALL {
        step_bench(
            c,
            &format!("step/check/{}", check.as_str()),
            task,
            json!({"action_type": "run_sanity_check", "sanity_check_type": check.as_str()}),
        );
    }
    let ep = Episode::new(task, SEED, "bench");
    let gt = ground_truth(ep.world());
    let submit = json!({"action_type": "submit_diagnosis", "failure_category": gt.category.as_str(),
        "root_cause_file": gt.file.as_str(), "root_cause_field": gt.field, "diagnosis": "", "proposed_fix": gt.fix});
    step_bench(c, "step/submit_diagnosis", task, submit);
    let invalid = json!({"action_type": "read_everything"});
    c.bench_function("step/invalid_action", |b| {
        b.iter_batched(
            || Episode::new(task, SEED, "bench"),
            |mut ep| black_box(ep.step_json(&invalid).is_err()),
            BatchSize::SmallInput,
        )
    });

    wire_bench(c);

    let d = gt.canonical_diagnosis();
    c.bench_function("grade/canonical", |b| b.iter(|| black_box(grade(ep.world(), &d, 3, true))));
}

/// The farm's own work for a whole heuristic episode over WebSocket, without
/// the network and the actor hop: parse each action frame's text, step, and
/// serialise the reply frame exactly as the server does.
fn wire_bench(c: &mut Criterion) {
    let (task, seed) = (TaskId::Medium, 7);
    let mut ep = Episode::new(task, seed, "bench");
    let mut agent = Heuristic::new();
    let mut obs = serde_json::to_value(ep.reset_observation(Vec::new())).expect("json");
    let mut frames = Vec::new();
    loop {
        let action = agent.act(&obs);
        frames.push(json!({"type": "step", "data": action}).to_string());
        let out = ep.step_json(&action).expect("valid action");
        if out.done {
            break;
        }
        obs = serde_json::to_value(&out.observation).expect("json");
    }
    c.bench_function(&format!("wire/heuristic_episode_{}_steps", frames.len()), |b| {
        b.iter(|| {
            let mut ep = Episode::new(task, seed, "bench");
            let mut bytes = frame_text(
                "observation",
                StepData { observation: &ep.reset_observation(Vec::new()), reward: None, done: false },
            )
            .len();
            for text in &frames {
                let Value::Object(mut frame) = parse_json(text.as_bytes(), 32).expect("json") else {
                    unreachable!()
                };
                let action = frame.remove("data").expect("data");
                let out = ep.step_json(&action).expect("valid action");
                let data =
                    StepData { observation: &out.observation, reward: Some(out.reward), done: out.done };
                bytes += frame_text("observation", data).len();
            }
            black_box(bytes)
        })
    });
}

criterion_group! {
    name = env;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = benches
}
criterion_main!(env);
