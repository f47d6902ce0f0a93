//! The `episode` and `grade` commands, run as a user would.

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlops-debug-env")).args(args).output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn episode_prints_for_a_person_and_as_json() {
    let text = run(&["episode", "--task", "medium", "--seed", "3"]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    for name in [
        "config.yaml",
        "train.log",
        "dataset_stats.json",
        "preprocessing.py",
        "eval_results.json",
        "model_card.json",
    ] {
        assert!(text.contains(&format!("===== {name} =====")), "{name}");
    }
    assert!(!text.contains("ground truth"));
    let revealed =
        String::from_utf8(run(&["episode", "--task", "medium", "--seed", "3", "--reveal"]).stdout).unwrap();
    assert!(revealed.contains("===== ground truth =====") && revealed.contains("fix:"));

    let json = stdout_json(&run(&["episode", "--task", "hard", "--seed", "9", "--json"]));
    assert_eq!(json["observation"]["task_id"], "hard");
    assert_eq!(json["observation"]["episode_id"], "cli-hard-9");
    assert_eq!(json["artifacts"].as_object().unwrap().len(), 6);
    assert!(json.get("ground_truth").is_none());
    let json = stdout_json(&run(&["episode", "--task", "hard", "--seed", "9", "--json", "--reveal"]));
    assert!(json["ground_truth"]["bug_type"].is_string());
    // deterministic output
    assert_eq!(
        run(&["episode", "--task", "easy", "--seed", "5", "--json"]).stdout,
        run(&["episode", "--task", "easy", "--seed", "5", "--json"]).stdout
    );
}

#[test]
fn grade_prints_the_end_object_without_investigation_penalty() {
    let truth = stdout_json(&run(&["episode", "--task", "easy", "--seed", "4", "--json", "--reveal"]))["ground_truth"].clone();
    let diagnosis = serde_json::json!({
        "failure_category": truth["category"], "root_cause_file": truth["file"],
        "root_cause_field": truth["field"], "diagnosis": "d", "proposed_fix": truth["fix"],
    });
    let end =
        stdout_json(&run(&["grade", "--task", "easy", "--seed", "4", "--diagnosis", &diagnosis.to_string()]));
    assert_eq!(end["status"], "submitted");
    assert_eq!(end["score"], 1.0);
    assert_eq!(end["episode_return"], end["score"]);
    assert_eq!(end["breakdown"]["investigation_penalty"], 0.0);
    assert_eq!(end["ground_truth"], truth);
}

#[test]
fn bad_arguments_exit_non_zero_with_a_clear_message() {
    for (args, says) in [
        (vec!["episode", "--task", "extreme", "--seed", "1"], "unknown task 'extreme'"),
        (vec!["episode", "--task", "easy"], "--seed"),
        (vec!["episode", "--task", "easy", "--seed", "-1"], "-1"),
        (vec!["grade", "--task", "easy", "--seed", "1", "--diagnosis", "{not json"], "not valid JSON"),
        (
            vec!["grade", "--task", "easy", "--seed", "1", "--diagnosis", "{\"failure_category\":\"nope\"}"],
            "failure_category",
        ),
        (
            vec![
                "grade",
                "--task",
                "easy",
                "--seed",
                "1",
                "--diagnosis",
                "{\"action_type\":\"read_config\"}",
            ],
            "submit_diagnosis",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: stderr {err:?} lacks {says:?}");
    }
}
